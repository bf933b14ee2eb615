import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { parseConfig, type LoadedConfig } from '../src/config/load.js';
import { SIGNALS } from '../src/contract/names.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { spawnGuarded, type GuardedProcess } from '../src/temporal/guardedProcess.js';
import { projectRoot } from '../src/temporal/paths.js';
import { WorkerMetrics } from '../src/worker/metrics.js';
import { createLatentWorker, workflowsPath } from '../src/worker/worker.js';
import type { ServerStatusChange } from '../src/workflows/bootWatch.js';
import { statusQuery } from '../src/workflows/messages.js';
import { METRIC_NAMES } from '../src/workflows/metricNames.js';
import { SERVER_STATUS_SIGNAL } from '../src/workflows/statusWatchNames.js';
import { waitFor } from './chaos/waits.js';
import { recordHistory, SEED_WORKER } from './support/lifecycleRig.js';
import { recordingMeter } from './support/recordingMeter.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';

// Found by the chaos suite (its watcher-kill scenario): a lifecycle history that cannot be
// replayed, "[TMPRL1100] Nondeterminism error: UpsertWorkflowSearchAttributesMachine does not
// handle HistoryEvent(id: 23, TimerStarted)". The watcher's ACTIVE signal was waiting for a
// workflow task when the master's status query reached a worker process that did not have the
// lifecycle cached. That process rebuilt the lifecycle from its history for the query, the waiting
// signal included (the boot wait ended, the attach wait began NOT ready and started its
// missing_timeout timer), and kept that state in its cache. The workflow task itself, when it
// came, applied the master's `attached` and `release`, recorded after the query, in a later
// activation: the wait ended by the release and left its timer, so TimerStarted went into the
// history. A replay applies the three signals of that task at once: the attach wait begins ready,
// starts no timer, and the history's TimerStarted meets the next command instead. That was the
// unmarked shape (4dc0661, fixture unmarked-signals-applied-for-a-query.json); new lifecycles cancel
// every timer (src/workflows/shape.ts), and this test splits the signals on purpose and replays
// what the split leaves.
//
// How this test makes Temporal split them (in 14 of the 17 tries made while it was written):
// 1. The lifecycle's process (the first worker) is killed with SIGKILL right after it answered a
//    query, so Temporal's matching still counts its sticky queue as polled (a poll began there
//    less than 10 s ago) and sends both the next query and the next workflow task there.
// 2. The status query is asked at once. No workflow task is pending, so it goes straight to that
//    sticky queue, where nobody answers; after the sticky schedule-to-start timeout (10 s) the
//    server clears the stickiness and hands the query to the normal queue: the second worker (in
//    the test's own process), which has never run the lifecycle, rebuilds it from the history as
//    it is then.
// 3. Meanwhile (5 s after the kill) the ACTIVE signal is sent: its workflow task goes to the dead
//    sticky queue too and waits there for its own 10 s timeout. The history the query's process
//    reads ends with that signal, so it applies it, answers "waiting-for-attach" and keeps the run.
// 4. `attached` and `release` are sent as soon as the query is answered, before the task's timeout
//    (15 s after the kill). The task then goes to the normal queue; the second worker has the run
//    in its cache, skips the events it already applied, and applies only the two master signals.
//    The unmarked shape then leaves the attach wait's timer (TimerStarted in that task's commands),
//    which a replay of the history does not make.
const suffix = randomUUID().slice(0, 6);
const scratch = path.join(projectRoot, '.scratch', `split-signals-${suffix}`);
/** After the kill, when the ACTIVE signal is sent: its task then waits on the dead sticky queue until 10 s after this. */
const SIGNAL_AFTER_KILL_MS = 5_000;
/**
 * Independent tries, each with its own lifecycle, task queue and pair of workers. Now and then
 * (3 of 17 tries while this test was written) the server counts the killed process's sticky queue
 * as unpolled at once (the query is answered at once, before the ACTIVE signal exists) or drops the
 * query waiting there ("context canceled"); such a try reproduces nothing, and the next is made.
 */
