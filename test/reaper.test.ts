import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/client/exitCodes.js';
import { ensureReaperSchedule, reapOnce, reaperScheduleId, REAPER_WORKFLOW_TYPE } from '../src/client/reaper.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { OpenStackClient } from '../src/openstack/index.js';
import type { ReaperReport } from '../src/workflows/reaper.js';
import { startLifecycleRig, SEED_WORKER, type LifecycleRig } from './support/lifecycleRig.js';
import { runCli } from './support/cli.js';
import { temporalAddress } from './support/temporal.js';

const IMAGE = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';
const DEPLOYMENT = 'reaper-test';

let rig: LifecycleRig;
let cloud: OpenStackClient;
let configPath: string;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'terminated' }, { name: 'running' }, { name: 'young' }, { name: 'reset' }], { deployment: DEPLOYMENT });
  // Servers made behind the lifecycles' back, as an operator or another installation would.
  cloud = new OpenStackClient(rig.config.workers.get(rig.nameOf('terminated'))!.credentials);
  configPath = join(mkdtempSync(join(tmpdir(), 'latent-reaper-')), 'latent.config.yaml');
  const workers = [...rig.config.workers.values()].map(({ definition }) => ({ ...SEED_WORKER, ...definition, os_auth_url: rig.simulator.authUrlV2 }));
  writeFileSync(configPath, stringify({ deployment: DEPLOYMENT, workers }));
});

afterAll(async () => {
  await cloud?.close();
  await rig?.stop();
});

function reap(graceSeconds: number, dryRun = false): Promise<ReaperReport> {
  return reapOnce(rig.client.temporal, { deployment: DEPLOYMENT, taskQueue: rig.client.taskQueue, graceSeconds, dryRun });
}

function serverIds(): string[] {
  return rig.simulator.servers().map((server) => server.id);
}

async function createServer(name: string, metadata: Record<string, string>): Promise<string> {
  const { id } = await cloud.compute.createServer({ name, flavorRef: '1', imageRef: IMAGE, metadata });
  return id;
}

/** A lifecycle whose server is ACTIVE, then terminated: termination skips the lifecycle's cleanup. */
async function terminatedWithServer(base: string): Promise<{ serverId: string; runId: string }> {
  const name = rig.nameOf(base);
  const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
  const { serverId } = await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
  await handle.terminate('test: leave the server behind');
  return { serverId: serverId!, runId: handle.firstExecutionRunId };
}

const cli = (...args: string[]) =>
  runCli(['--config', configPath, ...args], { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: rig.client.taskQueue });

