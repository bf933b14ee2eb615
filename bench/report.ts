import type { WorkerTuning } from '../src/worker/tuning.js';
import type { CalibrationReport } from './calibration/index.js';
import type { HistoryWorkSummary } from './historyStats.js';
import type { CallCounts } from './calls.js';
import type { ServerWork } from './serverMetrics.js';
import type { Distribution } from './stats.js';

export interface ProcessFigures {
  pid: number;
  /** VmRSS once polling, before any lifecycle. */
  readyRssMiB: number;
  /** Highest VmRSS sampled (every 250 ms) during the batch. */
  peakRssMiB: number;
  /** VmHWM at the end: the process's lifetime peak, start-up (workflow bundling) included. */
  hwmMiB: number;
  cpuSecondsBatch: number;
  cpuSecondsTotal: number;
}

export interface BatchReport {
  workerProcesses: number;
  lifecycles: number;
  workerNames: string[];
  wallSeconds: number;
  lifecyclesPerSecond: number;
  /** Milliseconds; see docs/benchmark.md for where each begins and ends. */
  phases: {
    startToCreate?: Distribution;
    /** The cloud's own boot: POST /servers received to ACTIVE (the real-cloud benchmark's "Nova POST → ACTIVE"). */
    createToActive?: Distribution;
    /** The cloud's ACTIVE to the lifecycle's workflow task that heard it (bench/activeLag.ts). */
    activeDetectionLag?: Distribution;
    /** `substantiate` to the lifecycle's `activeAt` (the real-cloud benchmark's "request → ACTIVE noticed"). */
    startToActiveSeen?: Distribution;
    /** The lag in parts (bench/activeLag.ts): ACTIVE to the next status list, that list to the status signal, the signal to the task that heard it. */
    toNextList?: Distribution;
    listToSignal?: Distribution;
    signalToHeard?: Distribution;
    signalToScheduled?: Distribution;
    scheduledToStarted?: Distribution;
    heardTaskInWorker?: Distribution;
    attachToDelete?: Distribution;
    lifecycle?: Distribution;
  };
  /** The Temporal server's own account of the batch (bench/serverMetrics.ts). */
  serverWork?: ServerWork;
  /** Of the workflow tasks that heard a status signal, how many the server gave the worker's sticky queue. */
  heardOnStickyQueue?: { sticky: number; of: number };
  calls: CallCounts & { perLifecycle: Record<string, number> };
  workers: ProcessFigures[];
  /** What the batch's cloud saw, beside the limits the config gives it. */
  cloud?: { peakRequestsPerSecond: number; peakConcurrentCreates: number; requestsPerSecond: number; maxConcurrentCreates: number };
  /** The benchmark process (simulator and CI master), for reference. */
  benchProcessCpuSeconds: number;
  /** The Temporal dev server, which shares the machine's cores with everything else. */
  temporalServerCpuSeconds: number;
  /** What the lifecycles' histories hold, read after the batch. */
  history?: HistoryWorkSummary;
  calibration?: CalibrationReport;
  failures: number;
  failureSamples: { workerName: string; outcome?: string; error?: string }[];
  relaunches: number;
  serversLeft: number;
}

export interface ComparisonReport {
  /** Wall milliseconds of each timed run, after a warm-up run. */
  baselineMs: number[];
  temporalMs: number[];
  baselineMedianMs: number;
  temporalMedianMs?: number;
  ratio?: number;
  addedMs?: number;
}

export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  options: Record<string, unknown>;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  tuning: WorkerTuning;
  comparison?: ComparisonReport;
  batches: BatchReport[];
  targets: Target[];
  ok: boolean;
  error?: string;
}

const ms = (d: Distribution | undefined, key: keyof Distribution) => (d ? String(d[key]) : '-');

