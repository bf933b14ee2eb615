import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import type { MetricMeter } from '@temporalio/common';
import { Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { describe, expect, it, vi } from 'vitest';
import { WorkerMetrics } from '../src/worker/metrics.js';
import { replayOptions, workflowsPath } from '../src/worker/worker.js';
import { recordingMeter } from './support/recordingMeter.js';

// Each fixture stands for executions that may still be running somewhere: never regenerate one.
// A new behaviour gets `patched()` in the workflow and a new fixture beside the old ones, recorded
// by the code before the change (check the earlier commit out in a worktree of its own).
const directory = 'test/fixtures/histories';
const fixtures = readdirSync(directory).filter((file) => file.endsWith('.json')).sort();

/**
 * Histories no workflow code can replay together with the rest, and why. Commit 129d427 changed
 * the body behind patched('validate-input') (an in-sandbox check became a local activity) without
 * a new patch id: the two shapes leave the same markers before they part, so no deterministic code
 * can tell them apart. The shape that main has run since then is the one kept; these two, made
 * in the 79 minutes before, are kept as they were recorded and proven not to replay, so that
 * anything that changes this is seen.
 */
const UNREPLAYABLE: Record<string, string> = {
  'invalid-input.json': 'recorded by f0a7c61 (input checked in the workflow sandbox)',
  'released-validated-input.json': 'recorded by f0a7c61 (input checked in the workflow sandbox)',
  // Recorded by facdb45's chaos suite (the status watcher's process killed mid-burst): the process that took the
  // lifecycle up applied the status signal while it rebuilt the lifecycle for a query, then applied the master's
  // signals in the task. Its code cannot replay it; the steady shape (src/workflows/shape.ts) does not make such histories.
  'lean-watched-signal-applied-for-a-query.json': 'recorded by facdb45 (the signal applied by a query, its upsert made before the next)',
  // Recorded by test/split-signals-replay.test.ts on 4dc0661, the unmarked shape: the status signal applied while a process rebuilt
  // the lifecycle for a query, `attached` and `release` in the task after; the attach wait began unready and left its timer, which a
  // replay, applying the three signals together, does not start. New lifecycles take the prompt-delete shape again (src/workflows/shape.ts).
  'unmarked-signals-applied-for-a-query.json': 'recorded by 4dc0661 (the attach wait began unready for a query, and its timer left by the release)',
};

function git(...args: string[]): string {
  return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The commit that added `path`, or undefined when it is not committed yet. Renames are not followed: a fixture is never renamed. */
function commitThatAdded(path: string): string | undefined {
  return git('log', '--diff-filter=A', '--format=%H', '--', path).trim().split('\n').filter(Boolean).at(-1);
}

describe('committed lifecycle histories', () => {
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
        // Recorded by f0a7c61 through a plain Temporal client: the input checked in the workflow sandbox (see UNREPLAYABLE).
        'invalid-input.json',
        'released-validated-input.json',
        // Recorded by 129d427 (the input checked by a local activity behind patched('validate-input'), the missing
        // worker reported before its server is deleted, no continue-as-new).
        'idle-released-local-check.json',
        'invalid-input-local-check.json',
        'missing-local-check.json',
        'released-local-check.json',
        'released-validated-input-local-check.json',
        // Recorded with continue-as-new (patched 'continue-as-new'): the run that hands its server over, and the next one, released.
        'handed-over.json',
        'continued-released.json',
        // Recorded with the server deleted before the missing report (patched 'delete-before-notify').
        'missing-deleted-first.json',

        // Recorded with the LatentWorkerOutcome attribute written at done; the ones above replay through patched('outcome-search-attribute').
        'released-outcome-attribute.json',
        // Recorded by test/buildbot-seed.test.ts: a worker defined in master.cfg (sealed account), its image chosen by the master's callable.
        'master-defined-image-callable.json',
        // Recorded by 91e8a8d, the boot waited for by the waitForActive activity; they replay through patched('boot-told-by-cloud-watcher').
        'released-boot-waited-by-activity.json',
        'relaunched-after-error-boot-waited-by-activity.json',
        // Recorded with the boot told by the cloud's status watcher (a server-status signal).
        'released-boot-told-by-watcher.json',
        // Recorded with the lean shape (patched 'lean-lifecycle': every patch above on without its marker, one
        // search-attribute upsert per workflow task, the token check and image resolution as local activities).
        'lean-released.json',
        'lean-missing.json',
        'lean-cancelled.json',
        'lean-idle-released.json',
        'lean-relaunched-after-error.json',
        'lean-launch-failed.json',
        'lean-handed-over.json',
        'lean-continued-released.json',
        'lean-quota-waited.json',
        // Recorded by 98900cb through test/bench-work.test.ts: the lean shape with the boot told by the status watcher
        // (markers lean-lifecycle and boot-told-by-cloud-watcher; attached and release sent while the server boots).
        'lean-released-boot-told-by-watcher.json',
        // Recorded with the watched lean shape (patched 'lean-watched-lifecycle' alone: every change above on, the boot
        // told by the status watcher, the input check, token check and image resolution in one local activity).
        'lean-watched-released.json',
        // Recorded by test/create-slot-wait.test.ts: a create that found no create slot in any of its tries. By 79dd88c's
        // workflow code, which failed the lifecycle; and with patched('create-slot-wait-spends-no-attempt'), launched again.
        'create-found-no-slot-failed.json',
        'create-slot-waited.json',
        // Recorded by the chaos suite on facdb45 (see UNREPLAYABLE).
        'lean-watched-signal-applied-for-a-query.json',
        // Recorded with the steady shape (patched 'steady-lifecycle' alone: every change above on, and what changed
        // written before each point where the master's signals decide, whether the lifecycle then waits or not).
        'steady-released.json',
        'steady-missing.json',
        'steady-cancelled.json',
        'steady-idle-released.json',
        'steady-relaunched-after-error.json',
        'steady-launch-failed.json',
        'steady-handed-over.json',
        'steady-continued-released.json',
        'steady-quota-waited.json',
        'steady-create-slot-waited.json',
        // Recorded by test/bench-work.test.ts: attached and release sent while the server boots, so every wait after the boot is passed at once.
        'steady-released-signalled-while-booting.json',
        // Recorded with the prompt-delete shape (patched 'prompt-delete-lifecycle' alone: every change above on, and each
        // delete tried first within the workflow task that decides it, as a local activity; the activity only when that
        // falls short, as in prompt-delete-released-deleted-by-activity).
        'prompt-delete-released.json',
        'prompt-delete-missing.json',
        'prompt-delete-cancelled.json',
        'prompt-delete-idle-released.json',
        'prompt-delete-relaunched-after-error.json',
        'prompt-delete-launch-failed.json',
        'prompt-delete-handed-over.json',
        'prompt-delete-continued-released.json',
        'prompt-delete-quota-waited.json',
        'prompt-delete-create-slot-waited.json',
        'prompt-delete-released-signalled-while-booting.json',
        'prompt-delete-released-deleted-by-activity.json',
        // Recorded with the unmarked shape (no marker at all: the prompt-delete shape's behaviour, and a wait that ends
        // in the master's release leaves its timer for the run's end to drop).
        'unmarked-released.json',
        'unmarked-missing.json',
        'unmarked-cancelled.json',
        'unmarked-idle-released.json',
        'unmarked-relaunched-after-error.json',
        'unmarked-launch-failed.json',
        'unmarked-handed-over.json',
        'unmarked-continued-released.json',
        'unmarked-quota-waited.json',
        'unmarked-create-slot-waited.json',
        'unmarked-released-signalled-while-booting.json',
        'unmarked-released-deleted-by-activity.json',
        // Recorded by test/split-signals-replay.test.ts, the signals of one task split by a query's rebuild: by the unmarked shape
        // (see UNREPLAYABLE), and by the prompt-delete shape, which new lifecycles take again and whose history replays.
        'unmarked-signals-applied-for-a-query.json',
        'prompt-delete-signals-applied-for-a-query.json',
        // Recorded with the prompt-create shape (patched 'prompt-create-lifecycle' alone: the prompt-delete shape, and the
        // first create tried first within the run's first workflow task, as a local activity; the activity only when that
        // falls short, as in prompt-create-create-slot-waited, whose waiter found no slot free).
        'prompt-create-released.json',
        'prompt-create-missing.json',
        'prompt-create-cancelled.json',
        'prompt-create-idle-released.json',
        'prompt-create-relaunched-after-error.json',
        'prompt-create-launch-failed.json',
        'prompt-create-handed-over.json',
        'prompt-create-continued-released.json',
        'prompt-create-quota-waited.json',
        'prompt-create-create-slot-waited.json',
        'prompt-create-released-signalled-while-booting.json',
        'prompt-create-released-deleted-by-activity.json',
        'prompt-create-signals-applied-for-a-query.json',
        // Recorded by the chaos suite (kill-create, 2026-12-05): the process SIGKILLed while Nova held the first try's POST, so the
        // first workflow task timed out; the process that took it over created through the activity, which adopted the try's server.
        'prompt-create-first-task-taken-over.json',
      ]),
    );
  });

  it('are each what the commit that added them holds: a fixture is history, never rewritten', () => {
    let shallow: string;
    try {
      shallow = git('rev-parse', '--is-shallow-repository').trim();
    } catch (error) {
      throw new Error(`the fixtures' first versions are read with git, which failed here (${(error as Error).message.trim()}): run the tests in a git clone`);
    }
    if (shallow === 'true') throw new Error('this is a shallow clone: the commits that added the fixtures may be missing. Fetch the full history (git fetch --unshallow) to run this test');
    const rewritten = [];
    for (const file of fixtures) {
      const path = `${directory}/${file}`;
      const added = commitThatAdded(path);
      // Not committed yet: it is being added now, and this test holds it from its first commit on.
      if (!added) continue;
      if (git('show', `${added}:${path}`) !== readFileSync(path, 'utf8')) rewritten.push(`${file} differs from its first version in ${added.slice(0, 7)}`);
    }
    expect(rewritten).toEqual([]);
  });

  it('parses a fixture (guards against the protobufjs version mix-up)', () => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(directory, 'released.json'), 'utf8')));
    expect(history.events?.length).toBeGreaterThan(10);
  });

  it('replays every fixture recorded by each earlier shape of the workflow against the current code', async () => {
    const histories = fixtures.map((file) => ({
      workflowId: file,
      history: historyFromJSON(JSON.parse(readFileSync(join(directory, file), 'utf8'))),
    }));
    const { meter, recorded } = keepingMeter();
    const { results, sinkErrors } = await replayed(replayOptions(new WorkerMetrics(meter)), histories);
    expect(results).toEqual(
      histories.map(({ workflowId }) =>
        UNREPLAYABLE[workflowId] ? { workflowId, replays: false, error: 'nondeterminism' } : { workflowId, replays: true, error: undefined },
      ),
    );
    // Every metric the workflow reports reached the worker's own sink, and none was counted again.
    expect(sinkErrors).toEqual([]);
    expect(recorded).toEqual([]);
  });

  it('tells a history with no shape marker by its first task\'s markers and its start, each way', async () => {
    // The same histories, every event moved by as much, to start on either side of the day the unmarked shape began (src/workflows/shape.ts).
    // A continued run's input holds times too (when it went idle): they move with the events.
    const moved = (file: string, startedAt: string) => {
      const json = JSON.parse(readFileSync(join(directory, file), 'utf8')) as MovableHistory;
      const shift = Date.parse(startedAt) - Date.parse(json.events[0]!.eventTime);
      for (const event of json.events) event.eventTime = new Date(Date.parse(event.eventTime) + shift).toISOString();
      for (const payload of json.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads) {
        payload.data = Buffer.from(JSON.stringify(shiftedTimes(JSON.parse(Buffer.from(payload.data, 'base64').toString()), shift))).toString('base64');
      }
      return { workflowId: `${file} started ${startedAt}`, history: historyFromJSON(json) };
    };
    const before = '2026-12-04T11:59:59Z';
    const after = '2026-12-04T12:00:01Z';
    const { results } = await replayed(replayOptions(new WorkerMetrics(keepingMeter().meter)), [
      // No marker at all: the start decides, and a wrong one cannot replay.
      moved('unmarked-released.json', after),
      moved('unmarked-released.json', before),
      moved('released.json', before),
      moved('released.json', after),
      // The first shape's first task asked for a change (a new run: validate-input; a continued one: build-wait-timeout): the start does not matter.
      moved('missing-deleted-first.json', after),
      moved('continued-released.json', after),
    ]);
    expect(results.map(({ workflowId, replays }) => `${workflowId}: ${replays}`)).toEqual([
      `unmarked-released.json started ${after}: true`,
      `unmarked-released.json started ${before}: false`,
      `released.json started ${before}: true`,
      `released.json started ${after}: false`,
      `missing-deleted-first.json started ${after}: true`,
      `continued-released.json started ${after}: true`,
    ]);
  });

  it('gives the replay the metric sinks: without them, each metric the workflow reports is an error in the log', async () => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(directory, 'released-outcome-attribute.json'), 'utf8')));
    const { results, sinkErrors } = await replayed({ workflowsPath: workflowsPath() }, [{ workflowId: 'released-outcome-attribute.json', history }]);
    expect(results).toEqual([{ workflowId: 'released-outcome-attribute.json', replays: true, error: undefined }]);
    expect(new Set(sinkErrors)).toEqual(new Set(['lifecycleMetrics.phaseEnded', 'lifecycleMetrics.lifecycleEnded', 'lifecycleMetrics.launchEnded']));
  });
});