describe('the orphan reaper', () => {
  it("reports a terminated lifecycle's server in a dry run, then deletes it until gone", async () => {
    const { serverId, runId } = await terminatedWithServer('terminated');
    const server = rig.simulator.servers().find((candidate) => candidate.id === serverId)!;
    expect(server.metadata).toMatchObject({ 'latent-worker:deployment': DEPLOYMENT, 'latent-worker:run-id': runId });

    rig.simulator.clearRequests();
    const dry = await reap(0, true);
    expect(dry).toMatchObject({ deployment: DEPLOYMENT, dryRun: true, scanned: 1, kept: 0, deleted: [], failed: [], unlisted: [] });
    expect(dry.orphans).toEqual([
      expect.objectContaining({ serverId, name: server.name, owner: { workflowId: `latent-worker:${rig.nameOf('terminated')}`, runId }, reason: expect.stringContaining('is terminated') }),
    ]);
    expect(rig.simulator.requests().filter((request) => request.method === 'DELETE')).toEqual([]);
    expect(serverIds()).toContain(serverId);

    const real = await reap(0);
    expect(real.deleted.map((orphan) => orphan.serverId)).toEqual([serverId]);
    expect(real.failed).toEqual([]);
    expect(rig.simulator.servers().filter((candidate) => candidate.name.startsWith(rig.nameOf('terminated')))).toEqual([]);
  });

  it("keeps a running lifecycle's server, and a closed one's until it is older than the grace period", async () => {
    const running = rig.nameOf('running');
    const handle = await rig.client.substantiate(rig.config.workers.get(running)!.specFor());
    const { serverId: runningServer } = await rig.client.waitForPhase(running, 'waiting-for-attach', { intervalMs: 50 });
    const young = await terminatedWithServer('young');

    const withinGrace = await reap(600);
    expect(withinGrace).toMatchObject({ scanned: 2, kept: 2, orphans: [], deleted: [] });

    // Nova's `created` has whole seconds: after 1.5 s the server is at least 1 s old by its clock.
    await delay(1500);
    const pastGrace = await reap(1);
    expect(pastGrace).toMatchObject({ scanned: 2, kept: 1 });
    expect(pastGrace.deleted.map((orphan) => orphan.serverId)).toEqual([young.serverId]);
    expect(serverIds()).toEqual([runningServer]);

    await rig.client.release(running);
    expect((await handle.result()).outcome).toBe('released');
    expect(serverIds()).toEqual([]);
  });

  it("deletes servers of this deployment whose owner run never existed, keeps those whose workflow this namespace does not know, and never touches servers that are not its own", async () => {
    const owner = (workflowId: string, runId: string) => ({ 'latent-worker:workflow-id': workflowId, 'latent-worker:run-id': runId, 'latent-worker:attempt': '1' });
    const ours = { 'latent-worker:deployment': DEPLOYMENT };
    // A workflow id this namespace knows (the first test's lifecycle), with a run it never had.
    const neverRan = await createServer('never-ran', { ...ours, ...owner(`latent-worker:${rig.nameOf('terminated')}`, randomUUID()) });
    const badRunId = await createServer('bad-run-id', { ...ours, ...owner(`latent-worker:${rig.nameOf('terminated')}`, 'not-a-run-id') });
    const noOwner = await createServer('no-owner', ours);
    // Another installation with the same deployment: its workflow ids are unknown here.
    const foreign = await createServer('foreign', { ...ours, ...owner(`latent-worker:elsewhere-${randomUUID()}`, randomUUID()) });
    const otherDeployment = await createServer('other-deployment', { 'latent-worker:deployment': 'someone-else', ...owner(`latent-worker:never-${randomUUID()}`, randomUUID()) });
    const unmarked = await createServer('unmarked', { purpose: 'hand-made' });
    const legacy = await createServer('unmarked-owner', owner(`latent-worker:never-${randomUUID()}`, randomUUID()));

    const report = await reap(0);
    expect(report.scanned).toBe(4);
    expect(report.kept).toBe(1);
    expect(report.foreign).toEqual([expect.objectContaining({ serverId: foreign, reason: expect.stringContaining('no run of latent-worker:elsewhere-') })]);
    const reasons = Object.fromEntries(report.deleted.map((orphan) => [orphan.serverId, orphan.reason]));
    expect(reasons).toEqual({
      [neverRan]: expect.stringContaining('does not exist'),
      [badRunId]: expect.stringContaining('does not exist'),
      [noOwner]: expect.stringContaining('no owning workflow run'),
    });
    expect(serverIds().sort()).toEqual([foreign, otherDeployment, unmarked, legacy].sort());

    for (const id of [foreign, otherDeployment, unmarked, legacy]) await cloud.compute.deleteServer(id);
  });

  it('`worker` refuses to start with a deployment whose servers name owners this namespace never ran, naming them', async () => {
    const owner = `latent-worker:elsewhere-${randomUUID()}`;
    const foreign = await createServer('other-installation', { 'latent-worker:deployment': DEPLOYMENT, 'latent-worker:workflow-id': owner, 'latent-worker:run-id': randomUUID(), 'latent-worker:attempt': '1' });
    try {
      const refused = await cli('worker');
      expect(refused.code).toBe(EXIT.usage);
      expect(refused.stderr).toContain(`deployment "${DEPLOYMENT}" seems to be used by another installation: 1 server(s) carry it, but namespace default never ran their owners: other-installation ${foreign}`);
      expect(refused.stderr).toContain(`(owner ${owner})`);
      expect(refused.stderr).toContain('--allow-shared-deployment');
    } finally {
      await cloud.compute.deleteServer(foreign);
    }
  });

  it('keeps the server of a lifecycle that `workflow reset` moved to a new run id, and the new run deletes it when released', async () => {
    const name = rig.nameOf('reset');
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    const { serverId } = await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await rig.client.attached(name);
    await rig.client.waitForPhase(name, 'attached', { intervalMs: 50 });
    // As `temporal workflow reset --type LastWorkflowTask` does: a new run replays up to the last
    // completed workflow task and goes on; the old run is terminated; the server names the old one.
    const history = await handle.fetchHistory();
    const lastTask = [...history.events!].reverse().find((event) => event.workflowTaskCompletedEventAttributes);
    const reset = await rig.client.temporal.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
      reason: 'test: operator reset',
      workflowTaskFinishEventId: lastTask!.eventId,
      requestId: randomUUID(),
    });
    expect(reset.runId).not.toBe(handle.firstExecutionRunId);
    expect(rig.simulator.servers().find((server) => server.id === serverId)?.metadata['latent-worker:run-id']).toBe(handle.firstExecutionRunId);

    const report = await reap(0);
    expect(report.orphans).toEqual([]);
    expect(serverIds()).toContain(serverId);

    await rig.client.release(name);
    const result = await rig.client.temporal.workflow.getHandle(handle.workflowId, reset.runId).result();
    expect(result.outcome).toBe('released');
    expect(serverIds()).not.toContain(serverId);
  });

  it('runs from the CLI: `reap --dry-run --json` reports without deleting, `reap` deletes and prints a line per orphan', async () => {
    const { serverId } = await terminatedWithServer('terminated');

    const dry = await cli('reap', '--dry-run', '--grace', '0', '--json');
    expect(dry.code).toBe(EXIT.ok);
    const report = JSON.parse(dry.stdout) as ReaperReport;
    expect(report).toMatchObject({ deployment: DEPLOYMENT, dryRun: true, deleted: [], orphans: [expect.objectContaining({ serverId })] });
    expect(serverIds()).toContain(serverId);

    const real = await cli('reap', '--grace', '0');
    expect(real.code).toBe(EXIT.ok);
    expect(real.stdout).toContain(`deployment ${DEPLOYMENT}: 1 server(s) scanned, 0 kept, 1 orphan(s), 1 deleted`);
    expect(real.stdout).toMatch(new RegExp(`orphan ${rig.nameOf('terminated')}-\\w{8}-1 ${serverId}: deleted: owner .* is terminated`));
    expect(serverIds()).toEqual([]);

    expect((await cli('reap', '--grace', 'soon')).code).toBe(EXIT.usage);
  });
});

