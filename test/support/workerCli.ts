import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnGuarded, type GuardedProcess } from '../../src/temporal/guardedProcess.js';
import { devServerEnv, envArgs } from '../../src/temporal/devServer.js';
import { projectRoot } from '../../src/temporal/paths.js';
import { freePort } from '../../src/temporal/ports.js';
import { TEST_WORKER_ENV } from './workerEnv.js';

const CLI = path.join(projectRoot, 'src', 'client', 'cli.ts');

export interface WorkerCliOptions {
  configFile: string;
  temporalAddress: string;
  taskQueue: string;
  logFile: string;
  /** Further options of `latent-worker worker`. */
  args?: string[];
  readyTimeoutMs?: number;
  /** How to run the CLI; default: this checkout's sources through tsx. */
  cli?: string[];
  /** Further environment, e.g. TEMPORAL_TLS_* settings; it wins over TEST_WORKER_ENV (test/support/workerEnv.ts). */
  env?: Record<string, string>;
  /** Resolve once /readyz says ready (default), or once it answers at all. */
  until?: 'ready' | 'answering';
}

export interface WorkerCli {
  process: GuardedProcess;
  /** http://127.0.0.1:PORT of its health endpoints. */
  healthUrl: string;
  /** Its stdout and stderr so far. */
  log(): string;
}

/**
 * `latent-worker worker` as its own process, as an operator runs it, with a health endpoint on
 * a free port; resolves once /readyz says ready. `env` execs node, so the pid is the worker's.
 */
export async function startWorkerCli({ configFile, temporalAddress, taskQueue, logFile, args = [], readyTimeoutMs = 90_000, env = {}, until = 'ready', cli = [process.execPath, '--import', 'tsx', CLI] }: WorkerCliOptions): Promise<WorkerCli> {
  const healthPort = await freePort();
  const child = spawnGuarded(
    'env',
    [
      ...envArgs(devServerEnv(temporalAddress)),
      `LATENT_WORKER_TASK_QUEUE=${taskQueue}`,
      ...Object.entries({ ...TEST_WORKER_ENV, ...env }).map(([key, value]) => `${key}=${value}`),
      ...cli,
      '--config',
      configFile,
      'worker',
      '--no-reaper',
      '--health-address',
      `127.0.0.1:${healthPort}`,
      ...args,
    ],
    logFile,
  );
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  const log = () => readFileSync(logFile, 'utf8');
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.hasExited()) throw new Error(`worker process ${child.pid} exited (${await child.exited}) before it was ready; log ${logFile}:\n${log()}`);
    const ready = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
      (response) => response.status === 200 || (until === 'answering' && response.status === 503),
      () => false,
    );
    if (ready) return { process: child, healthUrl, log };
    if (Date.now() > deadline) {
      await child.stop(5_000);
      throw new Error(`worker process ${child.pid} not ready within ${readyTimeoutMs} ms; log ${logFile}:\n${log()}`);
    }
    await delay(200);
  }
}
