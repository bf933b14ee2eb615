import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { LatentWorkerClient } from '../../src/client/api.js';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import type { MissingNotifier } from '../../src/activities/notify.js';
import type { WorkerMetrics } from '../../src/worker/metrics.js';
import { createLatentWorker } from '../../src/worker/worker.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './temporal.js';
import { SEED_SIMPLEST_EXAMPLE } from '../../src/config/seedExample.js';
import type { SealingKey } from '../../src/config/sealing.js';

/** The seed document's simplest example, minus the name and the auth URL that the rig points at its simulator. */
const { name: _name, os_auth_url: _authUrl, ...seedWorker } = SEED_SIMPLEST_EXAMPLE;
export const SEED_WORKER = seedWorker;

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

export interface LifecycleRigOptions {
  simulator?: SimulatorOptions;
  notify?: unknown;
  /** The config's `deployment`; the config's default when omitted. */
  deployment?: string;
  /** A Temporal service of the test's own (e.g. one serving the Web UI); the shared dev server when omitted. */
  address?: string;
  /** Payload encryption for the rig's worker and client alike (see src/codec/). */
  dataConverter?: DataConverter;
  /** The Keystone API the workers' os_auth_url points at; the seed's v2.0 when omitted. */
  keystone?: 'v2.0' | 'v3';
  /** A workflow bundle built ahead, instead of bundling at worker start. */
  workflowBundlePath?: string;
  /** The config's `cloud_limits`. */
  cloudLimits?: unknown;
  /** Keys that open the accounts CI masters seal (master-defined workers). */
  sealingKeys?: SealingKey[];
  /** The config's `deletes`. */
  deletes?: unknown;
  /** Where the worker's reports go, instead of the config's `notify`. */
  notifier?: MissingNotifier;
  metrics?: WorkerMetrics;
  /** Per-request timeout of the worker's OpenStack calls. */
  httpTimeoutMs?: number;
  /** How long a create waits for a create slot before its attempt fails. */
  createSlotWaitMs?: number;
  /** How long a POST without an answer is given to show its server before the create posts again. */
  inFlightWaitMs?: number;
  /** False: the worker asks for no status watcher, so boots are seen by the lifecycles' own looks and deletes read their servers. */
  statusWatchers?: boolean;
}

/**
 * Real pieces end to end: the simulator over HTTP, the shared Temporal dev server, and an
 * in-process worker with the real activities on a task queue of its own.
 */
export async function startLifecycleRig(
  workers: ({ name: string } & Record<string, unknown>)[],
  { simulator: simulatorOptions = { bootDelayMs: 300, deleteDelayMs: 100 }, notify, deployment, address, dataConverter, keystone, workflowBundlePath, cloudLimits, sealingKeys, deletes, notifier, metrics, httpTimeoutMs, createSlotWaitMs, inFlightWaitMs, statusWatchers }: LifecycleRigOptions = {},
): Promise<LifecycleRig> {
  const suffix = randomUUID().slice(0, 6);
  const nameOf = (base: string): string => `${base}-${suffix}`;
  const simulator = await startSimulator(simulatorOptions);
  const config = parseConfig(
    { workers: workers.map((worker) => ({ ...SEED_WORKER, os_auth_url: keystone === 'v3' ? simulator.authUrlV3 : simulator.authUrlV2, ...worker, name: nameOf(worker.name) })), notify, deployment, cloud_limits: cloudLimits, deletes },
    'lifecycle rig',
    {},
  );
  const taskQueue = uniqueTaskQueue('lifecycle');
  const connection = await NativeConnection.connect({ address: address ?? temporalAddress() });
  const { worker, clouds } = await createLatentWorker({ connection, namespace: 'default', taskQueue, config, pollIntervalMs: 100, dataConverter, workflowBundlePath, sealingKeys, notifier, metrics, httpTimeoutMs, createSlotWaitMs, inFlightWaitMs, askForStatusWatchers: statusWatchers });
  const running = worker.run();
  const client = new LatentWorkerClient(await connectClient(address, dataConverter), taskQueue);
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
