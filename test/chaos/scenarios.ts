import type { SimulatorOptions } from '../../src/simulator/index.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CHAOS_TIME_SCALE, type Outcome, type OutcomeKind, type Trial } from './trial.js';
import { sleep, waitFor } from './waits.js';
import { fleetScenarios } from './fleet.js';

/**
 * How a scenario runs:
 * - `exclusive`: alone, with its own worker process (it restarts the Temporal service);
 * - `own-worker`: its own worker process per run, which the scenario kills;
 * - `shared-worker`: on the suite's one long-lived worker process, alongside other scenarios.
 */
export type ScenarioMode = 'exclusive' | 'own-worker' | 'shared-worker';

export interface Scenario {
  name: string;
  /** Prefix of worker names: letters, digits, '-'. */
  short: string;
  /** What it does, for docs/chaos.md. */
  does: string;
  mode: ScenarioMode;
  /** With `own-worker`: the scenario's steps start that process (after arranging faults), not the runner. */
  startsItsWorker?: boolean;
  simulator?: (run: number) => SimulatorOptions;
  /** Worker definition fields over the seed's simplest worker. */
  definition?: Record<string, unknown>;
  /**
   * Lifecycles beside the trial's own, on the same cloud and worker processes (a burst): named
   * `<worker>-c1` ...; the scenario starts and checks them, the invariants count the trial's own.
   */
  companions?: number;
  expect: OutcomeKind[];
  /** A terminated lifecycle skips cleanup: its server stays, for the reaper. */
  leavesServerForReaper?: boolean;
  /** Plays the scenario; the lifecycle is started by it. The runner then waits for the outcome and checks. */
  drive(trial: Trial): Promise<void>;
  /** Extra checks of this scenario, once the lifecycle has ended: what went wrong, if anything. */
  check?(trial: Trial, outcome: Outcome): string[];
}

const BOOT_MS = 1_500;
const sim = (extra: SimulatorOptions = {}) => (): SimulatorOptions => ({ bootDelayMs: BOOT_MS, deleteDelayMs: 300, ...extra });

const createPosts = (trial: Trial) => trial.sim.requests().filter((r) => r.method === 'POST' && /\/servers$/.test(r.path) && r.path.includes('/compute/'));
const deleteRequests = (trial: Trial) => trial.sim.requests().filter((r) => r.method === 'DELETE' && r.path.includes('/servers/'));

