// The OpenStack client against the simulator, over real HTTP: the same calls the activities make.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  endpointFor,
  OpenStackClient,
  OpenStackError,
  type ClientOptions,
  type PasswordCredentials,
  type Server,
} from '../src/openstack/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';

const IMAGE_ID = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';

let sim: Simulator;
const clients: OpenStackClient[] = [];
/** Every token seen: none may appear in an error. */
const tokens = new Set<string>();
// 'demo' and 'admin' are also user and project names, which errors may rightly name.
const passwords = ['password', 'not-the-password'];

beforeAll(async () => {
  sim = await startSimulator({ bootDelayMs: 50, deleteDelayMs: 50 });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim?.close();
});

function demo(options: ClientOptions = {}, extra: Partial<PasswordCredentials> = {}): OpenStackClient {
  const client = new OpenStackClient(
    { authUrl: sim.authUrlV3, username: 'demo', password: 'demo', projectName: 'demo', regionName: 'RegionOne', ...extra },
    options,
  );
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<OpenStackError> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof OpenStackError)) throw error;
    for (const request of sim.requests()) {
      if (request.headers['x-auth-token']) tokens.add(request.headers['x-auth-token']);
    }
    for (const secret of [...tokens, ...passwords]) {
      expect(error.message).not.toContain(secret);
      expect(JSON.stringify(error)).not.toContain(secret);
    }
    return error;
  }
  throw new Error('expected an OpenStackError');
}

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

