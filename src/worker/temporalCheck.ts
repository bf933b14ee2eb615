import type { NativeConnection } from '@temporalio/worker';
import type { CheckResult } from './health.js';

const CHECK_TIMEOUT_MS = 3_000;

/**
 * A readiness check: does the Temporal frontend answer this connection now? One cheap call,
 * answered within 3 s whatever it does: the SDK's client retries an unreachable server past the
 * call's own deadline, so the check stops waiting itself, and probes that come while a call is
 * still out wait for that call instead of piling up more.
 */
export function temporalReachable(connection: NativeConnection): () => Promise<CheckResult> {
  let inFlight: Promise<CheckResult> | undefined;
  return () => {
    inFlight ??= connection
      .withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => connection.workflowService.getSystemInfo({}))
      .then(
        (): CheckResult => ({ ok: true, detail: 'reachable' }),
        (error: unknown): CheckResult => ({ ok: false, detail: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => {
        inFlight = undefined;
      });
    return withTimeout(inFlight, CHECK_TIMEOUT_MS, { ok: false, detail: `no answer within ${CHECK_TIMEOUT_MS} ms` });
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
