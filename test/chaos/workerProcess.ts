import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnGuarded, type GuardedProcess } from '../../src/temporal/guardedProcess.js';
import { devServerEnv, envArgs } from '../../src/temporal/devServer.js';
import { projectRoot } from '../../src/temporal/paths.js';
import { TEST_WORKER_ENV } from '../support/workerEnv.js';
import { GiveUp, waitFor } from './waits.js';

const CLI = path.join(projectRoot, 'src', 'client', 'cli.ts');
// The worker logs one JSON object per line when its output is not a terminal (docs/operations.md).
const READY = /"message":"Worker state changed"[^\n]*"state":"RUNNING"/;
// It takes part in the cloud limits (src/worker/fleetCensus.ts): before that its creates wait.
const SHARING = /"message":"fleet census: [^"]*this process uses (?!no share)/;

export interface WorkerProcessOptions {
  configFile: string;
  temporalAddress: string;
  taskQueue: string;
  logFile: string;
}

/** Every worker process the suite started, so that all of them are gone when it ends, however it ends. */
const started = new Set<WorkerProcess>();

/**
 * `latent-worker worker` as its own process, exactly as an operator runs it: a config file,
 * TEMPORAL_ADDRESS and LATENT_WORKER_TASK_QUEUE, plus the tests' TEST_WORKER_ENV (test/support/workerEnv.ts).
 * The chaos is done to it with SIGKILL.
 */
export class WorkerProcess {
  private constructor(
    private readonly process: GuardedProcess,
    readonly logFile: string,
    private readonly logOffset: number,
  ) {}

  static async start(options: WorkerProcessOptions, readyTimeoutMs = 90_000): Promise<WorkerProcess> {
    const logOffset = sizeOf(options.logFile);
    // `env` execs node in place, so the guarded pid is the worker's own. No reaper schedule: its
    // runs log in to every configured cloud at times of the clock's choosing, which would hand
    // scenarios a cached token they expect to fetch (the suite runs `reap` itself when it wants it).
    // No shutdown grace: the suite's chaos is SIGKILL, and its end-of-trial stop should not wait.
    const guarded = spawnGuarded(
      'env',
      [...envArgs({ ...devServerEnv(options.temporalAddress), ...TEST_WORKER_ENV, LATENT_WORKER_TASK_QUEUE: options.taskQueue }), process.execPath, '--import', 'tsx', CLI, '--config', options.configFile, 'worker', '--no-reaper', '--shutdown-grace', '0'],
      options.logFile,
    );
    const worker = new WorkerProcess(guarded, options.logFile, logOffset);
    started.add(worker);
    await waitFor(`worker process ${guarded.pid} (task queue ${options.taskQueue}) to poll and take its share of the cloud limits; log ${options.logFile}`, () => {
      if (guarded.hasExited()) throw new GiveUp(`worker process ${guarded.pid} exited before polling; log ${options.logFile}`);
      return READY.test(worker.log()) && SHARING.test(worker.log());
    }, readyTimeoutMs, 200);
    return worker;
  }

  get pid(): number {
    return this.process.pid;
  }

  alive(): boolean {
    return !this.process.hasExited();
  }

  /** This process's part of the log file. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(this.logOffset);
    } catch {
      return '';
    }
  }

  /** The crash under test: no shutdown, no chance to report anything to Temporal. */
  async kill(): Promise<void> {
    try {
      process.kill(-this.process.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await waitFor(`worker process ${this.pid} to die after SIGKILL`, () => this.process.hasExited(), 10_000, 20);
    started.delete(this);
  }

  async stop(): Promise<void> {
    await this.process.stop(5_000);
    started.delete(this);
  }

  static async stopAll(): Promise<void> {
    await Promise.allSettled([...started].map((worker) => worker.stop()));
  }

  /** Synchronous last resort for `process.on('exit')`. */
  static killAllNow(): void {
    for (const worker of started) {
      try {
        process.kill(-worker.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

function sizeOf(file: string): number {
  try {
    return readFileSync(file).length;
  } catch {
    return 0;
  }
}
