// Authentication beyond the password: application credentials, tokens, version discovery, TLS
// settings and the compute client_version, against local servers with Keystone's own bodies.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  OpenStackClient,
  tokenCacheKey,
  TokenCache,
  type ApplicationCredentialCredentials,
  type CloudCredentials,
  type TokenCredentials,
} from '../src/openstack/index.js';
import {
  APPLICATION_CREDENTIAL,
  client,
  credentials,
  FakeCloud,
  fakeServer,
  openStackError,
  runCleanups,
  server,
} from './support/fakeOpenStack.js';

afterEach(runCleanups);

const tls = {
  key: readFileSync(new URL('fixtures/tls/server.key', import.meta.url), 'utf8'),
  cert: readFileSync(new URL('fixtures/tls/server.pem', import.meta.url), 'utf8'),
};
const caFile = new URL('fixtures/tls/ca.pem', import.meta.url).pathname;

function appCredential(cloud: FakeCloud, extra: Partial<ApplicationCredentialCredentials> = {}): ApplicationCredentialCredentials {
  return {
    authType: 'v3applicationcredential',
    authUrl: `${cloud.url}/identity/v3`,
    applicationCredentialId: APPLICATION_CREDENTIAL.id,
    applicationCredentialSecret: APPLICATION_CREDENTIAL.secret,
    ...extra,
  };
}

function bodyOf(cloud: FakeCloud, index = 0): unknown {
  return JSON.parse(cloud.tokenRequests()[index]?.body ?? 'null');
}

describe('application credentials', () => {
  it('authenticates by id with the secret and no scope, and the token reaches the services', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 200, body: { server: server('s-1') } });
    const openstack = client(appCredential(cloud));
    const session = await openstack.authenticate();
    expect(bodyOf(cloud)).toEqual({
      auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac-1', secret: APPLICATION_CREDENTIAL.secret } } },
    });
    expect(session).toMatchObject({ token: 'tok-1', projectId: 'p-1', userId: 'u-1', identityVersion: 'v3' });
    expect((await openstack.compute.getServer('s-1'))?.id).toBe('s-1');
    expect(cloud.serviceRequests('/compute')[0]?.headers['x-auth-token']).toBe('tok-1');
  });

  it.each([
    ['a user id', { userId: 'u-1' }, { id: 'u-1' }],
    ['a user name in domain Default', { username: 'demo' }, { name: 'demo', domain: { name: 'Default' } }],
    ['a user name in a domain given by id', { username: 'demo', userDomainId: 'd-7' }, { name: 'demo', domain: { id: 'd-7' } }],
  ])('authenticates by name with %s', async (_what, user, expected) => {
    const cloud = await FakeCloud.start();
    await client(appCredential(cloud, { applicationCredentialId: undefined, applicationCredentialName: APPLICATION_CREDENTIAL.name, ...user })).authenticate();
    expect(bodyOf(cloud)).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { name: APPLICATION_CREDENTIAL.name, secret: APPLICATION_CREDENTIAL.secret, user: expected },
        },
      },
    });
  });

  it('refuses a wrong secret with an auth error that never shows either secret', async () => {
    const cloud = await FakeCloud.start();
    const wrong = 'not-the-ac-secret';
    const error = await openStackError(client(appCredential(cloud, { applicationCredentialSecret: wrong })).authenticate());
    expect(error).toMatchObject({ kind: 'auth', service: 'identity', status: 401, retryable: false });
    for (const text of [error.message, JSON.stringify(error), inspect(error)]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(APPLICATION_CREDENTIAL.secret);
    }
  });

  it('keeps one token per application credential, never keyed by its secret', async () => {
    const cloud = await FakeCloud.start();
    const tokenCache = new TokenCache();
    await client(appCredential(cloud), { tokenCache }).authenticate();
    await client(appCredential(cloud), { tokenCache }).authenticate();
    await client(appCredential(cloud, { applicationCredentialId: undefined, applicationCredentialName: 'ci-bots', userId: 'u-1' }), { tokenCache }).authenticate();
    expect(cloud.tokenRequests()).toHaveLength(2);
    expect(tokenCacheKey(appCredential(cloud))).not.toContain(APPLICATION_CREDENTIAL.secret);
  });
});

