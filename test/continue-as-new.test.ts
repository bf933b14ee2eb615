import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleEndedError } from '../src/client/api.js';
import { workflowIdFor } from '../src/contract/names.js';
import { reapOnce } from '../src/client/reaper.js';
import { startDevServer, type DevServer } from '../src/temporal/devServer.js';
import { phaseKey, serverIdKey, workerNameKey } from '../src/workflows/searchAttributes.js';
import { BUILDBOT4, requireInstall } from './support/buildbotVenvs.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { runsOf } from './support/runs.js';

// The hand-over of a long-lived lifecycle to its next run, on a real Temporal server told to
// suggest continue-as-new early (as it does at 4 Ki events), so that a few builds show it.
const DEPLOYMENT = 'continue-as-new-test';
let server: DevServer;
let rig: LifecycleRig;

beforeAll(async () => {
  server = await startDevServer({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 } });
  rig = await startLifecycleRig([{ name: 'long' }, { name: 'again' }, { name: 'buildbot' }, { name: 'stream' }], { address: server.address, deployment: DEPLOYMENT });
});

afterAll(async () => {
  await rig?.stop();
  await server?.stop();
});

/** Saves one run's history as a replay fixture, when RECORD_HISTORIES names it. */
async function recordRun(fixture: string, name: string, runId: string): Promise<void> {
  if (!process.env.RECORD_HISTORIES?.split(',').includes(fixture)) return;
  const history = await rig.client.temporal.workflow.getHandle(workflowIdFor(name), runId).fetchHistory();
  writeFileSync(`test/fixtures/histories/${fixture}.json`, historyToJSON(history));
}

