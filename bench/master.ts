import { setTimeout as sleep } from 'node:timers/promises';
import type { LatentWorkerClient } from '../src/client/api.js';
import type { ServerEvent } from '../src/simulator/index.js';
import type { WorkerSpec } from '../src/workflows/types.js';
import { limiter } from './limit.js';
import { workerNameOf, type ServerTimeline } from './timeline.js';

/** One lifecycle as the benchmark saw it; times are epoch milliseconds of this machine. */
export interface LifecycleRecord {
  workerName: string;
  /** The benchmark called substantiate. */
  startCalledAt?: number;
  serverId?: string;
  /** The simulator created the server (POST /servers). */
  created?: number;
  /** The simulator made it ACTIVE. */
  simActive?: number;
  /** The lifecycle's own `activeAt`: when its workflow saw ACTIVE. */
  detected?: number;
  attachSentAt?: number;
  /** The simulator no longer had the server. */
  gone?: number;
  /** The lifecycle's result reached the benchmark. */
  finishedAt?: number;
  outcome?: string;
  launches?: number;
  error?: string;
}

export interface BatchOptions {
  client: LatentWorkerClient;
  specs: readonly WorkerSpec[];
  timeline: ServerTimeline;
  /** Start calls in flight at once; the lifecycles themselves all run together. */
  startConcurrency: number;
  /** Signal calls in flight at once. */
  signalConcurrency: number;
  /** How long after the simulator made a server ACTIVE its CI worker attaches; default at once. */
  attachAfterMs?: number;
  /** Epoch ms after which unfinished lifecycles count as failed. */
  deadline: number;
  /** Settles with a reason when the batch cannot go on (a worker process died): fail it then, not at the deadline. */
  abort?: Promise<string>;
  progress?: (line: string) => void;
}

export interface BatchRun {
  startedAt: number;
  endedAt: number;
  records: LifecycleRecord[];
}

/**
 * Plays the CI master for every spec at once: substantiate, `attached` and then `release` as soon
 * as the simulator has made the server ACTIVE, or `attachAfterMs` later (the CI worker in a real VM
 * connects after boot, whether or not the lifecycle has noticed), then waits for each lifecycle's result.
 */
export async function runBatch(options: BatchOptions): Promise<BatchRun> {
  const { client, specs, timeline } = options;
  const startedAt = Date.now();
  const records = new Map(specs.map((spec) => [spec.name, { workerName: spec.name } as LifecycleRecord]));
  const signal = limiter(options.signalConcurrency);
  const start = limiter(options.startConcurrency);
  const signals: Promise<void>[] = [];

  const onServer = (event: ServerEvent): void => {
    if (event.kind !== 'active' || event.at < startedAt) return;
    const name = workerNameOf(event.name);
    const record = name === undefined ? undefined : records.get(name);
    if (!record || record.attachSentAt !== undefined || name === undefined) return;
    record.attachSentAt = -1;
    signals.push(
      signal(async () => {
        if (options.attachAfterMs) await sleep(options.attachAfterMs);
        record.attachSentAt = Date.now();
        await client.attached(name);
        await client.release(name);
      }).catch((error: unknown) => {
        record.error ??= `signal: ${error instanceof Error ? error.message : String(error)}`;
      }),
    );
  };
  const unsubscribe = options.timeline.on(onServer);

  let finished = 0;
  const lifecycles = specs.map(async (spec) => {
    const record = records.get(spec.name)!;
    try {
      const handle = await start(() => {
        record.startCalledAt = Date.now();
        return client.substantiate(spec, { properties: { reason: 'benchmark' } });
      });
      const result = await handle.result();
      record.finishedAt = Date.now();
      record.outcome = result.outcome;
      record.serverId = result.serverId;
      record.launches = result.status.launches;
      if (result.status.activeAt) record.detected = Date.parse(result.status.activeAt);
      if (result.status.error) record.error = result.status.error;
    } catch (error) {
      record.finishedAt = Date.now();
      record.error = error instanceof Error ? error.message : String(error);
    }
    finished += 1;
    if (finished % Math.max(1, Math.floor(specs.length / 10)) === 0) options.progress?.(`${finished}/${specs.length} lifecycles finished`);
  });

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, options.deadline - Date.now()));
  });
  const aborted = (options.abort ?? new Promise<never>(() => {})).then((reason) => ({ reason }));
  try {
    const outcome = await Promise.race([Promise.all(lifecycles), timedOut, aborted]);
    if (outcome === 'timeout' || (typeof outcome === 'object' && 'reason' in outcome)) {
      const why = outcome === 'timeout' ? 'did not finish before the benchmark timeout' : `did not finish: ${outcome.reason}`;
      for (const record of records.values()) if (record.finishedAt === undefined) record.error ??= why;
    } else {
      await Promise.race([Promise.all(signals), timedOut, aborted]);
    }
  } finally {
    clearTimeout(timer);
    unsubscribe();
  }

  for (const record of records.values()) {
    if (record.attachSentAt === -1) record.attachSentAt = undefined;
    const servers = timeline.serversOf(record.workerName, startedAt);
    const server = servers.find((s) => s.serverId === record.serverId) ?? servers.at(-1);
    if (!server) continue;
    record.serverId ??= server.serverId;
    record.created = servers[0]?.created;
    record.simActive = server.active;
    record.gone = server.gone;
  }
  return { startedAt, endedAt: Date.now(), records: [...records.values()] };
}

export function failed(record: LifecycleRecord): boolean {
  return record.error !== undefined || record.outcome !== 'released' || (record.launches ?? 1) > 1;
}
