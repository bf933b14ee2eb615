import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepsOf } from './support/historySteps.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

const EventType = proto.temporal.api.enums.v1.EventType;

// The first create is tried within the run's first workflow task only while that task has time
// for it: past 80 % of its timeout the SDK would extend the task, writing it complete without the
// try's marker, and a process that took the lifecycle over would post again. Here Glance holds the
// image look-up of the quick steps for 5.5 s of the task's 10 s, which leaves the try less than it
// needs: it must not post, and the create activity creates the one server.
let rig: LifecycleRig;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'late' }]);
});

afterAll(async () => {
  await rig?.stop();
});

describe('the first create tried within the first workflow task', () => {
  it('is not tried when the quick steps left too little of the task, and the create activity makes the one server', async () => {
    const name = rig.nameOf('late');
    rig.simulator.faults.inject({ kind: 'latency', route: 'glance.images.show', ms: 5500, count: 1 });
    rig.simulator.clearRequests();
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await rig.client.attached(name);
    await rig.client.release(name);
    expect((await handle.result()).outcome).toBe('released');

    const events = (await handle.fetchHistory()).events!;
    expect(stepsOf(events)).toEqual(['local checkInputAuthenticateResolveImage', 'local createServerPromptly', 'createServer', 'local deleteServerPromptly']);
    const tryMarker = events.filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity')[1]!;
    const tried = JSON.parse(new TextDecoder().decode(tryMarker.markerRecordedEventAttributes!.details!.result!.payloads![0]!.data!)) as { shortBy?: string; earlierTry?: unknown };
    expect(tried.shortBy).toMatch(/^too late in the workflow task to try \(\d+ ms left of it\)$/);
    expect(tried.earlierTry).toBeUndefined();
    // The first task completed in time: no timeout, no failure, and the try's marker in its commands.
    expect(events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT || event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);

    const posts = rig.simulator.requests().filter((request) => request.method === 'POST' && request.path.endsWith('/servers'));
    expect(posts).toHaveLength(1);
    const activityStarted = events.find((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)!;
    expect(posts[0]!.at).toBeGreaterThanOrEqual(Number(activityStarted.eventTime!.seconds) * 1000 + Math.floor(activityStarted.eventTime!.nanos! / 1e6));
    expect(rig.simulator.servers()).toEqual([]);
  });
});
