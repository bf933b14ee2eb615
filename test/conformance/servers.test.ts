import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, header, login, microversion, uniqueName, until, type Login, type Reply } from './support/http.js';
import { openTarget, type Target } from './support/target.js';

let target: Target;
let demo: Login;
let imageId: string;
const created: { id: string; session: Login }[] = [];

const latest = microversion('latest');

beforeAll(async () => {
  target = await openTarget();
  demo = await login(target, target.demo);
  const images = await call('GET', `${demo.image}/v2/images?name=${target.image}`, { token: demo.token });
  imageId = images.body.images[0].id;
});

afterAll(async () => {
  // Whatever a failed scenario left behind: the real cloud must not fill up with test servers.
  await Promise.all(created.map(({ id, session }) => call('DELETE', `${session.compute}/servers/${id}`, { token: session.token })));
  await target?.close();
});

async function create(server: Record<string, unknown>, headers: Record<string, string> = latest, session = demo): Promise<Reply> {
  const res = await call('POST', `${session.compute}/servers`, { token: session.token, headers, json: { server } });
  if (res.status === 202) created.push({ id: res.body.server.id, session });
  return res;
}

const show = (id: string, session = demo) => call('GET', `${session.compute}/servers/${id}`, { token: session.token, headers: latest });

/** Bounded: the fake driver boots in about a second; a minute means something is wrong. */
const settled = (id: string, session = demo) =>
  until(() => show(id, session), (r) => r.status !== 200 || r.body.server.status !== 'BUILD', 60_000);

async function deleteUntilGone(id: string, session = demo): Promise<Reply> {
  const res = await call('DELETE', `${session.compute}/servers/${id}`, { token: session.token });
  expect(res.status).toBe(204);
  expect(res.text).toBe('');
  return until(() => show(id, session), (r) => r.status === 404, 60_000);
}

// Every key a project member sees on a server at 2.93 that has no ports.
const memberServerKeys = [
  'OS-DCF:diskConfig', 'OS-EXT-AZ:availability_zone', 'OS-EXT-SRV-ATTR:hostname', 'OS-EXT-STS:power_state',
  'OS-EXT-STS:task_state', 'OS-EXT-STS:vm_state', 'OS-SRV-USG:launched_at', 'OS-SRV-USG:terminated_at',
  'accessIPv4', 'accessIPv6', 'addresses', 'config_drive', 'created', 'description', 'flavor', 'hostId', 'id', 'image',
  'key_name', 'links', 'locked', 'locked_reason', 'metadata', 'name', 'os-extended-volumes:volumes_attached', 'progress',
  'server_groups', 'status', 'tags', 'tenant_id', 'trusted_image_certificates', 'updated', 'user_id',
];