describe('identity', () => {
  it('authenticates with v3 and reads the catalog', async () => {
    const session = await demo().authenticate();
    tokens.add(session.token);
    expect(session.identityVersion).toBe('v3');
    expect(session.projectId).toMatch(/^[0-9a-f]{32}$/);
    expect(session.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(endpointFor(session.catalog, 'compute', { region: 'RegionOne' })).toBe(`${sim.url}/compute/v2.1`);
    expect(endpointFor(session.catalog, 'image')).toBe(`${sim.url}/image`);
    expect(JSON.stringify(session)).not.toContain(session.token);
    expect(inspect(session)).not.toContain(session.token);
    const [request] = sim.requests().filter((r) => r.path.endsWith('/auth/tokens'));
    expect(request?.headers['user-agent']).toMatch(/^openstack-latent-worker\//);
  });

  it('authenticates with v2.0 and the tenant name, as the Buildbot seed does', async () => {
    const client = new OpenStackClient({ authUrl: sim.authUrlV2, username: 'user', password: 'password', projectName: 'tenant' });
    clients.push(client);
    const session = await client.authenticate();
    tokens.add(session.token);
    expect(session.identityVersion).toBe('v2.0');
    expect(endpointFor(session.catalog, 'compute', { interface: 'internal' })).toContain('/compute/v2.1');
    expect(Array.isArray(await client.compute.listServers())).toBe(true);
  });

  it('refuses a wrong password with an auth error', async () => {
    const error = await failure(demo({}, { password: 'not-the-password' }).authenticate());
    expect(error).toMatchObject({ kind: 'auth', service: 'identity', status: 401, retryable: false });
    expect(error.message).toMatch(/^identity authenticate failed: 401 Unauthorized: /);
    expect(error.requestId).toMatch(/^req-/);
  });

  it('shares one authentication among concurrent calls', async () => {
    const compute = demo().compute;
    sim.clearRequests();
    await Promise.all(Array.from({ length: 8 }, () => compute.getServer('00000000-0000-4000-8000-000000000000')));
    expect(sim.requests().filter((r) => r.path.endsWith('/auth/tokens'))).toHaveLength(1);
  });

  it('re-authenticates once when the cloud rejects an expired token', async () => {
    const cloud = await startSimulator();
    const client = new OpenStackClient({ authUrl: cloud.authUrlV3, username: 'demo', password: 'demo', projectName: 'demo' });
    try {
      await client.compute.listServers();
      // The cloud ends the token while the cache still holds it, as an expiry the cache could not
      // foresee would (revoked, not timed: a 1 s TTL raced the first call on a loaded machine).
      expect(cloud.tokens.revokeAll()).toBe(1);
      expect(await client.compute.listServers()).toEqual([]);
      const calls = cloud.requests().map((r) => `${r.method} ${r.path}`);
      expect(calls).toEqual([
        'POST /identity/v3/auth/tokens',
        'GET /compute/v2.1/servers/detail',
        'GET /compute/v2.1/servers/detail',
        'POST /identity/v3/auth/tokens',
        'GET /compute/v2.1/servers/detail',
      ]);
    } finally {
      await client.close();
      await cloud.close();
    }
  });

  it('discovers v3 from the unversioned identity root', async () => {
    const client = new OpenStackClient({ authUrl: `${sim.url}/identity`, username: 'demo', password: 'demo', projectName: 'demo' });
    clients.push(client);
    sim.clearRequests();
    const session = await client.authenticate();
    tokens.add(session.token);
    expect(session.identityVersion).toBe('v3');
    expect(sim.requests().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /identity', 'POST /identity/v3/auth/tokens']);
  });

  it('names what the catalog has when a region is wrong', async () => {
    const error = await failure(demo({}, { regionName: 'RegionTwo' }).compute.listServers());
    expect(error.kind).toBe('endpointNotFound');
    expect(error.message).toContain("no public endpoint for service type 'compute' in region 'RegionTwo'");
    expect(error.message).toContain('compute (public@RegionOne');
  });
});

describe('compute', () => {
  it('reads the microversion range', async () => {
    const version = await demo().compute.versionInfo();
    expect(version).toMatchObject({ id: 'v2.1', status: 'CURRENT', minVersion: '2.1' });
    expect(version.maxVersion).toMatch(/^2\.\d+$/);
  });

  it('creates, finds, lists and deletes a server', async () => {
    const compute = demo({ microversion: '2.52' }).compute;
    const name = unique('olw');
    const created = await compute.createServer({
      name,
      imageRef: IMAGE_ID,
      flavorRef: '1',
      networks: 'none',
      metadata: { owner: 'openstack-client-test' },
      tags: ['olw-test'],
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    const request = sim.requests().find((r) => r.method === 'POST' && r.path.endsWith('/servers'));
    expect(request?.headers['openstack-api-version']).toBe('compute 2.52');
    expect(request?.headers['x-openstack-nova-api-version']).toBe('2.52');

    const active = await until(() => compute.getServer(created.id), (s) => s?.status === 'ACTIVE');
    expect(active).toMatchObject({ id: created.id, name, metadata: { owner: 'openstack-client-test' }, tags: ['olw-test'] });
    expect(active?.['OS-EXT-STS:task_state']).toBeNull();

    const listed = await compute.listServers({ name: `^${name}$`, tags: ['olw-test'] });
    expect(listed.map((s: Server) => s.id)).toEqual([created.id]);

    expect(await compute.deleteServer(created.id)).toBe('deleted');
    await until(() => compute.getServer(created.id), (s) => s === undefined);
    expect(await compute.deleteServer(created.id)).toBe('already-gone');
  });

  it('follows server pagination to the end', async () => {
    const compute = demo({ microversion: '2.52' }).compute;
    const tag = unique('page');
    const ids = await Promise.all(
      Array.from({ length: 5 }, (_, i) => compute.createServer({ name: `${tag}-${i}`, imageRef: IMAGE_ID, flavorRef: 'tiny', networks: 'none', tags: [tag] })),
    );
    sim.clearRequests();
    const listed = await compute.listServers({ tags: [tag], limit: 2 });
    expect(listed.map((s) => s.id).sort()).toEqual(ids.map((c) => c.id).sort());
    const pages = sim.requests().filter((r) => r.path.endsWith('/servers/detail'));
    expect(pages.length).toBe(3);
    await Promise.all(ids.map((c) => compute.deleteServer(c.id)));
  });

  it('negotiates the microversion, and refuses one above the cloud maximum before and on the wire', async () => {
    expect(await demo({ clientVersion: '2.52' }).compute.negotiateMicroversion()).toMatchObject({ requested: '2.52', effective: '2.52', minVersion: '2.1' });
    const tooNew = demo({ clientVersion: '2.999' }).compute;
    const early = await failure(tooNew.negotiateMicroversion());
    expect(early).toMatchObject({ kind: 'unsupportedVersion', operation: 'negotiateMicroversion' });
    expect(early.message).toMatch(/compute microversion 2\.999 is not offered by this cloud, which serves 2\.1 to 2\.\d+/);
    const onTheWire = await failure(tooNew.listServers());
    expect(onTheWire).toMatchObject({ kind: 'unsupportedVersion', status: 406, retryable: false });
  });

  it('reads the console output of a running server, and encodes plain user_data', async () => {
    const compute = demo({ clientVersion: '2.52' }).compute;
    const created = await compute.createServer({ name: unique('console'), imageRef: IMAGE_ID, flavorRef: '1', networks: 'none', user_data: '#!/bin/sh\necho hi\n' });
    await until(() => compute.getServer(created.id), (s) => s?.status === 'ACTIVE');
    const tail = await compute.getConsoleOutput(created.id, { length: 2 });
    expect(tail.split('\n')).toHaveLength(2);
    expect((await compute.getConsoleOutput(created.id)).length).toBeGreaterThan(tail.length);
    await compute.deleteServer(created.id);
  });

  it('refuses tags where the microversion cannot carry them', async () => {
    const error = await failure(demo({ clientVersion: '2' }).compute.createServer({ name: unique('tags'), imageRef: IMAGE_ID, flavorRef: '1', tags: ['x'] }));
    expect(error).toMatchObject({ kind: 'unsupportedVersion', operation: 'createServer' });
  });

  it('finds flavors by id and by name', async () => {
    const compute = demo().compute;
    expect(await compute.getFlavor('1')).toMatchObject({ id: '1', name: 'm1.tiny', vcpus: 1 });
    expect(await compute.getFlavor('m1.small')).toMatchObject({ id: '2', name: 'm1.small' });
    expect(await compute.getFlavor('tiny')).toMatchObject({ id: 'tiny', ram: 64 });
    const error = await failure(compute.getFlavor('m1.huge'));
    expect(error).toMatchObject({ kind: 'notFound', retryable: false });
  });

  it('maps Nova errors to typed errors with the cloud message', async () => {
    const compute = demo({ microversion: '2.37' }).compute;
    const badFlavor = await failure(compute.createServer({ name: unique('bad'), imageRef: IMAGE_ID, flavorRef: 'nope', networks: 'none' }));
    expect(badFlavor).toMatchObject({ kind: 'badRequest', status: 400, code: 'badRequest', retryable: false });
    expect(badFlavor.message).toMatch(/^compute createServer failed: 400 Bad Request: .*nope.* \(request req-[0-9a-f-]+\)$/);

    const noNetworks = await failure(compute.createServer({ name: unique('bad'), imageRef: IMAGE_ID, flavorRef: '1' }));
    expect(noNetworks.cloudMessage).toContain("'networks' is a required property");
    expect(await compute.getServer('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });
});

describe('image', () => {
  it('gets an image by id, and undefined for an unknown one', async () => {
    const image = demo().image;
    expect(await image.getImage(IMAGE_ID)).toMatchObject({ id: IMAGE_ID, status: 'active', name: 'buildbot-worker-bookworm', os_distro: 'debian' });
    expect(await image.getImage('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('lists every page and finds active images by name', async () => {
    const image = demo().image;
    sim.clearRequests();
    const all = await image.listImages({ limit: 1 });
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(new Set(all.map((i) => i.id)).size).toBe(all.length);
    expect(sim.requests().filter((r) => r.path === '/image/v2/images').length).toBe(all.length + 1);
    const found = await image.findImagesByName('buildbot-worker-bookworm');
    expect(found.map((i) => i.id)).toEqual([IMAGE_ID]);
    expect(await image.findImagesByName('no-such-image')).toEqual([]);
  });
});

describe('a hung cloud', () => {
  // A simulator in a child process, frozen with SIGSTOP: its sockets accept connections (the
  // kernel does that) but nothing ever answers, which is what a wedged API server looks like.
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child?.pid !== undefined && child.exitCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
    }
  });

  it('times out, then works again once the cloud answers', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts', '--boot-delay-ms', '0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child?.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child?.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    });
    const client = new OpenStackClient({ authUrl: `${url}/identity/v3`, username: 'demo', password: 'demo', projectName: 'demo' }, { timeoutMs: 1_500 });
    clients.push(client);
    // Long enough for a loaded machine's answer (a CI run timed out at 300 ms while the cloud was up).
    await client.compute.listServers();

    child.kill('SIGSTOP');
    const started = Date.now();
    const error = await failure(client.compute.listServers());
    // A stopped cloud never answers: the 1.5 s timeout ends the request, not the 30 s default.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error).toMatchObject({ kind: 'timeout', service: 'compute', operation: 'listServers', retryable: true });
    expect(error.message).toBe(`compute listServers failed: no complete answer within 1500 ms (GET ${url}/compute/v2.1/servers/detail)`);

    child.kill('SIGCONT');
    expect(Array.isArray(await client.compute.listServers())).toBe(true);
  }, 30_000);
});
