import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { NativeConnection } from '@temporalio/worker';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { parseConfig } from '../src/config/load.js';
import { createLatentWorker } from '../src/worker/worker.js';
import { runCli } from './support/cli.js';
import { SEED_WORKER, startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { temporalAddress, uniqueTaskQueue } from './support/temporal.js';

// After a worker crash a lifecycle sits in its last phase: `status` must say that no worker is
// running it, instead of showing `booting` (or any phase) as if all were well.
let rig: LifecycleRig;
let configPath: string;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'unused' }]);
  configPath = join(mkdtempSync(join(tmpdir(), 'latent-unattended-')), 'latent.config.yaml');
});

afterAll(async () => {
  await rig?.stop();
});

const definitionOf = (name: string) => ({ ...SEED_WORKER, os_auth_url: rig.simulator.authUrlV2, name });

describe('a lifecycle that no worker runs', () => {
  it('on a task queue nobody polls: unattended() says so, and `status` shows the last phase with a warning instead of waiting on a query', async () => {
    const name = `nobody-${randomUUID().slice(0, 6)}`;
    const taskQueue = uniqueTaskQueue('nobody');
    const client = new LatentWorkerClient(rig.client.temporal, taskQueue);
    const handle = await client.substantiate(parseConfig({ workers: [definitionOf(name)] }, 'test', {}).workers.get(name)!.specFor());
    try {
      expect(await client.unattended(name)).toMatchObject({ taskQueue, reason: `no worker polls task queue ${taskQueue} (none seen)` });
      writeFileSync(configPath, stringify({ workers: [definitionOf(name)] }));
      const status = await runCli(['--config', configPath, 'status', name], { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: taskQueue });
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`warning: no worker polls task queue ${taskQueue}`);
      // `watch` keeps following (a worker may come back), and says on stderr why nothing moves.
      const watching = spawn(process.execPath, ['--import', 'tsx', 'src/client/cli.ts', '--config', configPath, 'watch', name], {
        env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: taskQueue },
      });
      let stderr = '';
      watching.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      try {
        for (let waited = 0; !stderr.includes('warning:') && waited < 30_000; waited += 100) await delay(100);
        expect(stderr).toContain(`warning: no worker polls task queue ${taskQueue}`);
      } finally {
        watching.kill();
      }
    } finally {
      await handle.terminate('test: done');
    }
  });

  it('after its worker stopped mid-lifecycle: a workflow task waiting past the bound is named', async () => {
    const name = `crashed-${randomUUID().slice(0, 6)}`;
    const taskQueue = uniqueTaskQueue('crashed');
    const config = parseConfig({ workers: [definitionOf(name)] }, 'test', {});
    const client = new LatentWorkerClient(rig.client.temporal, taskQueue);
    const connection = await NativeConnection.connect({ address: temporalAddress() });
    const { worker, clouds } = await createLatentWorker({ connection, namespace: 'default', taskQueue, config, pollIntervalMs: 100 });
    const running = worker.run();
    const handle = await client.substantiate(config.workers.get(name)!.specFor());
    try {
      await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
      expect(await client.unattended(name, { afterMs: 1_000 })).toBeUndefined();
      worker.shutdown();
      await running;
      await client.attached(name);
      await delay(1_500);
      const unattended = await client.unattended(name, { afterMs: 1_000 });
      expect(unattended?.reason).toMatch(new RegExp(`^a workflow task has waited \\d+ s for a worker on task queue ${taskQueue}$`));
    } finally {
      await handle.terminate('test: done');
      await clouds.close();
      await connection.close();
    }
  });
});
