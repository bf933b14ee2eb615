import type { LifecycleStatus } from '../workflows/types.js';
import type { LatentWorkerClient } from './api.js';
import { EXIT } from './exitCodes.js';

/**
 * The exit code that says how a lifecycle stands: 3 missing, 1 cancelled, else 0. A failed
 * lifecycle throws its failure instead, whose cause chain names the cloud's reason.
 */
export async function settleExitCode(client: LatentWorkerClient, status: LifecycleStatus): Promise<number> {
  if (status.outcome === 'failed') await client.result(status.workerName);
  if (status.outcome === 'missing') return EXIT.missing;
  if (status.outcome === 'failed' || status.outcome === 'cancelled') return EXIT.failure;
  return EXIT.ok;
}
