import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { inject } from 'vitest';
import { NAMESPACE } from '../../src/temporal/devServer.js';
import { searchAttributeKeys } from '../../src/workflows/searchAttributes.js';

/** Address of the dev server that `globalSetup.ts` started for this test run. */
export function temporalAddress(): string {
  return inject('temporalAddress');
}

/** A client on the shared dev server, or on `address`; close it with `client.connection.close()` in `afterAll`. */
export async function connectClient(address = temporalAddress(), dataConverter?: DataConverter): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace: NAMESPACE, dataConverter });
}

/**
 * Starts a private time-skipping test server; call `env.teardown()` in `afterAll`.
 *
 * Its clock is shared by everything connected to it, and each server costs a process: create one
 * per test file in `beforeAll` and keep that file's time-skipping tests serial. They are by
 * default (vitest runs the tests of one file one after another); never mark them
 * `concurrent`, and use `describe.sequential` if the file's config makes tests concurrent.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
  });
  // The lifecycle upserts the project's search attributes; the test server refuses unknown ones.
  await env.connection.operatorService.addSearchAttributes({
    namespace: NAMESPACE,
    searchAttributes: Object.fromEntries(searchAttributeKeys.map((key) => [key.name, proto.temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]])),
  });
  return env;
}

/** A task queue no other test (or earlier run against a persistent server) polls. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}
