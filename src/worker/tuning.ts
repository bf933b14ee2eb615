import type { WorkerOptions } from '@temporalio/worker';

/** The worker's Temporal options for its workload: many long, mostly idle lifecycles. */
export interface WorkerTuning {
  maxCachedWorkflows: number;
  maxConcurrentActivityTaskExecutions: number;
  maxConcurrentWorkflowTaskExecutions: number;
  workflowTaskPollers: number;
  activityTaskPollers: number;
  /** Threads that run workflow tasks, each with its own V8 isolate and its share of the cached lifecycles. */
  workflowThreads: number;
  /** How often the process counts the fleet for its share of `cloud_limits` (src/worker/fleetCensus.ts), in seconds. */
  fleetCensusSeconds: number;
}

interface Setting {
  key: keyof WorkerTuning;
  /** `--flag <n>` on `latent-worker worker`. */
  flag: string;
  env: string;
  description: string;
  min: number;
  max: number;
}

/**
 * Measured with `npm run bench` (docs/benchmark.md, "Worker tuning"), 2-core machine shared with
 * other work, boot delay 5 s:
 *
 * - maxConcurrentActivityTaskExecutions 2000 (SDK: 100). Waiting for ACTIVE and deleting until
 *   gone are activities that hold their slot for the whole boot or delete, so with 100 slots a
 *   booted server waits for a slot before anything looks at it: at 1000 lifecycles, ACTIVE
 *   detection lag p50/p95 1507/5300 ms with 100 slots, 873/1378 ms with 2000; at 200, start to
 *   create p50 14.6 s with 100, 9.6 s with 2000. A slot costs no thread, only an awaiting
 *   activity's memory: 1000 lifecycles peaked at 369 MiB RSS.
 * - maxCachedWorkflows 2000 (SDK: sized from the heap). Every lifecycle waits for something most of
 *   its life; one evicted between two tasks is replayed from its whole history on the next. The
 *   SDK's heap-based default would be a few dozen under the 256 MiB heap limit we run with (see
 *   docs/benchmark.md). A cache of 200 at 1000 lifecycles measured no better (peak RSS 404 MiB
 *   against 369, worker CPU 33.7 s against 31.8), so the cache holds every lifecycle.
 * - maxConcurrentWorkflowTaskExecutions 200 (SDK: 40), pollers 10 and 10 (the SDK's). A lifecycle's
 *   delete runs within the workflow task that decides it (a local activity, 1 to 2 s), which holds
 *   its task slot meanwhile: at 1000 lifecycles with 40 slots the deletes took the slots where the
 *   boots ended, tasks waited past the sticky queue's timeout, and the ACTIVE detection lag p50
 *   was 9735 ms; with 100 slots 436 ms (peak RSS 470 MiB), with 200 448 ms (489 MiB). Since the
 *   first create is tried within the first task too, 100 slots left the lag to chance: p50 530,
 *   533, 1218 and 769 ms in four runs of 2026-12-05, against 464 and 518 ms with 200 (p95 1102
 *   and 1277 against 1038 to 2338), the same server CPU a lifecycle (38.6 to 40.8 ms against 38.3
 *   to 44.6) and 20 to 30 MiB more peak RSS (465 to 471 MiB). More pollers
 *   did not help: 100 task slots with 50 pollers each at 200 lifecycles were not faster (28.6 s
 *   wall against 20.6 to 37.6 s for the defaults on the same machine) and took 60 MiB more RSS.
 * - fleetCensusSeconds 10. A new process takes its share of `cloud_limits` only after the others
 *   have counted it: one interval plus twice a reading's 5 s timeout after it first sees itself,
 *   so about 21 s after start. Shorter costs one describeTaskQueue call per process per
 *   interval; longer delays the start and keeps a dead process's share unused longer.
 */
export const defaultTuning: WorkerTuning = {
  maxCachedWorkflows: 2000,
  maxConcurrentActivityTaskExecutions: 2000,
  maxConcurrentWorkflowTaskExecutions: 200,
  workflowTaskPollers: 10,
  activityTaskPollers: 10,
  workflowThreads: 1,
  fleetCensusSeconds: 10,
};

/**
 * The process environment the worker's memory was measured with (docs/benchmark.md, "Worker
 * memory"): a 256 MiB old space so that V8 collects instead of growing the heap, 2 MiB
 * semi-spaces, two malloc arenas for the SDK's native threads. The benchmark runs its workers
 * with it, and the Dockerfile and deploy/systemd set it (test/deploy.test.ts checks both).
 */
