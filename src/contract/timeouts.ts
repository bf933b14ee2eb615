import { z } from 'zod';

// Every timeout a lifecycle or the reaper works from, bounded: an absurd value (a year, 1e12 s)
// would pass a bare "positive number" check and then break the workflow task that turns it into
// a timer or a deadline, retried forever. One table for the config file and the workflow input.

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const TIMEOUT_BOUNDS = {
  /** How long a booted server may wait for its CI worker: Buildbot's default is 20 minutes. */
  missingTimeout: { min: 1, max: 7 * DAY },
  /** ACTIVE within this, or the launch has failed; the wait activity's retries cover at most a few hours. */
  bootTimeout: { min: 1, max: 6 * HOUR },
  /** Idle seconds before release; 0 after each build and negative (never) are kept apart from this bound. */
  buildWaitTimeout: { max: 30 * DAY },
  reaperInterval: { min: 1, max: DAY },
  reaperGrace: { min: 0, max: 7 * DAY },
  /** A delete that still fails after this is reported once (it never gives up). */
  deleteReportAfter: { min: 1, max: 7 * DAY },
} as const;

function readable(seconds: number): string {
  if (seconds >= DAY && seconds % DAY === 0) return `${seconds / DAY} day${seconds === DAY ? '' : 's'}`;
  if (seconds >= HOUR && seconds % HOUR === 0) return `${seconds / HOUR} hour${seconds === HOUR ? '' : 's'}`;
  return `${seconds} s`;
}

/**
 * Seconds between `min` and `max`; the error says the valid range (the path before it names the
 * field), and only a value of the wrong type is called "not a number of seconds".
 */
export function boundedSeconds(field: string, { min, max }: { min: number; max: number }) {
  const range = `must be between ${min} and ${max} seconds (${readable(max)})`;
  return z
    .number({ error: (issue) => (issue.code === 'invalid_type' ? `${field} must be a number of seconds` : undefined) })
    .min(min, range)
    .max(max, range);
}

/** build_wait_timeout: negative (never released when idle), 0 (after each build), or at most the bound. */
export function buildWaitSeconds(field: string) {
  const { max } = TIMEOUT_BOUNDS.buildWaitTimeout;
  return z
    .number({ error: (issue) => (issue.code === 'invalid_type' ? `${field} must be a number of seconds` : undefined) })
    .max(max, `must be negative (never), 0 (after each build) or at most ${max} seconds (${readable(max)})`);
}
