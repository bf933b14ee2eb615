import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { EXIT } from '../src/client/exitCodes.js';
import { cloudScopeOf, parseConfig, type LoadedConfig } from '../src/config/load.js';
import { statusWatcherId } from '../src/workflows/statusWatchNames.js';
import { OpenStackClient } from '../src/openstack/index.js';
import { defaultUsers, startSimulator, type Simulator } from '../src/simulator/index.js';
import { startDevServer } from '../src/temporal/devServer.js';
import { projectRoot } from '../src/temporal/paths.js';
import { freePort } from '../src/temporal/ports.js';
import { runCli } from './support/cli.js';
import { parsePrometheus, valueOf, type Sample } from './support/prometheus.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { AUDITED_USER } from './support/secrets.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';
import { startWorkerCli, type WorkerCli } from './support/workerCli.js';
import { TEST_WORKER_ENV } from './support/workerEnv.js';

// The worker process as operators run it (`latent-worker worker` in a child process), watched
// from outside the way they watch it: Prometheus scrapes, health probes, its log lines, SIGTERM.

const SHUTDOWN_GRACE_SECONDS = 2;
// Longer than the grace period, so that SIGTERM finds the boot wait in flight and must hand it back.
const BOOT_DELAY_MS = 6_000;
const IMAGE = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';

const suffix = randomUUID().slice(0, 6);
const deployment = `ops-${suffix}`;
const names = { metrics: `ops-metrics-${suffix}`, drain: `ops-drain-${suffix}`, twice: `ops-twice-${suffix}`, census: `ops-census-${suffix}` };
const scratch = path.join(projectRoot, '.scratch', `worker-ops-${suffix}`);
const taskQueue = uniqueTaskQueue('worker-ops');

let simulator: Simulator;
let config: LoadedConfig;
let configFile: string;
let client: LatentWorkerClient;
let metricsUrl: string;
let first: WorkerCli;
let second: WorkerCli | undefined;
let third: WorkerCli | undefined;

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  simulator = await startSimulator({ bootDelayMs: BOOT_DELAY_MS, deleteDelayMs: 100, users: [...defaultUsers, AUDITED_USER] });
  // Keystone v3 with a password that appears nowhere else, so the log check below can look for it.
  const account = { os_auth_url: simulator.authUrlV3, os_username: AUDITED_USER.name, os_password: AUDITED_USER.password, os_tenant_name: AUDITED_USER.project };
  const raw = {
    deployment,
    workers: Object.values(names).map((name) => ({ name, password: SEED_WORKER.password, flavor: 1, image: IMAGE, ...account })),
  };
  config = parseConfig(raw, 'worker-ops test');
  configFile = path.join(scratch, 'latent.config.yaml');
  writeFileSync(configFile, stringify(raw));
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  first = await startWorkerCli({
    configFile,
    temporalAddress: temporalAddress(),
    taskQueue,
    logFile: path.join(scratch, 'worker-1.log'),
    args: ['--metrics-address', `127.0.0.1:${metricsPort}`, '--census-interval', '1', '--shutdown-grace', String(SHUTDOWN_GRACE_SECONDS), '--log-format', 'json'],
  });
  client = new LatentWorkerClient(await connectClient(), taskQueue);
});

afterAll(async () => {
  await first?.process.stop(5_000);
  await second?.process.stop(5_000);
  await third?.process.stop(5_000);
  await client?.temporal.connection.close();
  await simulator?.close();
});

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parsePrometheus(text) };
}

/** Scrapes until `ready` holds: the SDK exports workflow metrics a moment after they are recorded. */
async function scrapeUntil(ready: (samples: Sample[]) => boolean, timeoutMs = 15_000): Promise<{ text: string; samples: Sample[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await scrape();
    if (ready(result.samples) || Date.now() > deadline) return result;
    await delay(250);
  }
}

