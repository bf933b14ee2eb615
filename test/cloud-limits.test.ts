// Gentle with the cloud: one token per cloud and scope, a request budget, a create limit, a server
// cap and cached look-ups, all through the real activities against the simulator over HTTP.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloudRegistry, type CloudRegistryOptions } from '../src/activities/cloudRegistry.js';
import { createActivities } from '../src/activities/index.js';
import type { CreateServerInput } from '../src/activities/servers.js';
import { ConfigError, parseConfig, type LoadedConfig } from '../src/config/load.js';
import { DEFAULT_CLOUD_LIMITS } from '../src/config/limits.js';
import { OpenStackError, RateLimiter, Semaphore } from '../src/openstack/index.js';
import { startSimulator, type RecordedRequest, type Simulator } from '../src/simulator/index.js';
import { startLifecycleRig } from './support/lifecycleRig.js';

const IMAGE_ID = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';

let sim: Simulator;
const registries: CloudRegistry[] = [];

beforeAll(async () => {
  sim = await startSimulator({ bootDelayMs: 200, deleteDelayMs: 100 });
});

afterEach(async () => {
  sim.faults.clear();
  await Promise.all(registries.splice(0).map((registry) => registry.close()));
  // Leftovers go, so that one test's servers never count against the next one's cap.
  const { activities } = setup(1);
  await Promise.all(sim.servers().map((server) => run(activities.deleteServer, { workerName: 'w0', serverId: server.id })));
  await Promise.all(registries.splice(0).map((registry) => registry.close()));
});

afterAll(async () => {
  await sim?.close();
});

function config(workers: number, cloudLimits?: unknown, deployment = 'limits-test'): LoadedConfig {
  return parseConfig(
    {
      deployment,
      workers: Array.from({ length: workers }, (_, i) => ({
        name: `w${i}`,
        flavor: 1,
        image: IMAGE_ID,
        os_username: 'demo',
        os_password: 'demo',
        os_tenant_name: 'demo',
        os_auth_url: sim.authUrlV3,
        client_version: '2',
      })),
      cloud_limits: cloudLimits,
    },
    'cloud limits test',
    {},
  );
}

function setup(workers: number, cloudLimits?: unknown, options: CloudRegistryOptions = {}, deployment?: string) {
  const loaded = config(workers, cloudLimits, deployment);
  const clouds = new CloudRegistry(loaded, { pollIntervalMs: 100, ...options });
  registries.push(clouds);
  return { clouds, activities: createActivities({ clouds, deployment: loaded.deployment }) };
}

/** Runs an activity as a worker would, with a start-to-close timeout of the lifecycle's own order (the mock's default 1 s leaves a delete no time to see its server go). */
function run<P extends unknown[], R>(fn: (...args: P) => Promise<R>, ...args: P): Promise<R> {
  return new MockActivityEnvironment({ startToCloseTimeoutMs: 5 * 60_000 }).run(fn, ...args);
}

let serial = 0;
function createInput(workerName = 'w0'): CreateServerInput {
  serial += 1;
  return {
    workerName,
    serverName: `limits-${serial}`,
    imageId: IMAGE_ID,
    flavor: '1',
    meta: {},
    clientVersion: '2',
    owner: { workflowId: `wf-${serial}`, runId: `00000000-0000-4000-8000-${String(serial).padStart(12, '0')}`, attempt: 1 },
  };
}

const calls = (requests: RecordedRequest[], method: string, path: RegExp): RecordedRequest[] =>
  requests.filter((request) => request.method === method && path.test(request.path));

describe('one Keystone token per cloud and scope', () => {
  it('sends Keystone one login for a thousand concurrent cache misses across two hundred worker definitions', async () => {
    const { clouds } = setup(200);
    sim.clearRequests();
    const sessions = await run(() => Promise.all(Array.from({ length: 1000 }, (_, i) => clouds.forWorker(`w${i % 200}`).authenticate())));
    expect(new Set(sessions.map((session) => session.token)).size).toBe(1);
    expect(calls(sim.requests(), 'POST', /\/auth\/tokens$/)).toHaveLength(1);

    // A revoked token: every client's next call gets a 401, and all of them share one new login.
    sim.tokens.revokeAll();
    sim.clearRequests();
    await run(() => Promise.all(Array.from({ length: 200 }, (_, i) => clouds.forWorker(`w${i}`).compute.getFlavor('1'))));
    expect(calls(sim.requests(), 'POST', /\/auth\/tokens$/)).toHaveLength(1);
  });

  it('checks the compute version once per cloud, not once per worker definition', async () => {
    const { activities } = setup(20);
    sim.clearRequests();
    await Promise.all(Array.from({ length: 20 }, (_, i) => run(activities.authenticate, { workerName: `w${i}` })));
    expect(calls(sim.requests(), 'GET', /^\/compute\/v2\.1\/$/)).toHaveLength(1);
  });
});

