// The cap on servers booting at once (cloud_limits.max_booting): the pacer's arithmetic on a
// clock the test moves, then the real create and delete activities against the simulator over
// HTTP, then whole lifecycles on the Temporal dev server with the fleet's status watcher.
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTIVE_START, BootPacer } from '../src/activities/bootPacer.js';
import { CloudRegistry } from '../src/activities/cloudRegistry.js';
import { createActivities } from '../src/activities/index.js';
import type { CreateServerInput } from '../src/activities/servers.js';
import { parseConfig } from '../src/config/load.js';
import type { CloudLimits } from '../src/config/limits.js';
import { createSlotShare, rateShare } from '../src/worker/fleetShare.js';
import { startSimulator, type ServerEvent, type Simulator } from '../src/simulator/index.js';
import { startLifecycleRig } from './support/lifecycleRig.js';
import { StatusFeed } from '../src/openstack/statusFeed.js';
import { PACED_TAIL_MS, pacedDelayMs } from '../src/activities/statusWatch.js';
import type { Server } from '../src/openstack/novaTypes.js';

const IMAGE_ID = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';

/** A pacer on a clock the test sets, and a boot of `ms` that ends now. */
function pacerAt(setting: number | 'adaptive') {
  let now = 0;
  const pacer = new BootPacer(setting, { now: () => now });
  let serial = 0;
  const boot = async (sentAt: number, ms: number): Promise<void> => {
    serial += 1;
    const id = `s${serial}`;
    const release = await pacer.slots.acquire(0, () => new Error(`no slot for ${id} (size ${pacer.size}, in use ${pacer.slots.inUse})`));
    pacer.hold(id, sentAt, release);
    now = sentAt + ms;
    pacer.ended(id, true);
  };
  return { pacer, boot, setNow: (t: number) => (now = t) };
}

