import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultImages, projectIds, startSimulator, type Simulator } from '../src/simulator/index.js';

// Long enough that a GET right after a POST or DELETE still sees the transitional state on a busy
// machine (150 ms was not: a CI run listed a new server already ACTIVE).
const bootDelayMs = 1000;
const deleteDelayMs = 100;

let sim: Simulator;

beforeAll(async () => {
  // Scheduling for the whole boot: GETs right after a POST see task_state `scheduling`.
  sim = await startSimulator({ bootDelayMs, scheduleDelayMs: bootDelayMs, deleteDelayMs });
});

afterAll(async () => {
  await sim.close();
});

interface Reply {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
  text: string;
}

async function call(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string>; base?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers['x-auth-token'] = opts.token;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${opts.base ?? sim.url}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

const v3Body = (user: string, password: string, project: string) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
    scope: { project: { name: project, domain: { name: 'Default' } } },
  },
});

async function tokenFor(user: string, password: string, project: string): Promise<string> {
  const res = await call('POST', '/identity/v3/auth/tokens', { body: v3Body(user, password, project) });
  expect(res.status).toBe(201);
  return res.headers.get('x-subject-token') ?? '';
}

const compute = (minor: string | number = 'latest') => ({ 'openstack-api-version': `compute ${minor === 'latest' ? 'latest' : `2.${minor}`}` });

const bookworm = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';
const tinyImage = '31c4ec89-adc0-4dde-928d-b5f5552e4901';

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

let admin: string;
let demo: string;

beforeAll(async () => {
  admin = await tokenFor('admin', 'admin', 'admin');
  demo = await tokenFor('demo', 'demo', 'demo');
});

async function createServer(token: string, server: Record<string, unknown>, minor: string | number = 'latest'): Promise<Reply> {
  return call('POST', '/compute/v2.1/servers', {
    token,
    headers: compute(minor),
    body: { server: { name: 'vm', imageRef: tinyImage, flavorRef: 'tiny', networks: 'none', ...server } },
  });
}

const getServer = (token: string, id: string, minor: string | number = 'latest') =>
  call('GET', `/compute/v2.1/servers/${id}`, { token, headers: compute(minor) });

