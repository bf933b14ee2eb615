// Nova, Glance, Cinder and Neutron calls beyond the basics, against local servers that answer
// with the bodies of the services' API references.
import { afterEach, describe, expect, it } from 'vitest';
import { asBase64, serversThatFit, type ComputeLimits } from '../src/openstack/index.js';
import { client, credentials, FakeCloud, openStackError, runCleanups, server } from './support/fakeOpenStack.js';

afterEach(runCleanups);

const novaError = (status: number, key: string, message: string) => ({ status, body: { [key]: { code: status, message } } });

describe('compute: creating servers', () => {
  it('sends every create field the way Nova reads it', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 202, body: { server: { id: 'new-1', links: [], 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'ci' }] } } });
    const created = await client(credentials(cloud), { microversion: '2.52' }).compute.createServer(
      {
        name: 'olw-bot2-1',
        flavorRef: 'tiny',
        imageRef: 'img-1',
        networks: [{ uuid: 'net-1', fixed_ip: '10.0.0.5' }, { port: 'port-1' }],
        metadata: { 'latent-worker:workflow-id': 'latent-worker:bot2' },
        tags: ['latent-worker'],
        block_device_mapping_v2: [{ boot_index: 0, uuid: 'img-1', source_type: 'image', destination_type: 'volume', volume_size: 20, delete_on_termination: true }],
        availability_zone: 'nova',
        security_groups: [{ name: 'ci' }],
        config_drive: true,
        key_name: 'ops',
        user_data: '#!/bin/sh\necho hello\n',
      },
      { schedulerHints: { group: 'sg-1' } },
    );
    expect(created).toEqual({ id: 'new-1' });
    const [request] = cloud.serviceRequests('/compute');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      server: {
        name: 'olw-bot2-1',
        flavorRef: 'tiny',
        imageRef: 'img-1',
        networks: [{ uuid: 'net-1', fixed_ip: '10.0.0.5' }, { port: 'port-1' }],
        metadata: { 'latent-worker:workflow-id': 'latent-worker:bot2' },
        tags: ['latent-worker'],
        block_device_mapping_v2: [{ boot_index: 0, uuid: 'img-1', source_type: 'image', destination_type: 'volume', volume_size: 20, delete_on_termination: true }],
        availability_zone: 'nova',
        security_groups: [{ name: 'ci' }],
        config_drive: true,
        key_name: 'ops',
        user_data: 'IyEvYmluL3NoCmVjaG8gaGVsbG8K',
      },
      'os:scheduler_hints': { group: 'sg-1' },
    });
  });

  it.each([
    ['a script', '#!/bin/sh\necho hi', 'IyEvYmluL3NoCmVjaG8gaGk='],
    ['a cloud-config with unicode', '#cloud-config\nhostname: bøt', 'I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogYsO4dA=='],
    ['text that is base64 already', 'IyEvYmluL3NoCmVjaG8gaGk=', 'IyEvYmluL3NoCmVjaG8gaGk='],
    ['base64 without padding, which is not valid', 'abc', 'YWJj'],
  ])('encodes user_data that is not base64: %s', (_what, input, sent) => {
    expect(asBase64(input)).toBe(sent);
  });

  it('refuses tags below microversion 2.52 before sending anything', async () => {
    const cloud = await FakeCloud.start();
    for (const microversion of [undefined, '2.51']) {
      const error = await openStackError(client(credentials(cloud), { microversion }).compute.createServer({ name: 'a', flavorRef: 'f', tags: ['x'] }));
      expect(error).toMatchObject({ kind: 'unsupportedVersion', service: 'compute', operation: 'createServer', retryable: false });
      expect(error.message).toContain(`server tags at create need compute microversion 2.52 or later, and this client sends ${microversion ?? 'none (the base API 2.1)'}`);
    }
    expect(cloud.serviceRequests('/compute')).toHaveLength(0);
  });

  it.each([
    ['a bad request', novaError(400, 'badRequest', 'Invalid key_name provided.'), { kind: 'badRequest', retryable: false, cloudMessage: 'Invalid key_name provided.' }],
    ['an unknown network', novaError(404, 'itemNotFound', 'Network net-x could not be found.'), { kind: 'notFound', retryable: false, cloudMessage: 'Network net-x could not be found.' }],
    ['exhausted quota (403)', novaError(403, 'forbidden', 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances'), { kind: 'quotaExceeded', retryable: false }],
    ['exhausted quota (413)', novaError(413, 'overLimit', 'Quota exceeded for cores: Requested 4, but already used 20 of 20 cores'), { kind: 'quotaExceeded', retryable: false }],
    ['rate limiting with Retry-After', { ...novaError(429, 'overLimit', 'slow down'), headers: { 'retry-after': '12' } }, { kind: 'rateLimited', retryable: true, retryAfterMs: 12_000 }],
    ['a 503 with Retry-After', { status: 503, headers: { 'retry-after': '3' }, body: 'maintenance' }, { kind: 'server', retryable: true, retryAfterMs: 3_000 }],
    ['an unsupported microversion (406)', novaError(406, 'computeFault', 'Version 2.99 is not supported by the API. Minimum is 2.1 and maximum is 2.93.'), { kind: 'unsupportedVersion', retryable: false }],
  ])('types a create refused with %s', async (_what, reply, expected) => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => reply;
    const error = await openStackError(client(credentials(cloud)).compute.createServer({ name: 'a', flavorRef: 'f' }));
    expect(error).toMatchObject({ service: 'compute', operation: 'createServer', status: reply.status, ...expected });
  });
});