// SIGKILL of the worker process at each step; a new worker process then finishes the lifecycle.
const killScenarios: Scenario[] = [
  {
    name: 'kill worker during create call',
    short: 'kill-create',
    does: "A 30 s `latency` fault holds `nova.servers.create`; once the request is inside it, the worker process is SIGKILLed. Like nova-api, the simulator finishes the request whose client went away: the server appears 30 s later. The held POST is the first try's, within the run's first workflow task, which so never completes: the new worker process takes that task over once Temporal times it out, finds it is not the task's first try, and hands the create to the activity, which looks for the try's server until 60 s after the run began and adopts it instead of posting again.",
    mode: 'own-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      const held = trial.sim.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: 30_000, count: 1 });
      await trial.start();
      await trial.waitFired(held);
      await sleep(200);
      trial.expectNow(trial.sim.servers().length === 0, 'the create request is still held, nothing created yet');
      await trial.killWorker();
      await trial.startWorker();
      await trial.attachAndRelease(240_000);
    },
    check: (trial) => (createPosts(trial).length === 1 ? [] : [`expected one create request (the killed one, finished by Nova and adopted by the retry), got ${createPosts(trial).length}`]),
  },
  {
    name: 'kill worker after create, before its result is recorded',
    short: 'kill-created',
    does: "A `responseLost` fault lets Nova create the server and drops the answer; the worker process is SIGKILLed the moment the server exists, so the workflow history has no server id. The new worker process goes on with the create (the first workflow task taken over, or the create activity retried, by when the kill came), which must adopt the server by its name and owner metadata instead of booting a second.",
    mode: 'own-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'responseLost', route: 'nova.servers.create', count: 1 });
      await trial.start();
      await waitFor(`${trial.label}: the server to exist`, () => trial.sim.servers().length > 0, 60_000, 5);
      await trial.killWorker();
      trial.expectNow((await trial.describe()).running, 'the lifecycle still runs when the worker dies');
      await trial.startWorker();
      await trial.attachAndRelease(240_000);
    },
    check: (trial) => (createPosts(trial).length === 1 ? [] : [`expected one create request (the retry adopts), got ${createPosts(trial).length}`]),
  },
  {
    name: 'kill worker during BUILD',
    short: 'kill-build',
    does: "Boots take 8 s; the worker process is SIGKILLed 1 s into BUILD, with the cloud's status watcher in it. The new worker process takes the watch over after the watcher's heartbeat timeout, from the cursor the last heartbeat carried, and tells the lifecycle; its boot deadline stands.",
    mode: 'own-worker',
    simulator: sim({ bootDelayMs: 8_000 }),
    expect: ['released'],
    async drive(trial) {
      await trial.start();
      await trial.waitPhase('booting');
      await sleep(1_000);
      trial.expectNow(trial.sim.servers()[0]?.status === 'BUILD', 'the server is in BUILD when the worker dies');
      await trial.killWorker();
      await trial.startWorker();
      await trial.attachAndRelease(240_000);
    },
  },
  {
    name: 'kill worker during attach wait',
    short: 'kill-attach',
    does: 'The worker process is SIGKILLed while the lifecycle waits for `attached`; the CI master signals `attached` while no worker runs; a new worker process picks the workflow up, and `release` ends it.',
    mode: 'own-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      await trial.start();
      await trial.waitPhase('waiting-for-attach');
      await trial.killWorker();
      await trial.setup.client.attached(trial.name);
      await trial.startWorker();
      await trial.waitPhase('attached', 120_000);
      await trial.release();
    },
  },
  {
    name: 'kill worker during delete',
    short: 'kill-delete',
    does: 'Odd runs: a 30 s `latency` fault holds `nova.servers.delete` and the worker process is SIGKILLed inside it (Nova never gets the delete). Even runs: Nova takes 8 s to delete and the worker process is SIGKILLed while it polls until gone. A new worker process deletes until Nova answers 404.',
    mode: 'own-worker',
    simulator: (run) => sim(run % 2 === 0 ? { deleteDelayMs: 8_000 } : {})(),
    expect: ['released'],
    async drive(trial) {
      const held = trial.setup.run % 2 === 1 ? trial.sim.faults.inject({ kind: 'latency', route: 'nova.servers.delete', ms: 30_000, count: 1 }) : undefined;
      await trial.start();
      await trial.attachAndRelease();
      if (held) {
        await trial.waitFired(held);
      } else {
        await waitFor(`${trial.label}: the delete request`, () => deleteRequests(trial).length > 0, 60_000, 20);
        await sleep(500);
      }
      trial.expectNow(trial.sim.servers().length === 1, 'the server is not gone yet when the worker dies');
      await trial.killWorker();
      await trial.startWorker();
    },
  },
];

// The Temporal service stops and starts again (same database file and port) mid-lifecycle.
const RESTART_PHASES = ['booting', 'waiting-for-attach', 'deleting'] as const;
const restartScenarios: Scenario[] = [
  {
    name: 'restart Temporal server mid-lifecycle',
    short: 'restart',
    does: 'The Temporal dev server (on-disk database) is stopped and started again on the same port and file, during BUILD (run 1), the attach wait (run 2) and the delete (run 3). The same worker process must carry on.',
    mode: 'exclusive',
    simulator: sim({ bootDelayMs: 5_000, deleteDelayMs: 5_000 }),
    expect: ['released'],
    async drive(trial) {
      const phase = RESTART_PHASES[(trial.setup.run - 1) % RESTART_PHASES.length]!;
      await trial.start();
      if (phase === 'deleting') {
        await trial.attachAndRelease();
        await trial.waitPhase('deleting');
      } else {
        await trial.waitPhase(phase);
      }
      await trial.setup.temporal.restart();
      trial.note(`Temporal restarted during ${phase}`);
      if (phase !== 'deleting') await trial.attachAndRelease(180_000);
    },
    // The SDK's worker rides out the outage (its polls retry); it is not restarted.
    check: (trial) => (trial.workerAliveAtEnd ? [] : ['the worker process did not survive the Temporal restart']),
  },
];

