import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { parseConfig } from '../src/config/load.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { createLatentWorker } from '../src/worker/worker.js';
import { freePort } from '../src/temporal/ports.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { stepsOf } from './support/historySteps.js';
import { createTimeSkippingEnv } from './support/temporal.js';

// The time-skipping server's clock is shared by everything connected to it, so this file runs
// its tests one after another against its own server.
let env: TestWorkflowEnvironment;
let simulator: Simulator;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  simulator = await startSimulator({ bootDelayMs: 200, deleteDelayMs: 50 });
});

afterAll(async () => {
  await simulator?.close();
  await env?.teardown();
});

describe.sequential('long timers on the time-skipping server', () => {
  it('waits the default 20 minutes of missing_timeout for an attach, then reports missing and deletes', async () => {
    const name = `default-timeout-${randomUUID().slice(0, 6)}`;
    const config = parseConfig({ workers: [{ ...SEED_WORKER, name, os_auth_url: simulator.authUrlV2 }] }, 'test', {});
    const spec = config.workers.get(name)!.specFor();
    expect(spec.missingTimeoutSeconds).toBe(20 * 60);

    const taskQueue = `timeskip-${name}`;
    const { worker, clouds } = await createLatentWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, config, pollIntervalMs: 100, askForStatusWatchers: false });
    const client = new LatentWorkerClient(env.client, taskQueue);
    const wallStart = Date.now();
    const result = await worker.runUntil(async () => (await client.substantiate(spec)).result());
    await clouds.close();

    expect(result.outcome).toBe('missing');
    const waitedSeconds = (Date.parse(result.status.deletedAt!) - Date.parse(result.status.activeAt!)) / 1000;
    expect(waitedSeconds).toBeGreaterThanOrEqual(20 * 60);
    expect(waitedSeconds).toBeLessThan(20 * 60 + 60);
    expect(Date.now() - wallStart).toBeLessThan(60_000);
    expect(simulator.servers()).toEqual([]);
  });

  it('deletes the server before the missing report, and an SMTP outage leaves the outcome missing', async () => {
    const name = `smtp-down-${randomUUID().slice(0, 6)}`;
    // Nothing listens there: every attempt of the report fails at once, as in an SMTP outage.
    const smtpPort = await freePort();
    const config = parseConfig(
      {
        workers: [{ ...SEED_WORKER, name, os_auth_url: simulator.authUrlV2, missing_timeout: 60, notify_on_missing: ['ops@example.org'] }],
        notify: { smtp: { host: '127.0.0.1', port: smtpPort, starttls: 'off', from: 'latent@example.org', timeoutSeconds: 2 } },
      },
      'test',
      {},
    );
    const taskQueue = `timeskip-${name}`;
    const { worker, clouds } = await createLatentWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, config, pollIntervalMs: 100, askForStatusWatchers: false });
    const client = new LatentWorkerClient(env.client, taskQueue);
    const { result, history } = await worker.runUntil(async () => {
      const handle = await client.substantiate(config.workers.get(name)!.specFor());
      return { result: await handle.result(), history: await handle.fetchHistory() };
    });
    await clouds.close();

    expect(result.outcome).toBe('missing');
    expect(result.status.notificationError).toMatch(/ECONNREFUSED|connect/i);
    const events = history.events ?? [];
    const scheduledAt = (type: string) => Number(events.find((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === type)?.eventId);
    // The delete ended within its prompt first try: a local activity's marker, before the report was scheduled.
    const deleted = events.findIndex((event) => stepsOf([event])[0] === 'local deleteServerPromptly');
    expect(deleted).toBeGreaterThan(0);
    expect(Number(events[deleted]!.eventId)).toBeLessThan(scheduledAt('notifyMissing'));
    expect(simulator.servers().filter((server) => server.name.startsWith(name))).toEqual([]);
  });
});
