// The shared status poller against the simulator over real HTTP: one list call per tick, whatever
// the number of servers it watches, and every way a wait ends.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpenStackClient, OpenStackError, type ServerCreate } from '../src/openstack/index.js';
import { DurationModel } from '../src/openstack/durationModel.js';
import { ServerWatcher, type WatcherOptions } from '../src/openstack/serverWatcher.js';
import { startSimulator, type RecordedRequest, type Simulator } from '../src/simulator/index.js';

const IMAGE_ID = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';
const BOOT_MS = 1500;

let sim: Simulator;
let client: OpenStackClient;
const watchers: ServerWatcher[] = [];

beforeAll(async () => {
  sim = await startSimulator({ bootDelayMs: BOOT_MS, deleteDelayMs: 300 });
  client = new OpenStackClient({ authUrl: sim.authUrlV3, username: 'demo', password: 'demo', projectName: 'demo', regionName: 'RegionOne' });
  await client.authenticate();
});

afterEach(() => {
  sim.faults.clear();
  for (const watcher of watchers.splice(0)) watcher.close();
});

afterAll(async () => {
  await client?.close();
  await sim?.close();
});

function watcher(options: WatcherOptions = {}): ServerWatcher {
  const created = new ServerWatcher(client.compute, { fastTickMs: 250, ...options });
  watchers.push(created);
  return created;
}

function serverBody(name: string): ServerCreate {
  return { name, imageRef: IMAGE_ID, flavorRef: '1' };
}

/** Creates a server and says when its create was sent, as the create activity tells the watcher. */
async function create(name: string): Promise<{ id: string; sentAt: number }> {
  const sentAt = Date.now();
  const { id } = await client.compute.createServer(serverBody(name));
  return { id, sentAt };
}

