import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { devServerEnv } from '../../src/temporal/devServer.js';
import { projectRoot } from '../../src/temporal/paths.js';

const run = promisify(execFile);
const CLI = path.join(projectRoot, 'src', 'client', 'cli.ts');
const REAP_TIMEOUT_MS = 180_000;

/** Whether the orphan reaper (`latent-worker reap`) is part of this checkout. */
export function reaperAvailable(): boolean {
  return existsSync(path.join(projectRoot, 'src', 'client', 'commands', 'reap.ts'));
}

/** The part of the reaper's JSON report the suite reads. */
export interface ReapReport {
  scanned: number;
  kept: number;
  deleted: { serverId: string; name: string; reason: string }[];
  failed: { serverId: string; name: string; error: string }[];
  unlisted: { cloud: string; error: string }[];
}

/**
 * `latent-worker reap --grace 0 --json`, as an operator would run it by hand, against the worker
 * process that polls `taskQueue` with the definitions of `configFile`.
 */
export async function reapNow({ configFile, temporalAddress, taskQueue }: { configFile: string; temporalAddress: string; taskQueue: string }): Promise<ReapReport> {
  const env = { ...process.env, ...devServerEnv(temporalAddress), LATENT_WORKER_TASK_QUEUE: taskQueue };
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, ['--import', 'tsx', CLI, '--config', configFile, 'reap', '--grace', '0', '--json'], { env, timeout: REAP_TIMEOUT_MS }));
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    if (failed.killed) throw new Error(`timed out after ${REAP_TIMEOUT_MS / 1000} s waiting for latent-worker reap`);
    // Exit 1 with a report: some orphan could not be deleted or some cloud listed. The caller judges.
    if (!failed.stdout?.trim().startsWith('{')) throw new Error(`latent-worker reap exited ${failed.code}: ${failed.stderr ?? ''}`);
    stdout = failed.stdout;
  }
  return JSON.parse(stdout) as ReapReport;
}
