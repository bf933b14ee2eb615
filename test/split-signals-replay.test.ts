import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { parseConfig, type LoadedConfig } from '../src/config/load.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { spawnGuarded, type GuardedProcess } from '../src/temporal/guardedProcess.js';
import { projectRoot } from '../src/temporal/paths.js';
import { createLatentWorker, workflowsPath } from '../src/worker/worker.js';
import type { ServerStatusChange } from '../src/workflows/bootWatch.js';
import { SERVER_STATUS_SIGNAL } from '../src/workflows/statusWatchNames.js';
import { statusQuery } from '../src/workflows/messages.js';
import { waitFor } from './chaos/waits.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

const suffix = randomUUID().slice(0, 6);
const scratch = path.join(projectRoot, '.scratch', `split-signals-${suffix}`);
const taskQueue = uniqueTaskQueue('split-signals');
const name = `split-${suffix}`;
let simulator: Simulator;
let raw: unknown;
let config: LoadedConfig;
let client: LatentWorkerClient;
let connection: NativeConnection;

// The first worker process: the lifecycle's own worker, with no status watcher (the test tells the boot itself).
const FIRST_WORKER_SOURCE = `
import { NativeConnection } from '@temporalio/worker';
const { parseConfig } = await import(process.env.SPLIT_LOAD_MODULE);
const { createLatentWorker } = await import(process.env.SPLIT_WORKER_MODULE);
const config = parseConfig(JSON.parse(process.env.SPLIT_CONFIG), 'split-signals first worker');
const connection = await NativeConnection.connect({ address: process.env.SPLIT_ADDRESS });
const { worker } = await createLatentWorker({ connection, namespace: 'default', taskQueue: process.env.SPLIT_TASK_QUEUE, config, askForStatusWatchers: false });
console.log('first worker polling');
await worker.run();
`;

function startFirstWorker(): GuardedProcess {
  // A file, not --eval: the SDK's workflow threads inherit node's options, and --input-type with them.
  const script = path.join(scratch, 'first-worker.mts');
  writeFileSync(script, FIRST_WORKER_SOURCE);
  return spawnGuarded(process.execPath, ['--import', 'tsx', script], path.join(scratch, 'first-worker.log'), {
    ...process.env,
    SPLIT_LOAD_MODULE: pathToFileURL(path.join(projectRoot, 'src', 'config', 'load.ts')).href,
    SPLIT_WORKER_MODULE: pathToFileURL(path.join(projectRoot, 'src', 'worker', 'worker.ts')).href,
    SPLIT_CONFIG: JSON.stringify(raw),
    SPLIT_ADDRESS: temporalAddress(),
    SPLIT_TASK_QUEUE: taskQueue,
  });
}

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  simulator = await startSimulator({ bootDelayMs: 500, deleteDelayMs: 100 });
  raw = { deployment: `split-${suffix}`, workers: [{ ...SEED_WORKER, os_auth_url: simulator.authUrlV2, name }] };
  config = parseConfig(raw, 'split-signals test');
  connection = await NativeConnection.connect({ address: temporalAddress() });
  client = new LatentWorkerClient(await connectClient(), taskQueue);
});

afterAll(async () => {
  await connection?.close();
  await client?.temporal.connection.close();
  await simulator?.close();
});

describe('signals of one workflow task applied in two activations', () => {
  it('leaves a history that replays', async () => {
    const t0 = Date.now();
    const at = () => `${((Date.now() - t0) / 1000).toFixed(2)}s`;
    const { worker, clouds } = await createLatentWorker({ connection, namespace: 'default', taskQueue, config, askForStatusWatchers: false });
    const first = startFirstWorker();
    let running: Promise<void> | undefined;
    try {
      await client.substantiate(config.workers.get(name)!.specFor());
      const booting = await client.waitForPhase(name, 'booting', { intervalMs: 100 });
      const serverId = booting.serverId!;
      await waitFor('the simulator to make the server ACTIVE', () => simulator.servers().find((server) => server.id === serverId && server.status === 'ACTIVE'), 30_000, 100);
      console.log(`${at()} booting`);
      running = worker.run();
      await sleep(1000);
      process.kill(-first.pid, 'SIGKILL');
      await first.exited;
      console.log(`${at()} first killed`);
      const queried = client.temporal.withDeadline(Date.now() + 40_000, () => client.handle(name).query(statusQuery)).then((status) => {
        console.log(`${at()} query answered ${status.phase}`);
        return status;
      });
      await sleep(3000);
      await client.handle(name).signal<[ServerStatusChange]>(SERVER_STATUS_SIGNAL, { serverId, status: 'ACTIVE', seenAt: new Date().toISOString() });
      console.log(`${at()} ACTIVE signalled`);
      const answered = await queried;
      await client.attached(name);
      await client.release(name);
      console.log(`${at()} attached+released (query said ${answered.phase})`);
      const result = await client.result(name);
      console.log(`${at()} result ${result.outcome}`);
      const history = await client.handle(name).fetchHistory();
      console.log(describeHistory(history));
      await expect(Worker.runReplayHistory({ workflowsPath: workflowsPath() }, history, name)).resolves.toBeUndefined();
    } finally {
      if (running) {
        worker.shutdown();
        await running;
      }
      await first.stop(1000);
      await clouds.close();
    }
  });
});

function describeHistory(history: History): string {
  const lines: string[] = [];
  for (const event of history.events ?? []) {
    const type = String(event.eventType).replace('EVENT_TYPE_', '');
    let extra = '';
    if (event.workflowTaskScheduledEventAttributes) extra = `queue kind ${event.workflowTaskScheduledEventAttributes.taskQueue?.kind} ${event.workflowTaskScheduledEventAttributes.taskQueue?.name}`;
    if (event.workflowTaskStartedEventAttributes) extra = `by ${event.workflowTaskStartedEventAttributes.identity}`;
    if (event.workflowTaskTimedOutEventAttributes) extra = `timeout type ${event.workflowTaskTimedOutEventAttributes.timeoutType}`;
    if (event.workflowExecutionSignaledEventAttributes) extra = event.workflowExecutionSignaledEventAttributes.signalName ?? '';
    if (event.timerStartedEventAttributes) extra = `timer ${event.timerStartedEventAttributes.timerId} ${event.timerStartedEventAttributes.startToFireTimeout?.seconds}s`;
    lines.push(`${event.eventId} ${type} ${extra} @${event.eventTime?.seconds}`);
  }
  return lines.join('\n');
}
