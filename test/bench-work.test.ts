import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeLagParts } from '../bench/activeLag.js';
import { runCalibration } from '../bench/calibration/index.js';
import { historyWork } from '../bench/historyStats.js';
import { ProcSampler } from '../bench/procStats.js';
import { readServerMetrics, serverWork } from '../bench/serverMetrics.js';
import { workflowIdFor } from '../src/contract/names.js';
import type { LatentWorkerClient } from '../src/client/api.js';
import type { ServerEvent } from '../src/simulator/index.js';
import { startDevServer, type DevServer } from '../src/temporal/devServer.js';
import { projectRoot } from '../src/temporal/paths.js';
import { startLifecycleRig } from './support/lifecycleRig.js';
import { connectClient } from './support/temporal.js';

// The benchmark's machine-independent figures: the history counts of a workflow whose shape is
// known, read from a real Temporal server, and the calibration run's CPU, taken from /proc; and
// the work a released lifecycle asks of Temporal, which must not grow back.

let server: DevServer;
let client: Client;

beforeAll(async () => {
  // Its own server: the CPU taken from /proc must be this test's alone.
  server = await startDevServer({ metrics: true });
  client = await connectClient(server.address);
});

afterAll(async () => {
  await client?.connection.close();
  await server?.stop();
});

describe('benchmark calibration', () => {
  it('runs bare workflows in a worker process of their own and counts their histories event by event', async () => {
    const serverSampler = new ProcSampler(server.pid);
    try {
      const activities = 3;
      const metricsBefore = await readServerMetrics(server.metricsUrl!);
      const report = await runCalibration({
        client,
        serverAddress: server.address,
        serverSampler,
        workflows: 4,
        activitiesPerWorkflow: activities,
        startConcurrency: 2,
        logFile: path.join(projectRoot, '.scratch', `calibration-worker-${process.pid}.log`),
        env: {},
        deadline: Date.now() + 100_000,
      });
      expect(report.history.runs).toBe(4);
      // Started + the first workflow task (3 events), per activity scheduled/started/completed and
      // a workflow task (6 events), the last task's completion and the workflow's.
      expect(report.history.mean).toEqual({ events: 4 + 6 * activities + 1, workflowTasks: activities + 1, activityTasks: activities, localActivities: 0, timers: 0, upserts: 0, markers: 0, signals: 0 });
      expect(report.history.maxEvents).toBe(4 + 6 * activities + 1);
      expect(report.workerCpuSeconds).toBeGreaterThan(0);
      expect(report.temporalServerCpuSeconds).toBeGreaterThan(0);

      // The server's own account of the same work (bench/serverMetrics.ts).
      const work = serverWork(metricsBefore!, (await readServerMetrics(server.metricsUrl!))!);
      console.log(`server's account of 4 bare workflows: ${JSON.stringify(work)}`);
      expect(work.stickyTasks + work.sharedTasks).toBe(4 * (activities + 1));
      // Each workflow's creation, and per task and per activity its start and its end: some of these share a write.
      expect(work.stateWrites).toBeGreaterThanOrEqual(4 * (1 + 2 * activities));
      expect(work.stateWrites).toBeLessThanOrEqual(4 * (1 + 2 * (activities + 1) + 2 * activities));
      expect(work.shardWaits).toBeGreaterThanOrEqual(work.stateWrites);
    } finally {
      serverSampler.stop();
    }
  });
});