describe('BootPacer', () => {
  it('keeps a fixed cap whatever the boots take', async () => {
    const { pacer, boot } = pacerAt(3);
    for (let i = 0; i < 10; i += 1) await boot(i * 100_000, i % 2 ? 1000 : 60_000);
    expect(pacer.size).toBe(3);
  });

  it('adapts once a round, on its median boot: doubles while boots take the quickest time, then steers by the servers that wait inside the cloud, and cuts to 70 % on a round slowed far beyond', async () => {
    const { pacer, boot } = pacerAt('adaptive');
    let t = 0;
    const round = async (...boots: number[]): Promise<void> => {
      for (const ms of boots) await boot((t += 100_000), ms);
    };
    expect(pacer.size).toBe(ADAPTIVE_START);
    await round(1000, 1000, 1000);
    // Not a round yet: three boots of a cap of 4.
    expect(pacer.size).toBe(ADAPTIVE_START);
    await round(1000);
    expect(pacer.size).toBe(8);
    // 8 booting, the median took 2 s against 1 s: 8 × (2 − 1 − 0.5) / 2 = 2 waited; from 2 to 4 it holds.
    await round(...Array<number>(8).fill(2000));
    expect(pacer.size).toBe(8);
    // 3.5 s: 8 × 2 / 3.5 = 4.6 waited, more than 4: one less.
    await round(...Array<number>(8).fill(3500));
    expect(pacer.size).toBe(7);
    // Quick again: one more a round, no longer doubling.
    await round(...Array<number>(7).fill(1200));
    expect(pacer.size).toBe(8);
    // A median past twice the quickest and 1.5 s: cut to 70 % (8 × 0.7 = 5.6).
    await round(...Array<number>(8).fill(4000));
    expect(pacer.size).toBe(5);
    // One slowed boot in a quick round moves nothing but the round: one more (5.6 + 1).
    await round(1000, 1000, 9000, 1000, 1000);
    expect(pacer.size).toBe(6);
    // Never below one.
    for (let i = 0; i < 20; i += 1) await round(...Array<number>(pacer.size).fill(60_000));
    expect(pacer.size).toBe(1);
  });

  it('tells the soonest a boot in progress can end, by the quickest boot it has seen, whatever the cap', async () => {
    const { pacer, boot, setNow } = pacerAt(3);
    const release = await pacer.slots.acquire(0, () => new Error('no slot'));
    pacer.hold('early', 5_000, release);
    expect(pacer.msUntilSoonestEnd()).toBeUndefined();
    await boot(6_000, 2500);
    await boot(20_000, 4000);
    // The quickest boot took 2.5 s: the one sent at 5 s may end from 7.5 s on.
    setNow(7_000);
    expect(pacer.msUntilSoonestEnd()).toBe(500);
    setNow(30_000);
    expect(pacer.msUntilSoonestEnd()).toBe(7_500 - 30_000);
    pacer.ended('early', true);
    expect(pacer.msUntilSoonestEnd()).toBeUndefined();
  });

  it("sets the status watch's next list by the boots holding slots: half a second once one can have ended, until it is 30 s overdue", async () => {
    const bootTickMs = 1000;
    expect(pacedDelayMs(bootTickMs, undefined)).toBe(bootTickMs);
    const { pacer, boot, setNow } = pacerAt(2);
    const hold = async (id: string, sentAt: number) => pacer.hold(id, sentAt, await pacer.slots.acquire(0, () => new Error('no slot')));
    // No boot seen to end yet: nothing says when one can, and no create waits.
    await hold('first', 0);
    expect(pacedDelayMs(bootTickMs, pacer)).toBe(bootTickMs);
    setNow(1_000);
    pacer.ended('first', true);
    await boot(1_000, 1_500);
    // A boot sent at 2.5 s, and the quickest seen 1 s: a list before 3.5 s finds nothing new.
    await hold('last', 2_500);
    expect(pacer.queued).toBe(0);
    setNow(2_700);
    expect(pacedDelayMs(bootTickMs, pacer)).toBe(800);
    setNow(3_300);
    expect(pacedDelayMs(bootTickMs, pacer)).toBe(500);
    setNow(3_500 + PACED_TAIL_MS - 1);
    expect(pacedDelayMs(bootTickMs, pacer)).toBe(500);
    // Stuck: back to the boot tick while no create waits for its slot ...
    setNow(3_500 + PACED_TAIL_MS + 1);
    expect(pacedDelayMs(bootTickMs, pacer)).toBe(bootTickMs);
    // ... and half a second again while one does.
    await hold('other', 3_500 + PACED_TAIL_MS);
    const waiting = pacer.slots.acquire(60_000, () => new Error('no slot'));
    expect(pacer.queued).toBe(1);
    expect(pacedDelayMs(bootTickMs, pacer)).toBe(500);
    pacer.ended('last', false);
    (await waiting)();
  });

  it('frees at once the slot of a server whose end a list showed before its create handed the slot over', async () => {
    const { pacer } = pacerAt(1);
    pacer.ended('quick', true);
    const release = await pacer.slots.acquire(0, () => new Error('no slot'));
    pacer.hold('quick', 0, release);
    expect(pacer.booting).toBe(0);
    expect(pacer.slots.inUse).toBe(0);
    // The early end is used up by that hold: a later one holds as usual.
    const again = await pacer.slots.acquire(0, () => new Error('no slot'));
    pacer.hold('quick', 0, again);
    expect(pacer.booting).toBe(1);
  });

  it('frees the slot of a server whose boot failed or which went, without learning from it', async () => {
    const { pacer } = pacerAt('adaptive');
    const release = await pacer.slots.acquire(0, () => new Error('no slot'));
    pacer.hold('a', 0, release);
    expect(pacer.slots.inUse).toBe(1);
    expect(pacer.booting).toBe(1);
    pacer.ended('a', false);
    pacer.ended('a', false);
    expect(pacer.slots.inUse).toBe(0);
    expect(pacer.size).toBe(ADAPTIVE_START);
  });
});

