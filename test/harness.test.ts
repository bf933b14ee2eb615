import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
// Not re-exported from the package root; the SDK's own testing package imports it from here too.
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAttributeKeys } from '../src/workflows/searchAttributes.js';
import { connectClient, createTimeSkippingEnv, uniqueTaskQueue } from './support/temporal.js';
import { sleepForAnHour } from './support/workflows/sleeper.js';

describe('shared dev server', () => {
  let client: Client;
  beforeAll(async () => {
    client = await connectClient();
  });
  afterAll(async () => {
    await client.connection.close();
  });

  it('answers for the default namespace', async () => {
    const { namespaceInfo } = await client.workflowService.describeNamespace({ namespace: 'default' });
    expect(namespaceInfo?.name).toBe('default');
  });

  it('has the project search attributes registered', async () => {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const registered = Object.fromEntries(searchAttributeKeys.map((key) => [key.name, customAttributes?.[key.name]]));
    const expected = Object.fromEntries(searchAttributeKeys.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)]));
    expect(searchAttributeKeys).toHaveLength(6);
    expect(registered).toEqual(expected);
  });
});

describe('time-skipping environment', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('skips an hour-long sleep in seconds', async () => {
    const taskQueue = uniqueTaskQueue('harness');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./support/workflows/sleeper.ts', import.meta.url)),
    });
    const serverStart = await env.currentTimeMs();
    const wallStart = Date.now();
    const result = await worker.runUntil(env.client.workflow.execute(sleepForAnHour, { taskQueue, workflowId: taskQueue }));
    expect(result).toBe('awake');
    expect((await env.currentTimeMs()) - serverStart).toBeGreaterThanOrEqual(3_600_000);
    expect(Date.now() - wallStart).toBeLessThan(60_000);
  });
});