/** The report as a person reads it on stdout. */
export function renderText(report: BenchReport): string {
  const lines: string[] = [];
  const m = report.machine;
  lines.push(`machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, node ${m.node}; load average ${m.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ${m.loadAverageAtEnd.map((l) => l.toFixed(2)).join(' ')} at end`);
  lines.push(`worker tuning: ${Object.entries(report.tuning).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const c = report.comparison;
  if (c) {
    lines.push('');
    lines.push(`one lifecycle, median of ${c.baselineMs.length}: without Temporal ${Math.round(c.baselineMedianMs)} ms` + (c.temporalMedianMs === undefined ? '' : `, with Temporal ${Math.round(c.temporalMedianMs)} ms: ratio ${c.ratio!.toFixed(3)}, +${Math.round(c.addedMs!)} ms`));
    lines.push(`  runs without: ${c.baselineMs.map(Math.round).join(', ')} ms` + (c.temporalMs.length ? `; with: ${c.temporalMs.map(Math.round).join(', ')} ms` : ''));
  }
  for (const b of report.batches) {
    lines.push('');
    lines.push(`${b.lifecycles} concurrent lifecycles, ${b.workerProcesses} worker process(es): ${b.wallSeconds.toFixed(1)} s wall, ${b.lifecyclesPerSecond.toFixed(2)} lifecycles/s, ${b.failures} failed, ${b.relaunches} relaunched, ${b.serversLeft} servers left`);
    lines.push('  phase (ms)                  count     p50     p95     p99     max');
    for (const [name, d] of Object.entries({ 'start → create': b.phases.startToCreate, 'create → ACTIVE': b.phases.createToActive, 'ACTIVE detection lag': b.phases.activeDetectionLag, '  ACTIVE → next list': b.phases.toNextList, '  list → status signal': b.phases.listToSignal, '  signal → heard': b.phases.signalToHeard, '    signal → scheduled': b.phases.signalToScheduled, '    scheduled → started': b.phases.scheduledToStarted, '  heard task in worker': b.phases.heardTaskInWorker, 'start → ACTIVE seen': b.phases.startToActiveSeen, 'attach → deleted': b.phases.attachToDelete, 'whole lifecycle': b.phases.lifecycle })) {
      lines.push(`  ${name.padEnd(24)} ${ms(d, 'count').padStart(8)} ${ms(d, 'p50').padStart(7)} ${ms(d, 'p95').padStart(7)} ${ms(d, 'p99').padStart(7)} ${ms(d, 'max').padStart(7)}`);
    }
    if (b.serverWork) lines.push(renderServerWork(b.serverWork, b.lifecycles));
    if (b.heardOnStickyQueue) lines.push(`  tasks that heard a status signal: ${b.heardOnStickyQueue.sticky} of ${b.heardOnStickyQueue.of} on the worker's sticky queue`);
    const perLc = b.calls.perLifecycle;
    lines.push(`  calls: ${b.calls.total} (${Object.entries(b.calls.byService).map(([s, n]) => `${s} ${n}, ${(perLc[s] ?? 0).toFixed(2)}/lifecycle`).join('; ')}); Keystone token requests ${b.calls.keystoneTokenRequests}`);
    const rate = b.calls.novaStatusReadsPerBootingServerMinute;
    lines.push(`  Nova status reads during boot: ${b.calls.novaStatusReadsDuringBoot} over ${b.calls.bootingServerMinutes.toFixed(1)} booting-server-minutes = ${rate === undefined ? '-' : rate.toFixed(2)} per booting server per minute`);
    for (const [kind, n] of Object.entries(b.calls.byKind)) lines.push(`    ${String(n).padStart(7)}  ${kind}`);
    for (const w of b.workers) lines.push(`  worker pid ${w.pid}: RSS ${w.readyRssMiB.toFixed(0)} MiB once polling, peak ${w.peakRssMiB.toFixed(0)} MiB in the batch (lifetime VmHWM ${w.hwmMiB.toFixed(0)} MiB), CPU ${w.cpuSecondsBatch.toFixed(1)} s in the batch (${w.cpuSecondsTotal.toFixed(1)} s in all)`);
    lines.push(`  CPU in the batch: Temporal dev server ${b.temporalServerCpuSeconds.toFixed(1)} s, benchmark process (simulator + CI master) ${b.benchProcessCpuSeconds.toFixed(1)} s`);
    const workerCpu = b.workers.reduce((sum, w) => sum + w.cpuSecondsBatch, 0);
    const cpuTotal = workerCpu + b.temporalServerCpuSeconds + b.benchProcessCpuSeconds;
    const share = (x: number) => `${((100 * x) / Math.max(cpuTotal, 1e-9)).toFixed(0)} %`;
    lines.push(
      `  CPU profile: ${cpuTotal.toFixed(1)} s in ${b.wallSeconds.toFixed(1)} s wall (${(cpuTotal / b.wallSeconds).toFixed(2)} cores busy); Temporal server ${share(b.temporalServerCpuSeconds)}, ` +
        `${b.workers.map((w) => `worker ${w.pid} ${share(w.cpuSecondsBatch)}`).join(', ')}, bench ${share(b.benchProcessCpuSeconds)}; ` +
        `lifecycles per Temporal-server CPU second ${(b.lifecycles / Math.max(b.temporalServerCpuSeconds, 1e-9)).toFixed(2)}`,
    );
    if (b.cloud) lines.push(`  cloud: peak ${b.cloud.peakRequestsPerSecond} requests/s (requests_per_second ${b.cloud.requestsPerSecond}), peak ${b.cloud.peakConcurrentCreates} creates in progress (max_concurrent_creates ${b.cloud.maxConcurrentCreates})`);
    lines.push(...renderWork(b));
    for (const f of b.failureSamples) lines.push(`  failed: ${f.workerName} ${f.outcome ?? ''} ${f.error ?? ''}`);
  }
  if (report.targets.length) {
    lines.push('');
    lines.push('targets:');
    for (const t of report.targets) lines.push(`  ${t.met ? 'met    ' : 'MISSED '} ${t.name}: ${t.measured} (target ${t.target})`);
  }
  if (report.error) lines.push(`\nERROR: ${report.error}`);
  return lines.join('\n');
}