const ATTEMPTS = 3;
const names = Array.from({ length: ATTEMPTS }, (_, index) => `split-${suffix}-${index + 1}`);
let simulator: Simulator;
let raw: unknown;
let config: LoadedConfig;
let temporal: Client;
let connection: NativeConnection;

// The first worker process, as the CLI worker runs, but asking for no status watcher: the test
// tells the boot's end itself, at the moment it chooses.
const FIRST_WORKER_SOURCE = `
import { NativeConnection } from '@temporalio/worker';
const { parseConfig } = await import(process.env.SPLIT_LOAD_MODULE);
const { createLatentWorker } = await import(process.env.SPLIT_WORKER_MODULE);
const config = parseConfig(JSON.parse(process.env.SPLIT_CONFIG), 'split-signals first worker');
const connection = await NativeConnection.connect({ address: process.env.SPLIT_ADDRESS });
const { worker } = await createLatentWorker({ connection, namespace: 'default', taskQueue: process.env.SPLIT_TASK_QUEUE, config, askForStatusWatchers: false });
console.log('first worker polling');
await worker.run();
`;

function startFirstWorker(taskQueue: string, logFile: string): GuardedProcess {
  // A file, not --eval: the SDK's workflow threads inherit node's options, --input-type among them.
  const script = path.join(scratch, 'first-worker.mts');
  writeFileSync(script, FIRST_WORKER_SOURCE);
  return spawnGuarded(process.execPath, ['--import', 'tsx', script], logFile, {
    ...process.env,
    SPLIT_LOAD_MODULE: pathToFileURL(path.join(projectRoot, 'src', 'config', 'load.ts')).href,
    SPLIT_WORKER_MODULE: pathToFileURL(path.join(projectRoot, 'src', 'worker', 'worker.ts')).href,
    SPLIT_CONFIG: JSON.stringify(raw),
    SPLIT_ADDRESS: temporalAddress(),
    SPLIT_TASK_QUEUE: taskQueue,
  });
}

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  simulator = await startSimulator({ bootDelayMs: 500, deleteDelayMs: 100 });
  raw = { deployment: `split-${suffix}`, workers: names.map((name) => ({ ...SEED_WORKER, os_auth_url: simulator.authUrlV2, name })) };
  config = parseConfig(raw, 'split-signals test');
  connection = await NativeConnection.connect({ address: temporalAddress() });
  temporal = await connectClient();
});

afterAll(async () => {
  await connection?.close();
  await temporal?.connection.close();
  await simulator?.close();
});

describe('a workflow task whose signals a query-rebuilt process applies in two activations', () => {
  it('leaves a history that replays', { timeout: 300_000 }, async () => {
    const tries: string[] = [];
    for (const name of names) {
      const attempt = await splitAttempt(name);
      console.log(attempt.report);
      if (attempt.missing.length > 0) {
        tries.push(`${name}: ${attempt.missing.join('; ')}\n${attempt.report}`);
        continue;
      }
      // A process that takes the lifecycle up later (a restart, an eviction from its cache) must
      // make the commands this one made, however the signals were grouped into activations.
      await expect(Worker.runReplayHistory({ workflowsPath: workflowsPath() }, attempt.history, name)).resolves.toBeUndefined();
      return;
    }
    // The split never happened, so this run proves nothing: say so rather than pass.
    throw new Error(`the signals were not split across two activations in any of ${ATTEMPTS} tries, so this run reproduces nothing:\n\n${tries.join('\n\n')}`);
  });
});

interface Attempt {
  history: History;
  /** What the split lacked (empty: it happened). */
  missing: string[];
  report: string;
}