describe('identity', () => {
  it('lists v3 and v2.0 on the version root', async () => {
    const res = await call('GET', '/identity/');
    expect(res.status).toBe(300);
    expect(res.body.versions.values.map((v: { id: string }) => v.id)).toEqual(['v3.14', 'v2.0']);
    const v3 = await call('GET', '/identity/v3');
    expect(v3.body.version.links[0].href).toBe(`${sim.url}/identity/v3/`);
  });

  it('issues a v3 token for a password by name and project by name', async () => {
    const res = await call('POST', '/identity/v3/auth/tokens', { body: v3Body('admin', 'admin', 'admin') });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-subject-token')).toMatch(/^gAAAAA/);
    expect(res.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
    const token = res.body.token;
    expect(token.methods).toEqual(['password']);
    expect(token.user).toMatchObject({ name: 'admin', domain: { id: 'default', name: 'Default' } });
    expect(token.project).toEqual({ id: projectIds.admin, name: 'admin', domain: { id: 'default', name: 'Default' } });
    expect(token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['admin', 'member', 'reader']);
    expect(Date.parse(token.expires_at) - Date.parse(token.issued_at)).toBe(3600_000);
    expect(token.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
    const byType = Object.fromEntries(token.catalog.map((s: { type: string }) => [s.type, s]));
    expect(Object.keys(byType).sort()).toEqual(['compute', 'identity', 'image']);
    expect(byType.compute.endpoints).toHaveLength(3);
    expect(byType.compute.endpoints[0]).toMatchObject({ interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${sim.url}/compute/v2.1` });
    expect(byType.image.endpoints.map((e: { interface: string }) => e.interface)).toEqual(['public', 'internal', 'admin']);
    expect(byType.identity.endpoints[0].url).toBe(sim.authUrlV3);
  });

  it('accepts user id and project id, and leaves the catalog out on ?nocatalog', async () => {
    const res = await call('POST', '/identity/v3/auth/tokens?nocatalog', {
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { id: 'a41bde1f3c7e4d0b9a2f5c8e7d6b4a31', password: 'demo' } } },
          scope: { project: { id: projectIds.demo } },
        },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.token.project.name).toBe('demo');
    expect(res.body.token.catalog).toBeUndefined();
  });

  it('scopes a request without a scope to the default project, as Keystone does', async () => {
    const body = { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'admin' } } } } };
    const res = await call('POST', '/identity/v3/auth/tokens', { body });
    expect(res.status).toBe(201);
    expect(res.body.token.project.id).toBe(projectIds.admin);
  });

  it('answers bad v3 credentials with Keystone 401', async () => {
    const unauthorized = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };
    for (const body of [
      v3Body('admin', 'wrong', 'admin'),
      v3Body('nobody', 'admin', 'admin'),
      v3Body('demo', 'demo', 'admin'), // no role on that project
      v3Body('admin', 'admin', 'no-such-project'),
    ]) {
      const res = await call('POST', '/identity/v3/auth/tokens', { body });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(unauthorized);
      expect(res.headers.get('www-authenticate')).toBe(`Keystone uri="${sim.url}/identity/v3"`);
    }
  });

  it('answers malformed v3 requests with 400', async () => {
    const noDomain = await call('POST', '/identity/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password: 'admin' } } } } },
    });
    expect(noDomain.status).toBe(400);
    expect(noDomain.body.error).toMatchObject({ code: 400, title: 'Bad Request' });
    expect(noDomain.body.error.message).toMatch(/^Expecting to find domain in user\./);

    const noIdentity = await call('POST', '/identity/v3/auth/tokens', { body: { auth: {} } });
    expect(noIdentity.body.error.message).toBe("'identity' is a required property");

    const notJson = await call('POST', '/identity/v3/auth/tokens', { raw: '{nope', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.message).toMatch(/^Expecting to find valid JSON in request body\./);
  });

  it('issues v2.0 tokens for the seed document credentials', async () => {
    const res = await call('POST', '/identity/v2.0/tokens', {
      body: { auth: { passwordCredentials: { username: 'user', password: 'password' }, tenantName: 'tenant' } },
    });
    expect(res.status).toBe(200);
    const access = res.body.access;
    expect(access.token.tenant).toMatchObject({ id: projectIds.tenant, name: 'tenant', enabled: true });
    expect(access.user).toMatchObject({ name: 'user', username: 'user' });
    expect(access.metadata.roles).toHaveLength(2);
    const computeEntry = access.serviceCatalog.find((s: { type: string }) => s.type === 'compute');
    expect(computeEntry.endpoints[0]).toMatchObject({ region: 'RegionOne', publicURL: `${sim.url}/compute/v2.1`, internalURL: `${sim.url}/compute/v2.1`, adminURL: `${sim.url}/compute/v2.1` });

    const flavors = await call('GET', '/compute/v2.1/flavors', { token: access.token.id });
    expect(flavors.status).toBe(200);

    const byId = await call('POST', '/identity/v2.0/tokens', {
      body: { auth: { passwordCredentials: { username: 'user', password: 'password' }, tenantId: projectIds.tenant } },
    });
    expect(byId.status).toBe(200);
  });

  it('answers bad v2.0 credentials with 401 and a missing auth with 400', async () => {
    const bad = await call('POST', '/identity/v2.0/tokens', {
      body: { auth: { passwordCredentials: { username: 'user', password: 'nope' }, tenantName: 'tenant' } },
    });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    const missing = await call('POST', '/identity/v2.0/tokens', { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^Expecting to find auth in request body\./);
  });

  it('has catalog URLs that work', async () => {
    const res = await call('POST', '/identity/v3/auth/tokens', { body: v3Body('demo', 'demo', 'demo') });
    const token = res.headers.get('x-subject-token') ?? '';
    const url = (type: string): string =>
      res.body.token.catalog.find((s: { type: string }) => s.type === type).endpoints.find((e: { interface: string }) => e.interface === 'public').url;
    expect((await call('GET', '/', { base: url('identity') })).status).toBe(200);
    expect((await call('GET', '/flavors', { base: url('compute'), token })).status).toBe(200);
    expect((await call('GET', '/v2/images', { base: url('image'), token })).status).toBe(200);
  });
});

describe('auth_token in front of Nova and Glance', () => {
  const unauthorized = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };
  const glanceUnauthorized = {
    message:
      'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.<br /><br />\n\n\n',
    code: '401 Unauthorized',
    title: 'Unauthorized',
  };

  it('refuses calls without a valid token', async () => {
    for (const path of ['/compute/v2.1/servers', '/compute/v2.1/flavors/1', '/image/v2/images', '/compute/v2.1/no-such-thing']) {
      for (const token of [undefined, 'gAAAAABnotatoken']) {
        const res = await call('GET', path, { token });
        expect(res.status, path).toBe(401);
        // Glance's 401 is a webob page like its other errors; Nova passes Keystone's JSON on.
        expect(res.body).toEqual(path.startsWith('/image') ? glanceUnauthorized : unauthorized);
        expect(res.headers.get('www-authenticate')).toBe(`Keystone uri="${sim.url}/identity/v3"`);
      }
    }
    const nova401 = await call('GET', '/compute/v2.1/servers');
    expect(nova401.headers.get('x-compute-request-id')).toBe(nova401.headers.get('x-openstack-request-id'));
  });

  it('refuses expired tokens', async () => {
    const shortLived = await startSimulator({ tokenTtlSeconds: 0 });
    try {
      const res = await call('POST', '/identity/v3/auth/tokens', { base: shortLived.url, body: v3Body('demo', 'demo', 'demo') });
      const token = res.headers.get('x-subject-token') ?? '';
      expect((await call('GET', '/compute/v2.1/servers', { base: shortLived.url, token })).status).toBe(401);
    } finally {
      await shortLived.close();
    }
  });

  it('serves version documents without a token', async () => {
    const doc = await call('GET', '/compute/v2.1/');
    expect(doc.status).toBe(200);
    expect(doc.body.version).toMatchObject({ id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1' });
    expect((await call('GET', '/compute/v2.1')).status).toBe(200);
    expect((await call('GET', '/compute/')).body.versions.map((v: { id: string }) => v.id)).toEqual(['v2.0', 'v2.1']);
    const image = await call('GET', '/image/');
    expect(image.status).toBe(300);
    expect(image.body.versions[0]).toMatchObject({ status: 'CURRENT', links: [{ rel: 'self', href: `${sim.url}/image/v2/` }] });
  });
});

describe('compute microversions', () => {
  it('defaults to 2.1 and echoes the negotiated version', async () => {
    const res = await call('GET', '/compute/v2.1/flavors', { token: demo });
    expect(res.headers.get('openstack-api-version')).toBe('compute 2.1');
    expect(res.headers.get('x-openstack-nova-api-version')).toBe('2.1');
    expect(res.headers.get('vary')).toBe('OpenStack-API-Version, X-OpenStack-Nova-API-Version');
    expect(res.headers.get('x-compute-request-id')).toMatch(/^req-/);

    const latest = await call('GET', '/compute/v2.1/flavors', { token: demo, headers: compute('latest') });
    expect(latest.headers.get('openstack-api-version')).toBe('compute 2.93');
    const pinned = await call('GET', '/compute/v2.1/flavors', { token: demo, headers: { 'openstack-api-version': 'image 2.5, compute 2.37' } });
    expect(pinned.headers.get('openstack-api-version')).toBe('compute 2.37');
    const legacy = await call('GET', '/compute/v2.1/flavors', { token: demo, headers: { 'x-openstack-nova-api-version': '2.26' } });
    expect(legacy.headers.get('openstack-api-version')).toBe('compute 2.26');
  });

  it('rejects malformed and unsupported versions like Nova', async () => {
    const malformed = await call('GET', '/compute/v2.1/flavors', { token: demo, headers: { 'openstack-api-version': 'compute 2.latest' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({
      badRequest: { code: 400, message: 'API Version String 2.latest is of invalid format. Must be of format MajorNum.MinorNum.' },
    });
    expect(malformed.headers.get('openstack-api-version')).toBeNull();
    for (const version of ['2.94', '3.0', '2.0']) {
      const res = await call('GET', '/compute/v2.1/flavors', { token: demo, headers: { 'openstack-api-version': `compute ${version}` } });
      expect(res.status).toBe(406);
      expect(res.body).toEqual({
        computeFault: { code: 406, message: `Version ${version} is not supported by the API. Minimum is 2.1 and maximum is 2.93.` },
      });
    }
  });
});

describe('servers', () => {
  it('goes BUILD, ACTIVE, deleting, gone', async () => {
    const created = await createServer(demo, { name: 'lifecycle-1', metadata: { owner: 'buildbot' } });
    expect(created.status).toBe(202);
    const { server } = created.body;
    expect(Object.keys(server).sort()).toEqual(['OS-DCF:diskConfig', 'adminPass', 'id', 'links', 'security_groups']);
    expect(server.adminPass).toMatch(/^[a-zA-Z0-9]{12}$/);
    expect(server.security_groups).toEqual([{ name: 'default' }]);
    expect(server.links).toEqual([
      { rel: 'self', href: `${sim.url}/compute/v2.1/servers/${server.id}` },
      { rel: 'bookmark', href: `${sim.url}/compute/servers/${server.id}` },
    ]);
    expect(created.headers.get('location')).toBe(server.links[0].href);

    const building = await getServer(demo, server.id);
    expect(building.body.server).toMatchObject({ status: 'BUILD', 'OS-EXT-STS:vm_state': 'building', 'OS-EXT-STS:task_state': 'scheduling', hostId: '' });
    expect(sim.servers().find((s) => s.id === server.id)?.status).toBe('BUILD');

    const active = await waitFor(() => getServer(demo, server.id), (r) => r.body.server.status === 'ACTIVE');
    const s = active.body.server;
    expect(s).toMatchObject({
      name: 'lifecycle-1',
      tenant_id: projectIds.demo,
      metadata: { owner: 'buildbot' },
      image: { id: tinyImage },
      flavor: { vcpus: 1, ram: 64, disk: 1, original_name: 'tiny', extra_specs: {} },
      addresses: {},
      'OS-EXT-STS:vm_state': 'active',
      'OS-EXT-STS:task_state': null,
      'OS-EXT-STS:power_state': 1,
      'OS-EXT-AZ:availability_zone': 'nova',
      tags: [],
      locked: false,
    });
    expect(s.hostId).toMatch(/^[0-9a-f]{56}$/);
    expect(s.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(s['OS-SRV-USG:launched_at']).toMatch(/\.000000$/);
    // Admin-only attributes stay hidden from a member.
    expect(s['OS-EXT-SRV-ATTR:host']).toBeUndefined();
    expect(s.host_status).toBeUndefined();

    const asAdmin = await getServer(admin, server.id);
    expect(asAdmin.body.server['OS-EXT-SRV-ATTR:host']).toBe('fakecompute');

    const deleted = await call('DELETE', `/compute/v2.1/servers/${server.id}`, { token: demo, headers: compute() });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const deleting = await getServer(demo, server.id);
    expect(deleting.body.server).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:task_state': 'deleting' });

    const gone = await waitFor(() => getServer(demo, server.id), (r) => r.status === 404);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ itemNotFound: { code: 404, message: `Instance ${server.id} could not be found.` } });
    expect(sim.servers().some((x) => x.id === server.id)).toBe(false);
    expect((await call('DELETE', `/compute/v2.1/servers/${server.id}`, { token: demo })).status).toBe(404);
  });

  it('keeps projects apart', async () => {
    const created = await createServer(admin, { name: 'admins-only' });
    const id = created.body.server.id;
    expect((await getServer(demo, id)).status).toBe(404);
    const list = await call('GET', '/compute/v2.1/servers', { token: demo, headers: compute() });
    expect(list.body.servers.some((s: { id: string }) => s.id === id)).toBe(false);
    expect(sim.servers().find((s) => s.id === id)?.projectId).toBe(projectIds.admin);
    await call('DELETE', `/compute/v2.1/servers/${id}`, { token: admin });
  });

  it('lists and filters servers', async () => {
    const token = await tokenFor('user', 'password', 'tenant');
    const start = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    const ids: string[] = [];
    for (const [name, tags] of [
      ['bot-alpha', ['buildbot', 'linux']],
      ['bot-beta', ['buildbot']],
      ['other', ['linux']],
    ] as const) {
      ids.push((await createServer(token, { name, tags })).body.server.id);
    }
    const list = async (query: string, minor: string | number = 'latest') =>
      (await call('GET', `/compute/v2.1/servers${query}`, { token, headers: compute(minor) })).body;
    const names = async (query: string, minor: string | number = 'latest') =>
      (await list(query, minor)).servers.map((s: { name: string }) => s.name).sort();

    const index = await list('');
    expect(index.servers).toHaveLength(3);
    expect(Object.keys(index.servers[0]).sort()).toEqual(['id', 'links', 'name']);
    expect(await names('?name=^bot-')).toEqual(['bot-alpha', 'bot-beta']);
    expect(await names('?name=BETA')).toEqual(['bot-beta']);
    expect(await names('?tags=buildbot,linux')).toEqual(['bot-alpha']);
    expect(await names('?tags-any=buildbot,linux')).toEqual(['bot-alpha', 'bot-beta', 'other']);
    expect(await names('?not-tags-any=linux')).toEqual(['bot-beta']);
    // Tag filters do not exist before 2.26.
    expect(await names('?tags=buildbot', 25)).toHaveLength(3);
    expect(await names('?status=BUILD')).toHaveLength(3);
    expect(await names('?status=active')).toHaveLength(0);
    expect(await names(`?image=${tinyImage}&flavor=tiny`)).toHaveLength(3);

    const badStatus = await call('GET', '/compute/v2.1/servers?status=NOPE', { token, headers: compute() });
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.badRequest.message).toBe('Invalid status value');
    expect(await names('?status=NOPE', 37)).toEqual([]);
    const unknownParam = await call('GET', '/compute/v2.1/servers?colour=red', { token, headers: compute() });
    expect(unknownParam.status).toBe(400);
    expect(unknownParam.body.badRequest.message).toBe("Additional properties are not allowed ('colour' was unexpected)");
    expect(await names('?colour=red', 74)).toHaveLength(3);

    await waitFor(() => list('?status=ACTIVE'), (b) => b.servers.length === 3);
    const detail = await list('/detail?name=other');
    expect(detail.servers).toHaveLength(1);
    expect(detail.servers[0]).toMatchObject({ name: 'other', status: 'ACTIVE', tags: ['linux'] });

    // Pages of one, newest first, until a short page.
    const seen: string[] = [];
    let page = await list('?limit=1');
    for (;;) {
      seen.push(...page.servers.map((s: { id: string }) => s.id));
      const next = page.servers_links?.find((l: { rel: string }) => l.rel === 'next')?.href as string | undefined;
      if (!next) break;
      expect(next).toMatch(new RegExp(`^${sim.url}/compute/v2.1/servers\\?limit=1&marker=`));
      page = (await call('GET', next.slice(sim.url.length), { token, headers: compute() })).body;
    }
    expect([...seen].sort()).toEqual([...ids].sort());
    const badMarker = await call('GET', '/compute/v2.1/servers?marker=nope', { token, headers: compute() });
    expect(badMarker.body).toEqual({ badRequest: { code: 400, message: 'marker [nope] not found' } });

    await call('DELETE', `/compute/v2.1/servers/${ids[2]}`, { token });
    await waitFor(() => list(''), (b) => b.servers.length === 2);
    const changes = await list(`/detail?changes-since=${encodeURIComponent(start)}`);
    const deleted = changes.servers.find((s: { id: string }) => s.id === ids[2]);
    expect(deleted).toMatchObject({ status: 'DELETED', 'OS-EXT-STS:vm_state': 'deleted' });
    expect(changes.servers).toHaveLength(3);
    const future = await list(`?changes-since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(future.servers).toEqual([]);
    const badTime = await call('GET', '/compute/v2.1/servers?changes-since=yesterday', { token, headers: compute() });
    expect(badTime.body.badRequest.message).toBe("Invalid input for query parameters changes-since. Value: yesterday. 'yesterday' is not a 'date-time'");

    for (const id of ids.slice(0, 2)) await call('DELETE', `/compute/v2.1/servers/${id}`, { token });
  });

  it('shows tags only from 2.26 and accepts them on create only from 2.52', async () => {
    const created = await createServer(demo, { name: 'tagged', tags: ['a', 'b'] });
    const id = created.body.server.id;
    expect((await getServer(demo, id, 26)).body.server.tags).toEqual(['a', 'b']);
    expect((await getServer(demo, id, 25)).body.server).not.toHaveProperty('tags');
    // Before 2.47 the flavor is a reference, not an embedded copy.
    expect((await getServer(demo, id, 46)).body.server.flavor).toEqual({
      id: 'tiny',
      links: [{ rel: 'bookmark', href: `${sim.url}/compute/flavors/tiny` }],
    });
    await call('DELETE', `/compute/v2.1/servers/${id}`, { token: demo });

    const old = await createServer(demo, { tags: ['a'] }, 51);
    expect(old.status).toBe(400);
    expect(old.body.badRequest.message).toMatch(/^Invalid input for field\/attribute server\. Value: \{.*\}\. Additional properties are not allowed \('tags' was unexpected\)$/);
  });

  it('requires networks from 2.37 on', async () => {
    const res = await call('POST', '/compute/v2.1/servers', {
      token: demo,
      headers: compute(37),
      body: { server: { name: 'vm1', imageRef: tinyImage, flavorRef: 'tiny' } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      badRequest: {
        code: 400,
        message: `Invalid input for field/attribute server. Value: {'name': 'vm1', 'imageRef': '${tinyImage}', 'flavorRef': 'tiny'}. 'networks' is a required property`,
      },
    });
    expect(res.headers.get('openstack-api-version')).toBe('compute 2.37');

    const before = await call('POST', '/compute/v2.1/servers', {
      token: demo,
      headers: compute(36),
      body: { server: { name: 'vm1', imageRef: tinyImage, flavorRef: 'tiny' } },
    });
    expect(before.status).toBe(202);
    const noneAt36 = await createServer(demo, { networks: 'none' }, 36);
    expect(noneAt36.body.badRequest.message).toBe("Invalid input for field/attribute networks. Value: none. 'none' is not of type 'array'");

    const auto = await createServer(demo, { name: 'auto-net', networks: 'auto' });
    const shown = await waitFor(() => getServer(demo, auto.body.server.id), (r) => r.body.server.status === 'ACTIVE');
    expect(shown.body.server.addresses.private[0]).toMatchObject({ version: 4, 'OS-EXT-IPS:type': 'fixed' });
    expect(shown.body.server.security_groups).toEqual([{ name: 'default' }]);
    const unknownNet = await createServer(demo, { networks: [{ uuid: '2b5b5fbc-8d8f-4a0e-9f26-8c6f3e7f0d11' }] });
    expect(unknownNet.body.badRequest.message).toBe('Network 2b5b5fbc-8d8f-4a0e-9f26-8c6f3e7f0d11 could not be found.');
    for (const id of [before.body.server.id, auto.body.server.id]) await call('DELETE', `/compute/v2.1/servers/${id}`, { token: demo });
  });

  it('validates the create body like Nova', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ flavorRef: undefined }, "Invalid input for field/attribute server. Value: {'name': 'vm', 'imageRef': '31c4ec89-adc0-4dde-928d-b5f5552e4901', 'networks': 'none'}. 'flavorRef' is a required property"],
      [{ imageRef: 'not-a-uuid' }, "Invalid input for field/attribute imageRef. Value: not-a-uuid. 'not-a-uuid' is not valid under any of the given schemas"],
      [{ imageRef: '0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a21' }, 'Can not find requested image'],
      [{ flavorRef: '42' }, 'Flavor 42 could not be found.'],
      [{ colour: 'red' }, `Invalid input for field/attribute server. Value: {'name': 'vm', 'imageRef': '${tinyImage}', 'flavorRef': 'tiny', 'networks': 'none', 'colour': 'red'}. Additional properties are not allowed ('colour' was unexpected)`],
      [{ metadata: { k: 1 } }, "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"],
      [{ metadata: { k: 'v'.repeat(256) } }, `Invalid input for field/attribute k. Value: ${'v'.repeat(256)}. '${'v'.repeat(256)}' is too long`],
      [{ metadata: { 'a/b': 'v' } }, "Invalid input for field/attribute metadata. Value: {'a/b': 'v'}. 'a/b' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'"],
      [{ name: ' padded' }, "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace."],
      [{ imageRef: undefined }, 'Missing imageRef attribute'],
      [{ key_name: 'nope' }, 'Invalid key_name provided.'],
      [{ availability_zone: 'elsewhere' }, 'The requested availability zone is not available'],
      [{ tags: ['a/b'] }, "Invalid input for field/attribute 0. Value: a/b. 'a/b' does not match '^[^,/]*$'"],
      [{ block_device_mapping_v2: [{ source_type: 'disk', uuid: bookworm }] }, "Invalid input for field/attribute source_type. Value: disk. 'disk' is not one of ['volume', 'image', 'snapshot', 'blank']"],
      [{ block_device_mapping_v2: [{ source_type: 'image', destination_type: 'volume', uuid: bookworm, boot_index: 0 }] }, "Images with destination_type 'volume' need to have a non-zero size specified"],
      [{ block_device_mapping_v2: [{ source_type: 'volume', destination_type: 'volume', uuid: bookworm, boot_index: 0 }] }, `Block Device Mapping is Invalid: failed to get volume ${bookworm}.`],
      [{ block_device_mapping_v2: [{ source_type: 'blank', destination_type: 'local', volume_size: 1, boot_index: 2 }] }, 'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.'],
      [{ block_device_mapping_v2: [{ source_type: 'image', destination_type: 'local', uuid: bookworm, boot_index: 1 }] }, 'Block Device Mapping is Invalid: Mapping image to local is not supported.'],
      [{ imageRef: undefined, block_device_mapping_v2: [{ source_type: 'image', destination_type: 'local', uuid: bookworm, boot_index: 0 }] }, 'Block Device Mapping is Invalid: Mapping image to local is not supported.'],
    ];
    for (const [server, message] of cases) {
      const res = await createServer(demo, server);
      expect(res.status, message).toBe(400);
      expect(res.body).toEqual({ badRequest: { code: 400, message } });
    }

    const wrap = async (body: string | undefined) =>
      call('POST', '/compute/v2.1/servers', { token: demo, headers: { ...compute(), 'content-type': 'application/json' }, raw: body });
    expect((await wrap('{"server": ')).body).toEqual({ badRequest: { code: 400, message: 'Malformed request body' } });
    expect((await wrap(undefined)).body).toEqual({ badRequest: { code: 400, message: "None is not of type 'object'" } });
    expect((await wrap('{}')).body).toEqual({ badRequest: { code: 400, message: "'server' is a required property" } });
    expect(sim.servers().filter((s) => s.name === 'vm')).toEqual([]);
  });

  it('boots image-to-local mappings and fails volume mappings with Nova\'s fault', async () => {
    const local = await createServer(demo, {
      name: 'bdm-local',
      imageRef: bookworm,
      flavorRef: '2',
      block_device_mapping_v2: [{ source_type: 'image', destination_type: 'local', uuid: bookworm, boot_index: 0, delete_on_termination: true }],
    });
    expect(local.status).toBe(202);
    const volume = await createServer(demo, {
      name: 'bdm-volume',
      imageRef: '',
      block_device_mapping_v2: [{ source_type: 'image', destination_type: 'volume', uuid: '3f0b8868-67e7-4a5b-b685-2824709bd486', volume_size: 10, boot_index: 0, delete_on_termination: true }],
    });
    expect(volume.status).toBe(202);
    const volumeId = volume.body.server.id;

    const active = await waitFor(() => getServer(demo, local.body.server.id), (r) => r.body.server.status !== 'BUILD');
    expect(active.body.server.status).toBe('ACTIVE');
    const failed = await waitFor(() => getServer(demo, volumeId), (r) => r.body.server.status !== 'BUILD');
    expect(failed.body.server).toMatchObject({
      status: 'ERROR',
      image: '',
      'OS-EXT-STS:vm_state': 'error',
      'OS-EXT-STS:task_state': null,
      fault: { code: 500, message: `Build of instance ${volumeId} aborted: publicURL endpoint for volumev3 service in RegionOne region not found` },
    });
    expect(failed.body.server).not.toHaveProperty('progress');
    expect(failed.body.server.fault).not.toHaveProperty('details');
    const asAdmin = await getServer(admin, volumeId);
    expect(asAdmin.body.server.fault.details).toMatch(/BuildAbortException/);

    for (const id of [local.body.server.id, volumeId]) {
      expect((await call('DELETE', `/compute/v2.1/servers/${id}`, { token: demo })).status).toBe(204);
    }
    await waitFor(async () => sim.servers(), (servers) => !servers.some((s) => s.id === volumeId));
  });

  it('returns the fake driver console output of an ACTIVE server', async () => {
    const created = await createServer(demo, { name: 'console' });
    const id = created.body.server.id;
    const early = await call('POST', `/compute/v2.1/servers/${id}/action`, { token: demo, body: { 'os-getConsoleOutput': { length: 1 } } });
    expect(early.status).toBe(409);
    await waitFor(() => getServer(demo, id), (r) => r.body.server.status === 'ACTIVE');
    const tail = await call('POST', `/compute/v2.1/servers/${id}/action`, { token: demo, body: { 'os-getConsoleOutput': { length: 1 } } });
    expect(tail.body).toEqual({ output: 'LAST LINE' });
    const unknown = await call('POST', `/compute/v2.1/servers/${id}/action`, { token: demo, body: { reboot: { type: 'HARD' } } });
    expect(unknown.body).toEqual({ badRequest: { code: 400, message: 'There is no such action: reboot' } });
    await call('DELETE', `/compute/v2.1/servers/${id}`, { token: demo });
  });

  it('answers unknown compute paths with webob\'s 404', async () => {
    const res = await call('GET', '/compute/v2.1/no-such-thing', { token: demo });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: 'The resource could not be found.<br /><br />\n\n\n', code: '404 Not Found', title: 'Not Found' });
  });
});

