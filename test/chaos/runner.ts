import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { LatentWorkerClient } from '../../src/client/api.js';
import { workflowIdFor } from '../../src/contract/index.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { NAMESPACE } from '../../src/temporal/devServer.js';
import { dumpHistories, historyFilePrefix, unreplayable } from './histories.js';
import { countCloud, invariantViolations, ownershipProblems } from './invariants.js';
import { reaperAvailable, reapNow } from './reaper.js';
import type { TrialResult } from './report.js';
import type { Scenario } from './scenarios.js';
import type { RestartableTemporal } from './temporalServer.js';
import { SEED_DEFINITION, Trial, writeWorkerConfig, type Outcome } from './trial.js';
import { sleep, waitFor, withTimeout } from './waits.js';
import { WorkerProcess } from './workerProcess.js';

export interface RunnerOptions {
  runs: number;
  concurrency: number;
  dir: string;
  log: (line: string) => void;
}

interface Plan {
  scenario: Scenario;
  run: number;
  workerName: string;
  simulator?: Simulator;
}

interface TrialEnv {
  temporal: RestartableTemporal;
  temporalClient: Client;
  dir: string;
  sharedQueue: string;
  sharedConfig: string;
  log: (line: string) => void;
}

/** A terminated lifecycle's trial, waiting for the reaper pass at the end. */
interface AwaitingReaper {
  result: TrialResult;
  simulator: Simulator;
  leftIds: string[];
}

const DRIVE_TIMEOUT_MS = 300_000;
const OUTCOME_TIMEOUT_MS = 240_000;
/** The cloud counts as settled once it has had no request for this long. */
const QUIET_MS = 1_500;

/**
 * Runs every scenario `runs` times against one Temporal service: first the scenarios that
 * restart that service, alone; then the rest concurrently, the kill scenarios each with worker
 * processes of their own, the others on one shared worker process. Terminated lifecycles'
 * servers are left to one reaper run (`latent-worker reap --grace 0`) at the end.
 */
export async function runScenarios(scenarios: Scenario[], temporal: RestartableTemporal, options: RunnerOptions): Promise<TrialResult[]> {
  const suffix = randomUUID().slice(0, 6);
  const plans = scenarios.flatMap((scenario) => Array.from({ length: options.runs }, (_, i): Plan => ({ scenario, run: i + 1, workerName: `${scenario.short}-${i + 1}-${suffix}` })));
  const connection = await Connection.connect({ address: temporal.address, connectTimeout: '10 seconds' });
  const temporalClient = new Client({ connection, namespace: NAMESPACE });
  const results: TrialResult[] = [];
  const awaitingReaper: AwaitingReaper[] = [];
  let shared: WorkerProcess | undefined;
  const sharedConfig = path.join(options.dir, 'config-shared.json');
  const env: TrialEnv = { temporal, temporalClient, dir: options.dir, sharedQueue: `chaos-shared-${suffix}`, sharedConfig, log: options.log };
  const record = ({ result, awaiting }: { result: TrialResult; awaiting?: AwaitingReaper }) => {
    results.push(result);
    if (awaiting) awaitingReaper.push(awaiting);
  };
  try {
    for (const plan of plans.filter((p) => p.scenario.mode === 'exclusive')) record(await runTrial(plan, env));

    const sharedPlans = plans.filter((p) => p.scenario.mode === 'shared-worker');
    if (sharedPlans.length > 0) {
      for (const plan of sharedPlans) plan.simulator = await startSimulator(plan.scenario.simulator?.(plan.run) ?? {});
      writeWorkerConfig(sharedConfig, sharedPlans.map((plan) => ({ ...definitionFor(plan.scenario, plan.simulator!), name: plan.workerName })));
      shared = await WorkerProcess.start({ configFile: sharedConfig, temporalAddress: temporal.address, taskQueue: env.sharedQueue, logFile: path.join(options.dir, 'worker-shared.log') });
      options.log(`shared worker process ${shared.pid} polls ${env.sharedQueue} for ${sharedPlans.length} lifecycles`);
    }
    // Slow ones first: the kill scenarios wait out Temporal's timeouts.
    const rest = [...plans.filter((p) => p.scenario.mode === 'own-worker'), ...sharedPlans];
    for (const done of await pool(rest, options.concurrency, (plan) => runTrial(plan, env))) record(done);

    if (awaitingReaper.length > 0) await reaperPass(awaitingReaper, { configFile: sharedConfig, temporalAddress: temporal.address, taskQueue: env.sharedQueue }, options.log);
    if (shared && !shared.alive()) {
      for (const r of results.filter((r) => sharedPlans.some((p) => p.workerName === r.workerName))) r.violations.push('the shared worker process died');
    }
    const historiesDir = path.join(options.dir, 'histories');
    options.log(`${await dumpHistories(temporalClient, historiesDir)} workflow histories written to ${historiesDir}`);
    // Every run, whatever was done to it, must replay with the code that made it: one that does not
    // fails each workflow task of the process that next takes it up, and its server stays.
    const failures = await unreplayable(historiesDir);
    options.log(`replayed every history with this checkout's workflow code: ${failures.length} did not replay`);
    for (const { file, error } of failures) {
      const owner = results.find((r) => file.startsWith(historyFilePrefix(workflowIdFor(r.workerName))));
      const violation = `its history ${file} does not replay with the code that made it: ${error}`;
      if (owner) owner.violations.push(violation);
      else results[0]?.violations.push(`a run of no trial: ${violation}`);
    }
  } finally {
    await shared?.stop();
    await Promise.allSettled(plans.map((p) => p.simulator?.close()));
    await connection.close();
  }
  return results;
}

