import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

// nova-api finishes a create whose client went away (the simulator now does too): a create that
// timed out on the client's side may still make its server seconds later. The lifecycle must end
// with that one server adopted, never a second.
let rig: LifecycleRig;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'slow-post' }, { name: 'next-attempt' }], { httpTimeoutMs: 1_000 });
});

afterAll(async () => {
  await rig?.stop();
});

const createsOf = (name: string) =>
  rig.simulator.requests().filter((request) => request.method === 'POST' && request.path === '/compute/v2.1/servers' && JSON.stringify(request.body).includes(`"${name}-`));

describe('a create still in flight inside Nova', () => {
  it('is adopted when its server appears after the client gave up: one POST, one server, none left', async () => {
    const name = rig.nameOf('slow-post');
    // The POST answers after 4 s; the worker's HTTP timeout is 1 s, its retries 1 s apart.
    const slow = rig.simulator.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: 4_000, count: 1 });
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    const servers = rig.simulator.servers().filter((server) => server.name.startsWith(`${name}-`));
    expect(rig.simulator.faults.list().find((f) => f.id === slow.id)?.fired).toBe(1);
    expect(servers).toHaveLength(1);
    expect(createsOf(name)).toHaveLength(1);
    await rig.client.attached(name);
    await rig.client.release(name);
    expect((await handle.result()).outcome).toBe('released');
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(`${name}-`))).toEqual([]);
  }, 90_000);

  it("is adopted by the next attempt when this one could not look: the send time travels in the attempt's heartbeat details", async () => {
    const name = rig.nameOf('next-attempt');
    rig.simulator.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: 4_000, count: 1 });
    // The first attempt's look for its server fails: it gives up, and the retry must keep looking.
    const blind = rig.simulator.faults.inject({ kind: 'error', route: 'nova.servers.detail', status: 500, count: 1 });
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    expect(rig.simulator.faults.list().find((f) => f.id === blind.id)?.fired).toBe(1);
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(`${name}-`))).toHaveLength(1);
    expect(createsOf(name)).toHaveLength(1);
    await rig.client.attached(name);
    await rig.client.release(name);
    expect((await handle.result()).outcome).toBe('released');
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(`${name}-`))).toEqual([]);
  }, 90_000);
});
