import { setTimeout as delay } from 'node:timers/promises';

// Every wait in the chaos suite is bounded, and its timeout says what it was waiting for.

export class ChaosTimeout extends Error {
  override name = 'ChaosTimeout';
}

/** Thrown by a check when waiting longer cannot help: `waitFor` gives up at once. */
export class GiveUp extends Error {
  override name = 'GiveUp';
}

/** Polls `check` until it returns something other than undefined/false, or fails naming `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      // A check that never answers (a call to a service that hangs) must not outlast the deadline.
      const value = await withTimeout(what, Promise.resolve(check()), Math.max(1, deadline - Date.now()));
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      if (error instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${error.message}`);
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new ChaosTimeout(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${cause}`);
    }
    await delay(intervalMs);
  }
}

/** `promise`, or a ChaosTimeout naming `what` once `timeoutMs` has passed. */
export async function withTimeout<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ChaosTimeout(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => delay(ms);
