// The benchmark (docs/benchmark.md): N concurrent lifecycles against the OpenStack simulator on a
// real Temporal dev server, with the worker as its own process, and one lifecycle's REST sequence
// without Temporal as the baseline.
//
//   npm run bench -- [--lifecycles N] [--boot-delay-ms MS] [--workers 1,2] [--baseline-only] [--out FILE] ...
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger } from '@temporalio/worker';
import { WORKER_PROCESS_ENV } from '../src/worker/tuning.js';
import { baselineClient, baselineLifecycle } from '../bench/baseline.js';
import { runCalibration } from '../bench/calibration/index.js';
import { activeLagParts } from '../bench/activeLag.js';
import { readServerMetrics, serverWork } from '../bench/serverMetrics.js';
import { historyWork } from '../bench/historyStats.js';
import { countCalls, isTokenRequest, peakConcurrentCreates, peakRate, serviceOf, type BootWindow } from '../bench/calls.js';
import { failed, runBatch, type BatchRun, type LifecycleRecord } from '../bench/master.js';
import { parseBenchOptions, type BenchOptions } from '../bench/options.js';
import { renderText, type BatchReport, type BenchReport, type ComparisonReport, type ProcessFigures, type Target } from '../bench/report.js';
import { distribution, median } from '../bench/stats.js';
import { ServerTimeline } from '../bench/timeline.js';
import { BenchWorker } from '../bench/workerProcess.js';
import { ProcSampler } from '../bench/procStats.js';
import { LatentWorkerClient } from '../src/client/api.js';
import { workflowIdFor } from '../src/contract/index.js';
import { loadConfigFile, type LoadedConfig } from '../src/config/load.js';
import { SEED_SIMPLEST_EXAMPLE } from '../src/config/seedExample.js';
import { parseNovaCongestion, startSimulator, type Simulator } from '../src/simulator/index.js';
import { startDevServer, type DevServer } from '../src/temporal/devServer.js';
import { dataConverterFromEnv } from '../src/codec/index.js';
import { resolveTuning } from '../src/worker/tuning.js';
import { workflowsPath } from '../src/worker/worker.js';
import { writeWorkflowBundle } from '../src/worker/workflowBundle.js';

/** The worker polls a booting or deleting server this often (createActivities' default); the baseline does the same. */
const WORKER_POLL_INTERVAL_MS = 1000;
const SINGLE = 'single';
const MiB = 1024 * 1024;

const options = parseBenchOptions(process.argv.slice(2));
const startedAt = new Date();
const runDir = path.join(path.dirname(options.out), `run-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(runDir, { recursive: true });
const say = (line: string) => console.log(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1).padStart(6)} s] ${line}`);

// Everything started is stopped on every way out: success, failure, Ctrl-C, --timeout.
const stops: (() => Promise<void>)[] = [];
let stopping: Promise<void> | undefined;
const stopAll = (): Promise<void> =>
  (stopping ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => console.error(`while stopping: ${String(error)}`));
  })());
const abort = (why: string, code: number): void => {
  console.error(`bench: ${why}; stopping everything`);
  void stopAll().finally(() => process.exit(code));
};
process.once('SIGINT', () => abort('interrupted', 130));
process.once('SIGTERM', () => abort('terminated', 143));
setTimeout(() => abort(`--timeout ${options.timeoutSeconds} s passed`, 1), options.timeoutSeconds * 1000).unref();

const report: BenchReport = {
  startedAt: startedAt.toISOString(),
  finishedAt: '',
  options: { ...options },
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    loadAverageAtStart: os.loadavg(),
    loadAverageAtEnd: [],
  },
  // The worker processes inherit this environment, so this is the tuning they run with.
  tuning: resolveTuning({}),
  batches: [],
  targets: [],
  ok: false,
};

