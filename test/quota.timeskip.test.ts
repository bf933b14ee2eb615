import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { recordHistory } from './support/lifecycleRig.js';
import { createTimeSkippingEnv } from './support/temporal.js';
import { runSkippingTime } from './support/timeSkippingRig.js';

// A full quota is "no capacity yet", not a failed launch: the lifecycle waits with capped backoff
// (skipped here by the time-skipping server), bounded by missing_timeout.
let env: TestWorkflowEnvironment;
let simulator: Simulator;

// Nova's own text for this 403 (nova.exception.TooManyInstances).
const QUOTA_MESSAGE = 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances';

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  simulator = await startSimulator({ bootDelayMs: 100, deleteDelayMs: 50 });
});

afterAll(async () => {
  await simulator?.close();
  await env?.teardown();
});

beforeEach(() => {
  simulator.faults.clear();
});

const creates = () => simulator.requests().filter((request) => request.method === 'POST' && request.path === '/compute/v2.1/servers');

describe.sequential('quota exhaustion', () => {
  it('waits for capacity without spending a launch attempt, then boots', async () => {
    simulator.clearRequests();
    simulator.faults.inject({ kind: 'error', route: 'nova.servers.create', status: 403, message: QUOTA_MESSAGE, count: 2 });
    // Nobody attaches: the lifecycle ends as missing once the server booted, which lets the
    // server skip time throughout.
    const { name, result, client } = await runSkippingTime(env, simulator, { launch_attempts: 1 });
    expect(result.outcome).toBe('missing');
    expect(result.status.launches).toBe(3);
    expect(result.status.launchFailures).toEqual([
      expect.stringContaining(QUOTA_MESSAGE),
      expect.stringContaining(QUOTA_MESSAGE),
    ]);
    expect(creates()).toHaveLength(3);
    expect(simulator.servers()).toEqual([]);
    await recordHistory(client, 'quota-waited', name);
    await recordHistory(client, 'lean-quota-waited', name);
    await recordHistory(client, 'steady-quota-waited', name);
    await recordHistory(client, 'prompt-create-quota-waited', name);
    await recordHistory(client, 'unmarked-quota-waited', name);
  });

  it('treats an ERROR server whose fault is a quota as no capacity too', async () => {
    simulator.faults.inject({ kind: 'bootError', code: 413, message: 'Quota exceeded for cores: Requested 1, but already used 20 of 20 cores', count: 1 });
    const { result } = await runSkippingTime(env, simulator, { launch_attempts: 1 });
    expect(result).toMatchObject({ outcome: 'missing', status: { launches: 2 } });
    expect(result.status.launchFailures).toEqual([expect.stringContaining('Quota exceeded for cores')]);
    expect(simulator.servers()).toEqual([]);
  });

  it('gives up when no capacity comes within missing_timeout, leaving nothing', async () => {
    simulator.faults.inject({ kind: 'error', route: 'nova.servers.create', status: 403, message: QUOTA_MESSAGE });
    const failure = await runSkippingTime(env, simulator, { missing_timeout: 600 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('NoCapacity');
    expect(cause.message).toContain('no capacity within missing_timeout (600 s)');
    expect(simulator.servers()).toEqual([]);
  });
});