describe('a cloud client made outside any activity', () => {
  it('says its definition\'s warnings on the process\'s log, so the census can list servers before any lifecycle ran', async () => {
    const loaded = parseConfig(
      { workers: [{ name: 'old', flavor: 1, image: IMAGE_ID, os_username: 'demo', os_password: 'demo', os_tenant_name: 'demo', os_auth_url: sim.authUrlV3, client_version: '1.1' }] },
      'cloud limits test',
      {},
    );
    const clouds = new CloudRegistry(loaded, { pollIntervalMs: 100 });
    registries.push(clouds);
    // The server census (src/worker/census.ts) is the first to ask for a client in a new worker
    // process, on a timer: its list failed with "Activity context not initialized" once.
    const client = clouds.forWorker('old');
    expect(client.warnings.join()).toContain("client_version '1.1' is deprecated");
    expect(Array.isArray(await client.compute.listServers())).toBe(true);
  });
});

describe('requests_per_second', () => {
  it('lets no more than the budget reach the cloud in any second, over every worker of the cloud', async () => {
    const { clouds } = setup(4, { default: { requests_per_second: 20 } });
    const compute = await run(async () => {
      await clouds.forWorker('w0').authenticate();
      return [0, 1, 2, 3].map((i) => clouds.forWorker(`w${i}`).compute);
    });
    // The token and the clients are ready: what follows is only the 60 requests.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sim.clearRequests();
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: 60 }, (_, i) => compute[i % 4]!.getFlavor('1')));
    const elapsedMs = Date.now() - startedAt;
    const times = calls(sim.requests(), 'GET', /\/flavors\/1$/).map((request) => request.at).sort((a, b) => a - b);
    expect(times).toHaveLength(60);
    // As the cloud counts them: a sliding one-second window over the arrivals never holds more
    // than 20 (a token bucket's burst of 20 and then one every 50 ms put up to 39 in one).
    const peak = Math.max(...times.map((at) => times.filter((other) => other >= at && other < at + 1000).length));
    expect(peak).toBeLessThanOrEqual(20);
    // Spread evenly, 20 a second at most: 60 need close to three seconds.
    expect(elapsedMs).toBeGreaterThanOrEqual(2900);
    console.log(`60 requests at 20/s: ${elapsedMs} ms, at most ${peak} in any second at the cloud`);
  });

  it('keeps to its budget in every second while the rate changes, and lets a tenth of it through at once after a quiet spell', async () => {
    const limiter = new RateLimiter(40);
    const what = { service: 'compute' as const, operation: 'getServer' };
    const turns: number[] = [];
    const take = (n: number) => Promise.all(Array.from({ length: n }, () => limiter.acquire(what, 30_000).then(() => turns.push(Date.now()))));
    const startedAt = Date.now();
    await take(4);
    // 40 a second: four (a tenth) at once.
    expect(Date.now() - startedAt).toBeLessThan(50);
    const first = take(76);
    setTimeout(() => limiter.setRate(20), 800);
    await first;
    await take(30);
    const peakIn = (from: number, to: number) => Math.max(...turns.filter((at) => at >= from && at < to).map((at) => turns.filter((other) => other >= at && other < at + 1000).length));
    expect(peakIn(startedAt, startedAt + 800)).toBeLessThanOrEqual(40);
    // From a second after the change, at most 20 in any second.
    expect(peakIn(startedAt + 1800, Number.POSITIVE_INFINITY)).toBeLessThanOrEqual(20);
  });

  /** The shortest time between a request and the one `count` after it (times in order). */
  const shortestSpan = (times: number[], count: number) => Math.min(...times.slice(count).map((at, i) => at - times[i]!));
  const create = { service: 'compute' as const, operation: 'createServer' };

  it('spaces any rate + 1 turns more than a second apart by enough for a request that reaches the cloud 90 ms late', async () => {
    // The turns only (a clock that stands still): each request's wait is its turn.
    const turns: number[] = [];
    const limiter = new RateLimiter(100, () => 0, (waitMs) => turns.push(waitMs));
    const stop = new AbortController();
    const taken = Array.from({ length: 301 }, () => limiter.acquire(create, 60_000, stop.signal).catch(() => undefined));
    stop.abort();
    await Promise.all(taken);
    expect(turns).toHaveLength(301);
    // One request held 90 ms by a busy event loop and the 100 after it on time must not make 101 in one second at the cloud.
    expect(shortestSpan(turns, 100)).toBeGreaterThanOrEqual(1090);
  });

  it('keeps to its budget in every second when a stalled event loop lets some requests leave late', async () => {
    const limiter = new RateLimiter(100);
    const sent: number[] = [];
    // A 250 ms stall (a long collection) 300 ms in: the requests due during it leave together at its end.
    let stallEndedAt = Number.NaN;
    setTimeout(() => {
      const until = Date.now() + 250;
      while (Date.now() < until);
      stallEndedAt = Date.now();
    }, 300);
    await Promise.all(Array.from({ length: 250 }, () => limiter.acquire(create, 60_000).then(() => sent.push(Date.now()))));
    sent.sort((a, b) => a - b);
    // The stall did hold some back: at 91 a second about 20 were due during it.
    const late = sent.filter((at) => at >= stallEndedAt && at <= stallEndedAt + 20).length;
    expect(late).toBeGreaterThan(5);
    // Any 101 requests span more than a second: those due a window after the stall's did not come on time beside them.
    expect(shortestSpan(sent, 100)).toBeGreaterThanOrEqual(1000);
  });

  it('refuses at once, as a retryable rate limit, a request whose turn is further away than it may wait', async () => {
    const limiter = new RateLimiter(2);
    const what = { service: 'compute' as const, operation: 'getServer' };
    await limiter.acquire(what, 1000);
    await limiter.acquire(what, 1000);
    const refused = await limiter.acquire(what, 100).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenStackError);
    expect(refused).toMatchObject({ kind: 'rateLimited', retryable: true });
    expect((refused as OpenStackError).message).toContain('2 requests per second');
    expect(() => new RateLimiter(0)).toThrow('requests per second must be a positive number');
  });
});