try {
  await run(options);
} catch (error) {
  report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
} finally {
  await stopAll();
}
report.machine.loadAverageAtEnd = os.loadavg();
report.finishedAt = new Date().toISOString();
report.targets = targets(report, options);
report.ok = report.error === undefined && report.batches.every((b) => b.failures === 0 && b.serversLeft === 0);
mkdirSync(path.dirname(options.out), { recursive: true });
writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n${renderText(report)}\n\nreport: ${options.out}\nlogs: ${runDir}`);
process.exit(report.ok ? 0 : 1);

async function run(o: BenchOptions): Promise<void> {
  const timeline = new ServerTimeline();
  // Two clouds: the batch's, and the single lifecycle's, which boots as the comparison is defined
  // (5 s) whatever the batch's boot delay. Apart, neither one's boots teach the other's poller.
  const { congestion } = parseNovaCongestion(o.novaCongestion);
  const sim = await startSimulator({
    bootDelayMs: o.bootDelayMs,
    scheduleDelayMs: o.scheduleDelayMs,
    novaCongestion: congestion ?? undefined,
    deleteDelayMs: o.deleteDelayMs,
    onServerEvent: timeline.record,
  });
  stops.push(() => sim.close());
  const congested = congestion ? `, Nova congestion ${o.novaCongestion}: ${congestion.workers} build slot(s) of ${congestion.buildMs} ms` : '';
  say(`batch simulator on ${sim.url}: boot ${o.bootDelayMs} ms, delete ${o.deleteDelayMs} ms${congested}`);
  const singleSim = await startSimulator({ bootDelayMs: o.singleBootDelayMs, deleteDelayMs: o.deleteDelayMs, onServerEvent: timeline.record });
  stops.push(() => singleSim.close());
  say(`single-lifecycle simulator on ${singleSim.url}: boot ${o.singleBootDelayMs} ms, delete ${o.deleteDelayMs} ms`);
  const config = await writeConfig(sim, singleSim, o.baselineOnly ? 0 : o.lifecycles);

  let comparison: ComparisonReport | undefined;
  if (o.baseline) {
    comparison = await runBaseline(config, o);
    report.comparison = comparison;
  }

  const server = await startDevServer({ logFile: path.join(runDir, 'temporal.log'), dynamicConfig: o.serverConfig, metrics: true });
  stops.push(() => server.stop());
  const serverSampler = new ProcSampler(server.pid);
  stops.push(async () => serverSampler.stop());
  say(`Temporal dev server on ${server.address} (in memory)`);
  // Never closed before exit: closing it under calls still in flight (an interrupted or timed-out
  // batch's result() calls) makes the client's retry timer throw where nothing can catch it.
  const connection = await Connection.connect({ address: server.address, connectTimeout: '10 seconds' });
  const temporal = new Client({ connection, namespace: 'default' });

  // glibc's default of up to 8 malloc arenas per core grows with the SDK's native threads; two
  // keep less resident (docs/benchmark.md, "Worker memory"). A setting in the environment wins.
  const workerEnv: Record<string, string> = { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? WORKER_PROCESS_ENV.MALLOC_ARENA_MAX };
  if (o.workerNodeOptions) workerEnv.NODE_OPTIONS = o.workerNodeOptions;
  if (o.prebundle) {
    workerEnv.LATENT_WORKER_WORKFLOW_BUNDLE = path.join(runDir, 'workflow-bundle.js');
    await writeWorkflowBundle(workerEnv.LATENT_WORKER_WORKFLOW_BUNDLE, workflowsPath(), dataConverterFromEnv(), new DefaultLogger('WARN'));
    say(`workflow bundle built ahead: ${workerEnv.LATENT_WORKER_WORKFLOW_BUNDLE}`);
  }
  for (const [index, count] of o.workers.entries()) {
    const taskQueue = `bench-${index + 1}-${count}w`;
    const client = new LatentWorkerClient(temporal, taskQueue);
    const workers = await startWorkers(server, config.source, taskQueue, count, workerEnv);
    try {
      const workersStartedAt = Date.now();
      if (index === 0 && comparison) {
        comparison.temporalMs = await runSingles(client, config, timeline, o);
        comparison.temporalMedianMs = median(comparison.temporalMs);
        comparison.ratio = comparison.temporalMedianMs / comparison.baselineMedianMs;
        comparison.addedMs = comparison.temporalMedianMs - comparison.baselineMedianMs;
        say(`one lifecycle: ${Math.round(comparison.baselineMedianMs)} ms without Temporal, ${Math.round(comparison.temporalMedianMs)} ms with (ratio ${comparison.ratio.toFixed(3)})`);
      }
      if (o.baselineOnly) continue;
      const batch = await runOneBatch(client, config, timeline, sim, workers, serverSampler, server.metricsUrl, workersStartedAt, o);
      report.batches.push(batch);
      await measureWork(batch, temporal, server, serverSampler, workerEnv, o);
    } finally {
      await stopWorkers(workers);
    }
  }
}

/**
 * The work per lifecycle, which does not depend on the machine: what its history holds, and its
 * CPU beside the CPU of bare workflows with as many activities, run on the same server right after.
 */
async function measureWork(batch: BatchReport, temporal: Client, server: DevServer, serverSampler: ProcSampler, env: Record<string, string>, o: BenchOptions): Promise<void> {
  const names = batch.workerNames;
  batch.history = await historyWork(temporal, names.map(workflowIdFor));
  say(`histories read: ${batch.history.mean.events.toFixed(1)} events per lifecycle`);
  if (!o.calibration) return;
  const activities = o.calibrationActivities ?? Math.max(1, Math.round(batch.history.mean.activityTasks));
  say(`calibration: ${names.length} bare workflows × ${activities} no-op activities`);
  batch.calibration = await runCalibration({
    client: temporal,
    serverAddress: server.address,
    serverSampler,
    workflows: names.length,
    activitiesPerWorkflow: activities,
    startConcurrency: o.startConcurrency,
    logFile: path.join(runDir, 'calibration-worker.log'),
    env,
    deadline: startedAt.getTime() + o.timeoutSeconds * 1000 - 30_000,
  });
  say(`calibration done: ${batch.calibration.wallSeconds.toFixed(1)} s`);
}

/** Stopping a stopped worker does nothing, so the same stop may also run again at exit. */
async function stopWorkers(workers: BenchWorker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
}

async function startWorkers(server: DevServer, configFile: string, taskQueue: string, count: number, env: Record<string, string>): Promise<BenchWorker[]> {
  const workers: BenchWorker[] = [];
  stops.push(() => stopWorkers(workers));
  // One after the other: each bundles the workflow code at start, which takes a core for seconds.
  for (let i = 0; i < count; i++) {
    workers.push(await BenchWorker.start({ configFile, temporalAddress: server.address, taskQueue, logFile: path.join(runDir, `${taskQueue}-worker-${i + 1}.log`), env }));
  }
  say(`${count} worker process(es) polling ${taskQueue}: pid ${workers.map((w) => w.pid).join(', ')}`);
  return workers;
}

/** Worker names b00001... on the batch's cloud; `single`, the one lifecycle compared with the baseline, on its own. */
async function writeConfig(sim: Simulator, singleSim: Simulator, lifecycles: number): Promise<LoadedConfig> {
  const names = Array.from({ length: lifecycles }, (_, i) => `b${String(i + 1).padStart(5, '0')}`);
  const { name: _name, password: _password, ...seed } = SEED_SIMPLEST_EXAMPLE;
  const workers = [{ ...seed, name: SINGLE, os_auth_url: singleSim.authUrlV3 }, ...names.map((name) => ({ ...seed, name, os_auth_url: sim.authUrlV3 }))];
  const file = path.join(runDir, 'latent.config.json');
  writeFileSync(file, JSON.stringify({ deployment: 'bench', workers }, null, 1));
  return loadConfigFile(file);
}

async function runBaseline(config: LoadedConfig, o: BenchOptions): Promise<ComparisonReport> {
  const worker = config.workers.get(SINGLE)!;
  const client = baselineClient(worker);
  const runs: number[] = [];
  try {
    for (let i = 0; i <= o.baselineRuns; i++) {
      const ms = await baselineLifecycle(client, worker, `baseline-${i}`, WORKER_POLL_INTERVAL_MS, 120_000 + o.singleBootDelayMs * 2);
      if (i > 0) runs.push(ms);
    }
  } finally {
    await client.close();
  }
  say(`baseline without Temporal: ${runs.map(Math.round).join(', ')} ms (after a warm-up run)`);
  return { baselineMs: runs, baselineMedianMs: median(runs), temporalMs: [] };
}

async function runSingles(client: LatentWorkerClient, config: LoadedConfig, timeline: ServerTimeline, o: BenchOptions): Promise<number[]> {
  const spec = config.workers.get(SINGLE)!.specFor();
  const runs: number[] = [];
  for (let i = 0; i <= o.baselineRuns; i++) {
    const { records } = await runBatch({ client, specs: [spec], timeline, startConcurrency: 1, signalConcurrency: 1, deadline: Date.now() + 120_000 + o.singleBootDelayMs * 2 });
    const record = records[0]!;
    if (failed(record) || record.finishedAt === undefined || record.startCalledAt === undefined) {
      throw new Error(`the single lifecycle failed: ${record.outcome ?? ''} ${record.error ?? ''}`);
    }
    if (i > 0) runs.push(record.finishedAt - record.startCalledAt);
  }
  say(`one lifecycle through Temporal: ${runs.join(', ')} ms (after a warm-up run)`);
  return runs;
}

async function runOneBatch(
  client: LatentWorkerClient,
  config: LoadedConfig,
  timeline: ServerTimeline,
  sim: Simulator,
  workers: BenchWorker[],
  serverSampler: ProcSampler,
  serverMetricsUrl: string | undefined,
  workersStartedAt: number,
  o: BenchOptions,
): Promise<BatchReport> {
  const specs = [...config.workers.keys()].filter((name) => name !== SINGLE).map((name) => config.workers.get(name)!.specFor());
  const before = workers.map((w) => {
    w.sampler.resetPeak();
    return w.sampler.last?.cpuSeconds ?? 0;
  });
  const benchCpu = process.cpuUsage();
  const serverCpu = serverSampler.sample()?.cpuSeconds ?? 0;
  const metricsBefore = serverMetricsUrl ? await readServerMetrics(serverMetricsUrl) : undefined;
  say(`batch: ${specs.length} lifecycles on ${workers.length} worker process(es)`);
  const run = await runBatch({
    client,
    specs,
    timeline,
    startConcurrency: o.startConcurrency,
    signalConcurrency: o.signalConcurrency,
    attachAfterMs: o.attachAfterMs,
    deadline: startedAt.getTime() + o.timeoutSeconds * 1000 - 30_000,
    abort: Promise.race(workers.map((w) => w.exited.then((how) => `worker process ${w.pid} exited (${how}); see its log`))),
    progress: say,
  });
  const cpu = process.cpuUsage(benchCpu);
  const figures: ProcessFigures[] = workers.map((w, i) => {
    const last = w.sampler.sample() ?? w.sampler.last;
    return {
      pid: w.pid,
      readyRssMiB: w.readyRssBytes / MiB,
      peakRssMiB: w.sampler.peakRssBytes / MiB,
      hwmMiB: (last?.hwmBytes ?? 0) / MiB,
      cpuSecondsBatch: (last?.cpuSeconds ?? 0) - before[i]!,
      cpuSecondsTotal: last?.cpuSeconds ?? 0,
    };
  });
  const batch = summarize(run, sim, workers.length, workersStartedAt, figures);
  const { requestsPerSecond, maxConcurrentCreates } = config.workers.get(specs[0]!.name)!.limits;
  const inBatch = sim.requests().filter((r) => r.at >= run.startedAt && r.at <= run.endedAt);
  batch.cloud = { peakRequestsPerSecond: peakRate(inBatch), peakConcurrentCreates: peakConcurrentCreates(inBatch), requestsPerSecond, maxConcurrentCreates };
  const { stickyTasks, heardTasks, ...lagParts } = await activeLagParts(client.temporal, run.records, inBatch);
  Object.assign(batch.phases, lagParts);
  if (heardTasks !== undefined) batch.heardOnStickyQueue = { sticky: stickyTasks ?? 0, of: heardTasks };
  batch.benchProcessCpuSeconds = (cpu.user + cpu.system) / 1e6;
  batch.temporalServerCpuSeconds = (serverSampler.sample()?.cpuSeconds ?? serverCpu) - serverCpu;
  const metricsAfter = serverMetricsUrl ? await readServerMetrics(serverMetricsUrl) : undefined;
  if (metricsBefore && metricsAfter) batch.serverWork = serverWork(metricsBefore, metricsAfter);
  say(`batch done: ${batch.wallSeconds.toFixed(1)} s, ${batch.failures} failed, ${batch.serversLeft} servers left`);
  return batch;
}

function summarize(run: BatchRun, sim: Simulator, workerProcesses: number, workersStartedAt: number, workers: ProcessFigures[]): BatchReport {
  const { records } = run;
  const phase = (pick: (r: LifecycleRecord) => number | undefined) =>
    distribution(records.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const diff = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b);
  const requests = sim.requests();
  const inBatch = requests.filter((r) => r.at >= run.startedAt && r.at <= run.endedAt);
  const windows: BootWindow[] = records.flatMap((r) => (r.serverId && r.created !== undefined && r.detected !== undefined ? [{ serverId: r.serverId, from: r.created, to: r.detected }] : []));
  const calls = countCalls(inBatch, windows);
  // Tokens over the worker processes' whole life so far: a token fetched by an earlier run of the same processes still counts.
  calls.keystoneTokenRequests = requests.filter((r) => r.at >= workersStartedAt && r.at <= run.endedAt && isTokenRequest(r) && serviceOf(r) === 'keystone').length;
  const failures = records.filter(failed);
  const wallSeconds = (run.endedAt - run.startedAt) / 1000;
  return {
    workerProcesses,
    lifecycles: records.length,
    workerNames: records.map((r) => r.workerName),
    wallSeconds,
    lifecyclesPerSecond: records.length / wallSeconds,
    phases: {
      startToCreate: phase((r) => diff(r.created, r.startCalledAt)),
      createToActive: phase((r) => diff(r.simActive, r.created)),
      activeDetectionLag: phase((r) => diff(r.detected, r.simActive)),
      startToActiveSeen: phase((r) => diff(r.detected, r.startCalledAt)),
      attachToDelete: phase((r) => diff(r.gone, r.attachSentAt)),
      lifecycle: phase((r) => diff(r.finishedAt, r.startCalledAt)),
    },
    calls: { ...calls, perLifecycle: Object.fromEntries(Object.entries(calls.byService).map(([s, n]) => [s, n / records.length])) },
    workers,
    benchProcessCpuSeconds: 0,
    temporalServerCpuSeconds: 0,
    failures: failures.length,
    failureSamples: failures.slice(0, 10).map((r) => ({ workerName: r.workerName, outcome: r.outcome, error: r.error })),
    relaunches: records.filter((r) => (r.launches ?? 1) > 1).length,
    serversLeft: sim.servers().length,
  };
}

function targets(r: BenchReport, o: BenchOptions): Target[] {
  const list: Target[] = [];
  const one = r.batches.find((b) => b.workerProcesses === 1);
  for (const b of r.batches.filter((batch) => batch.workerProcesses > 1 && one)) {
    const ratio = b.lifecyclesPerSecond / one!.lifecyclesPerSecond;
    list.push({ name: `throughput with ${b.workerProcesses} worker processes ÷ with 1`, target: '≥ 0.95', measured: `${ratio.toFixed(3)} (${b.lifecyclesPerSecond.toFixed(2)} ÷ ${one!.lifecyclesPerSecond.toFixed(2)} lifecycles/s)`, met: ratio >= 0.95 });
  }
  const rates = r.batches.flatMap((b) => (b.calls.novaStatusReadsPerBootingServerMinute === undefined ? [] : [b.calls.novaStatusReadsPerBootingServerMinute]));
  if (rates.length > 1) {
    const spread = (Math.max(...rates) - Math.min(...rates)) / Math.min(...rates);
    list.push({ name: 'status reads per booting server per minute, spread across worker process counts', target: '≤ 10 %', measured: `${(spread * 100).toFixed(1)} % (${rates.map((x) => x.toFixed(2)).join(', ')})`, met: spread <= 0.1 });
  }
  const c = r.comparison;
  if (c?.ratio !== undefined) {
    list.push({ name: 'one lifecycle with Temporal / without', target: '≤ 1.2', measured: `${c.ratio.toFixed(3)} (+${Math.round(c.addedMs!)} ms; boot delay ${o.singleBootDelayMs} ms)`, met: c.ratio <= 1.2 });
  }
  for (const b of r.batches) {
    const at = `${b.lifecycles} lifecycles, ${b.workerProcesses} worker(s)`;
    const rate = b.calls.novaStatusReadsPerBootingServerMinute;
    const lag = b.phases.activeDetectionLag?.p50;
    const rss = Math.max(...b.workers.map((w) => Math.max(w.hwmMiB, w.peakRssMiB)));
    list.push(
      { name: `failures (${at})`, target: '0', measured: String(b.failures), met: b.failures === 0 },
      { name: `servers left (${at})`, target: '0', measured: String(b.serversLeft), met: b.serversLeft === 0 },
      { name: `Nova status reads per booting server per minute (${at})`, target: '≤ 1 (Buildbot: 12)', measured: rate === undefined ? '-' : rate.toFixed(2), met: rate !== undefined && rate <= 1 },
      { name: `ACTIVE detection lag p50 (${at})`, target: '≤ 1000 ms', measured: lag === undefined ? '-' : `${lag} ms`, met: lag !== undefined && lag <= 1000 },
      ...(b.cloud
        ? [
            { name: `cloud's peak request rate (${at})`, target: `≤ ${b.cloud.requestsPerSecond}/s (requests_per_second)`, measured: `${b.cloud.peakRequestsPerSecond}/s`, met: b.cloud.peakRequestsPerSecond <= b.cloud.requestsPerSecond },
            { name: `cloud's peak concurrent creates (${at})`, target: `≤ ${b.cloud.maxConcurrentCreates} (max_concurrent_creates)`, measured: String(b.cloud.peakConcurrentCreates), met: b.cloud.peakConcurrentCreates <= b.cloud.maxConcurrentCreates },
          ]
        : []),
      // Counted on the batch's cloud, and the batch is far shorter than a token's lifetime (1 h).
      { name: `Keystone token requests (${at})`, target: `≤ ${b.workerProcesses} (1 cloud × 1 token lifetime × ${b.workerProcesses} process(es))`, measured: String(b.calls.keystoneTokenRequests), met: b.calls.keystoneTokenRequests <= b.workerProcesses },
      { name: `worker peak RSS (${at})`, target: '≤ 512 MiB', measured: `${rss.toFixed(0)} MiB`, met: rss <= 512 },
    );
  }
  return list;
}
