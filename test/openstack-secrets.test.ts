import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { asFailure } from '../src/activities/failures.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { TokenCache, tokenCacheKey, type CloudCredentials } from '../src/openstack/index.js';
import { client, credentials, FakeCloud, fakeServer, openStackError, runCleanups, type Recorded, type Reply } from './support/fakeOpenStack.js';

// Every way a failed exchange turns into an error, against a cloud that echoes what it was sent:
// the request body (password, application credential secret, token) from Keystone, the
// X-Auth-Token from a service. An OpenStack error reaches workflow history as the failure that
// asFailure makes of it, so that is checked along with the error's message, JSON and inspection.

afterEach(runCleanups);

const PASSWORD = 'echoed-pa55word-4d1c';
const APP_SECRET = 'echoed-appcred-secret-8e2a';
const USER_TOKEN = 'gAAAAABechoedUserToken0123456789';
const SESSION_TOKEN = 'gAAAAABechoedSessionToken9876543210';

/** How a cloud may answer with what it was sent, in the formats the services really use. */
const ECHOES: [string, (echo: string) => Reply][] = [
  ['Keystone JSON 401', (echo) => ({ status: 401, body: { error: { code: 401, title: 'Unauthorized', message: `The request you have made requires authentication: ${echo}` } } })],
  ['Keystone JSON 404 quoting the token', (echo) => ({ status: 404, body: { error: { code: 404, title: 'Not Found', message: `Could not find token: ${echo}.` } } })],
  ['Nova 400 quoting the request', (echo) => ({ status: 400, body: { badRequest: { code: 400, message: `Invalid input for field/attribute auth. Value: ${echo}. 'x' is a required property` } } })],
  ['an HTML 500 page', (echo) => ({ status: 500, headers: { 'content-type': 'text/html' }, body: `<html><body><h1>500 Internal Server Error</h1>while handling ${echo}<br /></body></html>` })],
  ['a plain-text 503', (echo) => ({ status: 503, headers: { 'content-type': 'text/plain' }, body: `503 Service Unavailable\n\nupstream refused ${echo}` })],
  ['a 2xx answer that is not JSON', (echo) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: `${'.'.repeat(100)}${echo}` })],
  ['a quota message longer than the error keeps', (echo) => ({ status: 403, body: { forbidden: { code: 403, message: `Quota exceeded ${'x'.repeat(480)} ${echo}` } } })],
];

const KINDS: [string, CloudCredentials | ((url: string) => CloudCredentials), string][] = [
  ['password', (url) => ({ authUrl: `${url}/identity/v3`, username: 'demo', password: PASSWORD, projectName: 'demo' }), PASSWORD],
  ['application credential', (url) => ({ authType: 'v3applicationcredential', authUrl: `${url}/identity/v3`, applicationCredentialId: 'ac-1', applicationCredentialSecret: APP_SECRET }), APP_SECRET],
  ['token', (url) => ({ authType: 'v3token', authUrl: `${url}/identity/v3`, token: USER_TOKEN, projectName: 'demo' }), USER_TOKEN],
];

function expectNoSecret(error: unknown, secret: string): void {
  const failure = asFailure(error) as Error & { details?: unknown };
  for (const text of [(error as Error).message, JSON.stringify(error), inspect(error, { depth: 5 }), failure.message, JSON.stringify(failure.details ?? null)]) {
    expect(text).not.toContain(secret);
    // Nor its first half: a secret cut at a length limit must not leave its head behind.
    expect(text).not.toContain(secret.slice(0, secret.length / 2));
  }
}

describe('errors from Keystone that echo the credentials', () => {
  for (const [kind, credentialsFor, secret] of KINDS) {
    it.each(ECHOES)(`never repeat the ${kind}: %s`, async (_format, echo) => {
      const fake = await fakeServer((req: Recorded) => echo(req.body));
      const credentials = typeof credentialsFor === 'function' ? credentialsFor(fake.url) : credentialsFor;
      const error = await openStackError(client(credentials).authenticate());
      expect(fake.requests[0]!.body).toContain(secret);
      expectNoSecret(error, secret);
    });
  }
});

describe('errors from a service that echo the token', () => {
  it.each(ECHOES)('never repeat the session token: %s', async (_format, echo) => {
    const fake = await fakeServer((req: Recorded) => {
      if (req.path.endsWith('/auth/tokens')) {
        const endpoints = [{ id: 'c', interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${fake.url}/compute/v2.1` }];
        const expires = new Date(Date.now() + 3_600_000).toISOString();
        return {
          status: 201,
          headers: { 'x-subject-token': SESSION_TOKEN },
          body: { token: { methods: ['password'], project: { id: 'p-1', name: 'demo' }, user: { id: 'u-1' }, expires_at: expires, catalog: [{ type: 'compute', id: 'n', endpoints }] } },
        };
      }
      return echo(String(req.headers['x-auth-token']));
    });
    const cloud = client({ authUrl: `${fake.url}/identity/v3`, username: 'demo', password: PASSWORD, projectName: 'demo' });
    const error = await openStackError(cloud.compute.getFlavor('1'));
    expect(fake.requests.some((req) => req.headers['x-auth-token'] === SESSION_TOKEN)).toBe(true);
    expectNoSecret(error, SESSION_TOKEN);
  });
});

describe('two definitions of one user that disagree on the password', () => {
  it('do not share a session: the wrong one fails on its own, whichever logs in first', async () => {
    const cloud = await FakeCloud.start();
    const pair = (tokenCache: TokenCache) => [client(credentials(cloud), { tokenCache }), client(credentials(cloud, { password: 'wrong-password' }), { tokenCache })];
    const [right, wrong] = pair(new TokenCache());
    await right!.authenticate();
    await expect(wrong!.authenticate()).rejects.toMatchObject({ kind: 'auth' });
    const [rightAlongside, wrongAlongside] = pair(new TokenCache());
    const outcomes = await Promise.allSettled([wrongAlongside!.authenticate(), rightAlongside!.authenticate()]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'fulfilled']);
    expect(tokenCacheKey(credentials(cloud))).not.toContain('pa55-w0rd');
  });
});

describe('an auth URL that carries credentials', () => {
  it('is refused before anything is sent, without repeating the password', () => {
    const worker = { name: 'bot', flavor: 1, image: 'img', os_username: 'u', os_password: 'p', os_tenant_name: 't', os_auth_url: `https://admin:${PASSWORD}@keystone.example.org:5000/v3` };
    let error: unknown;
    try {
      parseConfig({ workers: [worker] }, 'test.yaml', {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'worker "bot": authUrl https://keystone.example.org:5000/v3 carries a user name or password; give credentials as username and password instead',
    );
  });
});
