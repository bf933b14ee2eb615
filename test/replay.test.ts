import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../src/worker/worker.js';

// Each fixture stands for executions that may still be running somewhere: never regenerate one.
// A new behaviour gets `patched()` in the workflow and a new fixture beside the old ones.
const directory = 'test/fixtures/histories';
const fixtures = readdirSync(directory).filter((file) => file.endsWith('.json')).sort();

describe('replay of committed lifecycle histories', () => {
  it('has the fixtures this suite promises', () => {
    expect(fixtures).toEqual(
      expect.arrayContaining([
        // Recorded with the first lifecycle (one launch, no idle release): they replay through patched('build-wait-timeout').
        'cancelled.json',
        'missing.json',
        'released.json',
        // Recorded with launch attempts, quota waits and idle release.
        'idle-released.json',
        'launch-failed.json',
        'quota-waited.json',
        'relaunched-after-error.json',
        // Recorded by the chaos suite: cancelled while its create was in flight; replays through patched('create-survives-cancel').
        'cancelled-while-creating.json',
        // Recorded by the contract test through a plain Temporal client: they replay through patched('validate-input').
        'invalid-input.json',
        'released-validated-input.json',
      ]),
    );
  });

  it('parses a fixture (guards against the protobufjs version mix-up)', () => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(directory, 'released.json'), 'utf8')));
    expect(history.events?.length).toBeGreaterThan(10);
  });

  it('replays every fixture against the current workflow code without nondeterminism', async () => {
    const histories = fixtures.map((file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(join(directory, file), 'utf8'))),
    }));
    const results = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath: workflowsPath() }, histories)) {
      results.push({ workflowId: result.workflowId, error: result.error?.message });
    }
    expect(results).toEqual(histories.map(({ workflowId }) => ({ workflowId, error: undefined })));
  });
});