async function probe(pathname: string, worker: WorkerCli = first): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${worker.healthUrl}${pathname}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Every line the worker wrote, each of which must be one JSON object. */
function jsonLines(log: string): Record<string, unknown>[] {
  return log
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`worker log line is not JSON: ${line}`);
      }
    });
}

/** The worker's log lines once `ready` holds: the SDK's runtime holds lines back ~100 ms to order them. */
async function linesUntil(worker: WorkerCli, ready: (lines: Record<string, unknown>[]) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = jsonLines(worker.log());
    if (ready(lines) || Date.now() > deadline) return lines;
    await delay(100);
  }
}

/** Attached, then released by the master: the plain way through. */
async function runToRelease(name: string): Promise<string> {
  await client.substantiate(config.workers.get(name)!.specFor());
  await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
  await client.attached(name);
  await client.waitForPhase(name, 'attached', { intervalMs: 100 });
  await client.release(name);
  const result = await client.result(name);
  expect(result.outcome).toBe('released');
  return result.serverId!;
}

describe('the worker process in operation', () => {
  it('answers /healthz and /readyz with JSON', async () => {
    const live = await probe('/healthz');
    expect(live).toEqual({ status: 200, body: { status: 'ok', state: 'RUNNING' } });
    const ready = await probe('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', checks: { worker: { ok: true, detail: 'RUNNING' }, temporal: { ok: true } } });
    expect((await probe('/nope')).status).toBe(404);
  });

  it("runs with the tests' fleet census interval (test/support/workerEnv.ts), as its start line says", async () => {
    const started = (line: Record<string, unknown>) => String(line.message).includes('polling task queue');
    const line = (await linesUntil(first, (current) => current.some(started))).find(started);
    expect(line?.message).toMatch(new RegExp(`fleet-census-interval ${TEST_WORKER_ENV.LATENT_WORKER_FLEET_CENSUS_INTERVAL}$`));
  });

  it('counts a lifecycle, its OpenStack calls and its servers on /metrics, next to the SDK metrics', async () => {
    const name = names.metrics;
    const serverId = await runToRelease(name);

    // An orphan of this deployment, older than the grace of 0 s: the reaper deletes it in this worker.
    const cloud = new OpenStackClient(config.workers.get(name)!.credentials);
    const orphan = await cloud.compute.createServer({
      name: `orphan-${suffix}`,
      flavorRef: '1',
      imageRef: IMAGE,
      metadata: { 'latent-worker:deployment': deployment, 'latent-worker:workflow-id': `latent-worker:${name}`, 'latent-worker:run-id': randomUUID() },
    });
    await cloud.close();
    const reaped = await runCli(['--config', configFile, 'reap', '--grace', '0', '--json'], { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: taskQueue });
    expect(reaped.code).toBe(EXIT.ok);
    expect((JSON.parse(reaped.stdout) as { deleted: { serverId: string }[] }).deleted.map((server) => server.serverId)).toEqual([orphan.id]);

    const lifecycle = { worker: name, outcome: 'released' };
    // The watcher's gauge is what its last list saw: the orphan may still have been booting then, so
    // the scrape waits for a list after the reap too (a gauge that stays above 0 fails below).
    const waiting = 'latent_worker_watcher_waiting_servers';
    const { text, samples } = await scrapeUntil(
      (current) =>
        valueOf(current, 'latent_worker_lifecycles_total', lifecycle) > 0 &&
        valueOf(current, 'latent_worker_servers_reaped_total') > 0 &&
        current.some((sample) => sample.name === waiting) &&
        valueOf(current, waiting) === 0,
    );
    const excerpt = text.split('\n').filter((line) => line.startsWith('latent_worker_') && !line.includes('_bucket{'));
    const sdkExcerpt = text.split('\n').filter((line) => /^temporal_(workflow_completed|activity_execution_latency_count|worker_task_slots_available)/.test(line));
    const scrapeFile = path.join(scratch, 'metrics-scrape.txt');
    writeFileSync(scrapeFile, text);
    console.log(`A scrape of ${metricsUrl} after one lifecycle and one reaped orphan (whole scrape: ${scrapeFile}):\n${[...excerpt, ...sdkExcerpt].join('\n')}`);

    expect(valueOf(samples, 'latent_worker_lifecycles_total', lifecycle)).toBe(1);
    // Labels in Prometheus' style, as the SDK's own metrics have them, not the workflow meter's camel case.
    const lifecycleSample = samples.find((sample) => sample.name === 'latent_worker_lifecycles_total' && sample.labels.worker === name && sample.labels.outcome === 'released')!;
    expect(lifecycleSample.labels).toEqual({ namespace: 'default', task_queue: taskQueue, workflow_type: 'latentWorkerLifecycle', outcome: 'released', worker: name });
    expect(valueOf(samples, 'latent_worker_launches_total', { worker: name, result: 'ready', task_queue: taskQueue })).toBe(1);
    expect(valueOf(samples, 'latent_worker_phase_duration_seconds_count', { phase: 'booting', task_queue: taskQueue })).toBe(1);
    // The cloud's status watcher listed while the boot was awaited, and now waits on nothing.
    const watched = samples.find((sample) => sample.name === 'latent_worker_watcher_last_list_timestamp_seconds')?.labels.cloud ?? '(no watcher metric)';
    expect(watched).toContain(simulator.authUrlV3);
    expect(valueOf(samples, 'latent_worker_watcher_last_list_timestamp_seconds', { cloud: watched })).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(valueOf(samples, waiting, { cloud: watched })).toBe(0);
    expect(valueOf(samples, 'latent_worker_servers_created_total', { worker: name, adopted: 'false' })).toBe(1);
    expect(valueOf(samples, 'latent_worker_servers_deleted_total', { worker: name })).toBe(1);
    expect(valueOf(samples, 'latent_worker_servers_reaped_total')).toBe(1);
    expect(valueOf(samples, 'latent_worker_openstack_requests_total', { service: 'identity', operation: 'authenticate', status: '201' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'latent_worker_openstack_requests_total', { service: 'compute', operation: 'createServer', status: '202' })).toBe(1);
    // The lifecycle's server and the orphan; how often a delete is polled is the activity's business.
    expect(valueOf(samples, 'latent_worker_openstack_requests_total', { service: 'compute', operation: 'deleteServer', status: '204' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'latent_worker_openstack_request_duration_seconds_count', { service: 'compute', operation: 'createServer' })).toBe(1);
    // Booting took the simulator's boot delay, in workflow time.
    expect(valueOf(samples, 'latent_worker_phase_duration_seconds_count', { phase: 'booting' })).toBe(1);
    expect(valueOf(samples, 'latent_worker_phase_duration_seconds_sum', { phase: 'booting' })).toBeGreaterThanOrEqual((BOOT_DELAY_MS - 500) / 1000);
    expect(valueOf(samples, 'latent_worker_phase_duration_seconds_count', { phase: 'attached' })).toBe(1);
    // The SDK's own, on the same endpoint.
    expect(valueOf(samples, 'temporal_workflow_completed_total', { workflow_type: 'latentWorkerLifecycle' })).toBeGreaterThanOrEqual(1);
    expect(samples.some((sample) => sample.name === 'temporal_worker_task_slots_available')).toBe(true);

    // The log: one JSON object per line, lines about this lifecycle's server say which one, and no secret.
    const workflowId = `latent-worker:${name}`;
    const lines = await linesUntil(first, (current) => current.some((line) => line.message === 'orphan server reaped'));
    const log = first.log();
    const aboutServer = lines.filter((line) => line.workflowId === workflowId && line.serverId === serverId);
    expect(aboutServer.map((line) => line.message)).toEqual(expect.arrayContaining(['server created', 'phase waiting-for-attach', 'server deleted']));
    // The delete ended within its prompt first try, in the workflow task that decided it.
    expect(aboutServer.find((line) => line.message === 'server deleted')).toMatchObject({ level: 'info', activityType: 'deleteServerPromptly', runId: expect.any(String), time: expect.any(String) });
    expect(lines.find((line) => line.message === 'orphan server reaped')).toMatchObject({ serverId: orphan.id, workflowType: 'orphanReaper' });
    expect(log).not.toContain(AUDITED_USER.password);
    expect(log).not.toMatch(new RegExp(`\\b${SEED_WORKER.password}\\b`));
    const tokens = lines.filter((line) => 'taskToken' in line).map((line) => line.taskToken);
    expect(tokens.length).toBeGreaterThan(0);
    expect(new Set(tokens)).toEqual(new Set(['[redacted]']));
  });

  it('counts running lifecycles by phase and the servers of the deployment by status (the census)', async () => {
    const name = names.census;
    await client.substantiate(config.workers.get(name)!.specFor());
    await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
    const waiting = { phase: 'waiting-for-attach' };
    const during = await scrapeUntil((current) => valueOf(current, 'latent_worker_lifecycles_running', waiting) === 1 && valueOf(current, 'latent_worker_servers', { status: 'ACTIVE' }) === 1, 30_000);
    console.log(`The census while one lifecycle waits for its CI worker:\n${during.text.split('\n').filter((line) => /^latent_worker_(lifecycles_running|servers|census)/.test(line) && !line.includes('_total')).join('\n')}`);
    expect(valueOf(during.samples, 'latent_worker_lifecycles_running', waiting)).toBe(1);
    expect(valueOf(during.samples, 'latent_worker_lifecycles_running', { phase: 'booting' })).toBe(0);
    expect(valueOf(during.samples, 'latent_worker_servers', { status: 'ACTIVE' })).toBe(1);
    expect(valueOf(during.samples, 'latent_worker_census_timestamp_seconds', { source: 'temporal' })).toBeGreaterThan(Date.now() / 1000 - 60);

    await client.release(name);
    expect((await client.result(name)).outcome).toBe('released');
    const after = await scrapeUntil((current) => valueOf(current, 'latent_worker_lifecycles_running', waiting) === 0 && valueOf(current, 'latent_worker_servers', { status: 'ACTIVE' }) === 0, 30_000);
    // A status no longer seen reads 0, not its last count.
    expect(valueOf(after.samples, 'latent_worker_lifecycles_running', waiting)).toBe(0);
    expect(after.samples.some((sample) => sample.name === 'latent_worker_servers' && sample.labels.status === 'ACTIVE' && sample.value === 0)).toBe(true);
  });

  it('on SIGTERM turns not ready, hands its in-flight activity back, exits 0; a second worker finishes the lifecycle', async () => {
    const name = names.drain;
    const handle = await client.substantiate(config.workers.get(name)!.specFor());
    const { serverId } = await client.waitForPhase(name, 'booting', { intervalMs: 50 });
    expect(serverId).toBeDefined();

    const signalledAt = Date.now();
    process.kill(first.process.pid, 'SIGTERM');
    let notReady: { status: number; body: Record<string, unknown> } | undefined;
    while (!first.process.hasExited() && !notReady) {
      const answer = await probe('/readyz').catch(() => undefined);
      if (answer?.status === 503) notReady = answer;
      else await delay(50);
    }
    expect(notReady?.body).toMatchObject({ status: 'not ready', checks: { worker: { ok: false, detail: 'shutting down (SIGTERM)' } } });
    expect(await first.process.exited).toBe('code 0');
    const exitSeconds = (Date.now() - signalledAt) / 1000;
    // The boot wait outlasts the grace period: the worker waited that long, and not much longer.
    expect(exitSeconds).toBeGreaterThanOrEqual(SHUTDOWN_GRACE_SECONDS);
    expect(exitSeconds).toBeLessThan(SHUTDOWN_GRACE_SECONDS + 8);
    // Everything is written by the time the process has exited.
    const messages = jsonLines(first.log()).map((line) => line.message);
    expect(messages).toContain('SIGTERM: shutting down; in-flight activities have 2 s to finish, then are handed back to Temporal');
    expect(messages.at(-1)).toBe('worker stopped');

    second = await startWorkerCli({ configFile, temporalAddress: temporalAddress(), taskQueue, logFile: path.join(scratch, 'worker-2.log') });
    const waiting = await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
    expect(waiting.serverId).toBe(serverId);
    await client.release(name);
    expect((await handle.result()).outcome).toBe('released');
    expect(simulator.servers()).toEqual([]);

    // Handed back, not left to time out: the in-flight activity was the cloud's status watcher
    // (the boot waits on it); its attempt ended as the worker's shutdown, not as a heartbeat
    // timeout, and the next attempt ran in the second worker.
    const cloud = cloudScopeOf(config.workers.get(name)!.credentials);
    const watcher = await client.temporal.workflow.getHandle(statusWatcherId(config.deployment, taskQueue, cloud)).describe();
    const watch = watcher.raw.pendingActivities?.find((activity) => activity.activityType?.name === 'watchCloudStatus');
    expect(watch?.attempt).toBeGreaterThanOrEqual(2);
    expect(watch?.lastFailure).toMatchObject({ applicationFailureInfo: { type: 'WorkerShutdown' } });
  });

  it('ends at once on a second signal, and the lifecycle goes on elsewhere', async () => {
    const name = names.twice;
    const handle = await client.substantiate(config.workers.get(name)!.specFor());
    await client.waitForPhase(name, 'booting', { intervalMs: 50 });
    const worker = second!;
    process.kill(worker.process.pid, 'SIGTERM');
    // The first signal is handled (not ready) before the second is sent.
    for (const deadline = Date.now() + 5_000; (await probe('/readyz', worker)).status !== 503 && Date.now() < deadline; ) await delay(50);
    const secondAt = Date.now();
    process.kill(worker.process.pid, 'SIGTERM');
    expect(await worker.process.exited).toBe('signal SIGTERM');
    expect(Date.now() - secondAt).toBeLessThan(2_000);

    // Nothing was handed back this time: as after a crash, the status watcher's watch is retried
    // once its 10 s heartbeat timeout has passed, and tells the boot.
    third = await startWorkerCli({ configFile, temporalAddress: temporalAddress(), taskQueue, logFile: path.join(scratch, 'worker-3.log') });
    await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
    await client.release(name);
    expect((await handle.result()).outcome).toBe('released');
    expect(simulator.servers()).toEqual([]);
  });

  it('stays live but turns not ready while Temporal does not answer', async () => {
    // A Temporal server of its own, to stop under the worker.
    const temporal = await startDevServer({ logFile: path.join(scratch, 'temporal-private.log') });
    let worker: WorkerCli | undefined;
    try {
      worker = await startWorkerCli({ configFile, temporalAddress: temporal.address, taskQueue: uniqueTaskQueue('worker-ops-private'), logFile: path.join(scratch, 'worker-private.log') });
      expect((await probe('/readyz', worker)).status).toBe(200);
      await temporal.stop();
      let answer = await probe('/readyz', worker);
      for (const deadline = Date.now() + 30_000; answer.status === 200 && Date.now() < deadline; ) {
        await delay(250);
        answer = await probe('/readyz', worker);
      }
      expect(answer).toMatchObject({ status: 503, body: { status: 'not ready', checks: { temporal: { ok: false } } } });
      expect((await probe('/healthz', worker)).status).toBe(200);
    } finally {
      await worker?.process.stop(5_000);
      await temporal.stop();
    }
  });
});
