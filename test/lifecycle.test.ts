import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowIdFor } from '../src/contract/names.js';
import { outcomeKey, phaseKey, serverIdKey, workerNameKey } from '../src/workflows/searchAttributes.js';
import type { RecordedRequest } from '../src/simulator/index.js';
import { stepsOf } from './support/historySteps.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { serverName } from '../src/workflows/serverNames.js';

const IMAGE = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';

let rig: LifecycleRig;

beforeAll(async () => {
  rig = await startLifecycleRig([
    { name: 'released' },
    { name: 'missing', missing_timeout: 2 },
    { name: 'cancelled' },
    { name: 'idle', build_wait_timeout: 1 },
  ]);
});

afterAll(async () => {
  await rig?.stop();
});

/** What one lifecycle sent to Nova and Glance, as `METHOD /path` lines (auth and other servers left out). */
function callsFor(serverId: string, requests: RecordedRequest[]): string[] {
  const otherServer = /\/servers\/[0-9a-f-]{36}/;
  return requests
    .filter((request) => !request.path.startsWith('/identity'))
    .map((request) => `${request.method} ${request.path.replace(serverId, '{id}')}`)
    .filter((call) => !otherServer.test(call));
}

describe('latentWorkerLifecycle on a real Temporal server against the simulator', () => {
  it('boots the seed example, waits for attach, and deletes the server on release', async () => {
    const name = rig.nameOf('released');
    const spec = rig.config.workers.get(name)!.specFor();
    rig.simulator.clearRequests();
    const handle = await rig.client.substantiate(spec, { properties: { branch: 'main' } });

    const active = await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    expect(active.serverId).toMatch(/^[0-9a-f-]{36}$/);
    expect(rig.simulator.servers().map((server) => server.id)).toContain(active.serverId);

    await rig.client.attached(name);
    expect((await rig.client.waitForPhase(name, 'attached', { intervalMs: 50 })).attachedAt).toBeDefined();
    await rig.client.release(name);

    const result = await handle.result();
    expect(result.outcome).toBe('released');
    expect(result.status).toMatchObject({ phase: 'done', serverId: active.serverId, imageId: IMAGE });
    expect(result.status.deletedAt).toBeDefined();

    const requests = rig.simulator.requests();
    const create = requests.filter((request) => request.method === 'POST' && request.path.endsWith('/servers'));
    expect(create).toHaveLength(1);
    expect(create[0]!.body).toEqual({
      server: {
        name: serverName(name, handle.firstExecutionRunId, 1),
        imageRef: IMAGE,
        flavorRef: '1',
        metadata: {
          'latent-worker:deployment': 'default',
          'latent-worker:workflow-id': workflowIdFor(name),
          'latent-worker:run-id': handle.firstExecutionRunId,
          'latent-worker:attempt': '1',
        },
      },
    });
    const auth = requests.filter((request) => request.path.startsWith('/identity'));
    expect(auth.map((request) => `${request.method} ${request.path}`)).toEqual(['POST /identity/v2.0/tokens']);
    expect(auth[0]!.body).toEqual({ auth: { passwordCredentials: { username: 'user', password: 'password' }, tenantName: 'tenant' } });

    const calls = callsFor(result.serverId!, requests);
    // A first create attempt has no earlier try to adopt: no list by name before it (the lists
    // beside it are the cloud's status watcher's, which serve every lifecycle).
    expect(calls.filter((call) => call !== 'GET /compute/v2.1/servers/detail').slice(0, 4)).toEqual([
      'GET /compute/v2.1/',
      `GET /image/v2/images/${IMAGE}`,
      'GET /compute/v2.1/flavors/1',
      'POST /compute/v2.1/servers',
    ]);
    const deleted = calls.indexOf('DELETE /compute/v2.1/servers/{id}');
    expect(deleted).toBeGreaterThan(0);
    // The boot was watched through the cloud's shared status list, never by asking for this server ...
    expect(calls.slice(0, deleted)).not.toContain('GET /compute/v2.1/servers/{id}');
    // ... and so was the delete: the watcher runs in this worker process, and its lists showed the server DELETED.
    expect(calls.slice(deleted + 1).filter((call) => call !== 'GET /compute/v2.1/servers/detail')).toEqual([]);
    expect(rig.simulator.servers()).toEqual([]);

    // What operators see in the Web UI: a summary on every activity and the phase as a search attribute.
    const history = await handle.fetchHistory();
    // Each signal came in a workflow task of its own, as a CI master's do. One patch marker (with Temporal's
    // change-version upsert); the create went out in the first workflow task, beside the quick steps (no
    // activity task, no task after it, no `creating` upsert); every wait that a signal ended cancelled its
    // timer, the release's too, so that the commands do not depend on how the signals were grouped: 32 events
    // in 4 workflow tasks (src/workflows/shape.ts).
    const events = history.events!;
    expect(events.filter((event) => event.workflowTaskCompletedEventAttributes)).toHaveLength(4);
    expect(events.filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_patch')).toHaveLength(1);
    expect(events.filter((event) => event.activityTaskScheduledEventAttributes)).toHaveLength(0);
    expect(events.filter((event) => event.upsertWorkflowSearchAttributesEventAttributes)).toHaveLength(5);
    expect(events.filter((event) => event.timerStartedEventAttributes)).toHaveLength(3);
    expect(events.filter((event) => event.timerCanceledEventAttributes)).toHaveLength(3);
    expect(events.length).toBeLessThanOrEqual(32);
    const steps = events.filter((event) => event.activityTaskScheduledEventAttributes || event.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(stepsOf(steps)).toEqual(['local checkInputAuthenticateResolveImage', 'local createServerPromptly', 'local deleteServerPromptly']);
    const summaries = steps.map((event) => (event.userMetadata?.summary?.data ? JSON.parse(new TextDecoder().decode(event.userMetadata.summary.data)) : undefined));
    // The quick steps share one local activity: its summary names each.
    expect(summaries[0]).toBe(`check the input, authenticate to ${spec.cloud}, resolve the image ${IMAGE}`);
    expect(summaries.filter((summary) => !summary)).toEqual([]);
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(phaseKey)).toBe('done');
    expect(description.typedSearchAttributes.get(serverIdKey)).toBe(active.serverId);
    expect(description.typedSearchAttributes.get(workerNameKey)).toBe(name);
    expect(description.typedSearchAttributes.get(outcomeKey)).toBe('released');
    await rig.recordHistory('released', name);
    await rig.recordHistory('released-outcome-attribute', name);
    await rig.recordHistory('lean-released', name);
    await rig.recordHistory('steady-released', name);
    await rig.recordHistory('prompt-create-released', name);
    await rig.recordHistory('unmarked-released', name);
    await rig.recordHistory('released-boot-told-by-watcher', name);
  });

  it('reports the worker missing when it never attaches within missing_timeout, and deletes the server', async () => {
    const name = rig.nameOf('missing');
    const spec = rig.config.workers.get(name)!.specFor();
    const handle = await rig.client.substantiate(spec);
    const result = await handle.result();
    expect(result.outcome).toBe('missing');
    expect(result.status.attachedAt).toBeUndefined();
    const waited = Date.parse(result.status.deletedAt!) - Date.parse(result.status.activeAt!);
    expect(waited).toBeGreaterThanOrEqual(2000);
    const history = await handle.fetchHistory();
    // The quick steps and the create run as local activities in the first workflow task; the boot's end was
    // told by the cloud's status watcher (no activity of the lifecycle's own waited for it); the server is
    // read for the report, deleted (in the workflow task, as it went within the prompt try), and only then
    // is anyone told.
    expect(stepsOf(history.events!)).toEqual([
      'local checkInputAuthenticateResolveImage',
      'local createServerPromptly',
      'missingDiagnostics',
      'local deleteServerPromptly',
      'notifyMissing',
    ]);
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(name))).toEqual([]);
    await rig.recordHistory('missing-deleted-first', name);
    await rig.recordHistory('lean-missing', name);
    await rig.recordHistory('steady-missing', name);
    await rig.recordHistory('prompt-create-missing', name);
    await rig.recordHistory('unmarked-missing', name);
  });

  it('deletes the server when the lifecycle is cancelled while the server is ACTIVE', async () => {
    const name = rig.nameOf('cancelled');
    const spec = rig.config.workers.get(name)!.specFor();
    const handle = await rig.client.substantiate(spec);
    const active = await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    expect(rig.simulator.servers().map((server) => server.id)).toContain(active.serverId);

    await handle.cancel();
    const failure = await handle.result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(rig.simulator.servers().filter((server) => server.id === active.serverId)).toEqual([]);
    const deletes = rig.simulator.requests().filter((request) => request.method === 'DELETE' && request.path.endsWith(active.serverId!));
    expect(deletes).toHaveLength(1);
    await rig.recordHistory('cancelled', name);
    await rig.recordHistory('lean-cancelled', name);
    await rig.recordHistory('steady-cancelled', name);
    await rig.recordHistory('prompt-create-cancelled', name);
    await rig.recordHistory('unmarked-cancelled', name);
  });

  it('joins the running lifecycle when the same worker is substantiated twice', async () => {
    const name = rig.nameOf('released');
    const spec = rig.config.workers.get(name)!.specFor();
    const first = await rig.client.substantiate(spec);
    const second = await rig.client.substantiate(spec);
    expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);
    await rig.client.release(name);
    expect((await first.result()).outcome).toBe('released');
    const creates = rig.simulator.requests().filter((request) => request.method === 'POST' && request.path.endsWith('/servers') && JSON.stringify(request.body).includes(first.firstExecutionRunId));
    expect(creates).toHaveLength(1);
  });

  it('names the servers of runs started within the same minute differently', async () => {
    const name = rig.nameOf('released');
    const spec = rig.config.workers.get(name)!.specFor();
    const names: string[] = [];
    const runIds: string[] = [];
    for (let run = 0; run < 2; run += 1) {
      const handle = await rig.client.substantiate(spec);
      names.push((await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 })).serverName!);
      runIds.push(handle.firstExecutionRunId);
      await rig.client.release(name, { runId: handle.firstExecutionRunId });
      await handle.result();
    }
    // Temporal's run ids are UUIDv7: their heads are the start time.
    expect(runIds[1]!.slice(0, 6)).toBe(runIds[0]!.slice(0, 6));
    expect(names[1]).not.toBe(names[0]);
    expect(names).toEqual(runIds.map((runId) => serverName(name, runId, 1)));
  });

  it('releases the worker once it has been idle for build_wait_timeout after its builds', async () => {
    const name = rig.nameOf('idle');
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await rig.client.attached(name);
    await rig.client.buildStarted(name);
    await rig.client.buildFinished(name);
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'released', status: { releaseReason: 'idle', buildsFinished: 1, buildsRunning: 0 } });
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(name))).toEqual([]);
    await rig.recordHistory('idle-released', name);
    await rig.recordHistory('lean-idle-released', name);
    await rig.recordHistory('steady-idle-released', name);
    await rig.recordHistory('prompt-create-idle-released', name);
    await rig.recordHistory('unmarked-idle-released', name);
  });
});