describe('the reaper schedule', () => {
  it('is created once per deployment, left alone when unchanged, updated when the interval changes, and keeps a pause', async () => {
    const deployment = `schedule-${randomUUID().slice(0, 8)}`;
    const options = { deployment, taskQueue: rig.client.taskQueue, intervalSeconds: 3600, graceSeconds: 600 };
    const handle = rig.client.temporal.schedule.getHandle(reaperScheduleId(deployment));
    try {
      expect(await ensureReaperSchedule(rig.client.temporal, options)).toBe('created');
      const created = await handle.describe();
      expect(created.spec.intervals).toMatchObject([{ every: 3_600_000 }]);
      expect(created.action).toMatchObject({ type: 'startWorkflow', workflowType: REAPER_WORKFLOW_TYPE, taskQueue: rig.client.taskQueue, args: [{ graceSeconds: 600, dryRun: false }] });
      expect(created.policies.overlap).toBe('SKIP');

      expect(await ensureReaperSchedule(rig.client.temporal, options)).toBe('unchanged');

      await handle.pause('test: an operator paused it');
      expect(await ensureReaperSchedule(rig.client.temporal, { ...options, intervalSeconds: 1800 })).toBe('updated');
      const updated = await handle.describe();
      expect(updated.spec.intervals).toMatchObject([{ every: 1_800_000 }]);
      expect(updated.state.paused).toBe(true);
    } finally {
      await handle.delete();
    }
  });

  it('starts a reaper run on the worker task queue that completes with a report', async () => {
    const deployment = `trigger-${randomUUID().slice(0, 8)}`;
    const handle = rig.client.temporal.schedule.getHandle(reaperScheduleId(deployment));
    await ensureReaperSchedule(rig.client.temporal, { deployment, taskQueue: rig.client.taskQueue, intervalSeconds: 3600, graceSeconds: 600 });
    try {
      await handle.trigger();
      let started: { workflowId: string; firstExecutionRunId: string } | undefined;
      for (let tries = 0; !started && tries < 100; tries += 1) {
        started = (await handle.describe()).info.recentActions[0]?.action.workflow;
        if (!started) await delay(100);
      }
      expect(started?.workflowId).toMatch(new RegExp(`^${reaperScheduleId(deployment)}-`));
      const report = (await rig.client.temporal.workflow.getHandle(started!.workflowId, started!.firstExecutionRunId).result()) as ReaperReport;
      // The worker process's own deployment decides which servers are judged, whatever the schedule's name.
      expect(report).toMatchObject({ deployment: DEPLOYMENT, dryRun: false, graceSeconds: 600, failed: [], unlisted: [] });
    } finally {
      await handle.delete();
    }
  });
});

