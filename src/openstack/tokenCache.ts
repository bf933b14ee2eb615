import { abortable } from './abortable.js';
import type { Session } from './keystone.js';

export interface TokenCacheOptions {
  /** Re-authenticate this long before expiry (default 5 minutes, at most half the token's lifetime). */
  refreshMarginMs?: number;
  now?: () => number;
}

interface CacheEntry {
  session?: Session;
  obtainedAt?: number;
  pending?: Promise<Session>;
}

/**
 * In-process token cache. Concurrent callers for one key share a single authentication, so a
 * burst of activities after a restart sends Keystone one request, not one per activity.
 */
export class TokenCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly refreshMarginMs: number;
  private readonly now: () => number;

  constructor(options: TokenCacheOptions = {}) {
    this.refreshMarginMs = options.refreshMarginMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * A fresh session for `key`, from the cache or from `login`. The shared login runs without
   * any one caller's signal (cancelling one caller must not fail the others); `signal` only
   * stops this caller's wait.
   */
  async get(key: string, login: () => Promise<Session>, signal?: AbortSignal): Promise<Session> {
    signal?.throwIfAborted();
    let entry = this.entries.get(key);
    if (entry?.session && entry.obtainedAt !== undefined && this.isFresh(entry.session, entry.obtainedAt)) return entry.session;
    if (!entry) {
      entry = {};
      this.entries.set(key, entry);
    }
    const current = entry;
    current.pending ??= login()
      .then((session) => {
        current.session = session;
        current.obtainedAt = this.now();
        return session;
      })
      .finally(() => {
        current.pending = undefined;
      });
    return abortable(current.pending, signal);
  }

  /**
   * Forget `token` after a service rejected it. Only that token: another caller may already have
   * replaced it with a new one, which must survive.
   */
  invalidate(key: string, token: string): void {
    const entry = this.entries.get(key);
    if (entry?.session?.token === token) {
      entry.session = undefined;
      entry.obtainedAt = undefined;
    }
  }

  clear(): void {
    this.entries.clear();
  }

  private isFresh(session: Session, obtainedAt: number): boolean {
    const expiresAt = session.expiresAt.getTime();
    const margin = Math.min(this.refreshMarginMs, (expiresAt - obtainedAt) / 2);
    return this.now() < expiresAt - margin;
  }
}
