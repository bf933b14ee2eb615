import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultImages, projectIds } from '../src/simulator/index.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

// How each worker argument shapes the server-create request: image by name or selector, volume
// sizes derived from their source, networks by name, and the other nova_args.
const VOLUME = '6d0f5a3e-1c2b-4a5d-8e7f-9a0b1c2d3e4f';
const PRIVATE_NETWORK = 'c3a1f9e2-7b4d-4e8a-9f1c-2d5e6a7b8c90';
const BOOKWORM = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';
const TRIXIE = '3f0b8868-67e7-4a5b-b685-2824709bd486';

let rig: LifecycleRig;

beforeAll(async () => {
  rig = await startLifecycleRig(
    [
      { name: 'by-name', image: 'buildbot-worker-trixie' },
      { name: 'ambiguous', image: 'twin' },
      { name: 'newest', image: { name: '^buildbot-worker-', pick: 'newest' } },
      { name: 'oldest-tagged', image: { tags: ['buildbot-worker'], properties: { os_version: '12' }, pick: 'oldest' } },
      {
        name: 'derived-sizes',
        block_devices: [
          { uuid: BOOKWORM },
          { uuid: VOLUME, source_type: 'volume', boot_index: 1, delete_on_termination: false },
        ],
      },
      {
        name: 'nova-args',
        // `description` exists from compute microversion 2.19 on; the base API refuses it.
        client_version: '2.19',
        meta: { purpose: 'ci', branch: '%(prop:branch)s' },
        nova_args: {
          nics: [{ 'net-name': 'private', 'v4-fixed-ip': '10.0.0.42' }],
          availability_zone: 'nova',
          security_groups: ['default'],
          config_drive: true,
          key_name: 'buildbot',
          userdata: '#cloud-config\nruncmd: [echo hi]\n',
          scheduler_hints: { build_near_host_ip: '10.0.0.1', cidr: '/24' },
          description: 'passed through unchanged',
        },
      },
    ],
    {
      simulator: {
        bootDelayMs: 200,
        deleteDelayMs: 50,
        network: true,
        volumes: [{ id: VOLUME, name: 'cache', size: 7, projectId: projectIds.tenant }],
        images: [
          ...defaultImages,
          { id: 'aaaaaaaa-0000-4000-8000-000000000001', name: 'twin', createdAt: '2025-01-01T00:00:00Z', size: 1024 },
          { id: 'aaaaaaaa-0000-4000-8000-000000000002', name: 'twin', createdAt: '2025-02-01T00:00:00Z', size: 1024 },
        ],
      },
    },
  );
});

afterAll(async () => {
  await rig?.stop();
});

/** Runs a lifecycle to ACTIVE, releases it, and returns the `server` object Nova was sent. */
async function createBodyOf(base: string, properties: Record<string, string> = {}) {
  const name = rig.nameOf(base);
  const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor(properties));
  const active = await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
  if (!active.outcome) await rig.client.release(name);
  const result = await handle.result();
  expect(result.outcome).toBe('released');
  const creates = rig.simulator.requests().filter((request) => request.method === 'POST' && request.path === '/compute/v2.1/servers' && JSON.stringify(request.body).includes(`"${name}-`));
  expect(creates).toHaveLength(1);
  return { body: creates[0]!.body as { server: Record<string, unknown>; 'os:scheduler_hints'?: unknown }, result };
}

describe('image resolution', () => {
  it('by exact name', async () => {
    expect((await createBodyOf('by-name')).body.server.imageRef).toBe(TRIXIE);
  });

  it('refuses an ambiguous name, listing the candidates, before creating anything', async () => {
    const name = rig.nameOf('ambiguous');
    const failure = await (await rig.client.substantiate(rig.config.workers.get(name)!.specFor())).result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // The typed failure, whether the lifecycle failed with it (the lean shape's local activity)
    // or with the activity failure that wraps it (earlier shapes).
    let cause: unknown = (failure as WorkflowFailedError).cause;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
    if (!(cause instanceof ApplicationFailure)) throw new Error(`no ApplicationFailure in the cause chain of ${String(failure)}`);
    expect(cause.type).toBe('ImageAmbiguous');
    expect(cause.message).toContain('aaaaaaaa-0000-4000-8000-000000000001');
    expect(cause.message).toContain('aaaaaaaa-0000-4000-8000-000000000002');
  });

  it('by selector: the newest whose name matches', async () => {
    expect((await createBodyOf('newest')).body.server.imageRef).toBe(TRIXIE);
  });

  it('by selector: the oldest with a tag and a property', async () => {
    expect((await createBodyOf('oldest-tagged')).body.server.imageRef).toBe(BOOKWORM);
  });
});

describe('the create request', () => {
  it('derives a missing volume_size from its source: the image rounded up to GiB, the volume its own size', async () => {
    const { body } = await createBodyOf('derived-sizes');
    // The image is 1 GiB + 64 KiB: 2 GiB. The volume is 7 GiB. Booting from a device: no imageRef.
    expect(body.server.imageRef).toBeUndefined();
    expect(body.server.block_device_mapping_v2).toEqual([
      { uuid: BOOKWORM, source_type: 'image', destination_type: 'volume', device_name: 'vda', boot_index: 0, delete_on_termination: true, volume_size: 2 },
      { uuid: VOLUME, source_type: 'volume', destination_type: 'volume', device_name: 'vda', boot_index: 1, delete_on_termination: false, volume_size: 7 },
    ]);
  });

  it('translates novaclient-style nova_args, resolves net-name in Neutron, and passes unknown keys through', async () => {
    const { body } = await createBodyOf('nova-args', { branch: 'release-2.0' });
    expect(body.server).toMatchObject({
      networks: [{ uuid: PRIVATE_NETWORK, fixed_ip: '10.0.0.42' }],
      availability_zone: 'nova',
      security_groups: [{ name: 'default' }],
      config_drive: true,
      key_name: 'buildbot',
      user_data: Buffer.from('#cloud-config\nruncmd: [echo hi]\n').toString('base64'),
      description: 'passed through unchanged',
      metadata: expect.objectContaining({ purpose: 'ci', branch: 'release-2.0' }),
    });
    expect(body['os:scheduler_hints']).toEqual({ build_near_host_ip: '10.0.0.1', cidr: '/24' });
    expect(Object.keys(body.server)).not.toContain('nics');
    expect(Object.keys(body.server)).not.toContain('userdata');
  });
});