describe('max_concurrent_creates', () => {
  it('never has more creates in flight than the limit', async () => {
    const { activities } = setup(1, { default: { max_concurrent_creates: 3 } });
    sim.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: 300 });
    sim.clearRequests();
    const created = await Promise.all(Array.from({ length: 9 }, () => run(activities.createServer, createInput())));
    expect(new Set(created.map((server) => server.id)).size).toBe(9);
    const posts = calls(sim.requests(), 'POST', /\/servers$/).map((request) => request.at).sort((a, b) => a - b);
    expect(posts).toHaveLength(9);
    // Each create takes 300 ms: the fourth can only start once the first has finished.
    for (let i = 0; i + 3 < posts.length; i += 1) expect(posts[i + 3]! - posts[i]!).toBeGreaterThanOrEqual(290);
  });
});

describe('Semaphore', () => {
  it('queues in order, and a wait ends at its bound or its signal without taking a slot', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire(1000, () => new Error('timed out'));
    const order: string[] = [];
    const second = slots.acquire(5000, () => new Error('timed out')).then((done) => (order.push('second'), done));
    await expect(slots.acquire(100, () => new Error('no slot within 100 ms'))).rejects.toThrow('no slot within 100 ms');
    const controller = new AbortController();
    const aborted = slots.acquire(5000, () => new Error('timed out'), controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(aborted).rejects.toThrow('cancelled');
    expect(slots.inUse).toBe(1);
    release();
    (await second)();
    expect(order).toEqual(['second']);
    expect(slots.inUse).toBe(0);
    expect(() => new Semaphore(0)).toThrow('a semaphore needs a size of at least 1');
  });
});

