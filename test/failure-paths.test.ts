import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

// What real clouds do to a launch, injected into the simulator: each path ends with a defined
// outcome and no server left behind.
let rig: LifecycleRig;

beforeAll(async () => {
  rig = await startLifecycleRig([
    { name: 'error-once' },
    { name: 'stuck-once', boot_timeout: 1 },
    { name: 'always-error', launch_attempts: 2 },
    { name: 'unknown-flavor', flavor: 'no-such-flavor' },
    { name: 'unknown-image', image: '00000000-0000-4000-8000-000000000000' },
    { name: 'bad-request', nova_args: { nics: [{ 'net-id': '11111111-2222-4333-8444-555555555555' }] } },
    { name: 'lost-response' },
    { name: 'too-new', client_version: '2.999' },
  ]);
});

afterAll(async () => {
  await rig?.stop();
});

beforeEach(() => {
  rig.simulator.faults.clear();
});

const createsOf = (name: string) =>
  rig.simulator.requests().filter((request) => request.method === 'POST' && request.path === '/compute/v2.1/servers' && JSON.stringify(request.body).includes(`"${name}-`));

const serversOf = (name: string) => rig.simulator.servers().filter((server) => server.name.startsWith(`${name}-`));

async function attachAndRelease(base: string) {
  const name = rig.nameOf(base);
  const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
  await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
  await rig.client.attached(name);
  await rig.client.release(name);
  return { name, result: await handle.result() };
}

async function failureOf(base: string): Promise<{ name: string; cause: ApplicationFailure }> {
  const name = rig.nameOf(base);
  const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
  const error = await handle.result().then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  let cause = (error as WorkflowFailedError).cause;
  if (cause instanceof ActivityFailure) cause = cause.cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { name, cause: cause as ApplicationFailure };
}

describe('launch failures', () => {
  it('replaces a server that goes to ERROR: the fault is recorded, the server deleted, the next launch used', async () => {
    rig.simulator.faults.inject({ kind: 'bootError', message: 'Unexpected error while running command.', namePattern: `^${rig.nameOf('error-once')}-`, count: 1 });
    const { name, result } = await attachAndRelease('error-once');
    expect(result.outcome).toBe('released');
    expect(result.status.launches).toBe(2);
    expect(result.status.launchFailures).toEqual([expect.stringMatching(/^launch 1: server \S+ went to ERROR while booting: Unexpected error while running command\.$/)]);
    expect(createsOf(name).map((request) => (request.body as { server: { name: string } }).server.name)).toEqual([
      expect.stringMatching(/-1$/),
      expect.stringMatching(/-2$/),
    ]);
    expect(serversOf(name)).toEqual([]);
    await rig.recordHistory('relaunched-after-error', name);
    await rig.recordHistory('lean-relaunched-after-error', name);
    await rig.recordHistory('steady-relaunched-after-error', name);
    await rig.recordHistory('prompt-create-relaunched-after-error', name);
    await rig.recordHistory('unmarked-relaunched-after-error', name);
  });

  it('replaces a server still in BUILD at boot_timeout', async () => {
    rig.simulator.faults.inject({ kind: 'bootStuck', namePattern: `^${rig.nameOf('stuck-once')}-`, count: 1 });
    const { name, result } = await attachAndRelease('stuck-once');
    expect(result.outcome).toBe('released');
    expect(result.status.launchFailures).toEqual([expect.stringMatching(/^launch 1: server \S+ was still BUILD at its boot deadline/)]);
    expect(serversOf(name)).toEqual([]);
  });

  it('fails with every launch reason once launch_attempts are spent, leaving nothing', async () => {
    rig.simulator.faults.inject({ kind: 'bootError', message: 'Disk full on host', namePattern: `^${rig.nameOf('always-error')}-` });
    const { name, cause } = await failureOf('always-error');
    expect(cause.type).toBe('LaunchFailed');
    expect(cause.message).toMatch(/^all 2 launch attempts failed: launch 1: .*Disk full on host; launch 2: .*Disk full on host$/);
    expect(createsOf(name)).toHaveLength(2);
    expect(serversOf(name)).toEqual([]);
    await rig.recordHistory('launch-failed', name);
    await rig.recordHistory('lean-launch-failed', name);
    await rig.recordHistory('steady-launch-failed', name);
    await rig.recordHistory('prompt-create-launch-failed', name);
    await rig.recordHistory('unmarked-launch-failed', name);
  });
});

describe('errors a retry cannot fix fail at once, with the cloud message and nothing created', () => {
  it('an unknown flavor', async () => {
    const { name, cause } = await failureOf('unknown-flavor');
    expect(cause.type).toBe('OpenStackNotFound');
    expect(cause.message).toContain('no-such-flavor');
    expect(createsOf(name)).toHaveLength(0);
  });

  it('an unknown image', async () => {
    const { name, cause } = await failureOf('unknown-image');
    expect(cause.type).toBe('ImageNotFound');
    expect(cause.message).toContain('00000000-0000-4000-8000-000000000000');
    expect(createsOf(name)).toHaveLength(0);
  });

  it('a client_version newer than the cloud serves', async () => {
    const { name, cause } = await failureOf('too-new');
    expect(cause.type).toBe('OpenStackUnsupportedVersion');
    expect(cause.message).toContain('2.999');
    expect(cause.message).toContain('2.93');
    expect(createsOf(name)).toHaveLength(0);
  });

  it('a create request Nova refuses', async () => {
    const { name, cause } = await failureOf('bad-request');
    expect(cause.type).toBe('OpenStackBadRequest');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toMatch(/^compute createServer failed: 400/);
    expect(createsOf(name)).toHaveLength(1);
    expect(serversOf(name)).toEqual([]);
  });
});

describe('lost responses', () => {
  it('adopts the server a create made when its response was lost, instead of booting a second', async () => {
    rig.simulator.faults.inject({ kind: 'responseLost', route: 'nova.servers.create', count: 1 });
    const { name, result } = await attachAndRelease('lost-response');
    expect(result.outcome).toBe('released');
    expect(createsOf(name)).toHaveLength(1);
    expect(serversOf(name)).toEqual([]);
    const deletes = rig.simulator.requests().filter((request) => request.method === 'DELETE' && request.path.endsWith(result.serverId!));
    expect(deletes).toHaveLength(1);
  });
});
