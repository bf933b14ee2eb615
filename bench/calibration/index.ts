import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { spawnGuarded } from '../../src/temporal/guardedProcess.js';
import { projectRoot } from '../../src/temporal/paths.js';
import { historyWork, type HistoryWorkSummary } from '../historyStats.js';
import { limiter } from '../limit.js';
import { ProcSampler } from '../procStats.js';

export interface CalibrationReport {
  workflows: number;
  activitiesPerWorkflow: number;
  wallSeconds: number;
  workerCpuSeconds: number;
  temporalServerCpuSeconds: number;
  history: HistoryWorkSummary;
}

export interface CalibrationOptions {
  client: Client;
  serverAddress: string;
  serverSampler: ProcSampler;
  workflows: number;
  activitiesPerWorkflow: number;
  startConcurrency: number;
  logFile: string;
  env: Record<string, string>;
  deadline: number;
}

const WORKER = path.join(projectRoot, 'bench', 'calibration', 'worker.ts');

/**
 * Runs as many bare workflows as the batch had lifecycles, each calling as many no-op activities as
 * a lifecycle did, on the same Temporal server in the same run: their CPU is the yardstick that
 * makes the lifecycle's CPU comparable between machines.
 */
export async function runCalibration(o: CalibrationOptions): Promise<CalibrationReport> {
  const taskQueue = `calibration-${Date.now()}`;
  const guarded = spawnGuarded('env', [...Object.entries(o.env).map(([k, v]) => `${k}=${v}`), process.execPath, '--import', 'tsx', WORKER, o.serverAddress, taskQueue], o.logFile);
  const sampler = new ProcSampler(guarded.pid);
  try {
    await waitForPolling(() => guarded.hasExited(), o.logFile);
    const workerBefore = sampler.sample()?.cpuSeconds ?? 0;
    const serverBefore = o.serverSampler.sample()?.cpuSeconds ?? 0;
    const startedAt = Date.now();
    const start = limiter(o.startConcurrency);
    const ids = Array.from({ length: o.workflows }, (_, i) => `${taskQueue}-${i}`);
    const results = await Promise.all(
      ids.map(async (workflowId) => {
        const handle = await start(() => o.client.workflow.start('calibrationWorkflow', { taskQueue, workflowId, args: [o.activitiesPerWorkflow], workflowExecutionTimeout: Math.max(1, o.deadline - Date.now()) }));
        return handle.result();
      }),
    );
    if (results.some((n) => n !== o.activitiesPerWorkflow)) throw new Error('a calibration workflow returned the wrong count');
    const wallSeconds = (Date.now() - startedAt) / 1000;
    const workerCpuSeconds = (sampler.sample()?.cpuSeconds ?? workerBefore) - workerBefore;
    const temporalServerCpuSeconds = (o.serverSampler.sample()?.cpuSeconds ?? serverBefore) - serverBefore;
    return { workflows: o.workflows, activitiesPerWorkflow: o.activitiesPerWorkflow, wallSeconds, workerCpuSeconds, temporalServerCpuSeconds, history: await historyWork(o.client, ids) };
  } finally {
    sampler.stop();
    await guarded.stop(10_000);
  }
}

async function waitForPolling(hasExited: () => boolean, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error(`the calibration worker exited before polling; see ${logFile}`);
    if (readLog(logFile).includes('calibration worker polling')) return;
    await delay(200);
  }
  throw new Error(`the calibration worker did not start polling within 120 s; see ${logFile}`);
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // the process has not written it yet
  }
}
