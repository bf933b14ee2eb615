import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
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
      const file = `${execution.workflowId}-${execution.runId}`.replace(/[^A-Za-z0-9._-]/g, '_');
      writeFileSync(path.join(dir, `${file}.json`), historyToJSON(history));
      written += 1;
    }
    return written;
  })(), 120_000);
}