describe('token authentication (v3token)', () => {
  const tokenCredentials = (cloud: FakeCloud, token: string, extra: Partial<TokenCredentials> = {}): TokenCredentials => ({
    authType: 'v3token',
    authUrl: `${cloud.url}/identity/v3`,
    token,
    projectName: 'demo',
    ...extra,
  });

  it('exchanges the given token for one scoped to the project and uses that one', async () => {
    const cloud = await FakeCloud.start();
    cloud.valid.add('os-token-from-env');
    cloud.compute = () => ({ status: 200, body: { server: server('s-1') } });
    const openstack = client(tokenCredentials(cloud, 'os-token-from-env', { projectDomainId: 'default' }));
    await openstack.compute.getServer('s-1');
    expect(bodyOf(cloud)).toEqual({
      auth: {
        identity: { methods: ['token'], token: { id: 'os-token-from-env' } },
        scope: { project: { name: 'demo', domain: { id: 'default' } } },
      },
    });
    expect(cloud.serviceRequests('/compute')[0]?.headers['x-auth-token']).toBe('tok-1');
  });

  it('does not repeat a refused token that Keystone quotes back', async () => {
    const cloud = await FakeCloud.start();
    const error = await openStackError(client(tokenCredentials(cloud, 'gAAAA-expired-token')).authenticate());
    expect(error).toMatchObject({ kind: 'notFound', service: 'identity', operation: 'authenticate', retryable: false });
    expect(error.message).toBe('identity authenticate failed: 404 Not Found: Could not find token: [redacted].');
    expect(JSON.stringify(error)).not.toContain('gAAAA-expired-token');
  });

  it('keys the cache by a hash of the token, so two tokens never share a session', () => {
    const cloud = { url: 'http://keystone' } as FakeCloud;
    const one = tokenCacheKey(tokenCredentials(cloud, 'token-one'));
    const two = tokenCacheKey(tokenCredentials(cloud, 'token-two'));
    expect(one).not.toBe(two);
    expect(`${one} ${two}`).not.toMatch(/token-(one|two)/);
  });
});

