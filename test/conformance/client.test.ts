import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOpenStackError, OpenStackClient, type PasswordCredentials } from '../../src/openstack/index.js';
import { call, login, uniqueName, until } from './support/http.js';
import { openTarget, type Account, type Target } from './support/target.js';

// The project's own client through a whole worker lifecycle, against either target: what the
// activities will do, minus Temporal.

let target: Target;
let client: OpenStackClient;
const created: string[] = [];

const credentials = (account: Account, authUrl: string): PasswordCredentials => ({
  authUrl,
  username: account.username,
  password: account.password,
  projectName: account.project,
  userDomainName: 'Default',
  projectDomainName: 'Default',
  regionName: target.region,
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  target = await openTarget();
  client = new OpenStackClient(credentials(target.demo, target.authUrl), { microversion: '2.52', timeoutMs: 20_000 });
});

afterAll(async () => {
  await Promise.all(created.map((id) => client.compute.deleteServer(id).catch(() => undefined)));
  await client?.close();
  await target?.close();
});

describe('the OpenStack client', () => {
  it('authenticates with v3, both with the versioned and the unversioned auth URL', async () => {
    const session = await client.authenticate();
    expect(session.identityVersion).toBe('v3');
    expect(session.expiresAt.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    const discovering = new OpenStackClient(credentials(target.demo, target.identityRoot), { timeoutMs: 20_000 });
    try {
      expect((await discovering.authenticate()).projectId).toBe(session.projectId);
    } finally {
      await discovering.close();
    }
  });

  it('authenticates with an application credential and with an existing token', async () => {
    const session = await login(target, target.demo);
    const base = `${target.authUrl}/users/${session.userId}/application_credentials`;
    const created = await call('POST', base, {
      token: session.token,
      json: { application_credential: { name: uniqueName('appcred'), secret: 'client-secret' } },
    });
    const id: string = created.body.application_credential.id;
    const connection = { authUrl: target.authUrl, regionName: target.region };
    const viaAppCred = new OpenStackClient(
      { ...connection, authType: 'v3applicationcredential', applicationCredentialId: id, applicationCredentialSecret: 'client-secret' },
      { timeoutMs: 20_000 },
    );
    const viaToken = new OpenStackClient(
      { ...connection, authType: 'v3token', token: session.token, projectName: target.demo.project, projectDomainName: 'Default' },
      { timeoutMs: 20_000 },
    );
    try {
      expect((await viaAppCred.authenticate()).projectId).toBe(session.projectId);
      expect(await viaAppCred.compute.getFlavor(target.flavor)).toMatchObject({ id: 'tiny' });
      expect((await viaToken.authenticate()).projectId).toBe(session.projectId);
    } finally {
      await viaAppCred.close();
      await viaToken.close();
      await call('DELETE', `${base}/${id}`, { token: session.token });
    }
  });

  it('reports a wrong password as an auth error, naming no secret', async () => {
    const wrong = new OpenStackClient({ ...credentials(target.demo, target.authUrl), password: 'not-the-password' }, { timeoutMs: 20_000 });
    try {
      const error = await failure(wrong.authenticate());
      expect(isOpenStackError(error, 'auth')).toBe(true);
      expect(String(error)).not.toContain('not-the-password');
    } finally {
      await wrong.close();
    }
  });

  it('reads the microversion range, finds the flavor by name and the image by name', async () => {
    expect(await client.compute.versionInfo()).toEqual({ id: 'v2.1', status: 'CURRENT', minVersion: '2.1', maxVersion: '2.93' });
    expect(await client.compute.getFlavor(target.flavor)).toMatchObject({ id: 'tiny', name: 'tiny', vcpus: 1, ram: 64, disk: 1 });
    const [image, ...others] = await client.image.findImagesByName(target.image);
    expect(others).toEqual([]);
    expect(image).toMatchObject({ name: 'tiny', status: 'active' });
    expect((await client.image.getImage(image?.id ?? ''))?.id).toBe(image?.id);
    expect((await client.compute.getLimits()).absolute).toMatchObject({ totalInstancesUsed: expect.any(Number) });
  });

  it('creates a tagged server, waits for ACTIVE, finds it by tag and name, and deletes it until gone', async () => {
    const [image] = await client.image.findImagesByName(target.image);
    const name = uniqueName('client');
    const tag = name.slice(-12);
    const { id } = await client.compute.createServer({
      name,
      flavorRef: target.flavor,
      imageRef: image?.id,
      networks: 'none',
      metadata: { 'buildbot:worker': 'conformance' },
      tags: [tag],
      block_device_mapping_v2: [{ boot_index: 0, uuid: image?.id, source_type: 'image', destination_type: 'local', delete_on_termination: true }],
    });
    created.push(id);
    const active = await until(() => client.compute.getServer(id), (s) => s?.status !== 'BUILD', 60_000);
    expect(active).toMatchObject({ id, name, status: 'ACTIVE', metadata: { 'buildbot:worker': 'conformance' }, tags: [tag] });
    expect((await client.compute.listServers({ tags: [tag] })).map((s) => s.id)).toEqual([id]);
    expect((await client.compute.listServers({ name: `^${name}$` })).map((s) => s.id)).toEqual([id]);
    expect(await client.compute.deleteServer(id)).toBe('deleted');
    expect(await until(() => client.compute.getServer(id), (s) => s === undefined, 60_000)).toBeUndefined();
    expect(await client.compute.deleteServer(id)).toBe('already-gone');
  });

  it('turns bad creates into typed, non-retryable errors that keep Nova\'s message', async () => {
    const error = await failure(client.compute.createServer({ name: uniqueName('bad'), flavorRef: 'no-such-flavor', imageRef: '11111111-2222-3333-4444-555555555555', networks: 'none' }));
    expect(isOpenStackError(error, 'badRequest')).toBe(true);
    expect(error).toMatchObject({ status: 400, retryable: false, cloudMessage: 'Flavor no-such-flavor could not be found.' });
  });

  it('refuses a microversion the cloud does not serve, before any server call', async () => {
    const tooNew = new OpenStackClient(credentials(target.demo, target.authUrl), { microversion: '2.99', timeoutMs: 20_000 });
    try {
      const error = await failure(tooNew.compute.negotiateMicroversion());
      expect(isOpenStackError(error, 'unsupportedVersion')).toBe(true);
      // Nova negotiates the header on the version document too: the refusal may be its own 406.
      expect(String(error)).toMatch(/2\.1\b.*\b2\.93\b/);
    } finally {
      await tooNew.close();
    }
  });
});