describe('max_booting with the create and delete activities', () => {
  let sim: Simulator;
  const events: ServerEvent[] = [];
  const registries: CloudRegistry[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ bootDelayMs: 400, deleteDelayMs: 50, onServerEvent: (event) => events.push(event) });
  });
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((registry) => registry.close()));
  });
  afterAll(async () => {
    await sim?.close();
  });

  function activitiesWith(cloudLimits: unknown) {
    const config = parseConfig(
      {
        deployment: 'boot-pacer-test',
        workers: [{ name: 'w0', flavor: 1, image: IMAGE_ID, os_username: 'demo', os_password: 'demo', os_tenant_name: 'demo', os_auth_url: sim.authUrlV3, client_version: '2' }],
        cloud_limits: cloudLimits,
      },
      'boot pacer test',
      {},
    );
    const clouds = new CloudRegistry(config, { pollIntervalMs: 100 });
    registries.push(clouds);
    return { clouds, activities: createActivities({ clouds, deployment: config.deployment }) };
  }
  const run = <P extends unknown[], R>(fn: (...args: P) => Promise<R>, ...args: P): Promise<R> => new MockActivityEnvironment({ startToCloseTimeoutMs: 5 * 60_000 }).run(fn, ...args);
  const input = (n: number): CreateServerInput => ({
    workerName: 'w0',
    serverName: `paced-${n}`,
    imageId: IMAGE_ID,
    flavor: '1',
    meta: {},
    clientVersion: '2',
    owner: { workflowId: `wf-${n}`, runId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, attempt: 1 },
  });

  /** The most servers that were between created and ACTIVE at one time, from the simulator's own events. */
  function mostBootingAtOnce(ids: ReadonlySet<string>): number {
    let booting = 0;
    let most = 0;
    for (const event of [...events].filter((e) => ids.has(e.serverId)).sort((a, b) => a.at - b.at || (a.kind === 'created' ? 1 : -1))) {
      if (event.kind === 'created') most = Math.max(most, ++booting);
      else if (event.kind === 'active' || event.kind === 'error' || event.kind === 'gone') booting -= 1;
    }
    return most;
  }

  it('lets no more servers boot at once than max_booting, and each create waits for a boot to end, not for its own', async () => {
    const { activities } = activitiesWith({ default: { max_booting: 2 } });
    const startedAt = Date.now();
    const created = await Promise.all(Array.from({ length: 6 }, (_, i) => run(activities.createServer, input(i))));
    const ids = new Set(created.map((server) => server.id));
    expect(ids.size).toBe(6);
    expect(mostBootingAtOnce(ids)).toBe(2);
    // Three rounds of two 400 ms boots before the last POST: the last create waited for the boots ahead of it.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(800);
    await Promise.all([...ids].map((serverId) => run(activities.deleteServer, { workerName: 'w0', serverId })));
  });

  it('frees a slot as soon as its server is deleted, before the boot would have ended', async () => {
    const { activities, clouds } = activitiesWith({ default: { max_booting: 1 } });
    const first = await run(activities.createServer, input(100));
    const pacer = clouds.shareFor('w0').booting!;
    expect(pacer.holds(first.id)).toBe(true);
    await run(activities.deleteServer, { workerName: 'w0', serverId: first.id });
    expect(pacer.booting).toBe(0);
    const second = await run(activities.createServer, input(101));
    await run(activities.deleteServer, { workerName: 'w0', serverId: second.id });
  });

  it('splits a fixed max_booting over the fleet as it splits the create slots, and leaves an adaptive cap to each process', () => {
    const position = { size: 2, rank: 1 };
    const shareOf = (l: CloudLimits) => ({ requestsPerSecond: rateShare(l.requestsPerSecond, position), createSlots: createSlotShare(l.maxConcurrentCreates, position) });
    const fixed = activitiesWith({ default: { max_booting: 5, max_concurrent_creates: 10 } }).clouds;
    const pacer = fixed.shareFor('w0').booting!;
    expect(pacer.size).toBe(5);
    expect(fixed.setShares(shareOf)).toEqual([expect.objectContaining({ createSlots: 5 })]);
    // Rank 1 of 2: 5 = 3 + 2, the remainder to rank 0.
    expect(pacer.size).toBe(2);
    fixed.setShares(() => ({ requestsPerSecond: 0, createSlots: 0 }));
    expect(pacer.size).toBe(0);
    const adaptive = activitiesWith({ default: { max_booting: 'adaptive' } }).clouds;
    adaptive.setShares(shareOf);
    expect(adaptive.shareFor('w0').booting!.size).toBe(ADAPTIVE_START);
  });

  it('refuses a max_booting that is no whole number from 1 to 1000 nor "adaptive", naming the field', () => {
    for (const bad of [0, 1.5, 'fast', 1001]) expect(() => activitiesWith({ default: { max_booting: bad } })).toThrow(/cloud_limits\.default\.max_booting: must be a whole number from 1 to 1000, "adaptive", or null for no cap/);
  });
});

