import { setTimeout as delay } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatentWorkerClient } from '../src/client/api.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { createTimeSkippingEnv } from './support/temporal.js';
import { runsOf } from './support/runs.js';
import { runSkippingTime, untilWaitingForAttach } from './support/timeSkippingRig.js';
import { EVENTS_PER_RUN } from '../src/workflows/builds.js';

// A worker that stays attached for months, compressed: its lifecycle continues as new before a
// run's history grows large, keeps its one server throughout, and still ends cleanly.
let env: TestWorkflowEnvironment;
let simulator: Simulator;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  simulator = await startSimulator({ bootDelayMs: 100, deleteDelayMs: 50 });
});

afterAll(async () => {
  await simulator?.close();
  await env?.teardown();
});

const BUILDS = Number(process.env.LONG_LIVED_BUILDS ?? 20_000);
/** Builds started (then finished) together, as a busy master with several executors does. */
const EXECUTORS = 20;

/**
 * Builds as a master runs them, several at once; each round ends when the lifecycle has counted
 * it, as a real build's minutes would let it. (A master that never paused would keep Temporal
 * from accepting the hand-over: a close command meets a signal that came in meanwhile, and the
 * task is retried.)
 */
async function serve(client: LatentWorkerClient, name: string, builds: number): Promise<void> {
  for (let done = 0; done < builds; ) {
    const executors = Array.from({ length: Math.min(EXECUTORS, builds - done) });
    await Promise.all(executors.map(() => client.buildStarted(name)));
    await Promise.all(executors.map(() => client.buildFinished(name)));
    done += executors.length;
    await countedBy(client, name, done);
  }
}

/** Waits until the lifecycle has counted `done` builds; a signal lost in a hand-over would stop it short. */
async function countedBy(client: LatentWorkerClient, name: string, done: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    // A query that meets a hand-over fails when the closing run no longer answers (seen on a
    // loaded machine); the next one reaches the new run.
    const status = await client.status(name).catch((error: unknown) => error as Error);
    const counted = !(status instanceof Error) && status.buildsFinished === done && status.buildsRunning === 0;
    if (counted) return;
    if (Date.now() > deadline) {
      const seen = status instanceof Error ? `the last query failed: ${status.message}` : `the lifecycle counts ${status.buildsFinished} finished and ${status.buildsRunning} running (run ${status.runs ?? 1})`;
      throw new Error(`after ${done} builds ${seen}`);
    }
    await delay(5);
  }
}

