import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { novaDefaultQuota, projectIds, SimulatorControl, startSimulator, type Simulator } from '../src/simulator/index.js';

// Fault injection, through the typed API and through the HTTP control endpoint.

const bootDelayMs = 100;
const deleteDelayMs = 50;
const tinyImage = '31c4ec89-adc0-4dde-928d-b5f5552e4901';

let sim: Simulator;
let demo: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
  text: string;
}

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json', 'openstack-api-version': 'compute latest', ...opts.headers };
  if (opts.token) headers['x-auth-token'] = opts.token;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const res = await request(`${sim.url}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: opts.signal ?? AbortSignal.timeout(timeoutMs),
  });
  const text = await res.body.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body, text };
}

async function tokenFor(user: string): Promise<string> {
  const res = await call('POST', '/identity/v3/auth/tokens', {
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password: user } } },
        scope: { project: { name: user, domain: { name: 'Default' } } },
      },
    },
  });
  expect(res.status).toBe(201);
  return String(res.headers['x-subject-token']);
}

const create = (name: string, extra: Record<string, unknown> = {}, token = demo) =>
  call('POST', '/compute/v2.1/servers', {
    token,
    body: { server: { name, imageRef: tinyImage, flavorRef: 'tiny', networks: 'none', ...extra } },
  });
const show = (id: string) => call('GET', `/compute/v2.1/servers/${id}`, { token: demo });
const remove = (id: string) => call('DELETE', `/compute/v2.1/servers/${id}`, { token: demo });

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const errorMessage = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  throw new Error('expected a failure');
};

beforeAll(async () => {
  sim = await startSimulator({ bootDelayMs, deleteDelayMs });
  demo = await tokenFor('demo');
});

afterEach(async () => {
  sim.faults.clear();
  sim.quotas.reset('demo');
  await Promise.all(sim.servers().map((s) => remove(s.id)));
  // Servers being deleted still count against quota: start each test from none.
  await until(async () => sim.servers().length, (n) => n === 0);
});

afterAll(async () => {
  await sim.close();
});

describe('per-route errors', () => {
  it("answers with the service's own error body, count times, then normally", async () => {
    const fault = sim.faults.inject({ kind: 'error', route: 'nova.servers.list', status: 503, count: 2 });
    expect(fault).toMatchObject({ id: expect.stringMatching(/^fault-\d+$/), kind: 'error', fired: 0 });
    for (let i = 0; i < 2; i += 1) {
      const res = await call('GET', '/compute/v2.1/servers', { token: demo });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        serviceUnavailable: { code: 503, message: 'The server is currently unavailable. Please try again at a later time.' },
      });
      expect(res.headers['x-compute-request-id']).toMatch(/^req-/);
    }
    expect((await call('GET', '/compute/v2.1/servers', { token: demo })).status).toBe(200);
    expect(sim.faults.list()).toEqual([expect.objectContaining({ id: fault.id, fired: 2 })]);
  });

  it('uses Nova 500, Keystone and Glance bodies per service', async () => {
    sim.faults.inject({ kind: 'error', route: 'nova.flavors.*', status: 500, count: 1 });
    const nova = await call('GET', '/compute/v2.1/flavors', { token: demo });
    expect(nova.body.computeFault).toMatchObject({ code: 500, message: expect.stringMatching(/^Unexpected API Error/) });

    sim.faults.inject({ kind: 'error', route: 'keystone.v3.tokens.create', status: 500, count: 1 });
    const keystone = await call('POST', '/identity/v3/auth/tokens', { body: {} });
    expect(keystone.body).toEqual({
      error: { code: 500, title: 'Internal Server Error', message: 'An unexpected error prevented the server from fulfilling your request.' },
    });

    sim.faults.inject({ kind: 'error', route: 'glance.images.list', status: 502, message: 'upstream went away', count: 1 });
    const glance = await call('GET', '/image/v2/images', { token: demo });
    expect(glance.body).toEqual({ message: 'upstream went away<br /><br />\n\n\n', code: '502 Bad Gateway', title: 'Bad Gateway' });
  });

  it('sends Retry-After, and Nova copies it into 429 bodies', async () => {
    sim.faults.inject({ kind: 'error', route: 'nova.servers.create', status: 429, retryAfter: 7, count: 1 });
    const limited = await create('limited');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(limited.body.overLimit).toMatchObject({ code: 429, retryAfter: '7' });
    expect(sim.servers()).toHaveLength(0);

    sim.faults.inject({ kind: 'error', route: 'glance.images.show', status: 503, retryAfter: 'Wed, 21 Oct 2037 07:28:00 GMT', count: 1 });
    const unavailable = await call('GET', `/image/v2/images/${tinyImage}`, { token: demo });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('Wed, 21 Oct 2037 07:28:00 GMT');
  });

  it('takes a custom body verbatim', async () => {
    sim.faults.inject({ kind: 'error', route: 'nova.servers.show', status: 504, body: { proxy: 'timeout' }, count: 1 });
    const res = await show('11111111-2222-3333-4444-555555555555');
    expect(res).toMatchObject({ status: 504, body: { proxy: 'timeout' } });
  });

  it('fires with a probability, using the dice it is given', async () => {
    const rolls = [0.1, 0.9, 0.4, 0.6];
    const dice = await startSimulator({ random: () => rolls.shift() ?? 1 });
    try {
      dice.faults.inject({ kind: 'error', route: 'nova.version', status: 500, probability: 0.5 });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const res = await request(`${dice.url}/compute/v2.1/`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
        await res.body.dump();
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([500, 200, 500, 200]);
      expect(dice.faults.list()[0]?.fired).toBe(2);
    } finally {
      await dice.close();
    }
  });

  it('refuses rules that cannot work, naming the field', () => {
    expect(() => sim.faults.inject({ kind: 'error', route: 'nova.server.create', status: 500 })).toThrow(
      /route: 'nova\.server\.create' matches no route; routes are .*nova\.servers\.create/,
    );
    expect(() => sim.faults.inject({ kind: 'error', route: 'nova.servers.create', status: 200 })).toThrow(/status: /);
    expect(() => sim.faults.inject({ kind: 'latency', route: '*', ms: 5, probability: 2 })).toThrow(/probability: /);
    expect(() => sim.faults.inject({ kind: 'bootError', message: 'x', namePattern: '(' })).toThrow(/namePattern: must be a valid regular expression/);
    expect(sim.faults.list()).toEqual([]);
  });
});

describe('latency and hangs', () => {
  it('delays a route by a fixed time', async () => {
    sim.faults.inject({ kind: 'latency', route: 'nova.flavors.list', ms: 300 });
    const started = Date.now();
    const res = await call('GET', '/compute/v2.1/flavors', { token: demo });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await call('GET', '/compute/v2.1/flavors/tiny', { token: demo });
    expect(sim.faults.list()[0]?.fired).toBe(1);
  });

  it('finishes a delayed create whose client gave up, as nova-api does: the server exists, the answer is dropped', async () => {
    sim.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: 600, count: 1 });
    const gaveUp = call('POST', '/compute/v2.1/servers', { token: demo, timeoutMs: 200, body: { server: { name: 'slow-1', imageRef: tinyImage, flavorRef: 'tiny', networks: 'none' } } });
    expect(await errorMessage(gaveUp)).toMatch(/timeout|abort/i);
    expect(sim.servers().filter((s) => s.name === 'slow-1')).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(sim.servers().filter((s) => s.name === 'slow-1')).toHaveLength(1);
  });

  it('holds a request until the rule is removed, then answers it', async () => {
    const fault = sim.faults.inject({ kind: 'hang', route: 'nova.servers.list' });
    let settled = false;
    const pending = call('GET', '/compute/v2.1/servers', { token: demo }).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    expect(sim.faults.list()[0]?.fired).toBe(1);
    expect(sim.faults.remove(fault.id)).toBe(true);
    expect((await pending).status).toBe(200);
  });

  it('lets a client that gives up go, and a cleared plan frees the rest', async () => {
    sim.faults.inject({ kind: 'hang', route: 'glance.images.list' });
    expect(await errorMessage(call('GET', '/image/v2/images', { token: demo, timeoutMs: 200 }))).toMatch(/timeout|abort/i);
    const second = call('GET', '/image/v2/images', { token: demo });
    await new Promise((resolve) => setTimeout(resolve, 50));
    sim.faults.clear();
    expect((await second).status).toBe(200);
  });
});

describe('accepted but response lost', () => {
  it('creates the server, then closes the connection unanswered', async () => {
    sim.faults.inject({ kind: 'responseLost', count: 1 });
    expect(await errorMessage(create('lost-1'))).toMatch(/socket|closed|other side/i);
    const [server] = sim.servers();
    expect(server).toMatchObject({ name: 'lost-1' });
    // The retry answers normally, and now two servers exist: what the lifecycle must clean up.
    expect((await create('lost-1')).status).toBe(202);
    expect(sim.servers().filter((s) => s.name === 'lost-1')).toHaveLength(2);
  });
});

describe('boot outcomes', () => {
  it('sends matching servers to ERROR with the given fault', async () => {
    sim.faults.inject({ kind: 'bootError', namePattern: '^doomed-', message: 'No valid host was found. There are not enough hosts available.' });
    const doomed = (await create('doomed-1')).body.server.id;
    const fine = (await create('fine-1')).body.server.id;
    const failed = await until(() => show(doomed), (r) => r.body.server.status !== 'BUILD');
    expect(failed.body.server).toMatchObject({
      status: 'ERROR',
      'OS-EXT-STS:vm_state': 'error',
      fault: { code: 500, message: 'No valid host was found. There are not enough hosts available.', created: expect.any(String) },
    });
    // A member does not see the details of a 500 fault, as in Nova.
    expect(failed.body.server.fault.details).toBeUndefined();
    expect((await until(() => show(fine), (r) => r.body.server.status !== 'BUILD')).body.server.status).toBe('ACTIVE');
  });

  it('keeps the next N servers in BUILD until they are deleted', async () => {
    sim.faults.inject({ kind: 'bootStuck', count: 1 });
    const stuck = (await create('stuck-1')).body.server.id;
    const next = (await create('next-1')).body.server.id;
    await new Promise((resolve) => setTimeout(resolve, bootDelayMs * 3));
    expect((await show(stuck)).body.server).toMatchObject({ status: 'BUILD', 'OS-EXT-STS:task_state': 'spawning' });
    expect((await show(next)).body.server.status).toBe('ACTIVE');
    expect((await remove(stuck)).status).toBe(204);
    expect((await until(() => show(stuck), (r) => r.status === 404)).status).toBe(404);
  });
});

describe('deletes that fail', () => {
  it('answers 500 to the first N deletes of each server, then deletes it', async () => {
    sim.faults.inject({ kind: 'deleteFailures', times: 2 });
    const a = (await create('a')).body.server.id;
    const b = (await create('b')).body.server.id;
    for (const id of [a, b]) {
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await remove(id)).status);
      expect(statuses).toEqual([500, 500, 204]);
    }
    const failed = await remove(a);
    expect(failed.status).toBe(204);
    expect(sim.faults.list()[0]?.fired).toBe(4);
  });

  it('limits itself to `count` servers and to matching names', async () => {
    sim.faults.inject({ kind: 'deleteFailures', times: 1, count: 1, namePattern: '^flaky' });
    const [first, second, other] = await Promise.all(['flaky-1', 'flaky-2', 'steady'].map(async (n) => (await create(n)).body.server.id));
    const res = await remove(first);
    expect(res.status).toBe(500);
    expect(res.body.computeFault.message).toMatch(/^Unexpected API Error/);
    expect((await remove(second)).status).toBe(204);
    expect((await remove(other)).status).toBe(204);
  });
});

describe('quotas', () => {
  it("refuses an over-quota create with Nova's 403 and counts usage in /limits", async () => {
    sim.quotas.set('demo', { instances: 2 });
    for (const name of ['q-1', 'q-2']) {
      const id = (await create(name)).body.server.id;
      // Nova counts a server once it is placed on a host, not while it is scheduling.
      await until(() => show(id), (r) => r.body.server['OS-EXT-STS:task_state'] !== 'scheduling');
    }
    const refused = await create('q-3');
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 2 of 2 instances' },
    });
    const limits = await call('GET', '/compute/v2.1/limits', { token: demo });
    expect(limits.body.limits).toEqual({
      rate: [],
      absolute: {
        maxTotalInstances: 2,
        maxTotalCores: -1,
        maxTotalRAMSize: -1,
        maxServerMeta: 128,
        maxTotalKeypairs: 100,
        maxServerGroups: 10,
        maxServerGroupMembers: 10,
        totalInstancesUsed: 2,
        totalCoresUsed: 2,
        totalRAMUsed: 128,
        totalServerGroupsUsed: 0,
      },
    });
    expect(sim.quotas.get('demo')).toEqual({ quota: { instances: 2, cores: -1, ram: -1 }, usage: { instances: 2, cores: 2, ram: 128 } });
  });

  it('lets a burst through the API check, then sends all of it to ERROR, as nova-conductor does', async () => {
    sim.quotas.set('demo', { instances: 1 });
    // Sent together, both arrive while the other is still scheduling and uncounted.
    const ids = (await Promise.all([create('burst-1'), create('burst-2')])).map((r) => r.body.server.id);
    const settled = await Promise.all(ids.map((id) => until(() => show(id), (r) => r.body.server.status !== 'BUILD')));
    for (const res of settled) {
      expect(res.body.server).toMatchObject({
        status: 'ERROR',
        fault: { code: 413, created: expect.any(String), message: 'Quota exceeded for instances: Requested 1, but already used 1 of 1 instances' },
      });
    }
  });

  it('names every resource over quota, sorted, and admits what fits of a multi-create', async () => {
    sim.quotas.set('demo', { ...novaDefaultQuota, cores: 0, ram: 100 });
    expect((await create('big', { flavorRef: '2' })).body).toEqual({
      forbidden: {
        code: 403,
        message: 'Quota exceeded for cores, ram: Requested 1, 2048, but already used 0, 0 of 0, 100 cores, ram',
      },
    });
    sim.quotas.set('demo', { cores: 3, ram: -1 });
    const multi = await create('multi', { min_count: 1, max_count: 5, return_reservation_id: true });
    expect(multi.status).toBe(202);
    expect(sim.servers().filter((s) => s.name.startsWith('multi-'))).toHaveLength(3);
  });

  it('lets an admin change quotas through os-quota-sets, as on a real cloud', async () => {
    const admin = await tokenFor('admin');
    const updated = await call('PUT', `/compute/v2.1/os-quota-sets/${projectIds.demo}`, { token: admin, body: { quota_set: { instances: 0 } } });
    expect(updated.status).toBe(200);
    expect(updated.body.quota_set).toEqual({
      cores: -1,
      instances: 0,
      key_pairs: 100,
      metadata_items: 128,
      ram: -1,
      server_group_members: 10,
      server_groups: 10,
    });
    expect((await create('none-left')).body.forbidden.message).toBe('Quota exceeded for instances: Requested 1, but already used 0 of 0 instances');
    const denied = await call('PUT', `/compute/v2.1/os-quota-sets/${projectIds.demo}`, { token: demo, body: { quota_set: { instances: 5 } } });
    expect(denied.body).toEqual({ forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed." } });
    expect((await call('DELETE', `/compute/v2.1/os-quota-sets/${projectIds.demo}`, { token: admin })).status).toBe(202);
    expect(sim.quotas.get('demo').quota.instances).toBe(-1);
  });
});

describe('tokens', () => {
  it('revokes every token at once', async () => {
    const token = await tokenFor('demo');
    expect((await call('GET', '/compute/v2.1/servers', { token })).status).toBe(200);
    expect(sim.tokens.revokeAll()).toBeGreaterThanOrEqual(1);
    const res = await call('GET', '/compute/v2.1/servers', { token });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    demo = await tokenFor('demo');
  });

  it('issues short-lived tokens after a TTL change', async () => {
    // Keystone times are whole seconds: a 2 s token lives between 1 and 2 s.
    sim.tokens.setTtl(2);
    try {
      const token = await tokenFor('demo');
      expect((await call('GET', '/compute/v2.1/servers', { token })).status).toBe(200);
      const expired = await until(() => call('GET', '/compute/v2.1/servers', { token }), (r) => r.status === 401, 4_000);
      expect(expired.status).toBe(401);
    } finally {
      sim.tokens.setTtl(3600);
    }
  });
});

describe('HTTP control endpoint', () => {
  it('does everything the typed API does, for another process', async () => {
    const control = new SimulatorControl(sim.url);
    const [fault] = await control.inject({ kind: 'error', route: 'nova.servers.create', status: 503, retryAfter: 2, count: 1 });
    expect(fault).toMatchObject({ kind: 'error', status: 503, fired: 0 });
    expect((await create('via-http')).headers['retry-after']).toBe('2');
    expect((await control.faults())[0]).toMatchObject({ id: fault?.id, fired: 1 });
    await control.remove(fault?.id ?? '');
    expect(await control.faults()).toEqual([]);

    await control.inject({ kind: 'bootStuck' }, { kind: 'latency', route: 'nova.*', ms: 1 });
    expect(sim.faults.list().map((f) => f.kind)).toEqual(['bootStuck', 'latency']);
    await control.clear();
    expect(sim.faults.list()).toEqual([]);

    expect(await control.setQuota('demo', { instances: 0 })).toEqual({
      project_id: expect.any(String),
      quota: { instances: 0, cores: -1, ram: -1 },
      usage: { instances: 0, cores: 0, ram: 0 },
    });
    expect((await create('over')).status).toBe(403);
    await control.resetQuota('demo');
    expect(sim.quotas.get('demo').quota.instances).toBe(-1);

    expect(await control.revokeTokens()).toBeGreaterThanOrEqual(1);
    expect((await call('GET', '/compute/v2.1/servers', { token: demo })).status).toBe(401);
    demo = await tokenFor('demo');
    await control.setTokenTtl(3600);
  });

  it('refuses bad rules with 400 naming the field, and adds none of a bad batch', async () => {
    const res = await call('POST', '/_sim/faults', {
      body: { faults: [{ kind: 'latency', route: 'nova.*', ms: 5 }, { kind: 'error', route: 'nova.*' }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^invalid fault rule: status: /);
    expect(sim.faults.list()).toEqual([]);
    expect((await call('DELETE', '/_sim/faults/fault-999')).status).toBe(404);
    expect((await call('PUT', '/_sim/quotas/nobody', { body: { instances: 1 } })).status).toBe(404);
    expect((await call('GET', '/_sim/routes')).body.routes).toContain('nova.servers.create');
  });

  it('is never itself faulted, and stays out of the recorded requests', async () => {
    sim.faults.inject({ kind: 'error', route: '*', status: 500 });
    sim.clearRequests();
    expect((await call('GET', '/_sim/faults')).status).toBe(200);
    expect((await call('DELETE', '/_sim/faults')).status).toBe(204);
    expect(sim.requests()).toEqual([]);
  });
});
