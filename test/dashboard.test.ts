import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { EXIT } from '../src/client/exitCodes.js';
import { parseConfig, type LoadedConfig } from '../src/config/load.js';
import { OWNER_KEYS } from '../src/activities/ownerKeys.js';
import { OpenStackClient } from '../src/openstack/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { projectRoot } from '../src/temporal/paths.js';
import { freePort } from '../src/temporal/ports.js';
import { runCli } from './support/cli.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { parsePrometheus, valueOf } from './support/prometheus.js';
import { startPrometheus, type PrometheusServer } from './support/prometheusServer.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';
import { startWorkerCli, type WorkerCli } from './support/workerCli.js';

// deploy/grafana's dashboard and deploy/prometheus' rules against the real thing: a worker
// process (`latent-worker worker`) runs lifecycles on the simulator, a real Prometheus (Debian's)
// scrapes it every second and evaluates the rules, and every query of the dashboard is run there.
// Each must be accepted and, after the lifecycles below, return data: a typo in a metric or
// label name, or a query against a metric nobody emits, fails here.

const DASHBOARD = path.join(projectRoot, 'deploy', 'grafana', 'latent-worker-dashboard.json');
const RULES = path.join(projectRoot, 'deploy', 'prometheus', 'rules.yml');
const JOB = 'latent-worker';
const IMAGE = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';
const RATE_INTERVAL = '5m';

interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  definition?: string;
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Variable[] };
  annotations: { list: { name: string; expr?: string }[] };
}

const suffix = randomUUID().slice(0, 6);
const scratch = path.join(projectRoot, '.scratch', `dashboard-${suffix}`);
const taskQueue = uniqueTaskQueue('dashboard');
const names = { flaky: `dash-flaky-${suffix}`, plain: `dash-plain-${suffix}`, missing: `dash-missing-${suffix}` };
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

let simulator: Simulator;
let config: LoadedConfig;
let worker: WorkerCli;
let prometheus: PrometheusServer;
let client: LatentWorkerClient;
let metricsUrl: string;

/** The dashboard's variables as Grafana would fill them for this worker. */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$job', JOB).replaceAll('$task_queue', taskQueue);
}

async function scrape() {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
  return parsePrometheus(await response.text());
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(500);
  }
}

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  simulator = await startSimulator({ bootDelayMs: 1_500, deleteDelayMs: 100 });
  const base = { ...SEED_WORKER, os_auth_url: simulator.authUrlV3, flavor: 1, image: IMAGE };
  const raw = {
    deployment: `dash-${suffix}`,
    workers: [
      { ...base, name: names.flaky, launch_attempts: 2 },
      { ...base, name: names.plain },
      { ...base, name: names.missing, missing_timeout: 3 },
    ],
  };
  config = parseConfig(raw, 'dashboard test', {});
  const configFile = path.join(scratch, 'latent.config.yaml');
  writeFileSync(configFile, stringify(raw));
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  worker = await startWorkerCli({
    configFile,
    temporalAddress: temporalAddress(),
    taskQueue,
    logFile: path.join(scratch, 'worker.log'),
    args: ['--metrics-address', `127.0.0.1:${metricsPort}`, '--census-interval', '1', '--log-format', 'json'],
  });
  prometheus = await startPrometheus({ dir: path.join(scratch, 'prometheus'), jobs: { [JOB]: [`127.0.0.1:${metricsPort}`] }, ruleFiles: [RULES] });
  client = new LatentWorkerClient(await connectClient(), taskQueue);
  // Prometheus syncs its targets a few seconds after start: scraping before anything happens, so
  // that every counter is seen at 0 first and rates see each change.
  await until('the first scrape of the worker', async () => ((await prometheus.query(`up{job="${JOB}"} == 1`)).length > 0 ? true : undefined));

  // The flaky worker's first server goes to ERROR (a launch error.server_error, then a second
  // launch), and each of its servers refuses its first three deletes (delete failures, activity
  // failures, API 500s); status lists fail now and then (poller errors).
  simulator.faults.inject({ kind: 'bootError', namePattern: `^${names.flaky}-`, message: 'Exceeded maximum number of retries.', count: 1 });
  simulator.faults.inject({ kind: 'deleteFailures', times: 3, namePattern: `^${names.flaky}-` });
  simulator.faults.inject({ kind: 'error', route: 'nova.servers.detail', status: 503, probability: 0.3, count: 6 });
  for (const name of [names.flaky, names.plain]) {
    await client.substantiate(config.workers.get(name)!.specFor());
    await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 200 });
    await client.attached(name);
    await client.release(name);
    expect((await client.result(name)).outcome).toBe('released');
  }
  // Its CI worker never attaches.
  await client.substantiate(config.workers.get(names.missing)!.specFor());
  expect((await client.result(names.missing)).outcome).toBe('missing');
  // An orphan of this deployment, deleted by the reaper that the worker runs.
  const cloud = new OpenStackClient(config.workers.get(names.plain)!.credentials);
  await cloud.compute.createServer({
    name: `orphan-${suffix}`,
    flavorRef: '1',
    imageRef: IMAGE,
    metadata: { [OWNER_KEYS.deployment]: raw.deployment, [OWNER_KEYS.workflowId]: `latent-worker:gone-${suffix}`, [OWNER_KEYS.runId]: randomUUID() },
  });
  await cloud.close();
  const reaped = await runCli(['--config', configFile, 'reap', '--grace', '0', '--json'], { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: taskQueue });
  expect(reaped.code, reaped.stderr).toBe(EXIT.ok);
  // A lifecycle left running, so that the census has something in a phase.
  await client.substantiate(config.workers.get(names.plain)!.specFor());
  await client.waitForPhase(names.plain, 'waiting-for-attach', { intervalMs: 200 });

  // Everything above is in the worker's metrics, then in Prometheus.
  await until('the worker to export the lifecycles', async () => {
    const samples = await scrape();
    return valueOf(samples, 'latent_worker_lifecycles_total', { outcome: 'missing' }) === 1 && valueOf(samples, 'latent_worker_lifecycles_running', { phase: 'waiting-for-attach' }) === 1 ? true : undefined;
  });
  await until('Prometheus to store them', async () => ((await prometheus.query('latent_worker_lifecycles_running{phase="waiting-for-attach"} == 1')).length > 0 ? true : undefined));
  // A few more scrapes and rule evaluations.
  await delay(5_000);
}, 300_000);