// What clouds do to API calls.
const apiFaultScenarios: Scenario[] = [
  {
    name: 'API: 5xx bursts on create and status lists',
    short: 'api-5xx',
    does: "Nova answers 503 to the first two creates and 500 to the first three server status lists (the shared poller's GET /servers/detail), and Keystone 503 once; retries with backoff get through.",
    // A worker of its own, started once the faults are in place: a worker process takes its first
    // token when it starts the cloud's status watcher, which would leave the Keystone 503 unmet.
    mode: 'own-worker',
    startsItsWorker: true,
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'error', route: 'nova.servers.create', status: 503, count: 2 });
      trial.sim.faults.inject({ kind: 'error', route: 'nova.servers.detail', status: 500, count: 3 });
      trial.sim.faults.inject({ kind: 'error', route: 'keystone.v2.tokens.create', status: 503, count: 1 });
      await trial.startWorker();
      await trial.start();
      await trial.attachAndRelease();
    },
    check: (trial) => trial.sim.faults.list().filter((f) => f.fired < (f.count ?? 1)).map((f) => `fault ${f.kind} on ${'route' in f ? f.route : 'boots'} fired ${f.fired} of ${f.count} times`),
  },
  {
    name: 'API: 429 with Retry-After',
    short: 'api-429',
    does: 'Nova answers the first create with 429 and `Retry-After: 3`; the retry must wait those 3 s (the activity retry policy alone would retry after 1 s).',
    mode: 'shared-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'error', route: 'nova.servers.create', status: 429, retryAfter: 3, count: 1 });
      await trial.start();
      await trial.attachAndRelease();
    },
    check(trial) {
      const [first, second] = createPosts(trial);
      if (!first || !second) return [`expected two create requests, got ${createPosts(trial).length}`];
      const gap = second.at - first.at;
      return gap >= 2_900 ? [] : [`the create after a 429 with Retry-After: 3 came ${gap} ms later`];
    },
  },
  {
    name: 'API: token expiry mid-lifecycle',
    short: 'api-token',
    does: 'Every Keystone token is revoked during BUILD and again during the attach wait; each next call gets 401, re-authenticates once and goes on.',
    mode: 'shared-worker',
    simulator: sim({ bootDelayMs: 3_000 }),
    expect: ['released'],
    async drive(trial) {
      await trial.start();
      await trial.waitPhase('booting');
      trial.note(`revoked ${trial.sim.tokens.revokeAll()} token(s) during BUILD`);
      await trial.waitPhase('waiting-for-attach');
      trial.note(`revoked ${trial.sim.tokens.revokeAll()} token(s) during the attach wait`);
      await trial.setup.client.attached(trial.name);
      await trial.release();
    },
    check(trial) {
      const unauthorizedRetries = trial.sim.requests().filter((r) => r.method === 'POST' && r.path.endsWith('/tokens')).length;
      return unauthorizedRetries >= 3 ? [] : [`expected a re-authentication after each revocation, saw ${unauthorizedRetries} token request(s)`];
    },
  },
  {
    name: 'API: lost create response',
    short: 'api-lost',
    does: 'Nova creates the server but the answer is lost (connection closed); the retried create adopts the server by name and owner metadata.',
    mode: 'shared-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'responseLost', route: 'nova.servers.create', count: 1 });
      await trial.start();
      await trial.attachAndRelease();
    },
    check: (trial) => (createPosts(trial).length === 1 ? [] : [`expected one create request, got ${createPosts(trial).length}`]),
  },
  {
    name: 'API: ERROR server, then a good one',
    short: 'api-error',
    does: 'The first server goes to ERROR while booting; it is deleted and launch 2 boots.',
    mode: 'shared-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'bootError', message: 'No valid host was found. There are not enough hosts available.', count: 1 });
      await trial.start();
      await trial.attachAndRelease();
    },
  },
  {
    name: 'API: ERROR on every launch',
    short: 'api-error-all',
    does: 'Every server goes to ERROR (`launch_attempts: 2`); the lifecycle fails with both reasons, and both servers are deleted.',
    mode: 'shared-worker',
    simulator: sim(),
    definition: { launch_attempts: 2 },
    expect: ['failed'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'bootError', message: 'Disk full on host' });
      await trial.start();
    },
    check: (_trial, outcome) =>
      /^all 2 launch attempts failed: launch 1: .*Disk full on host; launch 2: .*Disk full on host$/.test(outcome.message ?? '') ? [] : [`unexpected failure message: ${outcome.message}`],
  },
  {
    name: 'API: delete fails 4 times',
    short: 'api-delete',
    does: 'Nova answers 500 to the first four deletes of the server; the delete is retried with backoff until Nova answers 404.',
    mode: 'shared-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'deleteFailures', times: 4 });
      await trial.start();
      await trial.attachAndRelease();
    },
    check: (trial) => (deleteRequests(trial).length >= 5 ? [] : [`expected at least 5 delete requests, got ${deleteRequests(trial).length}`]),
  },
  {
    name: 'API: server stuck in BUILD',
    short: 'api-stuck',
    does: 'The first server never leaves BUILD; with `boot_timeout: 3` it is deleted at its deadline and launch 2 boots.',
    mode: 'shared-worker',
    simulator: sim(),
    definition: { boot_timeout: 3 },
    expect: ['released'],
    async drive(trial) {
      trial.sim.faults.inject({ kind: 'bootStuck', count: 1 });
      await trial.start();
      await trial.attachAndRelease();
    },
  },
];