type MovableHistory = { events: { eventTime: string; workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } } }[] };

/** `value` with every ISO time in it moved by `shiftMs`. */
function shiftedTimes(value: unknown, shiftMs: number): unknown {
  if (typeof value === 'string') return /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(value) ? new Date(Date.parse(value) + shiftMs).toISOString() : value;
  if (Array.isArray(value)) return value.map((item) => shiftedTimes(item, shiftMs));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, shiftedTimes(item, shiftMs)]));
  return value;
}

type ReplayHistory = { workflowId: string; history: ReturnType<typeof historyFromJSON> };

const UNREGISTERED_SINK = 'Workflow referenced an unregistered external sink';

/**
 * Replays `histories`; also returns the sink calls the SDK found no sink for. It logs each as an
 * error: those are kept out of the test's output, every other line goes through.
 */
async function replayed(options: ReplayWorkerOptions, histories: ReplayHistory[]) {
  const logger = Runtime.instance().logger;
  const through = logger.log.bind(logger);
  const log = vi.spyOn(logger, 'log').mockImplementation((level, message, meta) => {
    if (message !== UNREGISTERED_SINK) through(level, message, meta);
  });
  try {
    const results = [];
    for await (const result of Worker.runReplayHistories(options, histories)) {
      const nondeterministic = /nondeterminism/i.test(result.error?.message ?? '');
      results.push({ workflowId: result.workflowId, replays: result.error === undefined, error: nondeterministic ? 'nondeterminism' : result.error?.message });
    }
    const sinkErrors = log.mock.calls
      .filter(([, message]) => message === UNREGISTERED_SINK)
      .map(([, , meta]) => `${String(meta?.ifaceName)}.${String(meta?.fnName)}`);
    return { results, sinkErrors };
  } finally {
    log.mockRestore();
  }
}

/** A meter that keeps every value any of its instruments is given. */
function keepingMeter(): { meter: MetricMeter; recorded: string[] } {
  const recorded: string[] = [];
  return { meter: recordingMeter((metric, value) => void recorded.push(`${metric} ${value}`)), recorded };
}