function companionsOf({ scenario, workerName }: Plan): string[] {
  return Array.from({ length: scenario.companions ?? 0 }, (_, i) => `${workerName}-c${i + 1}`);
}

function definitionFor(scenario: Scenario, simulator: Simulator): Record<string, unknown> {
  return { ...SEED_DEFINITION, os_auth_url: simulator.authUrlV2, ...scenario.definition };
}

async function runTrial(plan: Plan, env: TrialEnv): Promise<{ result: TrialResult; awaiting?: AwaitingReaper }> {
  const { scenario, run, workerName } = plan;
  const started = Date.now();
  const simulator = plan.simulator ?? (plan.simulator = await startSimulator(scenario.simulator?.(run) ?? {}));
  const definition = definitionFor(scenario, simulator);
  let ownWorker: { configFile: string; taskQueue: string } | undefined;
  if (scenario.mode !== 'shared-worker') {
    ownWorker = { configFile: path.join(env.dir, `config-${workerName}.json`), taskQueue: `chaos-${workerName}` };
    writeWorkerConfig(ownWorker.configFile, [workerName, ...companionsOf(plan)].map((name) => ({ ...definition, name })));
  }
  const taskQueue = ownWorker?.taskQueue ?? env.sharedQueue;
  const reaperTarget = { configFile: ownWorker?.configFile ?? env.sharedConfig, temporalAddress: env.temporal.address, taskQueue };
  const trial = new Trial({ scenario: scenario.name, run, workerName, companions: companionsOf(plan), simulator, client: new LatentWorkerClient(env.temporalClient, taskQueue), temporal: env.temporal, definition, dir: env.dir, ownWorker, reaperTarget });
  const result: TrialResult = {
    scenario: scenario.name,
    run,
    workerName,
    runId: '',
    outcome: { kind: 'undefined', runId: '' },
    serversCreated: 0,
    createRequests: 0,
    serversLeft: 0,
    reaped: 0,
    liveReaped: trial.liveReaped,
    duplicates: 0,
    workerProcesses: 0,
    violations: [],
    notes: trial.notes,
    seconds: 0,
  };
  let awaiting: AwaitingReaper | undefined;
  try {
    let outcome: Outcome;
    try {
      if (ownWorker && !scenario.startsItsWorker) await trial.startWorker();
      await withTimeout(`${trial.label}: the scenario's steps`, scenario.drive(trial), DRIVE_TIMEOUT_MS);
      outcome = await trial.outcome(OUTCOME_TIMEOUT_MS);
    } catch (error) {
      result.violations.push(error instanceof Error ? error.message : String(error));
      outcome = { kind: 'undefined', runId: trial.runId, message: 'the trial did not get as far as the outcome' };
    }
    result.outcome = outcome;
    result.runId = trial.runId;
    await trial.stopWorker();
    await settle(trial);
    // A fault that never fired means the run did not test what the scenario says it does.
    for (const fault of simulator.faults.list().filter((f) => f.fired === 0)) {
      result.violations.push(`fault ${fault.kind}${'route' in fault ? ` on ${fault.route}` : ''} never fired`);
    }
    result.violations.push(...(scenario.check?.(trial, outcome) ?? []));
    simulator.faults.clear();
    const cloud = await countCloud(trial);
    result.serversCreated = cloud.created.length;
    result.createRequests = cloud.createRequests;
    result.serversLeft = cloud.left.length;
    result.duplicates = cloud.duplicates;
    result.violations.push(...invariantViolations(trial, outcome, cloud, scenario.expect, scenario.leavesServerForReaper === true));
    if (scenario.leavesServerForReaper && outcome.kind === 'terminated') {
      if (cloud.left.length === 0) result.violations.push('the terminated lifecycle left no server: the scenario did not exercise the reaper');
      for (const server of cloud.left) {
        const problems = ownershipProblems(trial, server);
        if (problems) result.violations.push(`left server ${server.name} cannot be traced to its lifecycle: ${problems}`);
      }
      if (scenario.mode !== 'shared-worker') result.violations.push('terminate scenarios must run on the shared worker, where the reaper pass runs');
      else awaiting = { result, simulator, leftIds: cloud.left.map((server) => server.id) };
    }
  } catch (error) {
    result.violations.push(`checking the trial failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await trial.stopWorker().catch(() => undefined);
    // The shared worker's simulators stay up until the reaper pass, which lists every one of them.
    if (scenario.mode !== 'shared-worker') await simulator.close();
  }
  result.workerProcesses = trial.workersStarted;
  result.liveReaped = trial.liveReaped;
  if (trial.liveReaped > 0) result.violations.push(`the reaper deleted ${trial.liveReaped} server(s) of a live lifecycle`);
  result.seconds = Math.round((Date.now() - started) / 100) / 10;
  env.log(`${result.violations.length === 0 ? 'ok  ' : 'FAIL'} ${trial.label}: ${result.outcome.kind}, ${result.serversCreated} created, ${result.serversLeft} left${awaiting ? ' (for the reaper)' : ''}, ${result.duplicates} duplicate(s), ${result.seconds} s${trial.notes.length ? ` [${trial.notes.join('; ')}]` : ''}${result.violations.length ? `\n       ${result.violations.join('\n       ')}` : ''}`);
  return { result, awaiting };
}

/**
 * The reaper's answer to terminated lifecycles: one `latent-worker reap --grace 0` once every
 * other lifecycle on the shared worker has ended, then nothing may be left.
 */
async function reaperPass(awaiting: AwaitingReaper[], target: { configFile: string; temporalAddress: string; taskQueue: string }, log: (line: string) => void): Promise<void> {
  if (!reaperAvailable()) {
    for (const { result } of awaiting) result.notes.push(`no reaper yet: ${result.serversLeft} server(s) left for it, identifiable by latent-worker:workflow-id/run-id`);
    log(`no reaper in this checkout: ${awaiting.length} terminated lifecycle(s) keep their servers`);
    return;
  }
  let report;
  try {
    report = await reapNow(target);
  } catch (error) {
    for (const { result } of awaiting) result.violations.push(`the reaper failed: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  log(`reaper: ${report.scanned} scanned, ${report.kept} kept, ${report.deleted.length} deleted, ${report.failed.length} failed, ${report.unlisted.length} cloud(s) unlisted`);
  const deleted = new Set(report.deleted.map((orphan) => orphan.serverId));
  for (const { result, simulator, leftIds } of awaiting) {
    result.reaped = leftIds.filter((id) => deleted.has(id)).length;
    const left = simulator.servers();
    result.serversLeft = left.length;
    if (left.length > 0) result.violations.push(`${left.length} server(s) left after the reaper ran: ${left.map((s) => `${s.name} ${s.status}`).join(', ')}`);
    for (const failure of report.failed.filter((f) => leftIds.includes(f.serverId))) result.violations.push(`the reaper could not delete ${failure.name}: ${failure.error}`);
    log(`${result.violations.length === 0 ? 'ok  ' : 'FAIL'} ${result.scenario} run ${result.run}: reaper deleted ${result.reaped}, ${result.serversLeft} left`);
  }
  for (const { cloud, error } of report.unlisted) log(`reaper could not list ${cloud}: ${error}`);
}

/** Waits until no request the cloud got may still change it: delayed ones done, and no traffic for a while. */
async function settle(trial: Trial): Promise<void> {
  const busy = trial.busyUntil - Date.now();
  if (busy > 0) await sleep(busy);
  await waitFor(`${trial.label}: the cloud to have no request for ${QUIET_MS} ms`, () => {
    const last = Math.max(0, ...trial.sim.requests().map((r) => r.at));
    return Date.now() - last >= QUIET_MS;
  }, 60_000, 100);
}

async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      results.push(await work(item));
    }
  });
  await Promise.all(lanes);
  return results;
}