// Cancel and terminate in each phase. Cancel deletes the server itself; terminate skips cleanup.
type StopPhase = 'creating' | 'booting' | 'waiting-for-attach' | 'attached';
const STOP_PHASES: StopPhase[] = ['creating', 'booting', 'waiting-for-attach', 'attached'];
const CREATE_LATENCY_MS = 4_000;

async function reach(trial: Trial, phase: StopPhase): Promise<void> {
  if (phase === 'creating') {
    const held = trial.sim.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: CREATE_LATENCY_MS, count: 1 });
    await trial.start();
    await trial.waitFired(held);
    // The create request is with Nova: whatever the lifecycle does now, the request may still create a server.
    trial.busyFor(CREATE_LATENCY_MS + 2_000);
    return;
  }
  await trial.start();
  if (phase === 'attached') await trial.attach();
  else await trial.waitPhase(phase);
}

const stopScenarios: Scenario[] = STOP_PHASES.flatMap((phase): Scenario[] => [
  {
    name: `cancel while ${phase}`,
    short: `cancel-${phase.split('-')[0]}`,
    does: `The lifecycle is cancelled while ${phase}${phase === 'creating' ? ' (a 4 s latency holds the create request)' : ''}; its cleanup must delete the server itself.`,
    mode: 'shared-worker',
    simulator: sim({ bootDelayMs: phase === 'booting' ? 6_000 : BOOT_MS }),
    expect: ['cancelled'],
    async drive(trial) {
      await reach(trial, phase);
      await trial.handle!.cancel();
    },
  },
  {
    name: `terminate while ${phase}`,
    short: `term-${phase.split('-')[0]}`,
    does: `The lifecycle is terminated while ${phase}: no cleanup runs, by design. The server must be left identifiable by its owner metadata, and the reaper must delete it.`,
    mode: 'shared-worker',
    simulator: sim({ bootDelayMs: phase === 'booting' ? 6_000 : BOOT_MS }),
    expect: ['terminated'],
    leavesServerForReaper: true,
    async drive(trial) {
      await reach(trial, phase);
      await trial.handle!.terminate('chaos: terminated on purpose');
    },
  },
]);