describe('max_booting in whole lifecycles', () => {
  /** Starts a lifecycle per name under `max_booting`, on the Temporal dev server with the fleet's status watcher, and waits until every one's worker may attach. */
  async function bootLifecycles(names: string[], maxBooting: number, bootDelayMs: number) {
    const events: ServerEvent[] = [];
    const rig = await startLifecycleRig(
      names.map((name) => ({ name })),
      { cloudLimits: { default: { max_booting: maxBooting } }, simulator: { bootDelayMs, deleteDelayMs: 50, onServerEvent: (event) => events.push(event) }, statusWatchers: true },
    );
    let runs: Awaited<ReturnType<typeof rig.client.substantiate>>[];
    try {
      runs = await Promise.all(names.map((name) => rig.client.substantiate(rig.config.workers.get(rig.nameOf(name))!.specFor())));
      for (const name of names) await rig.client.waitForPhase(rig.nameOf(name), 'waiting-for-attach', { intervalMs: 50 });
    } catch (error) {
      await rig.stop();
      throw error;
    }
    const releaseAll = async () => {
      for (const name of names) await rig.client.release(rig.nameOf(name));
      return Promise.all(runs.map((run) => run.result()));
    };
    return { rig, events, releaseAll };
  }

  it('boots five lifecycles two at a time, the fleet status watcher freeing each slot, all released with one launch each', async () => {
    const { rig, events, releaseAll } = await bootLifecycles(['a', 'b', 'c', 'd', 'e'], 2, 600);
    try {
      const created = events.filter((e) => e.kind === 'created');
      expect(created).toHaveLength(5);
      let booting = 0;
      let most = 0;
      for (const event of [...events].sort((a, b) => a.at - b.at || (a.kind === 'created' ? 1 : -1))) {
        if (event.kind === 'created') most = Math.max(most, ++booting);
        else if (event.kind !== 'gone') booting -= 1;
      }
      expect(most).toBe(2);
      for (const result of await releaseAll()) {
        expect(result.outcome).toBe('released');
        expect(result.status.launches).toBe(1);
      }
      expect(rig.simulator.servers()).toEqual([]);
    } finally {
      await rig.stop();
    }
  });

  it('lists every half second while creates wait for a boot slot, so each slot turns soon after its boot ended', async () => {
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const { rig, events, releaseAll } = await bootLifecycles(names, 1, 300);
    try {
      // One server at a time: each create after the first follows the end of the boot before it.
      const sequence = events.filter((e) => e.kind === 'created' || e.kind === 'active').sort((a, b) => a.at - b.at);
      expect(sequence.map((e) => e.kind)).toEqual(names.flatMap(() => ['created', 'active']));
      const turns = sequence.slice(1).flatMap((event, i) => (event.kind === 'created' ? [event.at - sequence[i]!.at] : []));
      // A create that boots or waits for a slot wakes the feed to its tick, counted from the last
      // list: with the 1 s boot tick the next list comes 0.7 s after a 0.3 s boot ended (measured:
      // 550-720 ms a turn), with the 0.5 s tick of paced creates 0.2 s after (85-220 ms). Before
      // a waiting create told the feed, the first turn took the 1 s tick (650 ms) when the other
      // creates began to wait only after the first had booted.
      expect(Math.max(...turns), `turns ${turns.join(', ')} ms`).toBeLessThan(450);
      for (const result of await releaseAll()) expect(result.outcome).toBe('released');
    } finally {
      await rig.stop();
    }
  });

  it('tells the last boots of a paced burst, which no create waits behind, at the half-second tick too', async () => {
    const names = ['t1', 't2', 't3', 't4'];
    const { rig, events, releaseAll } = await bootLifecycles(names, 1, 300);
    try {
      const results = await releaseAll();
      const lastActive = events.filter((e) => e.kind === 'active').sort((a, b) => a.at - b.at).at(-1)!;
      const lastResult = results.find((r) => r.serverId === lastActive.serverId)!;
      const toldAfterMs = Date.parse(lastResult.status.activeAt!) - lastActive.at;
      // With nothing waiting for its slot the feed went back to its 1 s boot tick: the last 0.3 s
      // boot was told about 0.7 s after it ended. The paced tick tells it within about 0.2 s.
      expect(toldAfterMs, `the last server's ACTIVE told ${toldAfterMs} ms after it`).toBeLessThan(450);
      for (const result of results) expect(result.outcome).toBe('released');
    } finally {
      await rig.stop();
    }
  });
});

