import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatentWorkerClient } from '../src/client/api.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { createTimeSkippingEnv } from './support/temporal.js';
import { runSkippingTime, untilWaitingForAttach } from './support/timeSkippingRig.js';

// build_wait_timeout as Buildbot defines it, on a time-skipping server (its clock is shared, so
// these run one after another).
let env: TestWorkflowEnvironment;
let simulator: Simulator;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  simulator = await startSimulator({ bootDelayMs: 100, deleteDelayMs: 50 });
});

afterAll(async () => {
  await simulator?.close();
  await env?.teardown();
});

async function attachAndBuild(client: LatentWorkerClient, name: string, builds: number): Promise<void> {
  await untilWaitingForAttach(env, client, name);
  await client.attached(name);
  for (let build = 0; build < builds; build += 1) {
    await client.buildStarted(name);
    await client.buildFinished(name);
  }
}

const seconds = (from?: string, to?: string) => (Date.parse(to!) - Date.parse(from!)) / 1000;

describe.sequential('build_wait_timeout', () => {
  it('releases an idle worker after the default 600 s without a build', async () => {
    const { result } = await runSkippingTime(env, simulator, {}, (client, name) => attachAndBuild(client, name, 1));
    expect(result.outcome).toBe('released');
    expect(result.status.releaseReason).toBe('idle');
    expect(result.status.buildsFinished).toBe(1);
    expect(seconds(result.status.attachedAt, result.status.releasedAt)).toBeGreaterThanOrEqual(600);
    expect(seconds(result.status.attachedAt, result.status.releasedAt)).toBeLessThan(660);
    expect(simulator.servers()).toEqual([]);
  });

  it('with 0, releases the worker as soon as its first build finishes', async () => {
    const { result } = await runSkippingTime(env, simulator, { build_wait_timeout: 0 }, (client, name) => attachAndBuild(client, name, 1));
    expect(result.status).toMatchObject({ releaseReason: 'idle', buildsFinished: 1, buildsRunning: 0 });
    expect(seconds(result.status.attachedAt, result.status.releasedAt)).toBeLessThan(60);
  });

  it('never releases an idle worker when negative: only an explicit release ends it', async () => {
    const { result } = await runSkippingTime(env, simulator, { build_wait_timeout: -1 }, async (client, name) => {
      await attachAndBuild(client, name, 2);
      // A day of idleness passes without a release...
      await env.sleep('1 day');
      expect((await client.status(name)).phase).toBe('attached');
      await client.release(name);
    });
    expect(result.status).toMatchObject({ releaseReason: 'master', buildsFinished: 2 });
    expect(seconds(result.status.attachedAt, result.status.releasedAt)).toBeGreaterThanOrEqual(24 * 3600);
  });

  it('does not count a running build as idle time', async () => {
    const { result } = await runSkippingTime(env, simulator, { build_wait_timeout: 60 }, async (client, name) => {
      await untilWaitingForAttach(env, client, name);
      await client.attached(name);
      await client.buildStarted(name);
      await env.sleep('2 hours');
      expect((await client.status(name)).buildsRunning).toBe(1);
      await client.buildFinished(name);
    });
    expect(result.status.releaseReason).toBe('idle');
    expect(seconds(result.status.attachedAt, result.status.releasedAt)).toBeGreaterThanOrEqual(2 * 3600 + 60);
  });
});