describe('the work of a released lifecycle', () => {
  it('costs at most four workflow tasks, no activity task, three local activities, one patch marker and one upsert of its own per phase, as the benchmark drives it', async () => {
    const lifecycles = 6;
    // Filled in once the rig is up; the simulator only reports servers after that.
    const master: { client?: LatentWorkerClient; names: string[] } = { names: [] };
    const signals: Promise<void>[] = [];
    const activeAt = new Map<string, number>();
    // The benchmark's CI master: `attached`, then `release`, once the server exists; they reach the
    // lifecycle while it waits for the boot, so it never waits for them with a timer.
    const onServerEvent = (event: ServerEvent): void => {
      const name = master.names.find((n) => event.name.startsWith(`${n}-`));
      if (event.kind === 'active' && name) activeAt.set(name, event.at);
      const client = master.client;
      if (event.kind !== 'created' || !name || !client) return;
      signals.push(
        (async () => {
          await client.attached(name);
          await client.release(name);
        })(),
      );
    };
    const rig = await startLifecycleRig(
      Array.from({ length: lifecycles }, (_, i) => ({ name: `work${i}` })),
      { address: server.address, simulator: { bootDelayMs: 3000, deleteDelayMs: 100, onServerEvent } },
    );
    const names = Array.from({ length: lifecycles }, (_, i) => rig.nameOf(`work${i}`));
    master.names = names;
    master.client = rig.client;
    try {
      const metricsBefore = await readServerMetrics(server.metricsUrl!);
      const results = await Promise.all(names.map(async (name) => (await rig.client.substantiate(rig.config.workers.get(name)!.specFor())).result()));
      await Promise.all(signals);
      expect(results.map((result) => result.outcome)).toEqual(names.map(() => 'released'));

      // Heartbeats that reach the server are writes of the lifecycle's state: none from a create
      // made within the first workflow task (a local activity: only the create activity says when
      // it posted, for a later attempt) and none from a delete that saw its server go within 5 s.
      // The fleet's status watcher beats, at most once in 8 s.
      const serverSide = serverWork(metricsBefore!, (await readServerMetrics(server.metricsUrl!))!);
      console.log(`server's account of ${lifecycles} lifecycles: ${JSON.stringify(serverSide)}`);
      expect(serverSide.heartbeats).toBeLessThanOrEqual(3);

      const work = await historyWork(client, names.map(workflowIdFor));
      console.log(`released lifecycle (${work.runs} histories): ${JSON.stringify(work.mean)}, largest ${work.maxEvents} events, most ${work.maxWorkflowTasks} workflow tasks`);
      // The shape before wrote about 62 events: 5 activity tasks, 16 upserts, 6 patch markers (docs/benchmark.md).
      // Now: the quick steps (input, token, image) as one local activity and the create as another, both in
      // the first workflow task (no activity task); the boot's end told by the cloud's status watcher (a signal,
      // beside `attached` and `release`, ending the boot's timer); the delete done within the task the release
      // came in (a third local activity).
      expect(work.mean).toMatchObject({ activityTasks: 0, localActivities: 3, markers: 1, timers: 1, signals: 3 });
      // The start, and at most one task per signal.
      expect(work.maxWorkflowTasks).toBeLessThanOrEqual(4);
      // One patch marker (prompt-create-lifecycle), with Temporal's change-version upsert; then one upsert for each
      // phase the lifecycle stops in: booting (created within the first task, it never stopped in `creating`),
      // waiting for the CI worker, attached, done. The master's signals came during the boot, so waiting, attached
      // and the release share the boot's last workflow task; the steady shapes write each all the same
      // (src/workflows/shape.ts); the delete ended within the task, so `deleting` was never written.
      expect(work.mean.upserts).toBe(5);
      // Started and completed, three events a workflow task, the signals, the local activities, the
      // marker, the upserts, the boot timer's start and cancel: nothing else. That is 16 + 3 a
      // workflow task: 22 with two tasks, 25 with three (the master's signals arrive with a task of their own).
      expect(work.mean.events).toBeCloseTo(2 + 3 * work.mean.workflowTasks + 3 + 3 + 1 + 5 + 2, 6);
      expect(work.maxEvents).toBeLessThanOrEqual(16 + 3 * work.maxWorkflowTasks);
      await rig.recordHistory('steady-released-signalled-while-booting', names[0]!);
      await rig.recordHistory('prompt-create-released-signalled-while-booting', names[0]!);
      await rig.recordHistory('unmarked-released-signalled-while-booting', names[0]!);

      // The benchmark's ACTIVE-detection lag ends at the workflow task that heard the watcher's
      // signal, read from each history; the lifecycle's activeAt (the watcher's list) comes before it.
      const records = results.map((result, i) => ({ workerName: names[i]!, simActive: activeAt.get(names[i]!), detected: Date.parse(result.status.activeAt!) }));
      const lag = await activeLagParts(rig.client.temporal, records, rig.simulator.requests());
      console.log(`ACTIVE detection lag: ${JSON.stringify(lag)}`);
      expect(lag.activeDetectionLag?.count).toBe(lifecycles);
      expect(lag.signalToHeard?.count).toBe(lifecycles);
      expect(lag.activeDetectionLag!.p50).toBeGreaterThanOrEqual(lag.signalToHeard!.p50);
      // The signal to the task that heard it, in two parts: a task of the lifecycle still running, then the task's wait for a poll.
      expect(lag.signalToScheduled?.count).toBe(lifecycles);
      expect(lag.scheduledToStarted?.count).toBe(lifecycles);
      expect(lag.signalToScheduled!.max + lag.scheduledToStarted!.max).toBeGreaterThanOrEqual(lag.signalToHeard!.max);
      expect(lag.heardTasks).toBe(lifecycles);
      for (const record of records) expect(record.detected).toBeGreaterThanOrEqual(record.simActive!);
    } finally {
      await rig.stop();
    }
  });
});
