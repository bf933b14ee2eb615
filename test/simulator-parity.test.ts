import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenStackClient } from '../src/openstack/index.js';
import { defaultNetworks, projectIds, startSimulator, type Simulator } from '../src/simulator/index.js';

// What the simulator serves beyond the real test cloud, so that every client feature has a
// backend: application credentials, token rescoping, Cinder volumes and snapshots, Neutron.

const volume = { id: '0c8d7e2a-1f3b-4c5d-8e9f-0a1b2c3d4e5f', name: 'data', size: 20, bootable: true, projectId: projectIds.demo };
const othersVolume = { id: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a', name: 'not-yours', size: 5 };
const snapshot = { id: '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9', name: 'nightly', size: 20, volumeId: volume.id, projectId: projectIds.demo };
const tinyImage = '31c4ec89-adc0-4dde-928d-b5f5552e4901';

let sim: Simulator;

interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
  headers: Record<string, string | string[] | undefined>;
}

async function call(method: 'GET' | 'POST' | 'DELETE', path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers['x-auth-token'] = opts.token;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(`${sim.url}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

const passwordBody = (user: string, scope?: unknown) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password: user } } },
    ...(scope === undefined ? {} : { scope }),
  },
});

async function login(user: string): Promise<{ token: string; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
  const res = await call('POST', '/identity/v3/auth/tokens', { body: passwordBody(user, { project: { name: user, domain: { name: 'Default' } } }) });
  return { token: String(res.headers['x-subject-token']), body: res.body };
}

beforeAll(async () => {
  sim = await startSimulator({
    bootDelayMs: 100,
    network: true,
    volumes: [volume, othersVolume],
    snapshots: [snapshot],
    users: [
      { name: 'admin', password: 'admin', project: 'admin', projectId: projectIds.admin, roles: ['admin', 'member', 'reader'] },
      { name: 'demo', password: 'demo', project: 'demo', projectId: projectIds.demo, applicationCredentials: [{ id: 'ac0000000000000000000000000000a1', name: 'ci', secret: 'seeded' }] },
    ],
  });
});

afterAll(async () => {
  await sim.close();
});

describe('Keystone application credentials', () => {
  it('authenticates with a seeded credential, scoped to its project', async () => {
    const res = await call('POST', '/identity/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac0000000000000000000000000000a1', secret: 'seeded' } } } },
    });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatchObject({
      methods: ['application_credential'],
      project: { id: projectIds.demo },
      application_credential: { id: 'ac0000000000000000000000000000a1', name: 'ci', restricted: true },
    });
  });

  it('lets a user create, list, show and delete its own, and no one else\'s', async () => {
    const demo = await login('demo');
    const admin = await login('admin');
    const userId = demo.body.token.user.id;
    const base = `/identity/v3/users/${userId}/application_credentials`;
    const created = await call('POST', base, { token: demo.token, body: { application_credential: { name: 'worker' } } });
    expect(created.status).toBe(201);
    const { id, secret } = created.body.application_credential;
    expect(secret).toMatch(/^[\w-]{80,}$/);
    expect((await call('POST', base, { token: demo.token, body: { application_credential: { name: 'worker' } } })).status).toBe(409);
    expect((await call('POST', base, { token: admin.token, body: { application_credential: { name: 'x' } } })).status).toBe(403);
    const listed = await call('GET', `${base}?name=worker`, { token: demo.token });
    expect(listed.body.application_credentials.map((c: { id: string }) => c.id)).toEqual([id]);
    expect(listed.body.application_credentials[0].secret).toBeUndefined();
    expect((await call('GET', `${base}/${id}`, { token: demo.token })).body.application_credential.name).toBe('worker');
    expect((await call('DELETE', `${base}/${id}`, { token: demo.token })).status).toBe(204);
    expect((await call('GET', `${base}/${id}`, { token: demo.token })).status).toBe(404);
  });

  it('refuses an expired credential', async () => {
    const demo = await login('demo');
    const base = `/identity/v3/users/${demo.body.token.user.id}/application_credentials`;
    const past = new Date(Date.now() - 60_000).toISOString();
    const created = await call('POST', base, { token: demo.token, body: { application_credential: { name: 'old', secret: 's', expires_at: past } } });
    const res = await call('POST', '/identity/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['application_credential'], application_credential: { id: created.body.application_credential.id, secret: 's' } } } },
    });
    expect(res.status).toBe(401);
  });
});

describe('Cinder', () => {
  it('is in the catalog under both service types, and serves volumes and snapshots of the project', async () => {
    const demo = await login('demo');
    const types = demo.body.token.catalog.map((s: { type: string }) => s.type);
    expect(types).toEqual(expect.arrayContaining(['block-storage', 'volumev3', 'network']));
    const shown = await call('GET', `/volume/v3/${projectIds.demo}/volumes/${volume.id}`, { token: demo.token });
    expect(shown.body.volume).toMatchObject({ id: volume.id, name: 'data', size: 20, status: 'available', bootable: 'true' });
    expect((await call('GET', `/volume/v3/volumes/${volume.id}`, { token: demo.token })).status).toBe(200);
    const hidden = await call('GET', `/volume/v3/${projectIds.demo}/volumes/${othersVolume.id}`, { token: demo.token });
    expect(hidden).toMatchObject({ status: 404, body: { itemNotFound: { code: 404, message: `Volume ${othersVolume.id} could not be found.` } } });
    const snap = await call('GET', `/volume/v3/${projectIds.demo}/snapshots/${snapshot.id}`, { token: demo.token });
    expect(snap.body.snapshot).toMatchObject({ id: snapshot.id, size: 20, volume_id: volume.id, status: 'available' });
  });

  it('is read by the client to size boot volumes', async () => {
    const client = new OpenStackClient({ authUrl: sim.authUrlV3, username: 'demo', password: 'demo', projectName: 'demo' });
    try {
      expect(await client.blockStorage.getVolume(volume.id)).toMatchObject({ size: 20 });
      expect(await client.blockStorage.getSnapshot(snapshot.id)).toMatchObject({ size: 20, volume_id: volume.id });
      expect(await client.blockStorage.getVolume(othersVolume.id)).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('lets Nova boot from volumes, and refuses volumes it cannot see', async () => {
    const demo = await login('demo');
    const create = (bdm: Record<string, unknown>) =>
      call('POST', '/compute/v2.1/servers', {
        token: demo.token,
        headers: { 'openstack-api-version': 'compute latest' },
        body: { server: { name: 'vol', flavorRef: 'tiny', networks: 'none', block_device_mapping_v2: [{ boot_index: 0, ...bdm }] } },
      });
    const fromVolume = await create({ uuid: volume.id, source_type: 'volume', destination_type: 'volume' });
    expect(fromVolume.status).toBe(202);
    const fromImage = await create({ uuid: tinyImage, source_type: 'image', destination_type: 'volume', volume_size: 1 });
    expect(fromImage.status).toBe(202);
    const refused = await create({ uuid: othersVolume.id, source_type: 'volume', destination_type: 'volume' });
    expect(refused.body.badRequest.message).toBe(`Block Device Mapping is Invalid: failed to get volume ${othersVolume.id}.`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const statuses = sim.servers().filter((s) => s.name === 'vol').map((s) => s.status);
    expect(statuses).toEqual(['ACTIVE', 'ACTIVE']);
  });
});

describe('Neutron', () => {
  it('lists networks with filters, and the client finds one by name', async () => {
    const demo = await login('demo');
    const [network] = defaultNetworks;
    const listed = await call('GET', '/network/v2.0/networks?name=private', { token: demo.token });
    expect(listed.body.networks).toEqual([expect.objectContaining({ id: network?.id, name: 'private', status: 'ACTIVE', shared: true })]);
    expect((await call('GET', '/network/v2.0/networks?name=nope', { token: demo.token })).body.networks).toEqual([]);
    const missing = await call('GET', '/network/v2.0/networks/00000000-0000-4000-8000-000000000000', { token: demo.token });
    expect(missing.body).toEqual({ NeutronError: { type: 'NetworkNotFound', message: 'Network 00000000-0000-4000-8000-000000000000 could not be found.', detail: '' } });
    expect((await call('GET', '/network/v2.0/networks')).status).toBe(401);

    const client = new OpenStackClient({ authUrl: sim.authUrlV3, username: 'demo', password: 'demo', projectName: 'demo' });
    try {
      expect((await client.network.findNetworkByName('private')).id).toBe(network?.id);
    } finally {
      await client.close();
    }
  });
});