describe('flavors', () => {
  it('lists, details and shows flavors', async () => {
    const list = await call('GET', '/compute/v2.1/flavors', { token: demo });
    expect(list.body.flavors.map((f: { id: string }) => f.id)).toEqual(['1', '2', 'tiny']);
    expect(list.body.flavors[0]).toEqual({
      id: '1',
      name: 'm1.tiny',
      links: [
        { rel: 'self', href: `${sim.url}/compute/v2.1/flavors/1` },
        { rel: 'bookmark', href: `${sim.url}/compute/flavors/1` },
      ],
    });
    const detail = await call('GET', '/compute/v2.1/flavors/detail', { token: demo });
    expect(detail.body.flavors[1]).toMatchObject({ id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20, swap: '', 'OS-FLV-EXT-DATA:ephemeral': 0, 'os-flavor-access:is_public': true });
    const latest = await call('GET', '/compute/v2.1/flavors/tiny', { token: demo, headers: compute() });
    expect(latest.body.flavor).toMatchObject({ id: 'tiny', ram: 64, swap: 0, description: null, extra_specs: {} });
    const paged = await call('GET', '/compute/v2.1/flavors?limit=2', { token: demo });
    expect(paged.body.flavors_links[0].href).toBe(`${sim.url}/compute/v2.1/flavors?limit=2&marker=2`);

    const missing = await call('GET', '/compute/v2.1/flavors/42', { token: demo });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ itemNotFound: { code: 404, message: 'Flavor 42 could not be found.' } });
  });
});

