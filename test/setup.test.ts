import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/client/exitCodes.js';
import type { SetupReport } from '../src/client/setup.js';
import { startDevServer, type DevServer } from '../src/temporal/devServer.js';
import { projectRoot } from '../src/temporal/paths.js';
import { searchAttributeKeys } from '../src/workflows/searchAttributes.js';
import { runCli } from './support/cli.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { uniqueTaskQueue } from './support/temporal.js';
import { startWorkerCli, type WorkerCli } from './support/workerCli.js';

// Issue 13: a Temporal service as a real installation starts, without the project's search
// attributes (a BARE dev server, not the shared one that registers them at start).

const suffix = randomUUID().slice(0, 6);
const scratch = path.join(projectRoot, '.scratch', `setup-${suffix}`);
const taskQueue = uniqueTaskQueue('setup');

let server: DevServer;
let client: Client;
let configFile: string;
let worker: WorkerCli | undefined;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(['--config', configFile, ...args], { TEMPORAL_ADDRESS: server.address, LATENT_WORKER_TASK_QUEUE: taskQueue, ...env });

async function registered(namespace = 'default'): Promise<Record<string, number | undefined>> {
  const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
  return Object.fromEntries(searchAttributeKeys.map((key) => [key.name, customAttributes?.[key.name] as number | undefined]));
}