describe('max_servers', () => {
  it('refuses a create over the cap as no capacity (the type a full quota has), and lets it go once a server is deleted', async () => {
    const { activities } = setup(1, { default: { max_servers: 2 } }, { serverCap: { recountMs: 200, maxWaitMs: 1000 } });
    const first = await run(activities.createServer, createInput());
    await run(activities.createServer, createInput());
    const startedAt = Date.now();
    const refused = await run(activities.createServer, createInput()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: 'OpenStackQuotaExceeded', nonRetryable: true });
    expect((refused as Error).message).toContain('max_servers 2');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    expect(sim.servers()).toHaveLength(2);

    await run(activities.deleteServer, { workerName: 'w0', serverId: first.id });
    await run(activities.createServer, createInput());
    expect(sim.servers()).toHaveLength(2);
  });

  it('counts only this deployment’s servers', async () => {
    const other = setup(1, undefined, {}, 'someone-else');
    await run(other.activities.createServer, createInput());
    await run(other.activities.createServer, createInput());
    const { activities } = setup(1, { default: { max_servers: 1 } }, { serverCap: { recountMs: 200, maxWaitMs: 500 } });
    await run(activities.createServer, createInput());
    expect(sim.servers()).toHaveLength(3);
  });
});

describe('cached look-ups', () => {
  it('asks for a flavor and an image once, and again after Nova refused a create', async () => {
    const { activities } = setup(3);
    sim.clearRequests();
    for (const workerName of ['w0', 'w1', 'w2']) {
      await run(activities.resolveImage, { workerName, image: IMAGE_ID });
      await run(activities.createServer, createInput(workerName));
    }
    expect(calls(sim.requests(), 'GET', /\/flavors\/1$/)).toHaveLength(1);
    expect(calls(sim.requests(), 'GET', new RegExp(`/images/${IMAGE_ID}$`))).toHaveLength(1);

    sim.faults.inject({ kind: 'error', route: 'nova.servers.create', status: 400, message: 'Flavor 1 could not be found.', count: 1 });
    await expect(run(activities.createServer, createInput())).rejects.toMatchObject({ type: 'OpenStackBadRequest' });
    sim.clearRequests();
    await run(activities.resolveImage, { workerName: 'w0', image: IMAGE_ID });
    await run(activities.createServer, createInput());
    expect(calls(sim.requests(), 'GET', /\/flavors\/1$/)).toHaveLength(1);
    expect(calls(sim.requests(), 'GET', new RegExp(`/images/${IMAGE_ID}$`))).toHaveLength(1);
  });

  it('shares one look-up between concurrent misses', async () => {
    const { activities } = setup(10);
    sim.clearRequests();
    await Promise.all(Array.from({ length: 50 }, (_, i) => run(activities.resolveImage, { workerName: `w${i % 10}`, image: IMAGE_ID })));
    expect(calls(sim.requests(), 'GET', new RegExp(`/images/${IMAGE_ID}$`))).toHaveLength(1);
  });

  it('keeps no "not found", and nothing at all with lookup_cache_seconds 0', async () => {
    const { activities } = setup(1, { default: { lookup_cache_seconds: 0 } });
    sim.clearRequests();
    await run(activities.resolveImage, { workerName: 'w0', image: IMAGE_ID });
    await run(activities.resolveImage, { workerName: 'w0', image: IMAGE_ID });
    expect(calls(sim.requests(), 'GET', new RegExp(`/images/${IMAGE_ID}$`))).toHaveLength(2);

    const cached = setup(1);
    sim.clearRequests();
    for (let i = 0; i < 2; i += 1) {
      await expect(run(cached.activities.resolveImage, { workerName: 'w0', image: 'no-such-image' })).rejects.toMatchObject({ type: 'ImageNotFound' });
    }
    expect(calls(sim.requests(), 'GET', /\/v2\/images$/)).toHaveLength(2);
  });
});

