import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { NativeConnection } from '@temporalio/worker';
import { LatentWorkerClient } from '../../src/client/api.js';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { createLatentWorker } from '../../src/worker/worker.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './temporal.js';

/** The seed document's simplest example, minus the auth URL that the rig points at its simulator. */
export const SEED_WORKER = {
  password: 'sekrit',
  flavor: 1,
  image: '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1',
  os_username: 'user',
  os_password: 'password',
  os_tenant_name: 'tenant',
};

export interface LifecycleRig {
  simulator: Simulator;
  client: LatentWorkerClient;
  config: LoadedConfig;
  /** Worker names as given, made unique to this rig so runs never share a workflow id. */
  nameOf(base: string): string;
  /** Saves the worker's latest history as a replay fixture, when RECORD_HISTORIES names it. */
  recordHistory(fixture: string, workerName: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Real pieces end to end: the simulator over HTTP, the shared Temporal dev server, and an
 * in-process worker with the real activities on a task queue of its own.
 */
export async function startLifecycleRig(
  workers: ({ name: string } & Record<string, unknown>)[],
  { simulator: simulatorOptions = { bootDelayMs: 300, deleteDelayMs: 100 }, notify }: { simulator?: SimulatorOptions; notify?: unknown } = {},
): Promise<LifecycleRig> {
  const suffix = randomUUID().slice(0, 6);
  const nameOf = (base: string): string => `${base}-${suffix}`;
  const simulator = await startSimulator(simulatorOptions);
  const config = parseConfig(
    { workers: workers.map((worker) => ({ ...SEED_WORKER, os_auth_url: simulator.authUrlV2, ...worker, name: nameOf(worker.name) })), notify },
    'lifecycle rig',
    {},
  );
  const taskQueue = uniqueTaskQueue('lifecycle');
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const { worker, clouds } = await createLatentWorker({ connection, namespace: 'default', taskQueue, config, pollIntervalMs: 100 });
  const running = worker.run();
  const client = new LatentWorkerClient(await connectClient(), taskQueue);
  return {
    simulator,
    client,
    config,
    nameOf,
    recordHistory: (fixture, workerName) => recordHistory(client, fixture, workerName),
    async stop() {
      worker.shutdown();
      await running;
      await clouds.close();
      await connection.close();
      await client.temporal.connection.close();
      await simulator.close();
    },
  };
}

/**
 * Fixtures are recorded on purpose, never regenerated: `RECORD_HISTORIES=name[,name] npx vitest run FILE`.
 * Each stands for executions of the workflow code it was recorded with.
 */
export async function recordHistory(client: LatentWorkerClient, fixture: string, workerName: string): Promise<void> {
  if (!process.env.RECORD_HISTORIES?.split(',').includes(fixture)) return;
  const history = await client.handle(workerName).fetchHistory();
  writeFileSync(`test/fixtures/histories/${fixture}.json`, historyToJSON(history));
}
