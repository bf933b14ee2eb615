import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_TYPES } from '../src/contract/names.js';
import { waitFor } from './chaos/waits.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

// A create that finds every create slot of its cloud taken, through all of its activity's tries,
// is a cloud with no room yet, not a failed launch. Seen in a fleet whose `max_concurrent_creates`
// was below its number of worker processes: the process without a slot took create after create
// and failed each, until lifecycles failed. Here one slot, held by a create that Nova does not
// answer, and a slot wait cut to 0.3 s so that the second create runs out of tries in about 35 s.
// Nova holds two POSTs of the holder's: its first try within the workflow task gives up on its own
// (PROMPT_CREATE_BUDGET_MS), and the create activity that takes over, having looked for that try's
// server for 1 s, holds the slot.
let rig: LifecycleRig;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'holder' }, { name: 'waiter' }, { name: 'impatient', missing_timeout: 10 }], {
    cloudLimits: { default: { max_concurrent_creates: 1 } },
    createSlotWaitMs: 300,
    // The held POST must keep its slot until the test lets it go.
    httpTimeoutMs: 100_000,
    inFlightWaitMs: 1000,
  });
});

afterAll(async () => {
  await rig?.stop();
});

async function attachAndRelease(name: string) {
  await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
  await rig.client.attached(name);
  await rig.client.release(name);
  return rig.client.result(name);
}

describe('a create that finds no free create slot', () => {
  it('is tried again without spending a launch attempt, and the lifecycle boots once a slot is free; missing_timeout bounds the wait', async () => {
    const holder = rig.nameOf('holder');
    const waiter = rig.nameOf('waiter');
    const impatient = rig.nameOf('impatient');
    const hang = rig.simulator.faults.inject({ kind: 'hang', route: 'nova.servers.create', count: 2 });
    await rig.client.substantiate(rig.config.workers.get(holder)!.specFor());
    await waitFor('the holder’s create activity’s POST held by Nova', () => rig.simulator.faults.list().find((rule) => rule.id === hang.id)?.fired === 2, 30_000);

    await rig.client.substantiate(rig.config.workers.get(waiter)!.specFor());
    const gaveUp = (await rig.client.substantiate(rig.config.workers.get(impatient)!.specFor())).result().catch((error: unknown) => error);
    // Six tries of 0.3 s with backoff 1, 2, 4, 8 and 16 s between them: the first launch ends after about 33 s.
    const failures = await waitFor(
      'the waiter’s first launch to end',
      async () => {
        const status = await rig.client.status(waiter);
        return status.launchFailures?.length ? status.launchFailures : undefined;
      },
      90_000,
      200,
    );
    expect(failures[0]).toMatch(/^launch 1: no create slot free within 0\.3 s \(max_concurrent_creates 1 of .*, of which this worker process has 1\)$/);
    // Its missing_timeout (10 s) has passed by the end of its first launch: it ends, having made no server.
    const failure = await gaveUp;
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe(FAILURE_TYPES.noCapacity);
    expect(cause.message).toMatch(/^no capacity within missing_timeout \(10 s\): no create slot free within 0\.3 s/);
    rig.simulator.faults.remove(hang.id);

    const [held, waited] = await Promise.all([attachAndRelease(holder), attachAndRelease(waiter)]);
    expect(held.outcome).toBe('released');
    expect(waited.outcome).toBe('released');
    // launch_attempts is 1 (the seed's default): the slot waits did not spend it.
    expect(waited.status.launches).toBeGreaterThanOrEqual(2);
    expect(waited.status.launchFailures).toHaveLength(waited.status.launches! - 1);
    for (const failure of waited.status.launchFailures!) expect(failure).toContain('no create slot free');
    expect(rig.simulator.servers()).toEqual([]);
    const history = await rig.client.handle(waiter).fetchHistory();
    // The prompt-create shape has this change without a marker of its own: its one marker says so.
    const markers = history.events!.filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_patch').length;
    expect(markers).toBe(1);
    await rig.recordHistory('create-slot-waited', waiter);
    await rig.recordHistory('steady-create-slot-waited', waiter);
    await rig.recordHistory('prompt-create-create-slot-waited', waiter);
    await rig.recordHistory('unmarked-create-slot-waited', waiter);
  }, 240_000);
});
