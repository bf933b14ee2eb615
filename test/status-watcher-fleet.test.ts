import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudScopeOf } from '../src/config/load.js';
import { statusWatcherId } from '../src/workflows/statusWatchNames.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

// The fleet's status watcher of a cloud on a real Temporal dev server against the simulator:
// the boots and deletes of a burst told by one watcher, and a boot with no watcher seen by its own look.
// Its process's death (two worker processes) is the chaos suite's "kill the status watcher's
// process mid-burst" (test/chaos/fleet.ts).
const BURST = 20;
let rig: LifecycleRig;

beforeAll(async () => {
  rig = await startLifecycleRig(
    [...Array.from({ length: BURST }, (_, i) => ({ name: `burst${i}` })), { name: 'unwatched', boot_timeout: 6 }],
    { simulator: { bootDelayMs: 2000, deleteDelayMs: 100 } },
  );
});

afterAll(async () => {
  await rig?.stop();
});

function watcherHandle(workerName: string) {
  const cloud = cloudScopeOf(rig.config.workers.get(workerName)!.credentials);
  return rig.client.temporal.workflow.getHandle(statusWatcherId(rig.config.deployment, rig.client.taskQueue, cloud));
}

async function bootAndRelease(name: string) {
  await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
  await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
  await rig.client.attached(name);
  await rig.client.release(name);
  return rig.client.result(name);
}

async function historyOf(name: string) {
  const history = await rig.client.handle(name).fetchHistory();
  return {
    activities: history.events!.flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
    signals: history.events!.flatMap((event) => event.workflowExecutionSignaledEventAttributes?.signalName ?? []),
  };
}

describe('one status watcher per cloud', () => {
  it('tells every boot of a burst, with one status list per tick for the whole cloud', async () => {
    const names = Array.from({ length: BURST }, (_, i) => rig.nameOf(`burst${i}`));
    const watcher = watcherHandle(names[0]!);
    expect((await watcher.describe()).status.name).toBe('RUNNING');
    const before = rig.simulator.requests().length;
    const startedAt = Date.now();
    const results = await Promise.all(names.map(bootAndRelease));
    const seconds = (Date.now() - startedAt) / 1000;
    for (const result of results) {
      expect(result.outcome).toBe('released');
      expect(result.status.launches).toBe(1);
    }
    for (const name of names) {
      const { activities, signals } = await historyOf(name);
      expect(activities).not.toContain('waitForActive');
      expect(activities).not.toContain('lookAtBoot');
      expect(signals).toContain('server-status');
    }
    const requests = rig.simulator.requests().slice(before);
    // Nobody read a server by itself: the watcher's lists told every boot, and, as the watcher runs in
    // this worker process, every delete that its server was gone.
    const reads = requests.filter((r) => r.method === 'GET' && /\/servers\/[0-9a-f-]{36}$/.test(r.path));
    expect(reads).toEqual([]);
    expect(requests.filter((r) => r.method === 'DELETE')).toHaveLength(BURST);
    const lists = requests.filter((r) => r.method === 'GET' && r.path.endsWith('/servers/detail') && 'changes-since' in r.query).length;
    console.log(`${BURST} boots and deletes in ${seconds.toFixed(1)} s: ${lists} status lists, ${reads.length} reads of single servers`);
    // The watcher alone lists: once a second with up to 120 boots (its call budget), every 3 s when none boots.
    // Polling each server would have cost a read per server per tick.
    expect(lists).toBeLessThanOrEqual(seconds + 5);
  });

  it('a boot while no watcher runs is seen by the lifecycle itself at boot_timeout, not failed', async () => {
    const name = rig.nameOf('unwatched');
    const watcher = watcherHandle(name);
    await watcher.terminate('test: no watcher for this boot');
    // Its activity learns of the end at its next heartbeat: the watch is over once the cloud hears no list for longer than its idle tick (3 s).
    const lists = () => rig.simulator.requests().filter((r) => r.method === 'GET' && r.path.endsWith('/servers/detail'));
    const deadline = Date.now() + 60_000;
    while (Date.now() - (lists().at(-1)?.at ?? 0) < 4000) {
      if (Date.now() > deadline) throw new Error('the terminated watcher still lists the cloud after 60 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const before = rig.simulator.requests().length;
    const result = await bootAndRelease(name);
    expect(result.outcome).toBe('released');
    expect(result.status.launches).toBe(1);
    // With no watch listing here, the delete read its server until it was gone.
    const serverPath = `/servers/${result.status.serverId}`;
    const requests = rig.simulator.requests().slice(before);
    const deletedAt = requests.find((r) => r.method === 'DELETE' && r.path.endsWith(serverPath))!.at;
    expect(requests.filter((r) => r.method === 'GET' && r.path.endsWith(serverPath) && r.at > deletedAt).length).toBeGreaterThanOrEqual(1);
    const { activities, signals } = await historyOf(name);
    expect(signals).not.toContain('server-status');
    expect(activities.filter((activity) => activity === 'lookAtBoot')).toHaveLength(1);
    const waited = Date.parse(result.status.activeAt!) - Date.parse(result.status.startedAt);
    // Booted in 2 s, seen by the look at the 6 s deadline.
    expect(waited).toBeGreaterThanOrEqual(6000);
  });
});
