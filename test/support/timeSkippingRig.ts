import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { LatentWorkerClient } from '../../src/client/api.js';
import { parseConfig } from '../../src/config/load.js';
import type { Simulator } from '../../src/simulator/index.js';
import type { LifecycleResult } from '../../src/workflows/types.js';
import { createLatentWorker } from '../../src/worker/worker.js';
import { SEED_WORKER } from './lifecycleRig.js';

/**
 * Runs one lifecycle of a seed-example worker (plus `overrides`) on a time-skipping server, with
 * the real activities against `simulator`; `drive` plays the CI master while it runs.
 */
export async function runSkippingTime(
  env: TestWorkflowEnvironment,
  simulator: Simulator,
  overrides: Record<string, unknown>,
  drive: (client: LatentWorkerClient, name: string) => Promise<void> = async () => {},
): Promise<{ name: string; result: LifecycleResult; client: LatentWorkerClient }> {
  const name = `timeskip-${randomUUID().slice(0, 8)}`;
  const config = parseConfig({ workers: [{ ...SEED_WORKER, os_auth_url: simulator.authUrlV2, ...overrides, name }] }, 'test', {});
  const taskQueue = `timeskip-${name}`;
  const { worker, clouds } = await createLatentWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, config, pollIntervalMs: 100 });
  const client = new LatentWorkerClient(env.client, taskQueue);
  try {
    const result = await worker.runUntil(async () => {
      const handle = await client.substantiate(config.workers.get(name)!.specFor());
      await drive(client, name);
      return handle.result();
    });
    return { name, result, client };
  } finally {
    await clouds.close();
  }
}