/** One try at the split, on a lifecycle of its own (see the comment at the top). */
async function splitAttempt(name: string): Promise<Attempt> {
  const taskQueue = uniqueTaskQueue('split-signals');
  const client = new LatentWorkerClient(temporal, taskQueue);
  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(2)} s`;
  const timeline: string[] = [];
  const note = (what: string) => void timeline.push(`${at()} ${what}`);
  // Each phase end the second process records, and when: the lifecycle's metric sink is called for
  // the events past its last workflow task, whether a workflow task or a query's rebuild applies them.
  const phasesEnded: PhaseEnd[] = [];
  const metrics = new WorkerMetrics(
    recordingMeter((metric, _value, tags) => {
      if (metric === METRIC_NAMES.phaseDuration) phasesEnded.push({ phase: String(tags.phase), at: Date.now() });
    }),
  );
  // The second process: the default cache (it keeps what it rebuilt for the query), no status watcher.
  const { worker, clouds } = await createLatentWorker({ connection, namespace: 'default', taskQueue, config, askForStatusWatchers: false, metrics });
  const firstLog = path.join(scratch, `${name}-first-worker.log`);
  const first = startFirstWorker(taskQueue, firstLog);
  let running: Promise<void> | undefined;
  try {
    await waitFor('the first worker process to poll', () => existsSync(firstLog) && readFileSync(firstLog, 'utf8').includes('first worker polling'), 90_000, 200);
    await client.substantiate(config.workers.get(name)!.specFor());
    const booting = await client.waitForPhase(name, 'booting', { intervalMs: 100 });
    const serverId = booting.serverId!;
    await waitFor('the simulator to make the server ACTIVE', () => simulator.servers().find((server) => server.id === serverId && server.status === 'ACTIVE'), 30_000, 100);
    running = worker.run();
    // Each query the first process answers (on its sticky queue) starts a new poll there: keep
    // asking until the very kill, so that matching counts its sticky queue as polled for 10 s more.
    for (let i = 0; i < 10; i += 1) {
      await client.status(name);
      await sleep(100);
    }
    await client.status(name);
    process.kill(-first.pid, 'SIGKILL');
    await first.exited;
    note('first process killed');
    // A deadline past the sticky schedule-to-start timeout (10 s) that the query waits out first.
    const queried = client.temporal.withDeadline(Date.now() + 40_000, () => client.handle(name).query(statusQuery)).then(
      (status) => {
        note(`status query answered ${status.phase}`);
        return status.phase;
      },
      (error: unknown) => {
        note(`status query failed: ${error instanceof Error ? error.message : String(error)}`);
        return 'no answer';
      },
    );
    await sleep(SIGNAL_AFTER_KILL_MS);
    // What the cloud's status watcher would send.
    await client.handle(name).signal<[ServerStatusChange]>(SERVER_STATUS_SIGNAL, { serverId, status: 'ACTIVE', seenAt: new Date().toISOString() });
    note('ACTIVE signalled');
    const answered = await queried;
    const masterSignalledAt = Date.now();
    await client.attached(name);
    await client.release(name);
    note('attached and release signalled');
    const result = await client.result(name);
    note(`lifecycle ended ${result.outcome}`);
    const history = await client.handle(name).fetchHistory();
    const report = `${name} timeline:\n${timeline.join('\n')}\nphases the second process saw end: ${phasesEnded.map(({ phase, at }) => `${phase} at ${((at - t0) / 1000).toFixed(2)} s`).join(', ')}\nhistory:\n${describeHistory(history)}`;
    const missing = splitEvidence(history, answered, phasesEnded, masterSignalledAt);
    if (result.outcome !== 'released') missing.push(`the lifecycle ended ${result.outcome}, not released`);
    if (missing.length === 0) {
      // By 4dc0661's code (the unmarked shape), which cannot replay it; and by the prompt-delete shape's, which can.
      await recordHistory(client, 'unmarked-signals-applied-for-a-query', name);
      await recordHistory(client, 'prompt-create-signals-applied-for-a-query', name);
    }
    return { history, missing, report };
  } finally {
    if (running) {
      worker.shutdown();
      await running;
    }
    await first.stop(1000);
    await clouds.close();
  }
}

/**
 * What is missing for the run to have split the task's signals (empty when it did): the query,
 * asked before the task ran, saw the ACTIVE signal applied; one workflow task carried the ACTIVE,
 * `attached` and `release` signals (it had waited out the dead sticky queue); and the process that
 * ran that task ended the boot once, before the master's signals were sent: while rebuilding the
 * lifecycle for the query, not again in the task (as a task rebuilt from the full history would).
 */
function splitEvidence(history: History, queryAnswer: string, phasesEnded: PhaseEnd[], masterSignalledAt: number): string[] {
  const missing: string[] = [];
  if (queryAnswer !== 'waiting-for-attach') missing.push(`the status query answered ${queryAnswer}, not waiting-for-attach (it did not apply the waiting ACTIVE signal)`);
  const events = history.events ?? [];
  const signalIndex = (signal: string) => events.findIndex((event) => event.workflowExecutionSignaledEventAttributes?.signalName === signal);
  const active = signalIndex(SERVER_STATUS_SIGNAL);
  const attached = signalIndex(SIGNALS.attached);
  const release = signalIndex(SIGNALS.release);
  if (active < 0 || attached < 0 || release < 0) {
    missing.push('the history lacks one of the three signals');
    return missing;
  }
  const startedAfterActive = events.findIndex((event, index) => index > active && event.workflowTaskStartedEventAttributes);
  if (startedAfterActive < 0 || startedAfterActive < attached || startedAfterActive < release) missing.push('the ACTIVE signal was given to a workflow task before attached and release were recorded');
  if (!events.some((event, index) => index > active && index < startedAfterActive && event.workflowTaskTimedOutEventAttributes)) missing.push("the ACTIVE signal's task did not wait out a dead sticky queue");
  const bootEnds = phasesEnded.filter(({ phase }) => phase === 'booting');
  if (bootEnds.length !== 1) missing.push(`the second process ended the boot phase ${bootEnds.length} times, not once (twice: the task was rebuilt from the full history rather than run on the state the query left)`);
  else if (bootEnds[0]!.at > masterSignalledAt) missing.push('the second process ended the boot phase only after attached and release were sent: it applied ACTIVE in the task, not for the query');
  return missing;
}

interface PhaseEnd {
  phase: string;
  at: number;
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** Each event with what tells the tasks apart: the queue a task was scheduled on, who started it, timeouts, signals, timers. */
function describeHistory(history: History): string {
  const lines: string[] = [];
  for (const event of history.events ?? []) {
    let detail = '';
    const scheduled = event.workflowTaskScheduledEventAttributes;
    if (scheduled) detail = `on ${scheduled.taskQueue?.kind === 2 ? 'sticky' : 'normal'} queue ${scheduled.taskQueue?.name}`;
    if (event.workflowTaskStartedEventAttributes) detail = `by ${event.workflowTaskStartedEventAttributes.identity}`;
    if (event.workflowTaskTimedOutEventAttributes) detail = `timeout type ${event.workflowTaskTimedOutEventAttributes.timeoutType}`;
    if (event.workflowExecutionSignaledEventAttributes) detail = String(event.workflowExecutionSignaledEventAttributes.signalName);
    if (event.timerStartedEventAttributes) detail = `timer ${event.timerStartedEventAttributes.timerId} for ${event.timerStartedEventAttributes.startToFireTimeout?.seconds} s`;
    if (event.timerCanceledEventAttributes) detail = `timer ${event.timerCanceledEventAttributes.timerId}`;
    const type = typeof event.eventType === 'number' ? proto.temporal.api.enums.v1.EventType[event.eventType]!.replace('EVENT_TYPE_', '') : String(event.eventType);
    lines.push(`${event.eventId} ${type} ${detail}`.trimEnd());
  }
  return lines.join('\n');
}