export const WORKER_PROCESS_ENV = {
  NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=2',
  MALLOC_ARENA_MAX: '2',
} as const;

export const tuningSettings: readonly Setting[] = [
  { key: 'maxCachedWorkflows', flag: 'max-cached-workflows', env: 'LATENT_WORKER_MAX_CACHED_WORKFLOWS', description: 'lifecycles kept in memory between their tasks', min: 0, max: 1_000_000 },
  { key: 'maxConcurrentActivityTaskExecutions', flag: 'max-concurrent-activities', env: 'LATENT_WORKER_MAX_CONCURRENT_ACTIVITIES', description: 'activities run at once (each booting or deleting server holds one)', min: 1, max: 1_000_000 },
  { key: 'maxConcurrentWorkflowTaskExecutions', flag: 'max-concurrent-workflow-tasks', env: 'LATENT_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', description: 'workflow tasks run at once', min: 2, max: 10_000 },
  { key: 'workflowTaskPollers', flag: 'workflow-pollers', env: 'LATENT_WORKER_WORKFLOW_POLLERS', description: 'workflow task polls open at once', min: 2, max: 1_000 },
  { key: 'activityTaskPollers', flag: 'activity-pollers', env: 'LATENT_WORKER_ACTIVITY_POLLERS', description: 'activity task polls open at once', min: 1, max: 1_000 },
  { key: 'workflowThreads', flag: 'workflow-threads', env: 'LATENT_WORKER_WORKFLOW_THREADS', description: 'threads that run workflow tasks, each with its own share of the cached lifecycles', min: 1, max: 16 },
  { key: 'fleetCensusSeconds', flag: 'fleet-census-interval', env: 'LATENT_WORKER_FLEET_CENSUS_INTERVAL', description: "seconds between counts of the task queue's worker processes, for each one's share of cloud_limits", min: 1, max: 600 },
];

/** Flags (as commander gives them, camel-cased) over LATENT_WORKER_* variables over the defaults. */
export function resolveTuning(flags: Record<string, unknown> = {}, env: Record<string, string | undefined> = process.env): WorkerTuning {
  const tuning = { ...defaultTuning };
  for (const setting of tuningSettings) {
    const flagValue = flags[camel(setting.flag)];
    const raw = flagValue !== undefined ? String(flagValue) : env[setting.env];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < setting.min || value > setting.max) {
      const source = flagValue !== undefined ? `--${setting.flag}` : setting.env;
      throw new RangeError(`${source}: must be an integer from ${setting.min} to ${setting.max}, got "${raw}"`);
    }
    tuning[setting.key] = value;
  }
  if (tuning.workflowTaskPollers > tuning.maxConcurrentWorkflowTaskExecutions) {
    throw new RangeError(`workflow pollers (${tuning.workflowTaskPollers}) may not exceed concurrent workflow tasks (${tuning.maxConcurrentWorkflowTaskExecutions})`);
  }
  if (tuning.activityTaskPollers > tuning.maxConcurrentActivityTaskExecutions) {
    throw new RangeError(`activity pollers (${tuning.activityTaskPollers}) may not exceed concurrent activities (${tuning.maxConcurrentActivityTaskExecutions})`);
  }
  return tuning;
}

/** Commander's `.option()` arguments for one setting, e.g. `['--max-cached-workflows <n>', '...']`. */
export function tuningOption(key: keyof WorkerTuning): [string, string] {
  const setting = tuningSettings.find((s) => s.key === key)!;
  return [`--${setting.flag} <n>`, `${setting.description} (or ${setting.env}; default ${defaultTuning[key]})`];
}

export function workerOptionsFor(tuning: WorkerTuning): Partial<WorkerOptions> {
  return {
    maxCachedWorkflows: tuning.maxCachedWorkflows,
    maxConcurrentActivityTaskExecutions: tuning.maxConcurrentActivityTaskExecutions,
    maxConcurrentWorkflowTaskExecutions: tuning.maxConcurrentWorkflowTaskExecutions,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: tuning.workflowTaskPollers },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: tuning.activityTaskPollers },
    workflowThreadPoolSize: tuning.workflowThreads,
  };
}

export function describeTuning(tuning: WorkerTuning): string {
  return tuningSettings.map((s) => `${s.flag} ${tuning[s.key]}`).join(', ');
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}
