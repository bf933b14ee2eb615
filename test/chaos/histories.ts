import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { noopMetricMeter } from '@temporalio/common';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { WorkerMetrics } from '../../src/worker/metrics.js';
import { replayOptions } from '../../src/worker/worker.js';
import { withTimeout } from './waits.js';

/**
 * Writes every workflow history the suite's Temporal service holds (lifecycles and reaper runs)
 * to `dir`, one JSON file per run, as `temporal workflow show --output json` would: for the
 * secrets audit, and for replay fixtures of behaviour only chaos reaches.
 */
export async function dumpHistories(client: Client, dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  return withTimeout(`the workflow histories to be written to ${dir}`, (async () => {
    let written = 0;
    for await (const execution of client.workflow.list()) {
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      writeFileSync(path.join(dir, `${historyFilePrefix(execution.workflowId)}${execution.runId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), historyToJSON(history));
      written += 1;
    }
    return written;
  })(), 120_000);
}

/** The start of the names of the files `dumpHistories` writes a workflow's runs to. */
export function historyFilePrefix(workflowId: string): string {
  return `${workflowId}-`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Replays every history `dumpHistories` wrote with this checkout's workflow code, as a worker
 * process that takes a run up after a restart does. Returns each file whose run does not replay:
 * such a run fails every workflow task in its next process, and keeps its server.
 */
export async function unreplayable(dir: string): Promise<{ file: string; error: string }[]> {
  const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
  const histories = files.map((file) => ({ workflowId: file, history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))) }));
  const failures = [];
  for await (const result of Worker.runReplayHistories(replayOptions(new WorkerMetrics(noopMetricMeter)), histories)) {
    // The SDK wraps Core's reason ("[TMPRL1100] Nondeterminism error: ...") in a paragraph of its own.
    if (result.error) failures.push({ file: result.workflowId, error: (/\[TMPRL\d+\][^"]*/.exec(result.error.message)?.[0] ?? result.error.message.split('\n')[0]!).slice(0, 300) });
  }
  return failures;
}