async function readyz(): Promise<{ status: number; body: { checks: Record<string, { ok: boolean; detail: string }> } }> {
  const response = await fetch(`${worker!.healthUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as { checks: Record<string, { ok: boolean; detail: string }> } };
}

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  server = await startDevServer({ searchAttributes: false, logFile: path.join(scratch, 'dev-server.log') });
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
  configFile = path.join(scratch, 'latent.config.yaml');
  // The cloud is never reached here: nothing can start before setup, and nothing is substantiated after.
  writeFileSync(configFile, stringify({ workers: [{ ...SEED_WORKER, name: `setup-${suffix}`, os_auth_url: 'http://127.0.0.1:9/v2.0' }] }));
});

afterAll(async () => {
  await worker?.process.stop(5_000);
  await client?.connection.close();
  await server?.stop();
});

describe('latent-worker setup against a bare Temporal service', () => {
  it('starts bare: none of the search attributes is registered', async () => {
    expect(Object.values(await registered()).filter((type) => type !== undefined)).toEqual([]);
  });

  it('a worker started before setup is live but not ready, and says why', async () => {
    worker = await startWorkerCli({ configFile, temporalAddress: server.address, taskQueue, logFile: path.join(scratch, 'worker.log'), args: ['--log-format', 'text'], until: 'answering' });
    // The health server answers before the first setup check has come back ('not checked yet').
    const deadline = Date.now() + 30_000;
    let { status, body } = await readyz();
    while (body.checks.setup?.detail === 'not checked yet' && Date.now() < deadline) {
      await delay(200);
      ({ status, body } = await readyz());
    }
    expect(status).toBe(503);
    expect(body.checks.temporal).toMatchObject({ ok: true });
    expect(body.checks.setup!.ok).toBe(false);
    expect(body.checks.setup!.detail).toContain('search attributes not registered on namespace default: LatentWorkerName (missing)');
    expect(body.checks.setup!.detail).toContain('run `latent-worker setup`, or: temporal operator search-attribute create --namespace default --name LatentWorkerName');
    expect(worker.log()).toMatch(/ERROR lifecycles cannot start: search attributes not registered.*\/readyz answers 503 until this is fixed/);
  });

  it('substantiate names the cause Temporal gives, not "Failed to start Workflow"', async () => {
    const name = `setup-${suffix}`;
    const text = await cli(['substantiate', name]);
    expect(text.code).toBe(EXIT.failure);
    expect(text.stderr).toContain('Namespace default has no mapping defined for search attribute LatentWorker');
    expect(text.stderr).toContain('run `latent-worker setup`');
    expect(text.stderr).not.toContain('Failed to start Workflow');
    const json = await cli(['substantiate', name, '--json']);
    expect(json.code).toBe(EXIT.failure);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toEqual({
      error: { kind: 'not-set-up', message: expect.stringContaining('no mapping defined for search attribute'), cause: expect.stringMatching(/^Namespace default has no mapping defined for search attribute LatentWorker\w+$/), exitCode: EXIT.failure },
    });
  });

  it('--check reports what is missing and changes nothing', async () => {
    const result = await cli(['setup', '--check', '--json']);
    expect(result.code).toBe(EXIT.failure);
    const report = JSON.parse(result.stdout) as SetupReport;
    expect(report.attributes.map((a) => a.state)).toEqual(searchAttributeKeys.map(() => 'missing'));
    expect(Object.values(await registered()).filter((type) => type !== undefined)).toEqual([]);
  });

  it('registers the search attributes; a second run changes nothing', async () => {
    const first = await cli(['setup']);
    console.log(`latent-worker setup against a bare dev server: exit ${first.code}\n${first.stdout}`);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(EXIT.ok);
    for (const key of searchAttributeKeys) expect(first.stdout).toContain(`search attribute ${key.name} (Keyword): created`);
    expect(await registered()).toEqual(Object.fromEntries(searchAttributeKeys.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)])));

    const second = await cli(['setup', '--json']);
    console.log(`latent-worker setup --json, run again: exit ${second.code}\n${second.stdout}`);
    expect(second.code).toBe(EXIT.ok);
    const report = JSON.parse(second.stdout) as SetupReport;
    expect(report).toMatchObject({ namespace: 'default', namespaceState: 'exists', todo: [], problems: [], ready: true });
    expect(report.attributes.map((a) => a.state)).toEqual(searchAttributeKeys.map(() => 'registered'));
  });

  it('the worker turns ready without a restart', async () => {
    const deadline = Date.now() + 60_000;
    let last = await readyz();
    while (last.status !== 200 && Date.now() < deadline) {
      await delay(500);
      last = await readyz();
    }
    expect(last.status).toBe(200);
    expect(last.body.checks.setup).toMatchObject({ ok: true, detail: expect.stringContaining('are in place') });
  });

  it('creates a namespace that does not exist, with its search attributes', async () => {
    const namespace = `ns-${suffix}`;
    const result = await cli(['--namespace', namespace, 'setup', '--retention-days', '2']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain(`namespace ${namespace}: created`);
    const { config } = await client.workflowService.describeNamespace({ namespace });
    expect(Number(config?.workflowExecutionRetentionTtl?.seconds)).toBe(2 * 86_400);
    // A namespace just registered takes a moment to be usable everywhere in the server.
    const deadline = Date.now() + 30_000;
    let types = await registered(namespace).catch(() => ({}));
    while (Object.values(types).some((type) => type === undefined) && Date.now() < deadline) {
      await delay(500);
      await cli(['--namespace', namespace, 'setup']);
      types = await registered(namespace).catch(() => ({}));
    }
    expect(types).toEqual(Object.fromEntries(searchAttributeKeys.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)])));
  });
});

describe('CLI errors name their cause', () => {
  it('an unreachable server', async () => {
    const result = await cli(['status', '--json'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(result.code).toBe(EXIT.failure);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: { kind: 'unreachable', message: expect.stringMatching(/cannot reach the Temporal service at 127\.0\.0\.1:1 \(TEMPORAL_ADDRESS.*ECONNREFUSED/) } });
  });

  it('a usage error, as JSON with -o json', async () => {
    const result = await cli(['-o', 'json', 'substantiate']);
    expect(result.code).toBe(EXIT.usage);
    expect(JSON.parse(result.stderr)).toEqual({ error: { kind: 'usage', message: "missing required argument 'name'", cause: "missing required argument 'name'", exitCode: EXIT.usage } });
  });
});