describe('server lifecycle', () => {
  it('boots from an image-to-local mapping with metadata and tags, lists it by tag and name, and deletes it until 404', async () => {
    const name = uniqueName('bdm');
    const tag = name.slice(-12);
    const res = await create({
      name,
      imageRef: imageId,
      flavorRef: target.flavor,
      networks: 'none',
      metadata: { owner: 'conformance', 'buildbot:worker': 'bot-1' },
      tags: [tag, 'conformance'],
      block_device_mapping_v2: [
        { boot_index: 0, uuid: imageId, source_type: 'image', destination_type: 'local', delete_on_termination: true },
      ],
    });
    expect(res.status).toBe(202);
    const { server } = res.body;
    expect(Object.keys(server).sort()).toEqual(['OS-DCF:diskConfig', 'adminPass', 'id', 'links', 'security_groups']);
    expect(server.adminPass).toMatch(/^[a-zA-Z0-9]{12}$/);
    expect(server.security_groups).toEqual([{ name: 'default' }]);
    expect(server.links).toEqual([
      { rel: 'self', href: `${demo.compute}/servers/${server.id}` },
      { rel: 'bookmark', href: `${demo.compute.replace(/\/v2\.1$/, '')}/servers/${server.id}` },
    ]);
    expect(header(res, 'location')).toBe(`${demo.compute}/servers/${server.id}`);

    const active = await settled(server.id);
    const view = active.body.server;
    expect(view.status).toBe('ACTIVE');
    expect(Object.keys(view).sort()).toEqual(memberServerKeys);
    expect(view).toMatchObject({
      id: server.id,
      name,
      tenant_id: demo.projectId,
      user_id: demo.userId,
      metadata: { owner: 'conformance', 'buildbot:worker': 'bot-1' },
      image: { id: imageId },
      flavor: { vcpus: 1, ram: 64, disk: 1, ephemeral: 0, swap: 0, original_name: 'tiny', extra_specs: {} },
      addresses: {},
      'OS-EXT-STS:vm_state': 'active',
      'OS-EXT-STS:task_state': null,
      'OS-EXT-STS:power_state': 1,
      'OS-EXT-AZ:availability_zone': 'nova',
      progress: 0,
      locked: false,
      description: null,
    });
    expect([...view.tags].sort()).toEqual([tag, 'conformance'].sort());
    expect(view.hostId).toMatch(/^[0-9a-f]{56}$/);
    expect(view.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(view['OS-SRV-USG:launched_at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);

    const byTag = await call('GET', `${demo.compute}/servers?tags=${tag}`, { token: demo.token, headers: latest });
    expect(byTag.body.servers).toEqual([{ id: server.id, name, links: server.links }]);
    const byName = await call('GET', `${demo.compute}/servers/detail?name=${encodeURIComponent(`^${name}$`)}`, { token: demo.token, headers: latest });
    expect(byName.body.servers.map((s: { id: string }) => s.id)).toEqual([server.id]);

    const gone = await deleteUntilGone(server.id);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ itemNotFound: { code: 404, message: `Instance ${server.id} could not be found.` } });
    const again = await call('DELETE', `${demo.compute}/servers/${server.id}`, { token: demo.token });
    expect(again.status).toBe(404);
    const listed = await call('GET', `${demo.compute}/servers?tags=${tag}`, { token: demo.token, headers: latest });
    expect(listed.body.servers).toEqual([]);
  });

  it('fails a volume mapping on boot when the cloud has no Cinder: ERROR with the fault', async () => {
    const res = await create({
      name: uniqueName('volume'),
      flavorRef: target.flavor,
      networks: 'none',
      block_device_mapping_v2: [{ boot_index: 0, uuid: imageId, source_type: 'image', destination_type: 'volume', volume_size: 1 }],
    });
    expect(res.status).toBe(202);
    const id = res.body.server.id;
    const failed = await settled(id);
    expect(failed.body.server).toMatchObject({ status: 'ERROR', 'OS-EXT-STS:vm_state': 'error', image: '' });
    expect(failed.body.server.fault).toEqual({
      code: 500,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      message: `Build of instance ${id} aborted: publicURL endpoint for volumev3 service in RegionOne region not found`,
    });
    expect((await deleteUntilGone(id)).status).toBe(404);
  });

  it("lists a booted server as ACTIVE and a deleted one as DELETED with changes-since, on the API's own clock", async () => {
    // What the worker's shared status poller relies on (src/openstack/serverWatcher.ts), asked the
    // way it asks: the base API, changes-since in whole seconds taken from a list's Date header.
    const before = await call('GET', `${demo.compute}/servers/detail`, { token: demo.token });
    expect(before.status).toBe(200);
    const cloudNow = Date.parse(header(before, 'date') ?? '');
    expect(Number.isNaN(cloudNow)).toBe(false);
    const since = new Date(cloudNow - 2000).toISOString().replace(/\.\d+Z$/, 'Z');
    const changes = () => call('GET', `${demo.compute}/servers/detail?changes-since=${since}`, { token: demo.token });
    const entry = (reply: Reply, id: string) => (reply.body.servers as { id: string; status: string; updated: string }[]).find((s) => s.id === id);

    const res = await create({ name: uniqueName('changes'), imageRef: imageId, flavorRef: target.flavor, networks: 'none' });
    expect(res.status).toBe(202);
    const id = res.body.server.id;
    expect((await settled(id)).body.server.status).toBe('ACTIVE');
    const booted = await changes();
    expect(booted.status).toBe(200);
    expect(entry(booted, id)).toMatchObject({ status: 'ACTIVE' });
    expect(Date.parse(entry(booted, id)!.updated)).toBeGreaterThanOrEqual(Date.parse(since));

    expect((await deleteUntilGone(id)).status).toBe(404);
    const deleted = await changes();
    expect(entry(deleted, id)).toMatchObject({ status: 'DELETED' });
    // Without changes-since a deleted server is not listed at all.
    const plain = await call('GET', `${demo.compute}/servers/detail`, { token: demo.token });
    expect(entry(plain, id)).toBeUndefined();
  });

  it('boots without networks at 2.36, where the key is still optional', async () => {
    const res = await create({ name: uniqueName('nonet'), imageRef: imageId, flavorRef: target.flavor }, microversion('2.36'));
    expect(res.status).toBe(202);
    expect((await settled(res.body.server.id)).body.server.status).toBe('ACTIVE');
    expect((await deleteUntilGone(res.body.server.id)).status).toBe(404);
  });
});

describe('create errors', () => {
  const base = () => ({ name: uniqueName('bad'), imageRef: imageId, flavorRef: target.flavor, networks: 'none' });
  const badRequest = (message: string) => ({ badRequest: { code: 400, message } });

  it('names an unknown flavor', async () => {
    const res = await create({ ...base(), flavorRef: 'no-such-flavor' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Flavor no-such-flavor could not be found.'));
  });

  it('refuses an imageRef that is no UUID in the schema check', async () => {
    const res = await create({ ...base(), imageRef: 'not-a-uuid' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest("Invalid input for field/attribute imageRef. Value: not-a-uuid. 'not-a-uuid' is not valid under any of the given schemas"),
    );
  });

  it('cannot find an unknown image', async () => {
    const res = await create({ ...base(), imageRef: '11111111-2222-3333-4444-555555555555' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Can not find requested image'));
  });

  it('requires networks from 2.37, and "none" satisfies it', async () => {
    const res = await create({ ...base(), networks: undefined }, microversion('2.37'));
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toMatch(/^Invalid input for field\/attribute server\. Value: \{.*\}\. 'networks' is a required property$/);
    const none = await create(base(), microversion('2.37'));
    expect(none.status).toBe(202);
    expect((await deleteUntilGone(none.body.server.id)).status).toBe(404);
  });

  it('accepts tags only from 2.52, and checks each tag', async () => {
    const old = await create({ ...base(), tags: ['a'] }, microversion('2.51'));
    expect(old.status).toBe(400);
    expect(old.body.badRequest.message).toMatch(/Additional properties are not allowed \('tags' was unexpected\)$/);
    const slash = await create({ ...base(), tags: ['a/b'] });
    expect(slash.body).toEqual(badRequest("Invalid input for field/attribute 0. Value: a/b. 'a/b' does not match '^[^,/]*$'"));
  });

  it('cannot look up a volume without Cinder', async () => {
    const volume = '22222222-3333-4444-5555-666666666666';
    const res = await create({
      ...base(),
      imageRef: undefined,
      block_device_mapping_v2: [{ boot_index: 0, uuid: volume, source_type: 'volume', destination_type: 'volume' }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest(`Block Device Mapping is Invalid: failed to get volume ${volume}.`));
  });
});

describe('quota', () => {
  it("refuses an over-quota create with Nova's 403, and /limits shows the quota", async () => {
    const admin = await login(target, target.admin);
    const quotaUrl = `${admin.compute}/os-quota-sets/${admin.projectId}`;
    try {
      const denied = await call('PUT', `${demo.compute}/os-quota-sets/${demo.projectId}`, {
        token: demo.token,
        headers: latest,
        json: { quota_set: { instances: 1000 } },
      });
      expect(denied.status).toBe(403);
      expect(denied.body).toEqual({ forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed." } });

      // One server of our own, so that "already used" is never just zero.
      const first = await create({ name: uniqueName('quota'), imageRef: imageId, flavorRef: target.flavor, networks: 'none' }, latest, admin);
      expect(first.status).toBe(202);
      // Nova counts a server from when it is placed on a host: a build request still scheduling
      // is not in any cell database yet, so right after the POST the usage can still be 0.
      expect((await settled(first.body.server.id, admin)).body.server.status).toBe('ACTIVE');
      const limits = await call('GET', `${admin.compute}/limits`, { token: admin.token, headers: latest });
      const used = limits.body.limits.absolute.totalInstancesUsed as number;
      expect(used).toBeGreaterThanOrEqual(1);
      const set = await call('PUT', quotaUrl, { token: admin.token, headers: latest, json: { quota_set: { instances: used } } });
      expect(set.status).toBe(200);
      expect(Object.keys(set.body.quota_set).sort()).toEqual(
        ['cores', 'instances', 'key_pairs', 'metadata_items', 'ram', 'server_group_members', 'server_groups'],
      );
      expect(set.body.quota_set.instances).toBe(used);
      const lowered = await call('PUT', quotaUrl, { token: admin.token, headers: latest, json: { quota_set: { instances: used - 1 } } });
      expect(lowered.body).toEqual({
        badRequest: { code: 400, message: `Quota limit ${used - 1} for instances must be greater than or equal to already used and reserved ${used}.` },
      });

      const refused = await create({ name: uniqueName('quota'), imageRef: imageId, flavorRef: target.flavor, networks: 'none' }, latest, admin);
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual({
        forbidden: { code: 403, message: `Quota exceeded for instances: Requested 1, but already used ${used} of ${used} instances` },
      });
      const after = await call('GET', `${admin.compute}/limits`, { token: admin.token, headers: latest });
      expect(after.body.limits.absolute).toMatchObject({ maxTotalInstances: used, totalInstancesUsed: used });
      expect((await deleteUntilGone(first.body.server.id, admin)).status).toBe(404);
    } finally {
      const reset = await call('DELETE', quotaUrl, { token: admin.token });
      expect(reset.status).toBe(202);
    }
  });

  it('accepts a burst that the API check cannot see, then fails what is over quota on placement', async () => {
    const admin = await login(target, target.admin);
    const quotaUrl = `${admin.compute}/os-quota-sets/${admin.projectId}`;
    const before = await call('GET', `${admin.compute}/limits`, { token: admin.token, headers: latest });
    const allowed = (before.body.limits.absolute.totalInstancesUsed as number) + 1;
    try {
      expect((await call('PUT', quotaUrl, { token: admin.token, headers: latest, json: { quota_set: { instances: allowed } } })).status).toBe(200);
      const server = { imageRef: imageId, flavorRef: target.flavor, networks: 'none' };
      // Sent together, neither counts for the other's API check: both are still scheduling.
      const burst = await Promise.all([1, 2].map((i) => create({ ...server, name: uniqueName(`burst${i}`) }, latest, admin)));
      expect(burst.map((r) => r.status)).toEqual([202, 202]);
      const views = await Promise.all(burst.map(async (r) => (await settled(r.body.server.id, admin)).body.server));
      const failed = views.filter((v) => v.status === 'ERROR');
      expect(views.filter((v) => v.status === 'ACTIVE').length).toBeLessThanOrEqual(1);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      for (const view of failed) {
        expect(view.fault).toEqual({
          code: 413,
          created: expect.any(String),
          message: `Quota exceeded for instances: Requested 1, but already used ${allowed} of ${allowed} instances`,
        });
      }
      for (const r of burst) expect((await deleteUntilGone(r.body.server.id, admin)).status).toBe(404);
    } finally {
      expect((await call('DELETE', quotaUrl, { token: admin.token })).status).toBe(202);
    }
  });
});
