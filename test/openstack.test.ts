// Unit-level tests of the OpenStack client over real HTTP, against tiny local servers that
// answer with canned bodies as the real services send them (see shared/tools/openstack-notes.md).
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogFromV2 } from '../src/openstack/catalog.js';
import { parseRetryAfter } from '../src/openstack/errors.js';
import type { HttpClient } from '../src/openstack/http.js';
import {
  endpointFor,
  isOpenStackError,
  OpenStackClient,
  OpenStackError,
  TokenCache,
  type Catalog,
  type PasswordCredentials,
} from '../src/openstack/index.js';
import {
  client,
  credentials,
  FakeCloud,
  fakeServer,
  httpClient,
  openStackError,
  rejection,
  runCleanups,
  server,
} from './support/fakeOpenStack.js';

afterEach(runCleanups);

function get(http: HttpClient, url: string, extra: { signal?: AbortSignal; secrets?: string[] } = {}) {
  return http.request({ service: 'compute', operation: 'getServer', method: 'GET', url, ...extra });
}

describe('error mapping', () => {
  it('reads Nova error bodies and request ids into an operator-readable message', async () => {
    const fake = await fakeServer(() => ({
      status: 400,
      headers: { 'x-compute-request-id': 'req-11111111-2222', 'x-openstack-request-id': 'req-11111111-2222' },
      body: { badRequest: { code: 400, message: "Flavor 'x' could not be found." } },
    }));
    const error = await openStackError(
      httpClient().request({ service: 'compute', operation: 'createServer', method: 'POST', url: `${fake.url}/servers`, json: { server: { name: 'a' } } }),
    );
    expect(error.message).toBe("compute createServer failed: 400 Bad Request: Flavor 'x' could not be found. (request req-11111111-2222)");
    expect(error).toMatchObject({
      name: 'OpenStackError',
      kind: 'badRequest',
      service: 'compute',
      operation: 'createServer',
      method: 'POST',
      status: 400,
      code: 'badRequest',
      cloudMessage: "Flavor 'x' could not be found.",
      requestId: 'req-11111111-2222',
      retryable: false,
    });
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('falls back to x-compute-request-id', async () => {
    const fake = await fakeServer(() => ({
      status: 404,
      headers: { 'x-compute-request-id': 'req-compute-only' },
      body: { itemNotFound: { code: 404, message: 'Instance abc could not be found.' } },
    }));
    const error = await openStackError(get(httpClient(), `${fake.url}/servers/abc`));
    expect(error).toMatchObject({ kind: 'notFound', code: 'itemNotFound', requestId: 'req-compute-only', retryable: false });
  });

  it('reads Keystone error bodies', async () => {
    const fake = await fakeServer(() => ({
      status: 401,
      headers: { 'x-openstack-request-id': 'req-ks' },
      body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } },
    }));
    const error = await openStackError(get(httpClient(), `${fake.url}/x`));
    expect(error).toMatchObject({ kind: 'auth', code: 'Unauthorized', retryable: false, status: 401 });
    expect(error.message).toBe('compute getServer failed: 401 Unauthorized: The request you have made requires authentication. (request req-ks)');
  });

  it("reads Glance's HTML and plain-text 404 pages", async () => {
    const html =
      '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n' +
      '  No image found with ID 0b5ba4a5-0000-4000-8000-000000000000<br /><br />\n\n\n\n </body>\n</html>';
    const plain = '404 Not Found\n\nNo image found with ID 0b5ba4a5-0000-4000-8000-000000000000\n\n   ';
    const json = { message: 'No image found with ID 0b5ba4a5-0000-4000-8000-000000000000<br /><br />\n\n\n', code: '404 Not Found', title: 'Not Found' };
    const fake = await fakeServer((req) => {
      if (req.path === '/json') return { status: 404, body: json };
      return {
        status: 404,
        headers: { 'content-type': req.path === '/html' ? 'text/html; charset=UTF-8' : 'text/plain; charset=UTF-8' },
        body: req.path === '/html' ? html : plain,
      };
    });
    for (const path of ['/html', '/plain', '/json']) {
      const error = await openStackError(
        httpClient().request({ service: 'image', operation: 'getImage', method: 'GET', url: `${fake.url}${path}` }),
      );
      expect(error.cloudMessage).toBe('No image found with ID 0b5ba4a5-0000-4000-8000-000000000000');
      expect(error.message).toBe('image getImage failed: 404 Not Found: No image found with ID 0b5ba4a5-0000-4000-8000-000000000000');
      expect(error.kind).toBe('notFound');
    }
  });

  it('reads Neutron and Placement error bodies', async () => {
    const fake = await fakeServer((req) =>
      req.path === '/neutron'
        ? { status: 404, body: { NeutronError: { type: 'NetworkNotFound', message: 'Network net1 could not be found.', detail: '' } } }
        : { status: 409, body: { errors: [{ status: 409, title: 'Conflict', detail: 'resource provider generation conflict', code: 'placement.concurrent_update' }] } },
    );
    const neutron = await openStackError(get(httpClient(), `${fake.url}/neutron`));
    expect(neutron).toMatchObject({ code: 'NetworkNotFound', cloudMessage: 'Network net1 could not be found.', kind: 'notFound' });
    const placement = await openStackError(get(httpClient(), `${fake.url}/placement`));
    expect(placement).toMatchObject({ code: 'placement.concurrent_update', kind: 'conflict', retryable: false });
  });

  it('tells quota errors from other 403s', async () => {
    const fake = await fakeServer((req) =>
      req.path === '/quota'
        ? { status: 403, body: { forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances' } } }
        : { status: 403, body: { forbidden: { code: 403, message: 'Policy doesn\'t allow os_compute_api:os-quota-sets:update to be performed.' } } },
    );
    const quota = await openStackError(get(httpClient(), `${fake.url}/quota`));
    expect(quota).toMatchObject({ kind: 'quotaExceeded', status: 403, retryable: false });
    const policy = await openStackError(get(httpClient(), `${fake.url}/policy`));
    expect(policy).toMatchObject({ kind: 'forbidden', retryable: false });
  });

  it('marks 5xx, 429 and rate-limiting 413 retryable, with Retry-After', async () => {
    const fake = await fakeServer((req) => {
      switch (req.path) {
        case '/500':
          return { status: 500, body: { computeFault: { code: 500, message: 'Unexpected API Error.' } } };
        case '/503':
          return { status: 503 };
        case '/429':
          return { status: 429, headers: { 'retry-after': '30' }, body: 'slow down' };
        default:
          return { status: 413, headers: { 'retry-after': '7' }, body: { overLimit: { code: 413, message: 'This request was rate-limited.' } } };
      }
    });
    const http = httpClient();
    expect(await openStackError(get(http, `${fake.url}/500`))).toMatchObject({ kind: 'server', retryable: true, code: 'computeFault' });
    const unavailable = await openStackError(get(http, `${fake.url}/503`));
    expect(unavailable).toMatchObject({ kind: 'server', retryable: true });
    expect(unavailable.message).toBe('compute getServer failed: 503 Service Unavailable');
    expect(await openStackError(get(http, `${fake.url}/429`))).toMatchObject({ kind: 'rateLimited', retryable: true, retryAfterMs: 30_000, cloudMessage: 'slow down' });
    expect(await openStackError(get(http, `${fake.url}/413`))).toMatchObject({ kind: 'rateLimited', retryable: true, retryAfterMs: 7_000 });
  });

  it('parses both forms of Retry-After', () => {
    const now = Date.parse('2026-11-27T22:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 22:00:45 GMT', now)).toBe(45_000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 21:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('never repeats a secret the server echoes, and bounds long pages', async () => {
    const fake = await fakeServer(() => ({ status: 400, body: { badRequest: { code: 400, message: `token tok-secret-123 is odd ${'x'.repeat(2000)}` } } }));
    const error = await openStackError(get(httpClient(), `${fake.url}/x`, { secrets: ['tok-secret-123'] }));
    expect(error.message).not.toContain('tok-secret-123');
    expect(error.cloudMessage).toContain('token [redacted] is odd');
    expect(error.cloudMessage!.length).toBeLessThanOrEqual(500);
  });

  it('serialises to plain JSON', async () => {
    const fake = await fakeServer(() => ({ status: 409, headers: { 'x-openstack-request-id': 'req-9' }, body: { conflictingRequest: { code: 409, message: 'busy' } } }));
    const error = await openStackError(get(httpClient(), `${fake.url}/servers/1`));
    const json = JSON.parse(JSON.stringify(error)) as Record<string, unknown>;
    expect(json).toEqual({
      name: 'OpenStackError',
      message: 'compute getServer failed: 409 Conflict: busy (request req-9)',
      kind: 'conflict',
      service: 'compute',
      operation: 'getServer',
      method: 'GET',
      url: `${fake.url}/servers/1`,
      status: 409,
      code: 'conflictingRequest',
      cloudMessage: 'busy',
      requestId: 'req-9',
      retryable: false,
    });
    expect(isOpenStackError(error, 'conflict')).toBe(true);
    expect(isOpenStackError(error, 'notFound')).toBe(false);
  });
});

describe('http transport', () => {
  it('sends JSON with our User-Agent and reuses one connection, error answers included', async () => {
    const fake = await fakeServer((req) => (req.path === '/fail' ? { status: 404, body: { itemNotFound: { code: 404, message: 'gone' } } } : { status: 200, body: { ok: true } }));
    const http = httpClient();
    const response = await http.request({ service: 'compute', operation: 'createServer', method: 'POST', url: `${fake.url}/a`, json: { a: 1 } });
    expect(response.body).toEqual({ ok: true });
    for (let i = 0; i < 4; i++) {
      await rejection(get(http, `${fake.url}/fail`));
      await get(http, `${fake.url}/b`);
    }
    const [first] = fake.requests;
    expect(first?.headers['user-agent']).toMatch(/^openstack-latent-worker\/\d+\.\d+\.\d+/);
    expect(first?.headers['content-type']).toBe('application/json');
    expect(first?.headers.accept).toBe('application/json');
    expect(first?.body).toBe('{"a":1}');
    // undici may open a second socket while the first is still being released; what matters is
    // that nine calls, half of them errors, do not need nine connections.
    expect(new Set(fake.requests.map((req) => req.remotePort)).size).toBeLessThanOrEqual(2);
  });

  it('builds query strings, repeating array values', async () => {
    const fake = await fakeServer(() => ({ status: 200, body: {} }));
    await httpClient().request({
      service: 'image',
      operation: 'listImages',
      method: 'GET',
      url: `${fake.url}/v2/images`,
      query: { tag: ['a', 'b c'], limit: 5, name: undefined },
    });
    expect(fake.requests[0]?.query.getAll('tag')).toEqual(['a', 'b c']);
    expect(fake.requests[0]?.query.get('limit')).toBe('5');
    expect(fake.requests[0]?.query.has('name')).toBe(false);
  });

  it('times out when the server never answers', async () => {
    const fake = await fakeServer(() => undefined);
    const started = Date.now();
    const error = await openStackError(get(httpClient(300), `${fake.url}/servers/x`));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({ kind: 'timeout', retryable: true, status: undefined });
    expect(error.message).toBe(`compute getServer failed: no complete answer within 300 ms (GET ${fake.url}/servers/x)`);
  });

  it('bounds the whole exchange when the body trickles in', async () => {
    const fake = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
      return undefined;
    });
    const started = Date.now();
    const error = await openStackError(get(httpClient(400), `${fake.url}/slow`));
    expect(error.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("gives a cancelled caller its own abort reason", async () => {
    const fake = await fakeServer(() => undefined);
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 50);
    expect(await rejection(get(httpClient(5_000), `${fake.url}/x`, { signal: controller.signal }))).toBe(reason);
  });

  it('reports refused connections as retryable', async () => {
    const fake = await fakeServer(() => ({ status: 200 }));
    await fake.close();
    const error = await openStackError(get(httpClient(), `${fake.url}/x`));
    expect(error).toMatchObject({ kind: 'connection', retryable: true });
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('rejects a 2xx answer that is not JSON', async () => {
    const fake = await fakeServer(() => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>proxy login</html>' }));
    expect(await openStackError(get(httpClient(), `${fake.url}/x`))).toMatchObject({ kind: 'invalidResponse', retryable: false, status: 200 });
  });
});

describe('catalog', () => {
  const catalog: Catalog = [
    { type: 'compute', name: 'nova', endpoints: [
      { interface: 'public', region: 'RegionOne', url: 'http://one/compute/v2.1/' },
      { interface: 'internal', region: 'RegionOne', url: 'http://internal/compute/v2.1' },
      { interface: 'public', region: 'RegionTwo', url: 'http://two/compute/v2.1' },
    ] },
    { type: 'volumev3', name: 'cinderv3', endpoints: [{ interface: 'public', region: 'RegionOne', url: 'http://one/volume/v3/p' }] },
  ];

  it('picks by interface and region and trims the trailing slash', () => {
    expect(endpointFor(catalog, 'compute')).toBe('http://one/compute/v2.1');
    expect(endpointFor(catalog, 'compute', { interface: 'internal' })).toBe('http://internal/compute/v2.1');
    expect(endpointFor(catalog, 'compute', { region: 'RegionTwo' })).toBe('http://two/compute/v2.1');
  });

  it('knows the older names of a service type', () => {
    expect(endpointFor(catalog, 'block-storage')).toBe('http://one/volume/v3/p');
    expect(endpointFor(catalog, 'volumev3')).toBe('http://one/volume/v3/p');
  });

  it('says what the catalog has when nothing matches', () => {
    try {
      endpointFor(catalog, 'image', { region: 'RegionOne' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OpenStackError);
      expect(error).toMatchObject({ kind: 'endpointNotFound', service: 'image', retryable: false });
      expect((error as Error).message).toBe(
        "image endpoint lookup failed: no public endpoint for service type 'image' in region 'RegionOne'; the catalog has " +
          'compute (public@RegionOne, internal@RegionOne, public@RegionTwo); volumev3 (public@RegionOne)',
      );
    }
  });

  it('turns v2.0 publicURL/internalURL/adminURL into interfaces', () => {
    const v2 = catalogFromV2([
      { type: 'compute', name: 'nova', endpoints: [{ region: 'RegionOne', publicURL: 'http://pub/v2.1', internalURL: 'http://int/v2.1', adminURL: 'http://adm/v2.1', id: '1' }] },
    ]);
    expect(endpointFor(v2, 'compute', { interface: 'admin' })).toBe('http://adm/v2.1');
    expect(endpointFor(v2, 'compute', { interface: 'internal', region: 'RegionOne' })).toBe('http://int/v2.1');
  });
});

describe('keystone', () => {
  it('authenticates with v3 password, user and project by name in domain Default', async () => {
    const cloud = await FakeCloud.start();
    const session = await client(credentials(cloud)).authenticate();
    const [request] = cloud.tokenRequests();
    expect(request?.path).toBe('/identity/v3/auth/tokens');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'pa55-w0rd' } } },
        scope: { project: { name: 'demo', domain: { name: 'Default' } } },
      },
    });
    expect(session).toMatchObject({ token: 'tok-1', projectId: 'p-1', userId: 'u-1', identityVersion: 'v3' });
    expect(session.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(endpointFor(session.catalog, 'compute')).toBe(`${cloud.url}/compute/v2.1`);
  });

  it('uses ids when given', async () => {
    const cloud = await FakeCloud.start();
    await client(credentials(cloud, { userId: 'u-1', projectId: 'p-1', projectName: undefined })).authenticate();
    const [request] = cloud.tokenRequests();
    expect(request?.path).toBe('/identity/v3/auth/tokens');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      auth: { identity: { methods: ['password'], password: { user: { id: 'u-1', password: 'pa55-w0rd' } } }, scope: { project: { id: 'p-1' } } },
    });
  });

  it('authenticates with v2.0 password and tenant name', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 200, body: { server: server('s-1') } });
    const openstack = client(credentials(cloud, { authUrl: `${cloud.url}/identity/v2.0` }));
    const session = await openstack.authenticate();
    const [request] = cloud.tokenRequests();
    expect(request?.path).toBe('/identity/v2.0/tokens');
    expect(JSON.parse(request?.body ?? '')).toEqual({ auth: { passwordCredentials: { username: 'demo', password: 'pa55-w0rd' }, tenantName: 'demo' } });
    expect(session).toMatchObject({ token: 'tok-1', projectId: 'p-1', identityVersion: 'v2.0' });
    expect(endpointFor(session.catalog, 'compute', { interface: 'admin' })).toBe(`${cloud.url}/compute/v2.1/p-1`);
    expect((await openstack.compute.getServer('s-1'))?.id).toBe('s-1');
    expect(cloud.serviceRequests('/compute')[0]?.path).toBe('/compute/v2.1/p-1/servers/s-1');
  });

  it('reports bad credentials as an auth error that names neither password nor token', async () => {
    const cloud = await FakeCloud.start();
    const error = await openStackError(client(credentials(cloud, { password: 'wrong-password' })).authenticate());
    expect(error).toMatchObject({ kind: 'auth', service: 'identity', operation: 'authenticate', status: 401, retryable: false, requestId: 'req-auth' });
    expect(error.message).toBe('identity authenticate failed: 401 Unauthorized: The request you have made requires authentication. (request req-auth)');
    expect(JSON.stringify(error)).not.toContain('wrong-password');
    expect(inspect(error)).not.toContain('wrong-password');
  });

  it('keeps the token out of JSON and inspect output', async () => {
    const cloud = await FakeCloud.start();
    const session = await client(credentials(cloud)).authenticate();
    expect(JSON.stringify(session)).not.toContain('tok-1');
    expect(JSON.parse(JSON.stringify(session))).toMatchObject({ projectId: 'p-1', identityVersion: 'v3' });
    expect(inspect(session, { depth: 5 })).not.toContain('tok-1');
  });

  it('shares one authentication among concurrent callers', async () => {
    const cloud = await FakeCloud.start();
    cloud.authDelayMs = 100;
    cloud.compute = (req) => ({ status: 200, body: { server: server(req.path.split('/').pop() ?? '') } });
    const openstack = client(credentials(cloud));
    const servers = await Promise.all(Array.from({ length: 10 }, (_, i) => openstack.compute.getServer(`s-${i}`)));
    expect(servers.map((found) => found?.id)).toEqual(Array.from({ length: 10 }, (_, i) => `s-${i}`));
    expect(cloud.tokenRequests()).toHaveLength(1);
    expect(new Set(cloud.serviceRequests('/compute').map((req) => req.headers['x-auth-token']))).toEqual(new Set(['tok-1']));
  });

  it('shares one token cache between clients of the same user and scope', async () => {
    const cloud = await FakeCloud.start();
    const tokenCache = new TokenCache();
    await client(credentials(cloud), { tokenCache }).authenticate();
    await client(credentials(cloud), { tokenCache }).authenticate();
    await client(credentials(cloud, { projectName: 'other' }), { tokenCache }).authenticate();
    expect(cloud.tokenRequests()).toHaveLength(2);
  });

  it('lets one waiting caller give up without failing the shared authentication', async () => {
    const cloud = await FakeCloud.start();
    cloud.authDelayMs = 200;
    const openstack = client(credentials(cloud));
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const abandoned = rejection(openstack.authenticate({ signal: controller.signal }));
    const patient = openstack.authenticate();
    setTimeout(() => controller.abort(reason), 20);
    expect(await abandoned).toBe(reason);
    expect((await patient).token).toBe('tok-1');
    expect(cloud.tokenRequests()).toHaveLength(1);
  });

  it('re-authenticates within five minutes of expiry', async () => {
    const cloud = await FakeCloud.start();
    let now = Date.now();
    const openstack = client(credentials(cloud), { tokenCache: new TokenCache({ now: () => now }) });
    expect((await openstack.authenticate()).token).toBe('tok-1');
    now += 54 * 60_000;
    expect((await openstack.authenticate()).token).toBe('tok-1');
    now += 2 * 60_000;
    expect((await openstack.authenticate()).token).toBe('tok-2');
  });

  it('keeps short-lived tokens for half their lifetime', async () => {
    const cloud = await FakeCloud.start();
    cloud.tokenLifetimeMs = 60_000;
    let now = Date.now();
    const openstack = client(credentials(cloud), { tokenCache: new TokenCache({ now: () => now }) });
    await openstack.authenticate();
    now += 20_000;
    expect((await openstack.authenticate()).token).toBe('tok-1');
    now += 15_000;
    expect((await openstack.authenticate()).token).toBe('tok-2');
  });

  it('on a 401 from a service, re-authenticates once and retries once', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 200, body: { server: server('s-1') } });
    const openstack = client(credentials(cloud));
    await openstack.authenticate();
    cloud.valid.clear(); // e.g. Keystone restarted with new fernet keys
    expect((await openstack.compute.getServer('s-1'))?.id).toBe('s-1');
    expect(cloud.tokenRequests()).toHaveLength(2);
    expect(cloud.serviceRequests('/compute').map((req) => req.headers['x-auth-token'])).toEqual(['tok-1', 'tok-2']);
  });

  it('gives up with an auth error when the new token is refused too', async () => {
    const cloud = await FakeCloud.start();
    const openstack = client(credentials(cloud));
    const original = cloud.valid.add.bind(cloud.valid);
    cloud.valid.add = (token) => (token === 'tok-1' ? original(token) : cloud.valid);
    await openstack.authenticate();
    cloud.valid.clear();
    const error = await openStackError(openstack.compute.getServer('s-1'));
    expect(error).toMatchObject({ kind: 'auth', service: 'compute', operation: 'getServer', retryable: false });
    expect(error.message).not.toMatch(/tok-\d/);
    expect(cloud.tokenRequests()).toHaveLength(2);
    expect(cloud.serviceRequests('/compute')).toHaveLength(2);
  });

  it('refuses unusable settings before sending anything', () => {
    const base: PasswordCredentials = { authUrl: 'http://keystone:5000/v3', username: 'u', password: 'p', projectName: 'x' };
    expect(() => new OpenStackClient({ ...base, authUrl: 'keystone:5000' })).toThrow(/authUrl 'keystone:5000' must be an http or https URL/);
    expect(() => new OpenStackClient({ ...base, authUrl: 'not a url' })).toThrow(/not a valid URL/);
    expect(() => new OpenStackClient({ ...base, authUrl: 'http://keystone:5000/v4' })).toThrow(/other than v3 or v2.0/);
    expect(() => new OpenStackClient({ ...base, projectName: undefined })).toThrow(/project scope is required/);
    expect(() => new OpenStackClient({ ...base, authUrl: 'http://k/v2.0', userId: 'u-1' })).toThrow(/userId needs identity v3/);
    expect(() => new OpenStackClient(base, { microversion: '2.latest' })).toThrow(/'2.N' or 'latest'/);
    expect(() => new OpenStackClient(base, { timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

describe('compute', () => {
  it('sends the microversion in both headers, and none by default', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 202, body: { server: { id: 'new-1', adminPass: 'rur2UMdGVw2y', links: [] } } });
    const created = await client(credentials(cloud), { microversion: '2.37' }).compute.createServer(
      { name: 'vm1', imageRef: 'img', flavorRef: 'tiny', networks: 'none' },
      { schedulerHints: { group: 'g-1' } },
    );
    expect(created).toEqual({ id: 'new-1', adminPass: 'rur2UMdGVw2y' });
    await client(credentials(cloud)).compute.createServer({ name: 'vm2', flavorRef: 'tiny' });
    const [versioned, plain] = cloud.serviceRequests('/compute');
    expect(versioned?.headers['openstack-api-version']).toBe('compute 2.37');
    expect(versioned?.headers['x-openstack-nova-api-version']).toBe('2.37');
    expect(JSON.parse(versioned?.body ?? '')).toEqual({
      server: { name: 'vm1', imageRef: 'img', flavorRef: 'tiny', networks: 'none' },
      'os:scheduler_hints': { group: 'g-1' },
    });
    expect(plain?.headers['openstack-api-version']).toBeUndefined();
    expect(plain?.headers['x-openstack-nova-api-version']).toBeUndefined();
  });

  it('maps 404 to undefined on get and to already-gone on delete', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = (req) =>
      req.method === 'DELETE' && req.path.endsWith('/s-1')
        ? { status: 204 }
        : { status: 404, body: { itemNotFound: { code: 404, message: 'Instance s-2 could not be found.' } } };
    const openstack = client(credentials(cloud));
    expect(await openstack.compute.getServer('s-2')).toBeUndefined();
    expect(await openstack.compute.deleteServer('s-1')).toBe('deleted');
    expect(await openstack.compute.deleteServer('s-2')).toBe('already-gone');
  });

  it('follows servers_links, taking only the marker from a link with a foreign host', async () => {
    const cloud = await FakeCloud.start();
    const all = ['a', 'b', 'c', 'd', 'e'].map((id) => server(id));
    cloud.compute = (req) => {
      const limit = Number(req.query.get('limit'));
      const marker = req.query.get('marker');
      const start = marker ? all.findIndex((s) => s.id === marker) + 1 : 0;
      const page = all.slice(start, start + limit);
      const links = page.length === limit ? [{ rel: 'next', href: `http://nova.internal:8774/v2.1/servers/detail?limit=${limit}&marker=${page.at(-1)?.id}` }] : undefined;
      return { status: 200, body: { servers: page, ...(links ? { servers_links: links } : {}) } };
    };
    const openstack = client(credentials(cloud), { microversion: '2.26' });
    const servers = await openstack.compute.listServers({ limit: 2, tags: ['owner', 'pool-a'], status: 'ACTIVE', changesSince: new Date('2026-01-01T00:00:00Z') });
    expect(servers.map((s) => s.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const requests = cloud.serviceRequests('/compute');
    expect(requests.map((req) => req.query.get('marker'))).toEqual([null, 'b', 'd']);
    for (const req of requests) {
      expect(req.path).toBe('/compute/v2.1/servers/detail');
      expect(req.query.get('tags')).toBe('owner,pool-a');
      expect(req.query.get('status')).toBe('ACTIVE');
      expect(req.query.get('changes-since')).toBe('2026-01-01T00:00:00.000Z');
    }
  });

  it('refuses a list whose pages repeat a server', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = (req) => ({
      status: 200,
      body: req.query.get('marker') ? { servers: [server('a')] } : { servers: [server('a'), server('b')], servers_links: [{ rel: 'next', href: '/v2.1/servers/detail?limit=2&marker=b' }] },
    });
    const error = await openStackError(client(credentials(cloud)).compute.listServers({ limit: 2 }));
    expect(error.message).toMatch(/^compute listServers failed: unexpected answer: pagination returned a twice/);
  });

  it('drops the request body that Nova quotes in schema errors', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({
      status: 400,
      body: { badRequest: { code: 400, message: "Invalid input for field/attribute server. Value: {'name': 'vm1', 'user_data': 'c2VjcmV0. LXBhc3M=', 'flavorRef': 'tiny'}. 'networks' is a required property" } },
    });
    const error = await openStackError(client(credentials(cloud), { microversion: '2.37' }).compute.createServer({ name: 'vm1', flavorRef: 'tiny', user_data: 'c2VjcmV0. LXBhc3M=' }));
    expect(error.cloudMessage).toBe("Invalid input for field/attribute server. Value: [omitted]. 'networks' is a required property");
    expect(error.message).not.toContain('c2VjcmV0');
    expect(error.message).not.toContain('LXBhc3M');
  });

  it('stops on a pagination loop instead of spinning', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 200, body: { servers: [server('a')], servers_links: [{ rel: 'next', href: '/v2.1/servers/detail?marker=a' }] } });
    expect(await openStackError(client(credentials(cloud)).compute.listServers())).toMatchObject({ kind: 'invalidResponse', operation: 'listServers' });
  });

  it('finds flavors by id, then by name', async () => {
    const cloud = await FakeCloud.start();
    const flavor = (id: string, name: string) => ({ id, name, vcpus: 1, ram: 64, disk: 1, swap: 0, 'OS-FLV-EXT-DATA:ephemeral': 0 });
    cloud.compute = (req) => {
      if (req.path.endsWith('/flavors/1')) return { status: 200, body: { flavor: flavor('1', 'm1.tiny') } };
      if (req.path.endsWith('/flavors/detail')) return { status: 200, body: { flavors: [flavor('1', 'm1.tiny'), flavor('2', 'm1.small'), flavor('3', 'dup'), flavor('4', 'dup')] } };
      return { status: 404, body: { itemNotFound: { code: 404, message: 'Flavor could not be found.' } } };
    };
    const compute = client(credentials(cloud)).compute;
    expect((await compute.getFlavor('1')).name).toBe('m1.tiny');
    expect((await compute.getFlavor('m1.small')).id).toBe('2');
    const none = await openStackError(compute.getFlavor('huge'));
    expect(none).toMatchObject({ kind: 'notFound', retryable: false });
    expect(none.message).toBe("compute getFlavor failed: no flavor has the id or name 'huge'");
    const ambiguous = await openStackError(compute.getFlavor('dup'));
    expect(ambiguous.kind).toBe('ambiguous');
    expect(ambiguous.message).toBe("compute getFlavor failed: 2 flavors are named 'dup' (ids 3, 4); use an id");
  });

  it('reads the microversion range at the versioned root, without a project id', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = (req) =>
      req.path === '/compute/v2.1/'
        ? { status: 200, body: { version: { id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1', updated: '2013-07-23T11:33:21Z', links: [] } } }
        : { status: 404, body: 'wrong path' };
    const openstack = client(credentials(cloud, { authUrl: `${cloud.url}/identity/v2.0` }));
    expect(await openstack.compute.versionInfo()).toEqual({ id: 'v2.1', status: 'CURRENT', minVersion: '2.1', maxVersion: '2.93' });
  });
});