describe('images', () => {
  it('lists images newest first with Glance v2 fields', async () => {
    const res = await call('GET', '/image/v2/images', { token: demo });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ first: '/v2/images', schema: '/v2/schemas/images' });
    expect(res.body.next).toBeUndefined();
    const names = res.body.images.map((i: { name: string }) => i.name);
    expect(names).toEqual(['tiny', 'buildbot-worker-trixie', 'buildbot-worker-bookworm', 'buildbot-worker-bullseye']);
    const image = res.body.images.find((i: { id: string }) => i.id === bookworm);
    expect(image).toMatchObject({
      name: 'buildbot-worker-bookworm',
      status: 'active',
      visibility: 'public',
      disk_format: 'qcow2',
      container_format: 'bare',
      min_disk: 1,
      min_ram: 0,
      protected: false,
      owner: projectIds.admin,
      tags: ['buildbot-worker'],
      os_distro: 'debian',
      os_version: '12',
      created_at: '2025-06-02T10:00:00Z',
      self: `/v2/images/${bookworm}`,
      file: `/v2/images/${bookworm}/file`,
      schema: '/v2/schemas/image',
    });
    expect(image.checksum).toMatch(/^[0-9a-f]{32}$/);
    expect(image.size).toBeGreaterThan(0);
  });

  it('follows next links to the end', async () => {
    const seen: string[] = [];
    let path = '/image/v2/images?limit=1&sort_key=created_at&sort_dir=asc';
    let pages = 0;
    for (;;) {
      const res = await call('GET', path, { token: demo });
      pages += 1;
      seen.push(...res.body.images.map((i: { id: string }) => i.id));
      if (!res.body.next) break;
      expect(res.body.next).toMatch(/^\/v2\/images\?limit=1&sort_key=created_at&sort_dir=asc&marker=/);
      path = `/image${res.body.next as string}`;
    }
    // Glance offers a next link after every full page, so the last page is empty.
    expect(pages).toBe(defaultImages.length + 1);
    expect(seen).toEqual(['5b1e6a2e-4c1f-4c47-9d0e-2a7c3f6b9e10', bookworm, '3f0b8868-67e7-4a5b-b685-2824709bd486', tinyImage]);
    const sorted = await call('GET', '/image/v2/images?sort=name:asc', { token: demo });
    expect(sorted.body.images[0].name).toBe('buildbot-worker-bookworm');
  });

  it('filters images', async () => {
    const ids = async (query: string) => (await call('GET', `/image/v2/images${query}`, { token: demo })).body.images.map((i: { id: string }) => i.id);
    expect(await ids('?name=buildbot-worker-bookworm')).toEqual([bookworm]);
    expect(await ids('?name=in:tiny,buildbot-worker-bookworm')).toEqual([tinyImage, bookworm]);
    expect(await ids('?tag=buildbot-worker')).toHaveLength(3);
    expect(await ids('?os_version=12')).toEqual([bookworm]);
    expect(await ids('?status=active&visibility=public')).toHaveLength(4);
    expect(await ids('?visibility=private')).toEqual([]);
    const first = await call('GET', '/image/v2/images?tag=buildbot-worker&limit=2', { token: demo });
    expect(first.body.first).toBe('/v2/images?tag=buildbot-worker&limit=2');
  });

  it('shows one image and answers unknown ones like Glance', async () => {
    const res = await call('GET', `/image/v2/images/${bookworm}`, { token: demo });
    expect(res.body).toMatchObject({ id: bookworm, name: 'buildbot-worker-bookworm' });
    const missing = await call('GET', '/image/v2/images/0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a21', { token: demo });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      message: 'No image found with ID 0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a21<br /><br />\n\n\n',
      code: '404 Not Found',
      title: 'Not Found',
    });
    const html = await call('GET', '/image/v2/images/nope', { token: demo, headers: { accept: '*/*' } });
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.text).toContain('<h1>404 Not Found</h1>');
  });

  it('rejects bad list parameters with 400', async () => {
    for (const [query, message] of [
      ['?limit=ten', 'limit param must be an integer'],
      ['?limit=-1', 'limit param must be positive'],
      ['?sort_key=colour', 'Invalid sort key: colour. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.'],
      ['?sort_dir=up', 'Invalid sort direction: up'],
      ['?visibility=everyone', 'Invalid visibility value: everyone'],
      ['?marker=nope', 'No image found with ID nope'],
    ]) {
      const res = await call('GET', `/image/v2/images${query}`, { token: demo });
      expect(res.status, query).toBe(400);
      expect(res.body).toEqual({ message: `${message}<br /><br />\n\n\n`, code: '400 Bad Request', title: 'Bad Request' });
    }
  });
});

