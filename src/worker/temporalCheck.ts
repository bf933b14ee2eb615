import type { NativeConnection } from '@temporalio/worker';
import { describeSetup, ensureSetup, type SetupReport } from '../client/setup.js';
import { describeError } from '../client/failures.js';
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

// Once in place the set-up rarely changes; while it is not, an operator is fixing it and wants to see it turn.
const SETUP_RECHECK_READY_MS = 300_000;
const SETUP_RECHECK_NOT_READY_MS = 5_000;

/**
 * A readiness check: does the namespace exist, with every search attribute the lifecycle writes?
 * Without them each lifecycle start is refused, so a worker is not ready however well it polls.
 * Starts from the check the worker made at start, and asks again from time to time.
 */
export function setupCheck(connection: NativeConnection, target: { namespace: string; address: string }, first: CheckResult): () => Promise<CheckResult> {
  let last: { at: number; result: CheckResult } = { at: Date.now(), result: first };
  let inFlight: Promise<CheckResult> | undefined;
  return () => {
    const age = Date.now() - last.at;
    if (age < (last.result.ok ? SETUP_RECHECK_READY_MS : SETUP_RECHECK_NOT_READY_MS)) return Promise.resolve(last.result);
    inFlight ??= connection
      .withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => ensureSetup(connection, { ...target, apply: false }))
      .then(fromReport, (error: unknown): CheckResult => ({ ok: false, detail: `cannot check the namespace and search attributes: ${describeError(error)}` }))
      .then((result) => {
        last = { at: Date.now(), result };
        return result;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return withTimeout(inFlight, CHECK_TIMEOUT_MS, { ok: false, detail: `the set-up check got no answer within ${CHECK_TIMEOUT_MS} ms` });
  };
}

function fromReport(report: SetupReport): CheckResult {
  return { ok: report.ready, detail: describeSetup(report) };
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