afterAll(async () => {
  if (client && config) await client.release(names.plain).catch(() => undefined);
  await client?.temporal.connection.close();
  await prometheus?.stop();
  await worker?.process.stop(10_000);
  await simulator?.close();
});

describe('the Grafana dashboard, against a real Prometheus scraping a real worker', () => {
  const targets = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, ...target })));

  it('has panels, each with a query', () => {
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(15);
    for (const panel of panels) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
  });

  it('every panel query runs without error and returns data after the lifecycles', async () => {
    const report: string[] = [];
    const empty: string[] = [];
    for (const target of targets) {
      const expr = substitute(target.expr);
      const result = await prometheus.query(expr);
      // The largest values first: those are what the lifecycles made.
      const shown = [...result]
        .sort((a, b) => (Number(b.value[1]) || 0) - (Number(a.value[1]) || 0))
        .slice(0, 4)
        .map(({ metric, value }) => `${JSON.stringify(metric)} ${value[1]}`)
        .join('; ');
      report.push(`[${target.panel} ${target.refId}] ${result.length} series: ${shown}${result.length > 4 ? '; ...' : ''}`);
      if (result.length === 0) empty.push(`${target.panel} ${target.refId}: ${expr}`);
    }
    console.log(`Dashboard queries against ${prometheus.url} (scraping ${metricsUrl}):\n${report.join('\n')}`);
    expect(empty).toEqual([]);
  });

  it('its variables and its alert annotation find this worker', async () => {
    const values: Record<string, string[]> = {};
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      // label_values(SELECTOR, LABEL), Grafana's form, is Prometheus' label values API.
      const match = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.definition ?? '');
      expect(match, variable.name).not.toBeNull();
      values[variable.name] = await prometheus.api<string[]>(`/api/v1/label/${match![2]}/values?match[]=${encodeURIComponent(substitute(match![1]!))}`);
    }
    console.log(`Dashboard variables: ${JSON.stringify(values)}`);
    expect(values.job).toContain(JOB);
    expect(values.task_queue).toContain(taskQueue);
    const annotation = dashboard.annotations.list.find((a) => a.name === 'Alerts')!;
    const alerts = await until('a firing alert', async () => {
      const found = await prometheus.query(annotation.expr!);
      return found.length > 0 ? found : undefined;
    });
    console.log(`Firing alerts: ${alerts.map((a) => `${a.metric.alertname}${JSON.stringify(a.metric)}`).join('; ')}`);
    expect(alerts.map((a) => a.metric.alertname)).toContain('LatentWorkerMissingWorkers');
  });
});

describe('the alerting and recording rules, evaluated by the same Prometheus', () => {
  it('load, and every rule evaluates without error on real data', async () => {
    const data = await prometheus.api<{ groups: { name: string; rules: { name: string; type: string; health: string; lastError?: string; state?: string }[] }[] }>('/api/v1/rules');
    const rules = data.groups.flatMap((group) => group.rules);
    console.log(`Rules: ${rules.map((rule) => `${rule.name} ${rule.type} ${rule.health}${rule.state ? ` ${rule.state}` : ''}`).join('; ')}`);
    expect(rules.length).toBeGreaterThanOrEqual(15);
    expect(rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`)).toEqual([]);
  });

  it('fire for what happened: a CI worker that never attached, deletes that failed', async () => {
    const firing = await until('the alerts', async () => {
      const alerts = await prometheus.query('ALERTS{alertstate="firing"}');
      const names = alerts.map((alert) => alert.metric.alertname);
      return names.includes('LatentWorkerMissingWorkers') && names.includes('LatentWorkerServerDeletesFailing') ? alerts : undefined;
    });
    expect(firing.find((alert) => alert.metric.alertname === 'LatentWorkerMissingWorkers')!.metric).toMatchObject({ worker: names.missing, task_queue: taskQueue, severity: 'warning' });
    // The plain worker's lifecycles attached: no alert names it.
    expect(firing.filter((alert) => alert.metric.worker === names.plain)).toEqual([]);
    // While its deletes failed, the flaky worker's servers counted as undeletable; once gone, no more.
    const undeletable = await prometheus.query('max_over_time(latent_worker_servers_delete_failing[10m])');
    expect(undeletable.map(({ value }) => Number(value[1]))).toEqual([1]);
    expect(Number((await prometheus.query('latent_worker_servers_delete_failing'))[0]!.value[1])).toBe(0);
    const ready = await prometheus.query(`sum by (result) (latent_worker_launches_total{worker="${names.flaky}"}) > 0`);
    expect(Object.fromEntries(ready.map(({ metric, value }) => [metric.result, Number(value[1])]))).toEqual({ ready: 1, 'error.server_error': 1 });
    // Half of its launches failed, as the dashboard's ratio panel shows.
    const ratio = await prometheus.query(substitute(dashboard.panels.find((panel) => panel.title === 'Launch failure ratio by worker')!.targets![0]!.expr));
    expect(Number(ratio.find(({ metric }) => metric.worker === names.flaky)!.value[1])).toBeCloseTo(0.5, 5);
  });
});
