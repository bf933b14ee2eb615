import type { ServerEvent } from '../../src/simulator/index.js';
import { phaseKey } from '../../src/workflows/searchAttributes.js';
import type { Scenario } from './scenarios.js';
import type { Trial } from './trial.js';
import { waitFor } from './waits.js';
import type { WorkerProcess } from './workerProcess.js';

// A fleet: two worker processes on one task queue, one status watcher for the cloud between them.

const BOOT_MS = 20_000;
const BOOT_TIMEOUT_SECONDS = 60;
const COMPANIONS = 9;

/** The simulator's own times of each server of a run (its onServerEvent hook), by server id. */
const serverTimes = new Map<string, Map<string, { created?: number; active?: number }>>();
const timesOf = (run: string) => serverTimes.get(run) ?? serverTimes.set(run, new Map()).get(run)!;

/** The watch activity says where it starts in its process's log (src/activities/statusWatch.ts). */
const watches = (worker: WorkerProcess): number => worker.log().split('\n').filter((line) => line.includes('"message":"watching ')).length;

function recorder(key: string) {
  return (event: ServerEvent): void => {
    if (event.kind !== 'created' && event.kind !== 'active') return;
    const times = timesOf(key);
    times.set(event.serverId, { ...times.get(event.serverId), [event.kind]: event.at });
  };
}

/**
 * Every lifecycle of the trial released with its first server, and each boot seen (ACTIVE) within
 * boot_timeout of its create, and not before the cloud made it ACTIVE: a watcher that died never
 * held a boot past its deadline.
 */
async function everyBootInTime(trial: Trial, key: string): Promise<string[]> {
  const problems: string[] = [];
  const lags: { name: string; ms: number }[] = [];
  for (const name of [trial.name, ...trial.setup.companions]) {
    let result;
    try {
      result = await trial.setup.client.result(name);
    } catch (error) {
      problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (result.outcome !== 'released') problems.push(`${name}: ${result.outcome}${result.status.error ? ` (${result.status.error})` : ''}`);
    if ((result.status.launches ?? 0) !== 1) problems.push(`${name}: ${result.status.launches ?? 0} launches (${(result.status.launchFailures ?? []).join('; ')})`);
    const times = result.serverId === undefined ? undefined : timesOf(key).get(result.serverId);
    const seen = result.status.activeAt === undefined ? undefined : Date.parse(result.status.activeAt);
    if (times?.created === undefined || times.active === undefined || seen === undefined) {
      problems.push(`${name}: no boot times (server ${result.serverId ?? 'none'})`);
      continue;
    }
    if (seen - times.created > BOOT_TIMEOUT_SECONDS * 1000) problems.push(`${name}: the boot was seen ${seen - times.created} ms after the create, past boot_timeout ${BOOT_TIMEOUT_SECONDS} s`);
    // A lifecycle rebuilt for a status query by the surviving process once said ACTIVE at its boot's start (test/replayed-lifecycle-times.test.ts).
    if (seen < times.active) problems.push(`${name}: says its server was ACTIVE at ${result.status.activeAt}, ${times.active - seen} ms before the cloud made it so`);
    lags.push({ name, ms: seen - times.active });
  }
  lags.sort((a, b) => a.ms - b.ms);
  const span = (lag: { name: string; ms: number }) => `${lag.ms} ms (${lag.name})`;
  if (lags.length > 0) trial.note(`ACTIVE seen after ${span(lags[0]!)} to ${span(lags.at(-1)!)}, median ${lags[Math.floor(lags.length / 2)]!.ms} ms, over ${lags.length} boots`);
  return problems;
}

export const fleetScenarios: Scenario[] = [
  {
    name: "kill the status watcher's process mid-burst",
    short: 'fleet-kill-watcher',
    does: `Two worker processes on one task queue; a burst of ${COMPANIONS + 1} lifecycles whose boots take ${BOOT_MS / 1000} s (boot_timeout ${BOOT_TIMEOUT_SECONDS} s). Once every lifecycle is past its create (the create recorded), while the servers are in BUILD, the process running the cloud's status watcher is SIGKILLed. The watcher's heartbeat timeout (10 s) moves its watch to the other process, which takes up from the cursor of the last heartbeat and tells every lifecycle whose server finished meanwhile: every lifecycle is released with its first server, each boot seen within boot_timeout, nothing left.`,
    mode: 'own-worker',
    simulator: (run) => ({ bootDelayMs: BOOT_MS, deleteDelayMs: 300, onServerEvent: recorder(`fleet-kill-watcher-${run}`) }),
    definition: { boot_timeout: BOOT_TIMEOUT_SECONDS },
    companions: COMPANIONS,
    expect: ['released'],
    async drive(trial) {
      const key = `fleet-kill-watcher-${trial.setup.run}`;
      await trial.startFleetWorker();
      const processes = [trial.worker!, ...trial.fleet];
      const watcher = await waitFor(`${trial.label}: a process to run the status watcher`, () => processes.find((worker) => watches(worker) > 0), 60_000, 100);
      const survivor = processes.find((worker) => worker !== watcher)!;
      await trial.start();
      await trial.startCompanions();
      // Every create recorded first: a create activity dies with its process too, and waits out its
      // own start-to-close timeout (2 min) before another process retries it, which is not the watcher's doing.
      const names = [trial.name, ...trial.setup.companions];
      await waitFor(`${trial.label}: the whole burst past its creates`, async () => {
        const phases = await Promise.all(names.map(async (name) => (await trial.setup.client.handle(name).describe()).typedSearchAttributes.get(phaseKey)));
        return phases.every((phase) => phase === 'booting' || phase === 'waiting-for-attach');
      }, 120_000, 250);
      const booting = trial.sim.servers().filter((server) => server.status === 'BUILD').length;
      trial.expectNow(booting >= (COMPANIONS + 1) / 2, `most of the burst still in BUILD when the watcher's process is killed (${booting})`);
      await trial.killProcess(watcher);
      trial.note(`${booting} servers in BUILD when the watcher's process died`);
      await waitFor(`${trial.label}: the surviving process to take the watch over`, () => watches(survivor) > 0, 60_000, 200);
      await Promise.all(names.map(async (name) => {
        await waitFor(`${trial.label}: ${name} waiting for attach`, async () => (await trial.setup.client.status(name)).phase === 'waiting-for-attach', 120_000, 250);
        await trial.setup.client.attached(name);
        await trial.setup.client.release(name);
      }));
      const problems = await everyBootInTime(trial, key);
      trial.expectNow(problems.length === 0, problems.join('; '));
      trial.expectNow(timesOf(key).size === COMPANIONS + 1, `one server per lifecycle (${timesOf(key).size} created)`);
    },
  },
];