describe('cloud_limits configuration', () => {
  it('takes the built-in limits, then default, then the cloud’s own entry', () => {
    expect(config(1).workers.get('w0')!.limits).toEqual(DEFAULT_CLOUD_LIMITS);
    const label = `${sim.authUrlV3}#demo`;
    const limits = config(1, { default: { requests_per_second: 5, max_servers: 10 }, [label]: { max_servers: null, max_concurrent_creates: 2 } }).workers.get('w0')!.limits;
    expect(limits).toEqual({ requestsPerSecond: 5, maxConcurrentCreates: 2, maxServers: undefined, lookupCacheSeconds: DEFAULT_CLOUD_LIMITS.lookupCacheSeconds, maxBooting: undefined });
  });

  it('names the field and what is valid, and refuses an entry for no configured cloud', () => {
    expect(() => config(1, { default: { requests_per_second: 0 } })).toThrow(/cloud_limits\.default\.requests_per_second: must be more than 0/);
    expect(() => config(1, { default: { max_concurrent_creates: 1.5 } })).toThrow(/cloud_limits\.default\.max_concurrent_creates: must be a whole number/);
    expect(() => config(1, { default: { max_servers: 'lots' } })).toThrow(/max_servers: must be a whole number, or null for no cap/);
    expect(() => config(1, { default: { max_servrs: 3 } })).toThrow(/max_servrs.*unknown key/);
    expect(() => config(1, { 'no-such-cloud': { max_servers: 3 } })).toThrow(ConfigError);
    expect(() => config(1, { 'no-such-cloud': { max_servers: 3 } })).toThrow(/"no-such-cloud" is no configured worker's cloud/);
  });

  it('finds a clouds.yaml cloud by its name, and refuses two names of one cloud that disagree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloud-limits-'));
    const cloudsFile = join(dir, 'clouds.yaml');
    writeFileSync(cloudsFile, `clouds:\n  lab:\n    auth:\n      auth_url: ${sim.authUrlV3}\n      username: demo\n      password: demo\n      project_name: demo\n`);
    const env = { OS_CLIENT_CONFIG_FILE: cloudsFile };
    const byName = { name: 'by-name', flavor: 1, image: IMAGE_ID, cloud: 'lab' };
    const byUrl = { name: 'by-url', flavor: 1, image: IMAGE_ID, os_username: 'demo', os_password: 'demo', os_tenant_name: 'demo', os_auth_url: sim.authUrlV3 };
    try {
      const one = parseConfig({ workers: [byName], cloud_limits: { lab: { max_servers: 3 } } }, 'clouds.yaml test', env);
      expect(one.workers.get('by-name')!.limits.maxServers).toBe(3);
      expect(() => parseConfig({ workers: [byName, byUrl], cloud_limits: { lab: { max_servers: 3 } } }, 'clouds.yaml test', env)).toThrow(
        /workers "by-name" and "by-url" use the same cloud .* but get different limits/,
      );
      const agreeing = parseConfig({ workers: [byName, byUrl], cloud_limits: { lab: { max_servers: 3 }, [`${sim.authUrlV3}#demo`]: { max_servers: 3 } } }, 'clouds.yaml test', env);
      expect(agreeing.workers.get('by-url')!.limits.maxServers).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('max_servers in whole lifecycles', () => {
  it('holds the second lifecycle’s create until the first one’s server is gone, then boots it without a failed launch', async () => {
    const rig = await startLifecycleRig([{ name: 'first' }, { name: 'second' }], { cloudLimits: { default: { max_servers: 1 } } });
    try {
      const [first, second] = [rig.nameOf('first'), rig.nameOf('second')];
      const firstRun = await rig.client.substantiate(rig.config.workers.get(first)!.specFor());
      await rig.client.waitForPhase(first, 'waiting-for-attach', { intervalMs: 50 });
      const secondRun = await rig.client.substantiate(rig.config.workers.get(second)!.specFor());
      await rig.client.waitForPhase(second, 'creating', { intervalMs: 50 });
      // Held at the cap: the second lifecycle has no server while the first one has its own.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(rig.simulator.servers()).toHaveLength(1);
      expect((await rig.client.status(second)).phase).toBe('creating');

      await rig.client.release(first);
      expect((await firstRun.result()).outcome).toBe('released');
      await rig.client.waitForPhase(second, 'waiting-for-attach', { intervalMs: 50 });
      await rig.client.release(second);
      const result = await secondRun.result();
      expect(result.outcome).toBe('released');
      expect(result.status.launches).toBe(1);
      expect(result.status.launchFailures ?? []).toEqual([]);
      expect(rig.simulator.servers()).toEqual([]);
    } finally {
      await rig.stop();
    }
  });
});