describe('request recording', () => {
  it('records method, path, query, lower-cased headers and the body as sent', async () => {
    sim.clearRequests();
    const body = { server: { name: 'recorded', imageRef: tinyImage, flavorRef: 'tiny', networks: 'none', metadata: { a: 'b' } } };
    const created = await call('POST', '/compute/v2.1/servers?x=1&x=2&y=3', { token: demo, headers: { ...compute(), 'X-Custom-Header': 'Value' }, body });
    await call('GET', '/image/v2/images', { token: demo });
    const [first, second, ...rest] = sim.requests();
    expect(rest).toEqual([]);
    expect(first).toMatchObject({
      method: 'POST',
      path: '/compute/v2.1/servers',
      query: { x: ['1', '2'], y: '3' },
      body,
    });
    expect(first?.headers['x-custom-header']).toBe('Value');
    expect(first?.headers['x-auth-token']).toBe(demo);
    expect(first?.headers['openstack-api-version']).toBe('compute latest');
    expect(first?.at).toBeLessThanOrEqual(Date.now());
    expect(second).toMatchObject({ method: 'GET', path: '/image/v2/images', query: {}, body: undefined });
    // Copies: mutating them leaves the record alone.
    (first as { method: string }).method = 'PATCH';
    expect(sim.requests()[0]?.method).toBe('POST');
    sim.clearRequests();
    expect(sim.requests()).toEqual([]);
    await call('DELETE', `/compute/v2.1/servers/${created.body.server.id}`, { token: demo });
  });

  it('closes keep-alive connections on close()', async () => {
    const other = await startSimulator();
    const res = await fetch(`${other.url}/identity/`, { headers: { connection: 'keep-alive' } });
    await res.text();
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetch(`${other.url}/identity/`)).rejects.toThrow();
    await other.close();
  });
});
