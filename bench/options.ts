import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parseNovaCongestion } from '../src/simulator/index.js';
import { projectRoot } from '../src/temporal/paths.js';
import { WORKER_PROCESS_ENV } from '../src/worker/tuning.js';

export interface BenchOptions {
  lifecycles: number;
  /** The batch's cloud: BUILD to ACTIVE. */
  bootDelayMs: number;
  /** The batch's cloud: the first part of the boot, while the server is scheduling; default half the boot delay. */
  scheduleDelayMs?: number;
  /**
   * The batch's cloud congested like a real Nova (src/simulator/congestion.ts): `off`, a preset
   * such as `real-here` (with its own boot and scheduling delays unless --boot-delay-ms is given),
   * or `<workers>x<build ms>`.
   */
  novaCongestion: string;
  /** The single lifecycle's cloud (and the baseline's). */
  singleBootDelayMs: number;
  deleteDelayMs: number;
  /** One batch of `lifecycles` per entry, with that many worker processes. */
  workers: number[];
  /** Runs of the baseline and of the single Temporal lifecycle, after one warm-up run each. */
  baselineRuns: number;
  baselineOnly: boolean;
  baseline: boolean;
  /** Run bare workflows after each batch as the CPU yardstick (docs/benchmark.md, "Work per lifecycle"). */
  calibration: boolean;
  /**
   * No-op activities per calibration workflow; by default as many as a lifecycle's mean. Fixed, it
   * keeps the yardstick the same when two versions of the lifecycle with different activity counts
   * are compared.
   */
  calibrationActivities?: number;
  /** Hand the workers a workflow bundle built ahead of time, as docs/benchmark.md recommends. */
  prebundle: boolean;
  /** NODE_OPTIONS of the worker processes only, e.g. a heap limit. */
  workerNodeOptions?: string;
  /** `--dynamic-config-value` pairs for the Temporal dev server. */
  serverConfig: Record<string, unknown>;
  startConcurrency: number;
  signalConcurrency: number;
  /** How long after ACTIVE the master hears from the CI worker. */
  attachAfterMs: number;
  out: string;
  timeoutSeconds: number;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

function workerCounts(value: string): number[] {
  const counts = value.split(',').map((part) => integer(1, 8)(part.trim()));
  if (counts.length === 0) throw new InvalidArgumentError(`must be a comma-separated list of worker process counts, e.g. "1" or "1,2", got "${value}"`);
  return counts;
}

function congestionModel(value: string): string {
  try {
    parseNovaCongestion(value);
    return value;
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

function serverConfigValue(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const match = /^([\w.]+)=(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`must look like key=value with a JSON value, got "${value}"`);
  try {
    return { ...previous, [match[1]!]: JSON.parse(match[2]!) as unknown };
  } catch {
    throw new InvalidArgumentError(`the value of ${match[1]} must be JSON (a number, true, "text"), got "${match[2]}"`);
  }
}

/** Parses the command line (argv without node and the script), or exits with commander's message. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const program = new Command('npm run bench --')
    .description('N concurrent latent-worker lifecycles against the OpenStack simulator on a real Temporal dev server, with a no-Temporal baseline (docs/benchmark.md)')
    .option('--lifecycles <n>', 'concurrent lifecycles per batch', integer(1, 100_000), 1000)
    .option('--boot-delay-ms <ms>', "batch simulator: BUILD to ACTIVE (a real VM's boot and CI worker start take tens of seconds)", integer(0, 600_000), 60_000)
    .option('--nova-congestion <model>', 'batch simulator: off, real-here (the Nova of ../shared/tools, with its boot time) or <workers>x<build ms>', congestionModel, 'off')
    .option('--single-boot-delay-ms <ms>', 'BUILD to ACTIVE for the single lifecycle and the baseline', integer(0, 600_000), 5000)
    .option('--delete-delay-ms <ms>', 'simulator: DELETE to gone', integer(0, 600_000), 1000)
    .option('--workers <counts>', 'worker processes per batch; "1,2" runs a batch with one, then one with two', workerCounts, [1])
    .option('--baseline-runs <n>', 'timed runs of the baseline and of one lifecycle through Temporal (after a warm-up run each)', integer(1, 50), 5)
    .option('--baseline-only', 'only compare one lifecycle without and with Temporal; no batch', false)
    .option('--no-baseline', 'skip the baseline and single-lifecycle comparison')
    .option('--no-calibration', 'skip the bare-workflow calibration run after each batch')
    .option('--calibration-activities <n>', "no-op activities per calibration workflow (default: a lifecycle's mean activity tasks)", integer(1, 100))
    .option('--no-prebundle', 'let each worker bundle the workflows itself at start, instead of handing it a prebuilt bundle')
    .option('--worker-node-options <options>', 'NODE_OPTIONS for the worker processes only; "" for none', WORKER_PROCESS_ENV.NODE_OPTIONS)
    .option('--server-config <key=json>', 'dynamic config of the Temporal dev server (repeatable), e.g. matching.numTaskqueueReadPartitions=1', serverConfigValue, {})
    .option('--start-concurrency <n>', 'substantiate calls in flight at once', integer(1, 10_000), 100)
    .option('--signal-concurrency <n>', 'attached/release calls in flight at once', integer(1, 10_000), 100)
    .option('--attach-after-ms <ms>', "the CI worker attaches this long after its server is ACTIVE (a real guest still boots its OS and starts the worker); 0: at once", integer(0, 600_000), 0)
    .option('--out <file>', 'JSON report (default .scratch/bench/report-<timestamp>.json)')
    .option('--timeout <seconds>', 'everything is stopped and the run fails after this long', integer(10, 86_400), 1800)
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .parse([...argv], { from: 'user' });
  // Commander's names are the report's, but for --out (optional here) and --timeout (seconds).
  const { out, timeout, ...o } = program.opts<Omit<BenchOptions, 'out' | 'timeoutSeconds'> & { out?: string; timeout: number }>();
  if (o.baselineOnly && !o.baseline) program.error('--baseline-only and --no-baseline leave nothing to run', { exitCode: 2 });
  const { preset } = parseNovaCongestion(o.novaCongestion);
  const presetBoot = preset && program.getOptionValueSource('bootDelayMs') === 'default';
  return {
    ...o,
    ...(presetBoot ? { bootDelayMs: preset.bootDelayMs, scheduleDelayMs: preset.scheduleDelayMs } : {}),
    out: path.resolve(out ?? path.join(projectRoot, '.scratch', 'bench', `report-${stamp}.json`)),
    timeoutSeconds: timeout,
  };
}