describe('compute: reading servers', () => {
  it('returns the fault of a server in ERROR', async () => {
    const cloud = await FakeCloud.start();
    const fault = { code: 500, created: '2026-11-27T22:35:15Z', message: 'No valid host was found. There are not enough hosts available.' };
    cloud.compute = () => ({ status: 200, body: { server: server('s-1', { status: 'ERROR', fault }) } });
    expect((await client(credentials(cloud)).compute.getServer('s-1'))?.fault).toEqual(fault);
  });

  it('refuses tag filters below microversion 2.26, where Nova would list every server', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 200, body: { servers: [] } });
    const error = await openStackError(client(credentials(cloud), { microversion: '2.25' }).compute.listServers({ tagsAny: ['a'] }));
    expect(error).toMatchObject({ kind: 'unsupportedVersion', operation: 'listServers' });
    await client(credentials(cloud), { microversion: 'latest' }).compute.listServers({ tags: ['a'] });
    expect(cloud.serviceRequests('/compute').map((req) => req.query.get('tags'))).toEqual(['a']);
  });

  it('reads the console log tail through the server action', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = (req) =>
      req.path.endsWith('/servers/s-1/action')
        ? { status: 200, body: { output: 'cloud-init: done\nbuildbot-worker: connected\n' } }
        : novaError(409, 'conflictingRequest', 'Instance s-2 is not ready');
    const compute = client(credentials(cloud)).compute;
    expect(await compute.getConsoleOutput('s-1', { length: 50 })).toBe('cloud-init: done\nbuildbot-worker: connected\n');
    await compute.getConsoleOutput('s-1');
    const bodies = cloud.serviceRequests('/compute').map((req) => [req.method, JSON.parse(req.body) as unknown]);
    expect(bodies).toEqual([
      ['POST', { 'os-getConsoleOutput': { length: 50 } }],
      ['POST', { 'os-getConsoleOutput': {} }],
    ]);
    expect(await openStackError(compute.getConsoleOutput('s-2'))).toMatchObject({ kind: 'conflict', operation: 'getConsoleOutput', retryable: false });
  });

  it('looks private flavors up by name with is_public=None', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = (req) =>
      req.path.endsWith('/flavors/detail')
        ? { status: 200, body: { flavors: [{ id: 'f-9', name: 'ci.private', vcpus: 2, ram: 2048, disk: 20, swap: 0, 'os-flavor-access:is_public': false }] } }
        : novaError(404, 'itemNotFound', 'Flavor ci.private could not be found.');
    expect((await client(credentials(cloud)).compute.getFlavor('ci.private')).id).toBe('f-9');
    expect(cloud.serviceRequests('/compute').at(-1)?.query.get('is_public')).toBe('None');
  });
});

