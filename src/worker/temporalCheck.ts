import type { NativeConnection } from '@temporalio/worker';
import type { CheckResult } from './health.js';

const CHECK_TIMEOUT_MS = 3_000;

/** Whether the Temporal frontend answers this connection now: one cheap call under a short deadline. */
export async function temporalReachable(connection: NativeConnection): Promise<CheckResult> {
  try {
    await connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => connection.workflowService.getSystemInfo({}));
    return { ok: true, detail: 'reachable' };
  } catch (error) {
    return { ok: false, detail: `no answer within ${CHECK_TIMEOUT_MS} ms: ${error instanceof Error ? error.message : String(error)}` };
  }
}