// Months-long lifecycles meet locked servers, outages, config edits, resets and slow creates.
// Long durations are scaled down CHAOS_TIME_SCALE (30) times, the worker's delete report bound with them.
const LOCKED_MS = (10 * 60_000) / CHAOS_TIME_SCALE;
const KEYSTONE_DOWN_MS = (30 * 60_000) / CHAOS_TIME_SCALE;
const workerLog = (trial: Trial) => {
  const file = trial.setup.ownWorker ? path.join(trial.setup.dir, `worker-${trial.name}.log`) : path.join(trial.setup.dir, 'worker-shared.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
};
const serverOf = (trial: Trial) => {
  const [server] = trial.sim.servers();
  if (!server) throw new Error(`${trial.label}: precondition failed: the lifecycle has a server`);
  return server;
};

const longLivedScenarios: Scenario[] = [
  {
    name: 'delete answers 409 for 10 minutes',
    short: 'locked',
    does: `Nova answers every delete of the released server with 409 (\`Instance is locked\`) for ${LOCKED_MS / 1000} s (10 minutes scaled down ${CHAOS_TIME_SCALE} times); the delete is retried with capped backoff until the lock goes, and the lifecycle ends released with no server.`,
    mode: 'shared-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      await trial.start();
      await trial.attach();
      const locked = trial.sim.faults.inject({ kind: 'error', route: 'nova.servers.delete', status: 409, message: 'Instance is locked' });
      await trial.release();
      await trial.waitFired(locked);
      await sleep(LOCKED_MS);
      trial.note(`409 answered ${trial.sim.faults.list().find((f) => f.id === locked.id)?.fired ?? 0} delete(s)`);
      trial.sim.faults.remove(locked.id);
    },
    check: (trial) => (deleteRequests(trial).length >= 4 ? [] : [`expected the delete to be retried through the lock, saw ${deleteRequests(trial).length} delete request(s)`]),
  },
  {
    name: 'Keystone down 30 minutes during a delete',
    short: 'keystone-down',
    does: `Every token is revoked and Keystone answers 503 for ${KEYSTONE_DOWN_MS / 1000} s (30 minutes scaled down ${CHAOS_TIME_SCALE} times) from the moment the server is released; the delete keeps trying, is reported once as undeletable past the (scaled) 30-minute bound, and deletes the server once Keystone is back.`,
    mode: 'shared-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      await trial.start();
      await trial.attach();
      const server = serverOf(trial);
      const down = trial.sim.faults.inject({ kind: 'error', route: 'keystone.*', status: 503 });
      trial.sim.tokens.revokeAll();
      await trial.release();
      await trial.waitFired(down);
      await sleep(KEYSTONE_DOWN_MS + 5_000);
      trial.sim.faults.remove(down.id);
      trial.expectNow(trial.sim.servers().some((s) => s.id === server.id), 'the server still exists when Keystone comes back');
      (trial as Trial & { serverId?: string }).serverId = server.id;
    },
    check(trial) {
      const serverId = (trial as Trial & { serverId?: string }).serverId;
      const reports = workerLog(trial).split('\n').filter((line) => line.includes(`${trial.name}: server ${serverId} could not be deleted for`)).length;
      return reports === 1 ? [] : [`expected one undeletable report for server ${serverId} in the worker log, found ${reports}`];
    },
  },
  {
    name: 'the definition removed while a lifecycle runs',
    short: 'def-gone',
    does: "While the worker is attached, the worker process is SIGKILLed and restarted with a config that no longer defines it (another worker on the same cloud remains); `release` then reaches the new process, whose delete finds the server through the remaining worker's client.",
    mode: 'own-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      await trial.start();
      await trial.attach();
      await trial.killWorker();
      const { name: _name, ...definition } = trial.setup.definition;
      trial.rewriteOwnConfig([{ ...definition, name: `${trial.name}-other` }]);
      await trial.startWorker();
      await trial.release();
    },
    check: (trial) => (/no longer configured: deleted through worker/.test(workerLog(trial)) ? [] : ['the worker log does not say the delete went through another worker']),
  },
  {
    name: 'a reset of an attached lifecycle',
    short: 'reset',
    does: '`temporal workflow reset` of an attached lifecycle (a new run id; the server names the old run), then `latent-worker reap --grace 0` while it runs: the reaper must keep the live server; `release` reaches the new run, which deletes it. On a worker process of its own, so that its reaper run judges only its own cloud, never the terminated lifecycles left for the final reaper pass.',
    mode: 'own-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      await trial.start();
      await trial.attach();
      await trial.reset();
      await trial.waitPhase('attached');
      await trial.reapWhileLive();
      trial.expectNow(trial.sim.servers().length === 1, 'the server is still there after the reaper ran');
      await trial.release();
    },
  },
  {
    name: 'a POST that Nova finishes after the client gave up',
    short: 'slow-post',
    does: 'A 35 s `latency` fault holds the create, past the 30 s HTTP timeout: the worker gives up on the request, Nova (like nova-api) finishes it and makes the server 5 s later. The create must adopt that server, not post again.',
    mode: 'shared-worker',
    simulator: sim(),
    expect: ['released'],
    async drive(trial) {
      const slow = trial.sim.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: 35_000, count: 1 });
      await trial.start();
      await trial.waitFired(slow);
      trial.busyFor(36_000);
      await trial.attachAndRelease(180_000);
    },
    check: (trial) => (createPosts(trial).length === 1 ? [] : [`expected one create request (the slow one, adopted), got ${createPosts(trial).length}`]),
  },
];

export const SCENARIOS: Scenario[] = [...restartScenarios, ...killScenarios, ...apiFaultScenarios, ...stopScenarios, ...longLivedScenarios, ...fleetScenarios];