const perMs = (seconds: number, count: number) => `${((seconds * 1000) / Math.max(1, count)).toFixed(1)} ms`;

/** Work per lifecycle and CPU beside the same run's calibration: the figures that compare between machines. */
function renderWork(b: BatchReport): string[] {
  const h = b.history;
  if (!h) return [];
  const m = h.mean;
  const lines = [
    `  work per lifecycle (${h.runs} histories): ${m.events.toFixed(1)} history events (largest ${h.maxEvents}), ${m.workflowTasks.toFixed(1)} workflow tasks (most ${h.maxWorkflowTasks}), ${m.activityTasks.toFixed(1)} activity tasks, ` +
      `${m.localActivities.toFixed(1)} local activities, ${m.upserts.toFixed(1)} search-attribute upserts, ${m.markers.toFixed(1)} other markers, ${m.timers.toFixed(1)} timers, ${m.signals.toFixed(1)} signals`,
  ];
  const workerCpu = b.workers.reduce((sum, w) => sum + w.cpuSecondsBatch, 0);
  lines.push(`  CPU per lifecycle: worker ${perMs(workerCpu, b.lifecycles)}, Temporal server ${perMs(b.temporalServerCpuSeconds, b.lifecycles)}`);
  const c = b.calibration;
  if (c) {
    const cm = c.history.mean;
    lines.push(
      `  calibration, same run: ${c.workflows} bare workflows × ${c.activitiesPerWorkflow} no-op activities (${cm.events.toFixed(1)} events, ${cm.workflowTasks.toFixed(1)} workflow tasks each) in ${c.wallSeconds.toFixed(1)} s: ` +
        `worker ${perMs(c.workerCpuSeconds, c.workflows)}, Temporal server ${perMs(c.temporalServerCpuSeconds, c.workflows)} per workflow`,
    );
    const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '-');
    lines.push(
      `  lifecycle ÷ calibration: history events ${ratio(m.events, cm.events)}, workflow tasks ${ratio(m.workflowTasks, cm.workflowTasks)}, ` +
        `worker CPU ${ratio(workerCpu / b.lifecycles, c.workerCpuSeconds / c.workflows)}, Temporal server CPU ${ratio(b.temporalServerCpuSeconds / b.lifecycles, c.temporalServerCpuSeconds / c.workflows)}`,
    );
  }
  return lines;
}

function renderServerWork(w: ServerWork, lifecycles: number): string {
  const mean = (ms: number | undefined) => (ms === undefined ? '-' : `${Math.round(ms)} ms`);
  return (
    `  Temporal server: ${(w.stateWrites / lifecycles).toFixed(1)} workflow-state writes per lifecycle (${(w.heartbeats / lifecycles).toFixed(2)} of them activity heartbeats); history shard's persistence semaphore taken ${w.shardWaits} times, mean wait ${mean(w.shardWaitMeanMs)}; ` +
    `workflow task schedule → start, sticky queue ${w.stickyTasks} tasks, mean ${mean(w.stickyScheduleToStartMeanMs)} (${w.stickyFromBacklog} from the backlog), shared queue ${w.sharedTasks}, mean ${mean(w.sharedScheduleToStartMeanMs)}`
  );
}
