import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { parseConfig, type LoadedConfig } from '../src/config/load.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { projectRoot } from '../src/temporal/paths.js';
import { createLatentWorker, workflowsPath } from '../src/worker/worker.js';
import type { ServerStatusChange } from '../src/workflows/bootWatch.js';
import { SERVER_STATUS_SIGNAL } from '../src/workflows/statusWatchNames.js';
import { waitFor } from './chaos/waits.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';
import { startWorkerCli } from './support/workerCli.js';

// Found by the chaos suite (the status watcher's process killed mid-burst): a lifecycle whose
// worker process died while it waited for its boot said its server was ACTIVE 20 s before the
// cloud made it so. The watcher's signal was waiting for a workflow task when the master's status
// query reached a process that had never run the lifecycle. That process rebuilt the lifecycle
// from its history for the query, the waiting signal included, with the clock of the lifecycle's
// last workflow task, and kept the state so made: `Date.now()` there is the boot's start. The
// lifecycle now records the time the watcher's signal carries.
const suffix = randomUUID().slice(0, 6);
const scratch = path.join(projectRoot, '.scratch', `replayed-times-${suffix}`);
const taskQueue = uniqueTaskQueue('replayed-times');
const name = `replayed-${suffix}`;
let simulator: Simulator;
let config: LoadedConfig;
let configFile: string;
let client: LatentWorkerClient;
let connection: NativeConnection;

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  simulator = await startSimulator({ bootDelayMs: 500, deleteDelayMs: 100 });
  const raw = { deployment: `replayed-${suffix}`, workers: [{ ...SEED_WORKER, os_auth_url: simulator.authUrlV2, name }] };
  config = parseConfig(raw, 'replayed-times test');
  configFile = path.join(scratch, 'latent.config.json');
  writeFileSync(configFile, JSON.stringify(raw));
  connection = await NativeConnection.connect({ address: temporalAddress() });
  client = new LatentWorkerClient(await connectClient(), taskQueue);
});

afterAll(async () => {
  await connection?.close();
  await client?.temporal.connection.close();
  await simulator?.close();
});

describe('a lifecycle taken up by another worker process while a signal waits', () => {
  it('records its server ACTIVE when the watcher first saw it so, and leaves a history that replays', async () => {
    const first = await startWorkerCli({ configFile, temporalAddress: temporalAddress(), taskQueue, logFile: path.join(scratch, 'first-worker.log') });
    await client.substantiate(config.workers.get(name)!.specFor());
    const booting = await client.waitForPhase(name, 'booting', { intervalMs: 100 });
    // Killed, not stopped: Temporal still sends the lifecycle's next task to its process for a while.
    process.kill(-first.process.pid, 'SIGKILL');
    await first.process.exited;
    const serverId = booting.serverId!;
    await waitFor('the simulator to make the server ACTIVE', () => simulator.servers().find((server) => server.id === serverId && server.status === 'ACTIVE'), 30_000, 100);
    const { worker, clouds } = await createLatentWorker({ connection, namespace: 'default', taskQueue, config, askForStatusWatchers: false });
    const running = worker.run();
    try {
      await sleep(1500);
      // What the cloud's status watcher would send.
      const toldAt = Date.now();
      await client.handle(name).signal<[ServerStatusChange]>(SERVER_STATUS_SIGNAL, { serverId, status: 'ACTIVE', seenAt: new Date(toldAt).toISOString() });
      const answered = await client.status(name);
      await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
      await client.attached(name);
      await client.release(name);
      const result = await client.result(name);
      console.log(`told ACTIVE ${new Date(toldAt).toISOString()}; the query right after said ${answered.phase}; activeAt ${result.status.activeAt}`);
      expect(result.outcome).toBe('released');
      // The first telling, whether the task that heard it ran seconds later (here, Temporal first
      // offers it to the killed process) or was rebuilt with an earlier clock. The fleet's own
      // watcher, its watch handed to the living process, may have told it before this test did.
      const history = await client.handle(name).fetchHistory();
      expect(result.status.activeAt).toBe(firstTelling(history).seenAt);
      // A process that takes the lifecycle up later (a restart, an eviction from its cache) must
      // make the commands this one made, however the signals were grouped into tasks.
      await expect(Worker.runReplayHistory({ workflowsPath: workflowsPath() }, history, name)).resolves.toBeUndefined();
    } finally {
      worker.shutdown();
      await running;
      await clouds.close();
    }
  });
});

function firstTelling(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): ServerStatusChange {
  const signal = history.events?.find((event) => event.workflowExecutionSignaledEventAttributes?.signalName === SERVER_STATUS_SIGNAL);
  const payload = signal?.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error('the history has no server-status signal');
  return defaultPayloadConverter.fromPayload<ServerStatusChange>(payload);
}
