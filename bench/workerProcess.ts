import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnGuarded, type GuardedProcess } from '../src/temporal/guardedProcess.js';
import { devServerEnv, envArgs } from '../src/temporal/devServer.js';
import { projectRoot } from '../src/temporal/paths.js';
import { ProcSampler } from './procStats.js';

const CLI = path.join(projectRoot, 'src', 'client', 'cli.ts');
// The worker logs JSON lines when its output is not a terminal (docs/operations.md).
const READY = /"message":"Worker state changed"[^\n]*"state":"RUNNING"/;
/** The process takes part in the cloud limits (src/worker/fleetCensus.ts): until then its creates wait, which would count as start-up lag. */
const SHARING = /"message":"fleet census: [^"]*this process uses (?!no share)/;

export interface BenchWorkerOptions {
  configFile: string;
  temporalAddress: string;
  taskQueue: string;
  logFile: string;
  /** Extra variables, e.g. the LATENT_WORKER_* tuning under test. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

/**
 * `latent-worker worker` as its own process, as an operator runs it, so that its memory and CPU
 * are its own: the benchmark, the simulator and the Temporal server run in other processes.
 */
export class BenchWorker {
  readonly sampler: ProcSampler;
  /** Resident set once polling, before any lifecycle: what start-up (bundling the workflows) left. */
  readyRssBytes = 0;

  private constructor(
    private readonly process: GuardedProcess,
    readonly logFile: string,
  ) {
    this.sampler = new ProcSampler(process.pid);
  }

  static async start(options: BenchWorkerOptions): Promise<BenchWorker> {
    const vars = { ...devServerEnv(options.temporalAddress), LATENT_WORKER_TASK_QUEUE: options.taskQueue, ...options.env };
    // `env` execs node in place, so the pid sampled is the worker's own. No reaper schedule: its
    // runs would add Nova and Keystone calls of their own to the counts.
    const guarded = spawnGuarded(
      'env',
      [...envArgs(vars), process.execPath, '--import', 'tsx', CLI, '--config', options.configFile, 'worker', '--no-reaper'],
      options.logFile,
    );
    const worker = new BenchWorker(guarded, options.logFile);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (guarded.hasExited()) throw new Error(`worker process ${guarded.pid} exited (${await guarded.exited}) before polling; see ${options.logFile}`);
      if (READY.test(worker.log()) && SHARING.test(worker.log())) {
        worker.readyRssBytes = worker.sampler.sample()?.rssBytes ?? 0;
        return worker;
      }
      if (Date.now() > deadline) {
        await guarded.stop(5_000);
        throw new Error(`worker process ${guarded.pid} did not start polling and take its share of the cloud limits within ${(options.readyTimeoutMs ?? 120_000) / 1000} s; see ${options.logFile}`);
      }
      await delay(200);
    }
  }

  get pid(): number {
    return this.process.pid;
  }

  alive(): boolean {
    return !this.process.hasExited();
  }

  /** Settles when the process ends, with how it ended. */
  get exited(): Promise<string> {
    return this.process.exited;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    this.sampler.stop();
    await this.process.stop(10_000);
  }
}