describe('a boot started in this process', () => {
  it('turns the status feed from its idle tick to the boot tick at once, until a list shows the boot over', async () => {
    let now = 0;
    let servers: Server[] = [];
    const source = { listServerChanges: async () => ({ servers, listedAt: new Date(now) }) };
    const feed = new StatusFeed(source, { deployment: 'd', ownerKeys: { deployment: 'dep', workflowId: 'wf' }, now: () => now });
    expect(feed.nextDelayMs()).toBe(3000);
    feed.expectBoot('s1');
    expect(feed.nextDelayMs()).toBe(1000);
    servers = [{ id: 's1', status: 'ACTIVE', metadata: { dep: 'd', wf: 'w1' } } as unknown as Server];
    now = 1000;
    const list = await feed.list();
    expect(list.settled.map((b) => b.serverId)).toEqual(['s1']);
    feed.advance(list);
    expect(feed.nextDelayMs()).toBe(3000);
    // A boot already told over is not expected again.
    feed.expectBoot('s1');
    expect(feed.nextDelayMs()).toBe(3000);
  });

  it('tells a lone lifecycle its server is ACTIVE within about a boot tick, not an idle one, every time', async () => {
    const events: ServerEvent[] = [];
    const rig = await startLifecycleRig([{ name: 'lone' }], { simulator: { bootDelayMs: 300, deleteDelayMs: 50, onServerEvent: (event) => events.push(event) }, statusWatchers: true });
    try {
      const name = rig.nameOf('lone');
      const lags: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const run = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
        await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
        await rig.client.release(name);
        const result = await run.result();
        const active = events.filter((e) => e.kind === 'active').at(-1)!;
        lags.push(Date.parse(result.status.activeAt!) - active.at);
      }
      // The feed idles at 3 s between lists while it knows of no boot: a boot of 0.3 s that it
      // learned of only from its lists would be told 0 to 3 s late.
      expect(Math.max(...lags), `ACTIVE told after ${lags.join(', ')} ms`).toBeLessThan(1500);
    } finally {
      await rig.stop();
    }
  });
});
