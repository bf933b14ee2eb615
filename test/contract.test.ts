import { readFileSync } from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TASK_QUEUE, LIFECYCLE_WORKFLOW_TYPE, QUERIES, SIGNALS, workflowIdFor } from '../src/contract/names.js';
import { INPUT_SCHEMA_FILE, renderInputJsonSchema } from '../src/contract/inputJsonSchema.js';
import { PYTHON_CONTRACT_FILE, renderPythonContract } from '../src/contract/python.js';
import { loadConfigFile } from '../src/config/load.js';
import { inputProblems } from '../src/contract/inputSchema.js';
import type { LifecycleInput, WorkerSpec } from '../src/workflows/types.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

const committedSchema = JSON.parse(readFileSync(INPUT_SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
// strictRequired would reject the anyOf of `required` that says "image or blockDevices": valid JSON Schema, but beyond its taste.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
addFormats.default(ajv);
const validate = ajv.compile(committedSchema);

const IMAGE = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';
const goodSpec: WorkerSpec = {
  name: 'bot2',
  cloud: 'http://127.0.0.1:5000/v3 project demo',
  flavor: '1',
  image: IMAGE,
  meta: {},
  clientVersion: '2.19',
  missingTimeoutSeconds: 1200,
  bootTimeoutSeconds: 600,
  buildWaitTimeoutSeconds: 0,
  launchAttempts: 3,
  notifyOnMissing: ['ci@example.org'],
};

/** Inputs a master in another language might send, each wrong in one way, and the field it must be told about. */
const badInputs: [string, unknown, string][] = [
  ['no spec at all', { properties: {} }, 'spec'],
  ['a flavor that is a number', { spec: { ...goodSpec, flavor: 1 }, properties: {} }, 'spec.flavor'],
  ['a worker name with a space', { spec: { ...goodSpec, name: 'bot 2' }, properties: {} }, 'spec.name'],
  ['neither image nor block devices', { spec: { ...goodSpec, image: undefined }, properties: {} }, 'spec.image'],
  ['an image selector without pick', { spec: { ...goodSpec, image: { name: '^debian' } }, properties: {} }, 'spec.image'],
  ['a client version Nova never had', { spec: { ...goodSpec, clientVersion: '3' }, properties: {} }, 'spec.clientVersion'],
  ['a zero missing timeout', { spec: { ...goodSpec, missingTimeoutSeconds: 0 }, properties: {} }, 'spec.missingTimeoutSeconds'],
  // Absurd timeouts that a bare "positive" check let through, to break the workflow task that made them a timer or a deadline.
  ['a missing timeout of a million years', { spec: { ...goodSpec, missingTimeoutSeconds: 3.2e13 }, properties: {} }, 'spec.missingTimeoutSeconds'],
  ['a boot timeout past any date', { spec: { ...goodSpec, bootTimeoutSeconds: 1e15 }, properties: {} }, 'spec.bootTimeoutSeconds'],
  ['a build wait timeout of a century', { spec: { ...goodSpec, buildWaitTimeoutSeconds: 3.2e9 }, properties: {} }, 'spec.buildWaitTimeoutSeconds'],
  ['a snake_case key from a Buildbot config', { spec: { ...goodSpec, missing_timeout: 60 }, properties: {} }, 'spec'],
  ['a malformed email address', { spec: { ...goodSpec, notifyOnMissing: ['ci at example.org'] }, properties: {} }, 'spec.notifyOnMissing.0'],
  ['a block device with a bad uuid', { spec: { ...goodSpec, blockDevices: [{ uuid: 'x', deviceName: 'vda', sourceType: 'image', destinationType: 'volume', deleteOnTermination: true, bootIndex: 0 }] }, properties: {} }, 'spec.blockDevices.0.uuid'],
  ['a property that is not text', { spec: goodSpec, properties: { attempt: 2 } }, 'properties.attempt'],
  ['a credential smuggled in', { spec: { ...goodSpec, os_password: 'hunter2' }, properties: {} }, 'spec'],
];

describe('the language-neutral contract', () => {
  it('has its JSON Schema committed exactly as `npm run contract` generates it', () => {
    expect(readFileSync(INPUT_SCHEMA_FILE, 'utf8')).toBe(renderInputJsonSchema());
  });

  it("has the Python adapter's contract module committed exactly as `npm run contract` generates it", () => {
    expect(readFileSync(PYTHON_CONTRACT_FILE, 'utf8')).toBe(renderPythonContract());
  });

  it('accepts, by JSON Schema and by the workflow check alike, the input of every example definition', async () => {
    for (const example of ['seed-simplest.yaml', 'seed-block-devices.yaml', 'seed-nova-args.yaml', 'seed-image-function.ts']) {
      const config = await loadConfigFile(`examples/${example}`, {});
      for (const worker of config.workers.values()) {
        const input: LifecycleInput = { spec: worker.specFor({}), properties: { branch: 'main' } };
        expect({ example, problems: inputProblems(input) }).toEqual({ example, problems: [] });
        expect({ example, valid: validate(input), errors: validate.errors }).toEqual({ example, valid: true, errors: null });
      }
    }
  });

  it.each(badInputs)('refuses %s, naming the field, in both validators', (_what, input, field) => {
    const problems = inputProblems(input);
    expect(problems.some((problem) => problem.startsWith(`${field}:`))).toBe(true);
    expect(validate(input)).toBe(false);
  });

  it('names the workflow type, task queue, id, signals and query the worker serves', () => {
    expect({ LIFECYCLE_WORKFLOW_TYPE, DEFAULT_TASK_QUEUE, id: workflowIdFor('bot2'), SIGNALS, QUERIES }).toEqual({
      LIFECYCLE_WORKFLOW_TYPE: 'latentWorkerLifecycle',
      DEFAULT_TASK_QUEUE: 'openstack-latent-worker',
      id: 'latent-worker:bot2',
      SIGNALS: { attached: 'attached', buildStarted: 'build-started', buildFinished: 'build-finished', release: 'release' },
      QUERIES: { status: 'status' },
    });
  });
});

describe('a master that drives lifecycles with a plain Temporal client, by the contract alone', () => {
  let rig: LifecycleRig;

  beforeAll(async () => {
    rig = await startLifecycleRig([{ name: 'raw' }, { name: 'raw-bad' }]);
  });

  afterAll(async () => {
    await rig?.stop();
  });

  it('boots, attaches and releases with only the documented names and a schema-valid input', async () => {
    const name = rig.nameOf('raw');
    const input = { spec: { ...goodSpec, name, clientVersion: '1.1', notifyOnMissing: [] }, properties: {} };
    expect(validate(input)).toBe(true);
    // What a Python master does with temporalio: start by type name and id, then signal and query by name.
    const handle = await rig.client.temporal.workflow.start(LIFECYCLE_WORKFLOW_TYPE, { workflowId: workflowIdFor(name), taskQueue: rig.client.taskQueue, args: [input] });
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await handle.signal(SIGNALS.attached);
    await handle.signal(SIGNALS.release);
    const result = (await handle.result()) as { outcome: string };
    expect(result.outcome).toBe('released');
    expect(rig.simulator.servers()).toEqual([]);
    await rig.recordHistory('released-validated-input', name);
  });

  it('fails a lifecycle whose input is malformed at once, naming each field, with nothing sent to Nova', async () => {
    const name = rig.nameOf('raw-bad');
    rig.simulator.clearRequests();
    const input = { spec: { ...goodSpec, name, flavor: 1, missingTimeoutSeconds: -5 }, properties: {} };
    const handle = await rig.client.temporal.workflow.start(LIFECYCLE_WORKFLOW_TYPE, { workflowId: workflowIdFor(name), taskQueue: rig.client.taskQueue, args: [input] });
    const failure = await handle.result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidInput');
    expect(cause!.message).toContain('spec.flavor:');
    expect(cause!.message).toContain('spec.missingTimeoutSeconds: must be between 1 and 604800 seconds (7 days)');
    expect(rig.simulator.requests()).toEqual([]);
    await rig.recordHistory('invalid-input', name);
  });
});