const isStatusCall = (request: RecordedRequest): boolean =>
  request.method === 'GET' && /^\/compute\/v2\.1\/servers\/(detail|[0-9a-f-]{36})$/.test(request.path);

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('ServerWatcher', () => {
  it('watches 50 booting servers with one list call per tick and sees each ACTIVE well under a second after Nova', async () => {
    // Every tick a quick one: how the call budget stretches the tick is the next test's subject.
    const watch = watcher({ budgetTickMs: 250 });
    const servers = await Promise.all(Array.from({ length: 50 }, (_, i) => create(`fifty-${i}`)));
    const posts = new Map(
      sim
        .requests()
        .filter((request) => request.method === 'POST' && request.path === '/compute/v2.1/servers')
        .map((request) => [(request.body as { server: { name: string } }).server.name, request.at]),
    );
    sim.clearRequests();
    const startedAt = Date.now();
    const lags = await Promise.all(
      servers.map(async ({ id, sentAt }, i) => {
        const outcome = await watch.watch(id, 'active', { since: sentAt });
        expect(outcome).toMatchObject({ kind: 'settled', server: { id, status: 'ACTIVE' } });
        // The simulator makes a server ACTIVE bootDelayMs after it received the create.
        return Date.now() - (posts.get(`fifty-${i}`)! + BOOT_MS);
      }),
    );
    const elapsedMs = Date.now() - startedAt;
    const statusCalls = sim.requests().filter(isStatusCall);

    // Never one call per server: every status call was a list, and there were no more of them than ticks.
    expect(statusCalls.every((request) => request.path === '/compute/v2.1/servers/detail')).toBe(true);
    expect(statusCalls.length).toBe(watch.calls.lists);
    expect(watch.calls.gets).toBe(0);
    expect(statusCalls.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 250) + 2);
    // After the first full list, each tick asks only for what changed, on Nova's clock.
    expect(watch.calls.fullLists).toBe(1);
    expect(statusCalls.slice(1).every((request) => typeof request.query['changes-since'] === 'string')).toBe(true);
    const p50 = quantile(lags, 0.5);
    console.log(`50 boots: ${statusCalls.length} status calls in ${elapsedMs} ms; ACTIVE detection lag p50 ${p50} ms, max ${Math.max(...lags)} ms`);
    expect(p50).toBeLessThan(1000);
    expect(Math.max(...lags)).toBeLessThan(2000);
  });

  it('spends at most its call budget per waiting server, ticking quicker the more servers wait', async () => {
    const budget = 4;
    const watch = watcher({ fastTickMs: 50, budgetTickMs: 1000, callBudget: budget });
    const servers = await Promise.all(Array.from({ length: 60 }, (_, i) => create(`budget-${i}`)));
    const since = Date.now();
    // Waits for a delete that never comes: they last as long as the test lets them.
    const waitFor = async (count: number, ms: number): Promise<number> => {
      sim.clearRequests();
      const signal = AbortSignal.timeout(ms);
      const waits = servers.slice(0, count).map(({ id }) => watch.watch(id, 'gone', { since, signal }).catch(() => 'aborted'));
      expect(await Promise.all(waits)).toEqual(Array(count).fill('aborted'));
      return sim.requests().filter(isStatusCall).length;
    };
    const lone = await waitFor(1, 3000);
    const many = await waitFor(60, 3000);
    console.log(`call budget ${budget}/waiter/min: ${lone} lists in 3 s for 1 waiter, ${many} for 60`);
    // One waiter: the budget's longest tick (1 s), not the quick one (50 ms: 60 lists).
    expect(lone).toBeGreaterThanOrEqual(2);
    expect(lone).toBeLessThanOrEqual(5);
    // Sixty: 60 s ÷ (4 × 60) = a list every 250 ms, within 4 per waiter per minute (3 waiter-minutes: 12 lists).
    expect(many).toBeGreaterThanOrEqual(2 * lone);
    expect(many).toBeLessThanOrEqual(budget * 60 * (3000 / 60_000) + 2);
  });

  it("follows Nova's clock, not the worker's: a worker clock an hour behind still sees every boot", async () => {
    const skewMs = -3_600_000;
    const workerClock = () => Date.now() + skewMs;
    const watch = watcher({ now: workerClock });
    const servers = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const sentAt = workerClock();
        return { sentAt, id: (await client.compute.createServer(serverBody(`skewed-${i}`))).id };
      }),
    );
    sim.clearRequests();
    const outcomes = await Promise.all(servers.map(({ id, sentAt }) => watch.watch(id, 'active', { since: sentAt })));
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(5).fill('settled'));
    const since = sim
      .requests()
      .filter(isStatusCall)
      .map((request) => request.query['changes-since'])
      .filter((value): value is string => typeof value === 'string');
    expect(since.length).toBeGreaterThan(0);
    // Within seconds of the simulator's own time, not an hour away as the worker's clock would put it.
    for (const value of since) expect(Math.abs(Date.parse(value) - Date.now())).toBeLessThan(15_000);
  });

  it('stops polling once no one waits', async () => {
    const watch = watcher();
    const { id, sentAt } = await create('stops');
    await watch.watch(id, 'active', { since: sentAt });
    sim.clearRequests();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(sim.requests().filter(isStatusCall)).toEqual([]);
    expect(watch.waiting).toBe(0);
  });

  it('sees an already-ACTIVE server at its first look, and one that does not exist as gone', async () => {
    const { id } = await create('already-active');
    await until(() => sim.servers().find((server) => server.id === id)?.status === 'ACTIVE');
    const watch = watcher();
    // The first list of a watcher is a full one; then a server of unknown history is asked for by id.
    expect(await watch.watch(id, 'active')).toMatchObject({ kind: 'settled', server: { status: 'ACTIVE' } });
    sim.clearRequests();
    const again = Date.now();
    expect(await watch.watch(id, 'active')).toMatchObject({ kind: 'settled', server: { status: 'ACTIVE' } });
    expect(Date.now() - again).toBeLessThan(1000);
    expect(sim.requests().filter(isStatusCall).map((request) => request.path)).toContain(`/compute/v2.1/servers/${id}`);

    expect(await watch.watch('00000000-0000-4000-8000-000000000000', 'active')).toEqual({ kind: 'gone' });
    await client.compute.deleteServer(id);
  });

  it('resolves a delete once a changes-since list shows the server DELETED', async () => {
    const watch = watcher();
    const { id, sentAt } = await create('deleted');
    await watch.watch(id, 'active', { since: sentAt });
    sim.clearRequests();
    const deleteSentAt = Date.now();
    await client.compute.deleteServer(id);
    expect(await watch.watch(id, 'gone', { since: deleteSentAt })).toEqual({ kind: 'gone' });
    expect(sim.servers().map((server) => server.id)).not.toContain(id);
    const lists = sim.requests().filter(isStatusCall);
    expect(lists.every((request) => request.path === '/compute/v2.1/servers/detail' && request.query['changes-since'])).toBe(true);
  });

  it('finds a deleted server gone by its absence from a full list when no changes-since list ever shows it', async () => {
    // A server that never reached a compute cell (or was purged) has no DELETED record to list.
    const watch = watcher({ goneRecheckMs: 500 });
    const { id, sentAt } = await create('absent-anchor');
    await watch.watch(id, 'active', { since: sentAt });
    const missing = '11111111-1111-4111-8111-111111111111';
    const startedAt = Date.now();
    expect(await watch.watch(missing, 'gone', { since: Date.now() })).toEqual({ kind: 'gone' });
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(watch.calls.fullLists).toBeGreaterThanOrEqual(2);
    await client.compute.deleteServer(id);
  });

  it('hands an ERROR server with its fault to the waiter', async () => {
    sim.faults.inject({ kind: 'bootError', namePattern: '^errs$', message: 'No valid host was found.' });
    const watch = watcher();
    const { id, sentAt } = await create('errs');
    const outcome = await watch.watch(id, 'active', { since: sentAt });
    expect(outcome).toMatchObject({ kind: 'settled', server: { status: 'ERROR', fault: { message: 'No valid host was found.' } } });
    await client.compute.deleteServer(id);
  });

  it('rides out failing list calls with backoff, and waiters see only the result', async () => {
    const watch = watcher();
    const first = await create('flaky-warmup');
    await watch.watch(first.id, 'active', { since: first.sentAt });
    sim.faults.inject({ kind: 'error', route: 'nova.servers.detail', status: 503, count: 3 });
    const { id, sentAt } = await create('flaky');
    expect(await watch.watch(id, 'active', { since: sentAt })).toMatchObject({ kind: 'settled', server: { status: 'ACTIVE' } });
    expect(sim.faults.list()[0]!.fired).toBe(3);
  });

  it('fails every waiter when a list fails in a way no retry can fix, and when lists keep failing', async () => {
    const watch = watcher({ giveUpAfterMs: 800, maxBackoffMs: 200 });
    const { id, sentAt } = await create('refused');
    sim.faults.inject({ kind: 'error', route: 'nova.servers.detail', status: 403, count: 1 });
    const refused = await watch.watch(id, 'active', { since: sentAt }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenStackError);
    expect((refused as OpenStackError).status).toBe(403);

    sim.faults.inject({ kind: 'error', route: 'nova.servers.detail', status: 503 });
    const startedAt = Date.now();
    const unavailable = await watch.watch(id, 'active', { since: sentAt }).catch((error: unknown) => error);
    expect((unavailable as OpenStackError).status).toBe(503);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(800);
    await client.compute.deleteServer(id);
  });

  it('lets a cancelled waiter go at once with the reason it was cancelled with', async () => {
    sim.faults.inject({ kind: 'bootStuck', namePattern: '^stuck$' });
    const watch = watcher();
    const { id, sentAt } = await create('stuck');
    const controller = new AbortController();
    const waiting = watch.watch(id, 'active', { since: sentAt, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('cancelled by test')), 300);
    await expect(waiting).rejects.toThrow('cancelled by test');
    expect(watch.waiting).toBe(0);
    await client.compute.deleteServer(id);
  });

  it('polls slowly while no boot is expected to end, once it has learnt how long boots take', async () => {
    const slowSim = await startSimulator({ bootDelayMs: 4000 });
    const slowClient = new OpenStackClient({ authUrl: slowSim.authUrlV3, username: 'demo', password: 'demo', projectName: 'demo', regionName: 'RegionOne' });
    try {
      const watch = new ServerWatcher(slowClient.compute, { fastTickMs: 100, slowTickMs: 2000 });
      watchers.push(watch);
      const createOn = async (name: string) => {
        const sentAt = Date.now();
        return { id: (await slowClient.compute.createServer(serverBody(name))).id, sentAt };
      };
      const learning = await Promise.all(['learn-1', 'learn-2', 'learn-3'].map(createOn));
      await Promise.all(learning.map(({ id, sentAt }) => watch.watch(id, 'active', { since: sentAt })));
      const window = watch.boots.window()!;
      expect(window.fromMs).toBeGreaterThan(1000);

      const next = await createOn('learnt');
      slowSim.clearRequests();
      const done = watch.watch(next.id, 'active', { since: next.sentAt });
      await new Promise((resolve) => setTimeout(resolve, window.fromMs - 300));
      const early = slowSim.requests().filter(isStatusCall).length;
      await done;
      const all = slowSim.requests().filter(isStatusCall).length;
      console.log(`learnt boot window ${window.fromMs}-${window.toMs} ms: ${early} status calls before it, ${all} in the whole boot`);
      // A quick tick throughout would have made (window.fromMs - 300) / 100 calls before the window.
      expect(early).toBeLessThanOrEqual(2);
      expect(all).toBeGreaterThan(early);
    } finally {
      await slowClient.close();
      await slowSim.close();
    }
  });
});

describe('DurationModel', () => {
  it('knows nothing from fewer than three samples, then gives a window around what it saw', () => {
    const model = new DurationModel();
    model.record(10_000);
    model.record(12_000);
    expect(model.window()).toBeUndefined();
    model.record(11_000);
    const window = model.window()!;
    expect(window.fromMs).toBeLessThan(10_000);
    expect(window.fromMs).toBeGreaterThan(5000);
    expect(window.toMs).toBeGreaterThan(12_000);
    model.record(Number.NaN);
    model.record(-5);
    expect(model.window()).toEqual(window);
  });
});