describe('continue-as-new of an attached lifecycle', () => {
  it('hands its server, builds and milestones to the next run when Temporal suggests it; signals pinned to the first run follow', async () => {
    const name = rig.nameOf('long');
    const started = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    const runId = started.firstExecutionRunId;
    const active = await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await rig.client.attached(name, { runId });
    let builds = 0;
    while ((await rig.client.status(name)).runs === undefined) {
      await rig.client.buildStarted(name, { runId });
      await rig.client.buildFinished(name, { runId });
      builds += 1;
      expect(builds).toBeLessThan(100);
    }
    const latest = await rig.client.handle(name).describe();
    expect(latest.runId).not.toBe(runId);
    expect((await rig.client.temporal.workflow.getHandle(workflowIdFor(name), runId).describe()).status.name).toBe('CONTINUED_AS_NEW');

    // What a master and an operator see of the new run: the same lifecycle, further on.
    const status = await rig.client.status(name);
    expect(status).toMatchObject({ phase: 'attached', runs: 2, serverId: active.serverId, serverName: active.serverName, startedAt: active.startedAt, activeAt: active.activeAt, buildsFinished: builds, buildsRunning: 0 });
    expect(status.attachedAt).toBeDefined();
    expect(latest.typedSearchAttributes.get(phaseKey)).toBe('attached');
    expect(latest.typedSearchAttributes.get(serverIdKey)).toBe(active.serverId);
    expect(latest.typedSearchAttributes.get(workerNameKey)).toBe(name);
    expect((await rig.client.list({ workerName: name })).map((lifecycle) => [lifecycle.runId, lifecycle.execution])).toEqual([[latest.runId, 'RUNNING']]);

    // The server's metadata names the first run, which has closed: the reaper must see the lifecycle live on.
    const reaped = await reapOnce(rig.client.temporal, { deployment: DEPLOYMENT, taskQueue: rig.client.taskQueue, graceSeconds: 0, dryRun: true });
    expect(reaped.orphans.map((orphan) => orphan.serverId)).not.toContain(active.serverId);
    expect(reaped.kept).toBeGreaterThanOrEqual(1);

    await rig.client.release(name, { runId });
    const result = await started.result();
    expect(result).toMatchObject({ outcome: 'released', serverId: active.serverId, status: { releaseReason: 'master', buildsFinished: builds, runs: 2 } });
    const creates = rig.simulator.requests().filter((request) => request.method === 'POST' && request.path.endsWith('/servers') && JSON.stringify(request.body).includes(name));
    expect(creates).toHaveLength(1);
    expect(rig.simulator.requests().filter((request) => request.method === 'DELETE' && request.path.endsWith(active.serverId!))).toHaveLength(1);
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(name))).toEqual([]);
    await recordRun('handed-over', name, runId);
    await recordRun('continued-released', name, latest.runId);
    await recordRun('lean-handed-over', name, runId);
    await recordRun('lean-continued-released', name, latest.runId);
    await recordRun('steady-handed-over', name, runId);
    await recordRun('steady-continued-released', name, latest.runId);
    await recordRun('prompt-create-handed-over', name, runId);
    await recordRun('prompt-create-continued-released', name, latest.runId);
    await recordRun('unmarked-handed-over', name, runId);
    await recordRun('unmarked-continued-released', name, latest.runId);
  });

  it('refuses a late signal pinned to an ended lifecycle instead of ending the next one', async () => {
    const name = rig.nameOf('again');
    const spec = rig.config.workers.get(name)!.specFor();
    const first = await rig.client.substantiate(spec);
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await rig.client.release(name, { runId: first.firstExecutionRunId });
    expect((await first.result()).outcome).toBe('released');

    const second = await rig.client.substantiate(spec);
    expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    const late = await rig.client.release(name, { runId: first.firstExecutionRunId }).catch((error: unknown) => error);
    expect(late).toBeInstanceOf(LifecycleEndedError);
    expect((late as Error).message).toContain(first.firstExecutionRunId);
    expect((await rig.client.status(name)).phase).toBe('waiting-for-attach');
    expect((await rig.client.handle(name).describe()).status.name).toBe('RUNNING');

    await rig.client.release(name, { runId: second.firstExecutionRunId });
    expect((await second.result()).outcome).toBe('released');
  });

  it("the Buildbot adapter's signals, pinned to the run it started, follow the hand-over too", async () => {
    await requireInstall(BUILDBOT4);
    const name = rig.nameOf('buildbot');
    const started = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    const runId = started.firstExecutionRunId;
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await rig.client.attached(name, { runId });
    for (let builds = 0; (await rig.client.status(name)).runs === undefined; builds++) {
      expect(builds).toBeLessThan(100);
      await rig.client.buildStarted(name, { runId });
      await rig.client.buildFinished(name, { runId });
    }
    // What the adapter's stop_instance does: release the run that start_instance was given.
    const script = [
      'import asyncio, os, sys',
      'from latent_worker_buildbot.connection import TemporalSettings',
      'from latent_worker_buildbot.lifecycle import Lifecycle, LifecycleClient',
      'async def main():',
      '    client = LifecycleClient(TemporalSettings(address=sys.argv[1], task_queue=sys.argv[2]))',
      '    print(await client.signal(Lifecycle(sys.argv[3], sys.argv[4]), "release"))',
      'asyncio.run(main())',
      // The SDK's native threads can outlive a short client process's teardown and abort it
      // ("PyGILState_Release ... finalizing", temporalio/sdk-python#300) after the signal went
      // through; the retry then finds the lifecycle released. Leave without the teardown.
      'sys.stdout.flush()',
      'os._exit(0)',
    ].join('\n');
    const { stdout } = await promisify(execFile)(BUILDBOT4.python, ['-c', script, server.address, rig.client.taskQueue, name, runId], { timeout: 60_000 });
    expect(stdout.trim()).toBe('True');
    const result = await started.result();
    expect(result).toMatchObject({ outcome: 'released', status: { releaseReason: 'master', runs: 2 } });
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(name))).toEqual([]);
  });

  it('hands over under a steady stream of build signals that never pauses, and loses none of them', async () => {
    const name = rig.nameOf('stream');
    const started = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await rig.client.attached(name);
    // Four executors, each starting and finishing builds back to back: a signal is always in
    // flight, so no hand-over ever meets a quiet moment. A real server refuses signals while a run
    // retries a close that met new ones (the client retries them), so the close goes through.
    const BUILDS = 240;
    let sent = 0;
    const streamEnds = Date.now() + 120_000;
    const executor = async () => {
      while (sent < BUILDS && Date.now() < streamEnds) {
        sent += 1;
        await rig.client.buildStarted(name);
        await rig.client.buildFinished(name);
      }
    };
    await Promise.all(Array.from({ length: 4 }, executor));
    expect(sent).toBe(BUILDS);

    // Every signal the server took is counted by the run that serves now.
    for (const deadline = Date.now() + 60_000; ; await delay(50)) {
      const status = await rig.client.status(name);
      if (status.buildsFinished === BUILDS && status.buildsRunning === 0) break;
      if (Date.now() > deadline) throw new Error(`${BUILDS} builds streamed, the lifecycle counts ${status.buildsFinished} finished and ${status.buildsRunning} running`);
    }
    await rig.client.release(name);
    const result = await started.result();
    expect(result).toMatchObject({ outcome: 'released', status: { releaseReason: 'master', buildsFinished: BUILDS, buildsRunning: 0 } });

    const runs = await runsOf(rig.client, name);
    console.log(`${BUILDS} builds streamed by 4 executors without a pause: ${runs.length} runs; events per run: ${runs.map((run) => run.events).join(', ')}; largest ${Math.max(...runs.map((run) => run.events))}`);
    expect(result.status.runs).toBe(runs.length);
    // How far past the suggestion (60 events) a run gets is not this test's to bound: a hand-over
    // refused because signals arrived meanwhile is retried, and how many arrive grows with the
    // machine's load (CI runs saw one run of 304 and one of 327 events of 674). A stream that held
    // the hand-over off would leave one or two runs; four or more, each closed by a hand-over, show
    // it going through again and again while the stream never paused.
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(runs.slice(0, -1).map((run) => run.closedBy)).toEqual(runs.slice(0, -1).map(() => 'ContinuedAsNew'));
    expect(rig.simulator.requests().filter((request) => request.method === 'POST' && request.path.endsWith('/servers') && JSON.stringify(request.body).includes(name))).toHaveLength(1);
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(name))).toEqual([]);
  });
});