describe('image', () => {
  const image = (id: string, name: string, created: string) => ({
    id,
    name,
    status: 'active',
    visibility: 'public',
    size: 196616,
    min_disk: 0,
    min_ram: 0,
    disk_format: 'qcow2',
    container_format: 'bare',
    created_at: created,
    updated_at: created,
    tags: [],
    owner: 'p-1',
    protected: false,
    os_distro: 'debian',
    self: `/v2/images/${id}`,
  });

  it('follows relative next links under a path-prefixed endpoint', async () => {
    const cloud = await FakeCloud.start();
    const all = [image('i1', 'tiny', '2026-01-01T00:00:00Z'), image('i2', 'tiny', '2026-03-01T00:00:00Z'), image('i3', 'tiny', '2026-02-01T00:00:00Z')];
    cloud.image = (req) => {
      const marker = req.query.get('marker');
      const start = marker ? all.findIndex((i) => i.id === marker) + 1 : 0;
      const page = all.slice(start, start + 2);
      const next = start + 2 < all.length ? { next: `/v2/images?name=tiny&status=active&limit=2&marker=${page.at(-1)?.id}` } : {};
      return { status: 200, body: { images: page, first: '/v2/images', schema: '/v2/schemas/images', ...next } };
    };
    const found = await client(credentials(cloud)).image.findImagesByName('tiny');
    expect(found.map((i) => i.id)).toEqual(['i2', 'i3', 'i1']);
    expect(found[0]?.os_distro).toBe('debian');
    const requests = cloud.serviceRequests('/image');
    expect(requests.map((req) => req.path)).toEqual(['/image/v2/images', '/image/v2/images']);
    expect(requests.map((req) => req.query.get('marker'))).toEqual([null, 'i2']);
    expect(requests[0]?.query.get('name')).toBe('tiny');
    expect(requests[0]?.query.get('status')).toBe('active');
  });

  it('gets an image, or undefined on 404', async () => {
    const cloud = await FakeCloud.start();
    cloud.image = (req) =>
      req.path === '/image/v2/images/i1'
        ? { status: 200, body: image('i1', 'tiny', '2026-01-01T00:00:00Z') }
        : { status: 404, headers: { 'content-type': 'text/html; charset=UTF-8' }, body: '<html><body><h1>404 Not Found</h1>No image found with ID x<br /><br /></body></html>' };
    const openstack = client(credentials(cloud));
    expect((await openstack.image.getImage('i1'))?.name).toBe('tiny');
    expect(await openstack.image.getImage('x')).toBeUndefined();
  });
});