describe('deployment and reaper settings', () => {
  const worker = { ...SEED_WORKER, name: 'bot2', os_auth_url: 'http://127.0.0.1:35357/v2.0' };

  it('defaults to deployment "default", a reaper every 5 minutes and a 10-minute grace period', () => {
    const config = parseConfig({ workers: [worker] }, 'test', {});
    expect(config.deployment).toBe('default');
    expect(config.reaper).toEqual({ intervalSeconds: 300, graceSeconds: 600 });
  });

  it('takes the deployment from the file, and LATENT_WORKER_DEPLOYMENT over it', () => {
    const raw = { workers: [worker], deployment: 'ci-prod', reaper: { intervalSeconds: 60, graceSeconds: 0 } };
    expect(parseConfig(raw, 'test', {})).toMatchObject({ deployment: 'ci-prod', reaper: { intervalSeconds: 60, graceSeconds: 0 } });
    expect(parseConfig(raw, 'test', { LATENT_WORKER_DEPLOYMENT: 'ci-staging' }).deployment).toBe('ci-staging');
  });

  it.each([
    ['an empty deployment', { deployment: '' }, {}, 'deployment: must be 1-63 letters'],
    ['a deployment with a space', { deployment: 'ci prod' }, {}, 'deployment: must be 1-63 letters'],
    ['a deployment of 64 characters', { deployment: 'x'.repeat(64) }, {}, 'deployment: must be 1-63 letters'],
    ['a bad LATENT_WORKER_DEPLOYMENT', {}, { LATENT_WORKER_DEPLOYMENT: 'a/b' }, 'LATENT_WORKER_DEPLOYMENT: must be 1-63 letters'],
    ['a zero interval', { reaper: { intervalSeconds: 0 } }, {}, 'reaper.intervalSeconds'],
    ['a negative grace period', { reaper: { graceSeconds: -1 } }, {}, 'reaper.graceSeconds'],
    ['an unknown reaper key', { reaper: { interval: 60 } }, {}, 'unknown key'],
  ])('refuses %s, naming the field', (_what, extra, env, expected) => {
    expect(() => parseConfig({ workers: [worker], ...extra }, 'test', env)).toThrow(ConfigError);
    expect(() => parseConfig({ workers: [worker], ...extra }, 'test', env)).toThrow(expected);
  });
});
