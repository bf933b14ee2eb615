import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, endpointOf, header, login, passwordAuth } from './support/http.js';
import { openTarget, type Target } from './support/target.js';

let target: Target;

beforeAll(async () => {
  target = await openTarget();
});

afterAll(async () => {
  await target?.close();
});

const keystoneTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const unauthorized = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };

describe('identity v3', () => {
  it('lists v3 at the version root with 300 Multiple Choices', async () => {
    const res = await call('GET', `${target.identityRoot}/`);
    expect(res.status).toBe(300);
    const v3 = res.body.versions.values.find((v: { id: string }) => v.id.startsWith('v3'));
    expect(v3).toMatchObject({
      id: 'v3.14',
      status: 'stable',
      links: [{ rel: 'self', href: `${target.authUrl}/` }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
    });
    const version = await call('GET', target.authUrl);
    expect(version.status).toBe(200);
    expect(version.body.version.id).toBe('v3.14');
  });

  it('issues a project-scoped token for a password, by names', async () => {
    const res = await call('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.demo) });
    expect(res.status).toBe(201);
    expect(header(res, 'x-subject-token')).toMatch(/^gAAAAA[\w-]{100,}$/);
    expect(header(res, 'x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
    const token = res.body.token;
    expect(Object.keys(token).sort()).toEqual(
      ['audit_ids', 'catalog', 'expires_at', 'is_domain', 'issued_at', 'methods', 'project', 'roles', 'user'].sort(),
    );
    expect(token.methods).toEqual(['password']);
    expect(token.user).toEqual({ domain: { id: 'default', name: 'Default' }, id: expect.stringMatching(/^[0-9a-f]{32}$/), name: 'demo', password_expires_at: null });
    expect(token.project).toEqual({ domain: { id: 'default', name: 'Default' }, id: expect.stringMatching(/^[0-9a-f]{32}$/), name: 'demo' });
    expect(token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader']);
    expect(token.issued_at).toMatch(keystoneTime);
    expect(token.expires_at).toMatch(keystoneTime);
    expect(Date.parse(token.expires_at) - Date.parse(token.issued_at)).toBe(3600_000);
    expect(token.audit_ids).toEqual([expect.stringMatching(/^[\w-]{22}$/)]);
    expect(token.is_domain).toBe(false);
  });

  it('accepts user and project ids, and leaves the catalog out on ?nocatalog', async () => {
    const first = await login(target, target.demo);
    const res = await call('POST', `${target.authUrl}/auth/tokens?nocatalog`, {
      json: passwordAuth(target.demo, { userId: first.userId, projectId: first.projectId }),
    });
    expect(res.status).toBe(201);
    expect(res.body.token.catalog).toBeUndefined();
    expect(res.body.token.project.id).toBe(first.projectId);
  });

  it('answers a wrong password with 401 and the WWW-Authenticate of the v3 endpoint', async () => {
    const res = await call('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth({ ...target.demo, password: 'wrong' }) });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(unauthorized);
    expect(header(res, 'www-authenticate')).toBe(`Keystone uri="${target.authUrl}"`);
  });

  it('answers a body without identity with 400', async () => {
    const res = await call('POST', `${target.authUrl}/auth/tokens`, { json: { auth: {} } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 400, title: 'Bad Request', message: expect.stringMatching(/^'identity' is a required property/) });
  });
});

describe('other v3 methods', () => {
  const appCredAuth = (credential: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    auth: { identity: { methods: ['application_credential'], application_credential: credential }, ...extra },
  });

  it('scopes a password request without a scope to the user\'s default project', async () => {
    const res = await call('POST', `${target.authUrl}/auth/tokens`, {
      json: { auth: { identity: passwordAuth(target.demo).auth.identity } },
    });
    expect(res.status).toBe(201);
    expect(res.body.token.project.name).toBe('demo');
  });

  it('exchanges a token for a new one: methods and audit ids chained, expiry kept', async () => {
    const first = await call('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.demo) });
    const scope = { project: { name: target.demo.project, domain: { name: 'Default' } } };
    const res = await call('POST', `${target.authUrl}/auth/tokens`, {
      json: { auth: { identity: { methods: ['token'], token: { id: header(first, 'x-subject-token') } }, scope } },
    });
    expect(res.status).toBe(201);
    // Keystone keeps a token's methods as a set: the real one answered ['token', 'password'] in one
    // run and ['password', 'token'] in another.
    expect([...res.body.token.methods].sort()).toEqual(['password', 'token']);
    expect(res.body.token.audit_ids).toEqual([expect.any(String), first.body.token.audit_ids[0]]);
    expect(res.body.token.expires_at).toBe(first.body.token.expires_at);
    const unknown = await call('POST', `${target.authUrl}/auth/tokens`, {
      json: { auth: { identity: { methods: ['token'], token: { id: 'gAAAAABnot-a-token' } }, scope } },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 404, title: 'Not Found', message: 'Could not recognize Fernet token' } });
  });

  it('creates an application credential and authenticates with it by id and by name', async () => {
    const session = await login(target, target.demo);
    const base = `${target.authUrl}/users/${session.userId}/application_credentials`;
    const name = `conformance-${Date.now().toString(36)}`;
    const created = await call('POST', base, { token: session.token, json: { application_credential: { name, secret: 'conformance-secret' } } });
    expect(created.status).toBe(201);
    const credential = created.body.application_credential;
    try {
      expect(credential).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f]{32}$/),
        name,
        description: null,
        user_id: session.userId,
        project_id: session.projectId,
        system: null,
        expires_at: null,
        unrestricted: null,
        secret: 'conformance-secret',
        links: { self: `${target.authUrl}/application_credentials/${credential.id}` },
      });
      expect(credential.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader']);

      const byId = await call('POST', `${target.authUrl}/auth/tokens`, { json: appCredAuth({ id: credential.id, secret: 'conformance-secret' }) });
      expect(byId.status).toBe(201);
      expect(byId.body.token.methods).toEqual(['application_credential']);
      expect(byId.body.token.application_credential).toEqual({ id: credential.id, name, restricted: true });
      expect(byId.body.token.project.id).toBe(session.projectId);
      expect(byId.body.token.catalog.length).toBeGreaterThan(0);

      const byName = await call('POST', `${target.authUrl}/auth/tokens`, {
        json: appCredAuth({ name, secret: 'conformance-secret', user: { name: target.demo.username, domain: { name: 'Default' } } }),
      });
      expect(byName.status).toBe(201);

      const wrong = await call('POST', `${target.authUrl}/auth/tokens`, { json: appCredAuth({ id: credential.id, secret: 'nope' }) });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual(unauthorized);
      const scoped = await call('POST', `${target.authUrl}/auth/tokens`, {
        json: appCredAuth({ id: credential.id, secret: 'conformance-secret' }, { scope: { project: { id: session.projectId } } }),
      });
      expect(scoped.status).toBe(401);
      expect(scoped.body.error.message).toBe('Error authenticating with application credential: Application credentials cannot request a scope.');
      const nameless = await call('POST', `${target.authUrl}/auth/tokens`, { json: appCredAuth({ secret: 'conformance-secret' }) });
      expect(nameless.status).toBe(400);
      expect(nameless.body.error.message).toMatch(/^Expecting to find name or ID in application credential\./);
    } finally {
      expect((await call('DELETE', `${base}/${credential.id}`, { token: session.token })).status).toBe(204);
    }
    const gone = await call('POST', `${target.authUrl}/auth/tokens`, { json: appCredAuth({ id: credential.id, secret: 'conformance-secret' }) });
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toBe(`Could not find Application Credential: ${credential.id}.`);
  });
});

describe('identity v2.0', () => {
  // Zed's Keystone has no v2.0 (removed in Queens): both targets must say so the same way, so a
  // user whose clouds.yaml still names /v2.0 gets the same answer from the simulator.
  it('is not in the version list, and its paths answer 404', async () => {
    const versions = await call('GET', `${target.identityRoot}/`);
    expect(versions.body.versions.values.map((v: { id: string }) => v.id)).not.toContain('v2.0');
    const root = await call('GET', `${target.identityRoot}/v2.0`);
    expect(root.status).toBe(404);
    const tokens = await call('POST', `${target.identityRoot}/v2.0/tokens`, {
      json: { auth: { passwordCredentials: { username: 'demo', password: 'demo' }, tenantName: 'demo' } },
    });
    expect(tokens.status).toBe(404);
    expect(header(tokens, 'content-type')).toBe('text/html; charset=utf-8');
    expect(tokens.text).toContain('<title>404 Not Found</title>');
  });
});

describe('catalog', () => {
  it('has identity, compute and image with public, internal and admin endpoints in the region', async () => {
    const res = await call('POST', `${target.authUrl}/auth/tokens`, { json: passwordAuth(target.demo) });
    const catalog: { type: string; name: string; id: string; endpoints: Record<string, unknown>[] }[] = res.body.token.catalog;
    for (const type of ['identity', 'compute', 'image']) {
      const service = catalog.find((s) => s.type === type);
      expect(service, type).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{32}$/), name: expect.any(String) });
      expect(service?.endpoints.map((e) => e.interface).sort()).toEqual(['admin', 'internal', 'public']);
      for (const endpoint of service?.endpoints ?? []) {
        expect(Object.keys(endpoint).sort()).toEqual(['id', 'interface', 'region', 'region_id', 'url']);
        expect(endpoint).toMatchObject({ region: 'RegionOne', region_id: 'RegionOne' });
      }
    }
    // The test cloud has neither Cinder nor Neutron in its catalog: volume mappings fail on boot.
    expect(catalog.map((s) => s.type)).not.toContain('volumev3');
    expect(catalog.map((s) => s.type)).not.toContain('network');
    expect(endpointOf(catalog, 'identity', target.region)).toBe(target.authUrl);
    expect(endpointOf(catalog, 'compute', target.region)).toMatch(/\/v2\.1$/);
  });

  it('lists endpoints that answer', async () => {
    const session = await login(target, target.demo);
    expect((await call('GET', `${session.compute}/`)).status).toBe(200);
    expect((await call('GET', `${session.image}/`)).status).toBe(300);
    expect((await call('GET', `${session.image}/v2/images`, { token: session.token })).status).toBe(200);
  });
});