describe('compute: limits and microversions', () => {
  const limits: ComputeLimits = {
    absolute: { maxTotalInstances: 10, totalInstancesUsed: 7, maxTotalCores: 20, totalCoresUsed: 16, maxTotalRAMSize: 51200, totalRAMUsed: 2048 },
  };

  it('reads the absolute limits and usage', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = (req) =>
      req.path === '/compute/v2.1/limits'
        ? { status: 200, body: { limits: { absolute: { ...limits.absolute, maxServerMeta: 128, maxTotalKeypairs: 100, maxServerGroups: 10, totalServerGroupsUsed: 0 }, rate: [] } } }
        : { status: 404 };
    expect(await client(credentials(cloud)).compute.getLimits()).toEqual({
      absolute: { ...limits.absolute, maxServerMeta: 128, maxTotalKeypairs: 100, maxServerGroups: 10, totalServerGroupsUsed: 0 },
    });
  });

  it.each<[string, { vcpus: number; ram: number } | undefined, number, Partial<ComputeLimits['absolute']>?]>([
    ['instances only', undefined, 3],
    ['a 2-vCPU flavor (cores bind)', { vcpus: 2, ram: 1024 }, 2],
    ['a RAM-heavy flavor', { vcpus: 1, ram: 20480 }, 2],
    ['an unlimited quota', { vcpus: 64, ram: 1 }, Infinity, { maxTotalInstances: -1, maxTotalCores: -1, maxTotalRAMSize: -1 }],
    ['an overdrawn quota', { vcpus: 1, ram: 1 }, 0, { totalInstancesUsed: 12 }],
  ])('counts the servers that still fit: %s', (_what, flavor, expected, overrides = {}) => {
    expect(serversThatFit({ absolute: { ...limits.absolute, ...overrides } }, flavor)).toBe(expected);
  });

  const versionDocument = { version: { id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1', updated: '2013-07-23T11:33:21Z', links: [] } };

  it.each([
    [undefined, '2.1'],
    ['2.52', '2.52'],
    ['latest', '2.93'],
  ])('negotiates %s to %s, asking the cloud once and without a version header', async (microversion, effective) => {
    const cloud = await FakeCloud.start();
    // Nova negotiates on its version document too: a header it cannot serve gets a 406 there.
    cloud.compute = (req) => (req.headers['openstack-api-version'] ? { status: 406 } : { status: 200, body: versionDocument });
    const compute = client(credentials(cloud), { microversion }).compute;
    expect(await compute.negotiateMicroversion()).toEqual({ requested: microversion, effective, minVersion: '2.1', maxVersion: '2.93' });
    await compute.negotiateMicroversion();
    expect(cloud.serviceRequests('/compute')).toHaveLength(1);
  });

  it("fails clearly when the cloud's maximum is lower than the client_version", async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = (req) => (req.headers['openstack-api-version'] ? { status: 406 } : { status: 200, body: versionDocument });
    const error = await openStackError(client(credentials(cloud), { clientVersion: '2.95' }).compute.negotiateMicroversion());
    expect(error).toMatchObject({ kind: 'unsupportedVersion', service: 'compute', operation: 'negotiateMicroversion', retryable: false });
    expect(error.message).toBe(
      'compute negotiateMicroversion failed: compute microversion 2.95 is not offered by this cloud, which serves 2.1 to 2.93; set client_version to one in that range',
    );
  });

  it('refuses any microversion on a legacy compute API without them', async () => {
    const cloud = await FakeCloud.start();
    cloud.compute = () => ({ status: 200, body: { version: { id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '' } } });
    expect(await client(credentials(cloud)).compute.negotiateMicroversion()).toMatchObject({ effective: '2.0' });
    expect(await openStackError(client(credentials(cloud), { microversion: '2.3' }).compute.negotiateMicroversion())).toMatchObject({ kind: 'unsupportedVersion' });
  });
});

describe('image filters', () => {
  it('sends name, status, visibility, tags, custom properties and sort as Glance reads them', async () => {
    const cloud = await FakeCloud.start();
    cloud.image = () => ({ status: 200, body: { images: [], first: '/v2/images', schema: '/v2/schemas/images' } });
    await client(credentials(cloud)).image.listImages({
      name: 'debian-12',
      status: 'active',
      visibility: 'all',
      tags: ['ci', 'latest'],
      properties: { os_distro: 'debian', hw_architecture: 'x86_64' },
      sort: 'created_at:desc',
    });
    const query = cloud.serviceRequests('/image')[0]?.query;
    expect(query && [...query.entries()]).toEqual([
      ['os_distro', 'debian'],
      ['hw_architecture', 'x86_64'],
      ['name', 'debian-12'],
      ['status', 'active'],
      ['visibility', 'all'],
      ['tag', 'ci'],
      ['tag', 'latest'],
      ['sort', 'created_at:desc'],
    ]);
  });

  it("refuses a property filter that would replace one of Glance's own", async () => {
    const cloud = await FakeCloud.start();
    await expect(client(credentials(cloud)).image.listImages({ properties: { status: 'x' } })).rejects.toThrow(
      "image property filter 'status' collides with Glance's own 'status' filter",
    );
  });
});