describe('identity version discovery', () => {
  it("follows Keystone's 300 Multiple Choices to v3 when the auth URL has no version", async () => {
    const cloud = await FakeCloud.start();
    const session = await client(credentials(cloud, { authUrl: `${cloud.url}/identity/` })).authenticate();
    expect(cloud.fake.requests.map((req) => `${req.method} ${req.path}`)).toEqual(['GET /identity', 'POST /identity/v3/auth/tokens']);
    expect(session.identityVersion).toBe('v3');
  });

  it('reads the same list when a proxy answers it with 200 and a relative link', async () => {
    const cloud = await FakeCloud.start();
    cloud.versions = () => ({
      status: 200,
      body: { versions: { values: [{ id: 'v3.14', status: 'stable', links: [{ rel: 'self', href: 'v3/' }] }] } },
    });
    await client(credentials(cloud, { authUrl: `${cloud.url}/identity` })).authenticate();
    expect(cloud.tokenRequests()[0]?.path).toBe('/identity/v3/auth/tokens');
  });

  it('falls back to v2.0 when that is all the cloud offers, and honours an asked-for version', async () => {
    const cloud = await FakeCloud.start();
    cloud.versions = () => ({
      status: 300,
      body: { versions: { values: [{ id: 'v2.0', status: 'stable', links: [{ rel: 'self', href: `${cloud.url}/identity/v2.0/` }] }] } },
    });
    expect((await client(credentials(cloud, { authUrl: `${cloud.url}/identity` })).authenticate()).identityVersion).toBe('v2.0');
    expect(bodyOf(cloud)).toEqual({ auth: { passwordCredentials: { username: 'demo', password: 'pa55-w0rd' }, tenantName: 'demo' } });

    const both = await FakeCloud.start();
    await client(credentials(both, { authUrl: `${both.url}/identity`, identityVersion: 'v2.0' })).authenticate();
    expect(both.tokenRequests()[0]?.path).toBe('/identity/v2.0/tokens');
  });

  it('goes where the list points, which need not be under the auth URL', async () => {
    const cloud = await FakeCloud.start();
    cloud.versions = () => ({ status: 300, body: { versions: { values: [{ id: 'v3.14', links: [{ rel: 'self', href: `${cloud.url}/keystone-v3/v3/` }] }] } } });
    await client(credentials(cloud, { authUrl: `${cloud.url}/identity` })).authenticate();
    expect(cloud.fake.requests.map((req) => `${req.method} ${req.path}`)).toEqual(['GET /identity', 'POST /keystone-v3/v3/auth/tokens']);
  });

  it('discovers once per client, not once per token', async () => {
    const cloud = await FakeCloud.start();
    let now = Date.now();
    const openstack = client(credentials(cloud, { authUrl: `${cloud.url}/identity` }), { tokenCache: new TokenCache({ now: () => now }) });
    await openstack.authenticate();
    now += 2 * 60 * 60_000;
    await openstack.authenticate();
    expect(cloud.tokenRequests()).toHaveLength(2);
    expect(cloud.fake.requests.filter((req) => req.method === 'GET')).toHaveLength(1);
  });

  it('refuses credentials that need v3 when the cloud offers only v2.0, without sending them', async () => {
    const cloud = await FakeCloud.start();
    cloud.versions = () => ({ status: 300, body: { versions: { values: [{ id: 'v2.0', links: [{ rel: 'self', href: `${cloud.url}/identity/v2.0/` }] }] } } });
    const error = await openStackError(client(appCredential(cloud, { authUrl: `${cloud.url}/identity` })).authenticate());
    expect(error).toMatchObject({ kind: 'unsupportedVersion', service: 'identity', retryable: false });
    expect(error.message).toContain('offers identity v2.0 only, and application credentials need identity v3');
    expect(cloud.tokenRequests()).toHaveLength(0);
  });

  it('says how to fix an auth URL that is not the identity root', async () => {
    const fake = await fakeServer(() => ({ status: 404, body: { error: { code: 404, title: 'Not Found', message: 'The resource could not be found.' } } }));
    const error = await openStackError(
      client({ authUrl: `${fake.url}/keystone`, username: 'u', password: 'p', projectName: 'x' }).authenticate(),
    );
    expect(error).toMatchObject({ kind: 'notFound', operation: 'discoverVersions', status: 404, retryable: false });
    expect(error.message).toBe(
      `identity discoverVersions failed: ${fake.url}/keystone answered 404: The resource could not be found., not a list of identity versions; ` +
        `put the identity version in the auth URL, e.g. ${fake.url}/keystone/v3`,
    );
  });

  it('names what the cloud offers when it is neither v3 nor v2.0', async () => {
    const cloud = await FakeCloud.start();
    cloud.versions = () => ({ status: 300, body: { versions: { values: [{ id: 'v2.0', links: [{ rel: 'self', href: `${cloud.url}/identity/v2.0/` }] }] } } });
    const error = await openStackError(client(credentials(cloud, { authUrl: `${cloud.url}/identity`, identityVersion: 'v3' })).authenticate());
    expect(error).toMatchObject({ kind: 'unsupportedVersion', operation: 'discoverVersions' });
    expect(error.message).toBe(`identity discoverVersions failed: ${cloud.url}/identity offers identity v2.0, not v3`);
  });
});

