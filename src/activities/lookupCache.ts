import { abortable } from '../openstack/abortable.js';

interface Entry {
  value?: unknown;
  expiresAt?: number;
  pending?: Promise<unknown>;
}

/**
 * Flavor, image and network look-ups of one cloud, reused for `ttlMs`: a thousand lifecycles of
 * one worker definition ask the cloud once. Concurrent misses share one look-up, which runs
 * without any one caller's signal (the HTTP deadline bounds it); failures and "not found"
 * (undefined, or an empty list) are never kept. `clear` drops everything, for when the cloud refused something a look-up gave.
 */
export class LookupCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;

  constructor(
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get<T>(key: string, load: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.ttlMs <= 0) return load();
    const entry = this.entries.get(key) ?? {};
    if (entry.expiresAt !== undefined && this.now() < entry.expiresAt) return entry.value as T;
    this.entries.set(key, entry);
    if (!entry.pending) {
      const generation = this.generation;
      entry.pending = load()
        .then((value) => {
          // A clear() during the look-up means the cloud refused something: do not keep what may be stale.
          if (found(value) && generation === this.generation) {
            entry.value = value;
            entry.expiresAt = this.now() + this.ttlMs;
          }
          return value;
        })
        .finally(() => {
          entry.pending = undefined;
        });
    }
    return abortable(entry.pending as Promise<T>, signal);
  }

  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}

function found(value: unknown): boolean {
  return value !== undefined && !(Array.isArray(value) && value.length === 0);
}
