import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { LatentWorkerClient } from '../../src/client/api.js';
import { parseConfig } from '../../src/config/load.js';
import type { Simulator } from '../../src/simulator/index.js';
import type { LifecycleResult } from '../../src/workflows/types.js';
import { createLatentWorker } from '../../src/worker/worker.js';
import { OWN_LOOK_EVERY_MS } from '../../src/workflows/bootWatch.js';
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
  const { worker, clouds } = await createLatentWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, config, pollIntervalMs: 100, askForStatusWatchers: false });
  const client = new LatentWorkerClient(env.client, taskQueue);
  try {
    const result = await worker.runUntil(async () => {
      await client.substantiate(config.workers.get(name)!.specFor());
      await drive(client, name);
      // From the latest run: a handle on the first run follows every continue-as-new hop, and on
      // the time-skipping server that wait was seen to hang on a chain of a dozen runs and more.
      return client.result(name);
    });
    return { name, result, client };
  } finally {
    await clouds.close();
  }
}

/**
 * Waits until the lifecycle waits for its worker to attach. No status watcher runs on a
 * time-skipping server (its never-ending watch would hold the clock), so the lifecycle learns of
 * ACTIVE from its own look at the boot, on a timer; and that server's clock stands still while a
 * test drives the lifecycle. Each round moves the clock on by one look period.
 */
export async function untilWaitingForAttach(env: TestWorkflowEnvironment, client: LatentWorkerClient, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { phase } = await client.status(name).catch(() => ({ phase: 'starting' }));
    if (phase === 'waiting-for-attach') return;
    if (Date.now() > deadline) throw new Error(`lifecycle ${name} still in phase ${phase} after 60 s of waiting and skipping time`);
    if (phase === 'booting') await env.sleep(OWN_LOOK_EVERY_MS);
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
