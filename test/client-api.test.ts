import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { LatentWorkerClient, PHASE_ORDER } from '../src/client/api.js';
import { ConfigError } from '../src/config/load.js';
import type { LifecycleStatus } from '../src/workflows/types.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

let rig: LifecycleRig;
let client: LatentWorkerClient;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'watched', build_wait_timeout: 0 }, { name: 'flavored', flavor: '%(prop:flavor)s' }, { name: 'waited', build_wait_timeout: 0 }]);
  // A CI master's client: it knows the worker definitions, so it substantiates by name.
  client = new LatentWorkerClient(rig.client.temporal, rig.client.taskQueue, rig.config);
});

afterAll(async () => {
  await rig?.stop();
});

describe('LatentWorkerClient, as a CI master uses it', () => {
  it('substantiates by name, joins on a second call, and watches every phase to the end', async () => {
    const name = rig.nameOf('watched');
    const first = await client.substantiate(name, { properties: { branch: 'main' } });
    const second = await client.substantiate(name);
    expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);

    const seen: LifecycleStatus[] = [];
    for await (const status of client.watch(name, { intervalMs: 50 })) {
      seen.push(status);
      // Play the master: the CI worker connects once the server is up, runs one build, and
      // build_wait_timeout 0 releases it.
      if (status.phase === 'waiting-for-attach') await client.attached(name);
      if (status.phase === 'attached') {
        await client.buildStarted(name);
        await client.buildFinished(name);
      }
    }
    const phases = seen.map((status) => status.phase);
    expect(phases).toContain('booting');
    expect(phases).toContain('waiting-for-attach');
    expect(phases).toContain('attached');
    // In order, each change once, ending with the lifecycle's last status.
    const order = phases.map((phase) => PHASE_ORDER.indexOf(phase));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(new Set(phases).size).toBe(phases.length);
    expect(seen.at(-1)).toMatchObject({ phase: 'done', outcome: 'released', releaseReason: 'idle', buildsFinished: 1 });
    expect(rig.simulator.servers()).toEqual([]);
  });

  it('reads the phase with a describe each tick, and asks a worker (the status query) only when it moved', async () => {
    // A master waits on many lifecycles at once: a query per lifecycle per tick goes through the
    // Temporal server to a worker process and back, and took a core on the real cloud's machine.
    const calls = { describe: 0, query: 0 };
    const counted = new Client({
      connection: rig.client.temporal.connection,
      interceptors: {
        workflow: [
          {
            describe: (input, next) => ((calls.describe += 1), next(input)),
            query: (input, next) => ((calls.query += 1), next(input)),
          },
        ],
      },
    });
    const master = new LatentWorkerClient(counted, rig.client.taskQueue, rig.config);
    const name = rig.nameOf('waited');
    await master.substantiate(name);
    const phases: string[] = [];
    let attach: Promise<void> | undefined;
    for await (const status of master.watch(name, { intervalMs: 25 })) {
      phases.push(status.phase);
      // The first phase seen: one describe for it, one query for the whole status.
      if (phases.length === 1) expect(calls).toEqual({ describe: 1, query: 1 });
      // A second of ticks in one phase before the CI worker connects.
      if (status.phase === 'waiting-for-attach') attach = delay(1000).then(() => master.attached(name));
      if (status.phase === 'attached') {
        await master.buildStarted(name);
        await master.buildFinished(name);
      }
    }
    await attach;
    expect(phases.at(-1)).toBe('done');
    expect(calls.describe).toBeGreaterThan(20);
    // One query per phase change seen, and one more for each change read just as the lifecycle closed.
    expect(calls.query).toBeLessThanOrEqual(phases.length + 2);
    console.log(`watch of ${name}: ${calls.describe} describes, ${calls.query} status queries for ${phases.length} phases seen (${phases.join(' → ')})`);
  });

  it('ends a watch of a closed lifecycle at once with its final status', async () => {
    const statuses: LifecycleStatus[] = [];
    for await (const status of client.watch(rig.nameOf('watched'))) statuses.push(status);
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({ phase: 'done', outcome: 'released' });
  });

  it('renders build properties into the definition, and refuses a rendering that is not valid before starting', async () => {
    const name = rig.nameOf('flavored');
    const refused = await client.substantiate(name, { properties: { flavor: '' } }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toContain('flavor');
    await expect(client.handle(name).describe()).rejects.toThrow(/not found/i);

    await client.substantiate(name, { properties: { flavor: 'm1.small' } });
    const active = await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    expect(rig.simulator.servers().find((server) => server.id === active.serverId)?.flavorId).toBe('2');
    await client.release(name);
    expect((await client.result(name)).outcome).toBe('released');
  });

  it('needs worker definitions to substantiate by name, and says so', async () => {
    await expect(rig.client.substantiate('anything')).rejects.toThrow(/needs worker definitions/);
  });
});