describe('block storage', () => {
  const volume = {
    attachments: [],
    availability_zone: 'nova',
    bootable: 'true',
    id: 'v-1',
    links: [],
    metadata: {},
    multiattach: false,
    name: 'vol-003',
    size: 10,
    snapshot_id: null,
    source_volid: null,
    status: 'available',
    volume_type: '__DEFAULT__',
    created_at: '2026-11-27T22:00:00.000000',
    updated_at: null,
  };
  const snapshot = {
    status: 'available',
    'os-extended-snapshot-attributes:progress': '100%',
    description: 'Daily backup',
    created_at: '2013-02-25T04:13:17.000000',
    metadata: {},
    volume_id: 'v-1',
    'os-extended-snapshot-attributes:project_id': 'p-1',
    size: 25,
    id: 'snap-1',
    name: 'snap-001',
    updated_at: null,
  };

  function cinder(cloud: FakeCloud): void {
    cloud.volume = (req) => {
      if (req.path.endsWith('/volumes/v-1')) return { status: 200, body: { volume } };
      if (req.path.endsWith('/snapshots/snap-1')) return { status: 200, body: { snapshot } };
      return novaError(404, 'itemNotFound', 'Volume could not be found.');
    };
  }

  it('reads volume and snapshot sizes in GiB, and undefined for unknown ones', async () => {
    const cloud = await FakeCloud.start();
    cinder(cloud);
    const storage = client(credentials(cloud)).blockStorage;
    expect(await storage.getVolume('v-1')).toMatchObject({ id: 'v-1', size: 10, bootable: 'true', status: 'available' });
    expect(await storage.getSnapshot('snap-1')).toMatchObject({ id: 'snap-1', size: 25, volume_id: 'v-1' });
    expect(await storage.getVolume('v-2')).toBeUndefined();
    expect(cloud.serviceRequests('/volume').map((req) => req.path)).toEqual([
      '/volume/v3/p-1/volumes/v-1',
      '/volume/v3/p-1/snapshots/snap-1',
      '/volume/v3/p-1/volumes/v-2',
    ]);
  });

  it.each([
    ['unversioned', '/volume'],
    ['v3 without a project id', '/volume/v3'],
    ['v2 with the project id', '/volume/v2/p-1'],
  ])('reaches v3 with the project id from a catalog URL that is %s', async (_what, path) => {
    const cloud = await FakeCloud.start();
    cinder(cloud);
    cloud.volumeEndpoint = `${cloud.url}${path}`;
    await client(credentials(cloud)).blockStorage.getVolume('v-1');
    expect(cloud.serviceRequests('/volume')[0]?.path).toBe('/volume/v3/p-1/volumes/v-1');
  });
});

describe('network', () => {
  const network = (id: string, name: string) => ({
    admin_state_up: true,
    id,
    name,
    project_id: 'p-1',
    tenant_id: 'p-1',
    shared: false,
    status: 'ACTIVE',
    subnets: [],
    'router:external': false,
    mtu: 1450,
  });

  it('finds exactly one network by name', async () => {
    const cloud = await FakeCloud.start();
    cloud.network = (req) => {
      const name = req.query.get('name');
      const all = [network('n-1', 'ci-net'), network('n-2', 'dup'), network('n-3', 'dup')];
      return { status: 200, body: { networks: all.filter((n) => n.name === name) } };
    };
    const neutron = client(credentials(cloud)).network;
    expect(await neutron.findNetworkByName('ci-net')).toMatchObject({ id: 'n-1', name: 'ci-net' });
    expect(cloud.serviceRequests('/network')[0]?.path).toBe('/network/v2.0/networks');

    const none = await openStackError(neutron.findNetworkByName('nope'));
    expect(none).toMatchObject({ kind: 'notFound', service: 'network', retryable: false });
    expect(none.message).toBe("network findNetworkByName failed: no network visible to this project is named 'nope'");
    const ambiguous = await openStackError(neutron.findNetworkByName('dup'));
    expect(ambiguous.kind).toBe('ambiguous');
    expect(ambiguous.message).toBe("network findNetworkByName failed: 2 networks are named 'dup' (ids n-2, n-3); use a network id");
  });

  it('checks the name itself when a proxy ignores the filter', async () => {
    const cloud = await FakeCloud.start();
    cloud.network = () => ({ status: 200, body: { networks: [network('n-1', 'other'), network('n-2', 'ci-net')] } });
    expect((await client(credentials(cloud)).network.findNetworkByName('ci-net')).id).toBe('n-2');
  });
});