describe('settings refused before anything is sent', () => {
  const base = { authUrl: 'http://keystone:5000/v3' };
  it.each<[string, CloudCredentials, RegExp]>([
    ['an application credential without id or name', { ...base, authType: 'v3applicationcredential', applicationCredentialSecret: 's' }, /needs applicationCredentialId, or applicationCredentialName/],
    ['an application credential by name without its user', { ...base, authType: 'v3applicationcredential', applicationCredentialName: 'n', applicationCredentialSecret: 's' }, /given by name needs its user/],
    ['an application credential on identity v2.0', { authUrl: 'http://k/v2.0', authType: 'v3applicationcredential', applicationCredentialId: 'i', applicationCredentialSecret: 's' }, /application credentials need identity v3/],
    ['a token without a project', { ...base, authType: 'v3token', token: 't' }, /project scope is required/],
    ['a token on identity v2.0', { ...base, authUrl: 'http://k/v2.0/', authType: 'v3token', token: 't', projectId: 'p' }, /token authentication \(v3token\) needs identity v3/],
    ['a password without a user', { ...base, password: 'p', projectName: 'x' }, /a user is required/],
    ['a version that contradicts the auth URL', { ...base, username: 'u', password: 'p', projectName: 'x', identityVersion: 'v2.0' }, /names identity v3, but identityVersion is v2.0/],
  ])('%s', (_what, creds, message) => {
    expect(() => new OpenStackClient(creds)).toThrow(message);
  });

  it('a CA bundle that cannot be read', () => {
    expect(() => new OpenStackClient({ ...base, username: 'u', password: 'p', projectName: 'x', cacert: '/nonexistent/ca.pem' })).toThrow(
      "cacert '/nonexistent/ca.pem' cannot be read (ENOENT)",
    );
  });
});

describe('TLS and timeouts from the cloud settings', () => {
  it('trusts the given CA bundle and nothing else', async () => {
    const cloud = await FakeCloud.start(tls);
    expect(cloud.url).toMatch(/^https:/);
    const untrusted = await openStackError(client(credentials(cloud)).authenticate());
    expect(untrusted).toMatchObject({ kind: 'connection', retryable: false });
    expect(untrusted.message).toMatch(/certificate/i);
    const session = await client(credentials(cloud, { cacert: caFile })).authenticate();
    expect(session.token).toBe('tok-1');
  });

  it('skips verification when told to, and says so loudly', async () => {
    const cloud = await FakeCloud.start(tls);
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const openstack = client(credentials(cloud, { insecure: true }));
      client(credentials(cloud, { insecure: true }));
      expect((await openstack.authenticate()).token).toBe('tok-1');
      expect(openstack.warnings).toEqual([expect.stringMatching(/^TLS certificate verification is OFF for https:\/\/127\.0\.0\.1:\d+\/identity\/v3/)]);
      expect(emitted).toHaveBeenCalledTimes(1);
      expect(emitted).toHaveBeenCalledWith(openstack.warnings[0], { code: 'OPENSTACK_TLS_UNVERIFIED' });
    } finally {
      emitted.mockRestore();
    }
  });

  it("uses the cloud's own api_timeout over the process default", async () => {
    const fake = await fakeServer(() => undefined);
    const openstack = client({ authUrl: `${fake.url}/v3`, username: 'u', password: 'p', projectName: 'x', apiTimeoutMs: 200 }, { timeoutMs: 20_000 });
    const started = Date.now();
    const error = await openStackError(openstack.authenticate());
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('no complete answer within 200 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('client_version', () => {
  it.each([
    ['1.1', undefined, ["client_version '1.1' is deprecated: it is served by the base compute API 2.1; set client_version '2', or '2.N' for a microversion"]],
    ['2', undefined, []],
    ['2.60', 'compute 2.60', []],
  ])("'%s' sends %s and warns %j", async (clientVersion, header, warnings) => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 200, body: { servers: [] } });
    const openstack = client(credentials(cloud), { clientVersion });
    await openstack.compute.listServers();
    expect(cloud.serviceRequests('/compute')[0]?.headers['openstack-api-version']).toBe(header);
    expect(openstack.warnings).toEqual(warnings);
  });

  it('refuses a malformed one, and one given together with a microversion', () => {
    const creds = { authUrl: 'http://k/v3', username: 'u', password: 'p', projectName: 'x' };
    expect(() => new OpenStackClient(creds, { clientVersion: '3' })).toThrow("client_version '3' must be '1.1' (deprecated), '2' or '2.N'");
    expect(() => new OpenStackClient(creds, { clientVersion: '2.5', microversion: '2.5' })).toThrow('not both');
  });
});