describe.sequential('a lifecycle that lives for months', () => {
  it(`serves ${BUILDS} builds on one server, continuing as new under 10,000 events a run, and is released cleanly`, async () => {
    const { name, result, client } = await runSkippingTime(env, simulator, {}, async (client, name) => {
      await untilWaitingForAttach(env, client, name);
      await client.attached(name);
      await serve(client, name, BUILDS);
      const status = await client.status(name);
      expect(status).toMatchObject({ phase: 'attached', buildsFinished: BUILDS, buildsRunning: 0 });
      await client.release(name);
    });
    expect(result).toMatchObject({ outcome: 'released', status: { phase: 'done', releaseReason: 'master', buildsFinished: BUILDS, buildsRunning: 0 } });

    const runs = await runsOf(client, name);
    console.log(`${BUILDS} builds in ${runs.length} runs; events per run: ${runs.map((run) => run.events).join(', ')}; largest ${Math.max(...runs.map((run) => run.events))}`);
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.slice(0, -1).map((run) => run.closedBy)).toEqual(runs.slice(0, -1).map(() => 'ContinuedAsNew'));
    expect(runs.at(-1)!.closedBy).toBe('Completed');
    for (const run of runs) expect(run.events).toBeLessThan(10_000);
    expect(result.status.runs).toBe(runs.length);

    // One server for the whole lifecycle, deleted once, at the end.
    const own = simulator.requests().filter((request) => request.path.includes('/servers') && (JSON.stringify(request.body ?? '').includes(name) || request.method === 'DELETE'));
    expect(own.filter((request) => request.method === 'POST' && request.path.endsWith('/servers'))).toHaveLength(1);
    expect(own.filter((request) => request.method === 'DELETE' && request.path.endsWith(result.serverId!))).toHaveLength(1);
    expect(simulator.servers()).toEqual([]);
  }, 900_000);
  it('counts build_wait_timeout across a hand-over: an idle worker is released 600 s after it went idle, not after the new run began', async () => {
    // A server of its own: a status query that met one of the hand-overs above can have left
    // this server's time skipping locked (the 5 minutes below would take 5 real minutes, and the
    // idle wait as many again: the 600 s this test once hung).
    const own = await createTimeSkippingEnv();
    try {
      const { result } = await runSkippingTime(own, simulator, {}, async (client, name) => {
        await untilWaitingForAttach(own, client, name);
        await client.attached(name);
        await client.buildStarted(name);
        await client.buildFinished(name);
        await skipTime(own, '5 minutes');
        // A master that repeats itself while the worker idles fills the history all the same.
        await repeatUntilHandedOver(client, name);
        expect((await client.status(name)).phase).toBe('attached');
        await skipTime(own, '10 minutes');
      });
      expect(result.status).toMatchObject({ outcome: 'released', releaseReason: 'idle', runs: 2, buildsFinished: 1 });
      const idle = (Date.parse(result.status.releasedAt!) - Date.parse(result.status.attachedAt!)) / 1000;
      expect(idle).toBeGreaterThanOrEqual(600);
      expect(idle).toBeLessThan(660);
      expect(simulator.servers().filter((server) => server.id === result.serverId)).toEqual([]);
    } finally {
      await own.teardown();
    }
  }, 240_000);
});

/**
 * Moves the time-skipping server's clock on by `duration`, or fails when the clock moves in real
 * time instead: something on the server holds time skipping locked.
 */
async function skipTime(env: TestWorkflowEnvironment, duration: '5 minutes' | '10 minutes'): Promise<void> {
  const bound = 30_000;
  const skipped = await Promise.race([env.sleep(duration).then(() => true), delay(bound).then(() => false)]);
  if (!skipped) throw new Error(`sleeping ${duration} on the time-skipping server took over ${bound / 1000} real seconds: its time skipping is locked`);
}

/**
 * Sends `attached` again and again, 50 at a time, until the run's history reaches the hand-over
 * bound, then only a signal now and then, further and further apart, until the run has handed
 * over. Two things of the time-skipping server shape this. It never holds signals back while a
 * run retries its close, as a real server does, so a stream that went on at the bound could keep
 * bouncing the hand-over. And a status query that meets the hand-over leaves its clock locked for
 * good (the query's task is never answered), so the run is watched through its description only.
 */
async function repeatUntilHandedOver(client: LatentWorkerClient, name: string): Promise<void> {
  const handle = client.handle(name);
  const first = (await handle.describe()).runId;
  const described = async () => {
    const { runId, raw } = await handle.describe();
    return { handedOver: runId !== first, events: Number(raw.workflowExecutionInfo?.historyLength ?? 0) };
  };
  for (let now = await described(); now.events < EVENTS_PER_RUN && !now.handedOver; ) {
    await Promise.all(Array.from({ length: 50 }, () => client.attached(name)));
    const before = now.events;
    for (const deadline = Date.now() + 60_000; (now = await described()).events < before + 50 && !now.handedOver; await delay(20)) {
      if (Date.now() > deadline) throw new Error(`50 signals were not in the history after 60 s (${now.events} events)`);
    }
  }
  for (let gapMs = 500; gapMs <= 32_000; gapMs *= 2) {
    for (const until = Date.now() + gapMs; Date.now() < until; await delay(50)) if ((await described()).handedOver) return;
    await client.attached(name);
  }
  throw new Error(`no hand-over at ${(await described()).events} events`);
}
