import { z } from 'zod';
import { ConfigError } from './errors.js';

/** `max_booting`: a fixed number of servers booting at once, or one that follows the cloud's boot times (src/activities/bootPacer.ts). */
export type MaxBooting = number | 'adaptive';

/** How gently one cloud (one auth URL, project and region) is treated by this worker process. */
export interface CloudLimits {
  /** Requests per second to the cloud, every service counted. */
  requestsPerSecond: number;
  /** Server creates in flight at once. */
  maxConcurrentCreates: number;
  /** Servers of this deployment the project may hold at once; undefined: no cap but the cloud's quota. */
  maxServers: number | undefined;
  /** How long flavor, image and network look-ups are reused; 0 turns the cache off. */
  lookupCacheSeconds: number;
  /** Servers between their POST and the end of their boot: a number for the fleet, or `adaptive` per worker process; undefined: no cap. */
  maxBooting: MaxBooting | undefined;
}

/**
 * Gentle with a cloud, yet quick enough for a thousand lifecycles at once: a create takes one
 * request to look for an earlier try and one to create, a delete one, boots and deletes share
 * the one status list per tick, look-ups come from the cache: a thousand lifecycles starting
 * together queue about 20 s for their turns, under the 30 s a request may wait for one.
 */
export const DEFAULT_CLOUD_LIMITS: CloudLimits = {
  requestsPerSecond: 100,
  maxConcurrentCreates: 10,
  maxServers: undefined,
  lookupCacheSeconds: 60,
  maxBooting: undefined,
};

const MAX_BOOTING_VALID = 'must be a whole number from 1 to 1000, "adaptive", or null for no cap';

const cloudLimitsFields = z.strictObject({
  requests_per_second: z.number({ error: 'must be a number of requests per second' }).positive('must be more than 0').max(10_000, 'must be at most 10000').optional(),
  max_concurrent_creates: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').optional(),
  max_servers: z.number({ error: 'must be a whole number, or null for no cap' }).int('must be a whole number').min(1, 'must be at least 1, or null for no cap').nullable().optional(),
  lookup_cache_seconds: z.number({ error: 'must be a number of seconds' }).nonnegative('must be 0 (no cache) or more').max(86_400, 'must be at most 86400 (a day)').optional(),
  max_booting: z
    .union(
      [
        z.literal('adaptive'),
        z
          .number()
          .int(MAX_BOOTING_VALID)
          .min(1, MAX_BOOTING_VALID)
          .max(1000, MAX_BOOTING_VALID),
      ],
      { error: MAX_BOOTING_VALID },
    )
    .nullable()
    .optional(),
});

/**
 * `cloud_limits:` maps `default` (every cloud), a clouds.yaml cloud name (as a worker's `cloud`
 * or `OS_CLOUD` names it), or a cloud as `latent-worker status` shows it (`AUTH_URL#PROJECT`) to
 * the limits that differ from the built-in ones.
 */
export const cloudLimitsSchema = z.record(z.string().min(1, 'a cloud name must not be empty'), cloudLimitsFields);

export type CloudLimitsSection = z.output<typeof cloudLimitsSchema>;

/** How one worker's cloud is known, for finding its entry in `cloud_limits`. */
export interface CloudNames {
  /** `AUTH_URL#PROJECT`. */
  label: string;
  /** The clouds.yaml cloud the worker reads, if any. */
  cloudName?: string;
}

/** The limits of one cloud: the built-in ones, then `default`, then the cloud's own entry (by clouds.yaml name, then by label). */
export function limitsFor(section: CloudLimitsSection, names: CloudNames): CloudLimits {
  const layers = [section.default, names.cloudName === undefined ? undefined : section[names.cloudName], section[names.label]];
  const limits = { ...DEFAULT_CLOUD_LIMITS };
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.requests_per_second !== undefined) limits.requestsPerSecond = layer.requests_per_second;
    if (layer.max_concurrent_creates !== undefined) limits.maxConcurrentCreates = layer.max_concurrent_creates;
    if (layer.max_servers !== undefined) limits.maxServers = layer.max_servers ?? undefined;
    if (layer.lookup_cache_seconds !== undefined) limits.lookupCacheSeconds = layer.lookup_cache_seconds;
    if (layer.max_booting !== undefined) limits.maxBooting = layer.max_booting ?? undefined;
  }
  return limits;
}

/** An entry that names no configured worker's cloud is a typo, not a harmless extra. */
export function checkCloudNames(section: CloudLimitsSection, known: CloudNames[]): void {
  const names = new Set(known.flatMap((cloud) => [cloud.label, ...(cloud.cloudName === undefined ? [] : [cloud.cloudName])]));
  for (const key of Object.keys(section)) {
    if (key === 'default' || names.has(key)) continue;
    throw new ConfigError(`cloud_limits: "${key}" is no configured worker's cloud; use "default", a clouds.yaml cloud name or AUTH_URL#PROJECT, one of: ${[...names].sort().join(', ')}`);
  }
}
