import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { parseConfig, type LoadedConfig } from '../src/config/load.js';
import { RateLimiter, Semaphore } from '../src/openstack/index.js';
import { startSimulator, type RecordedRequest, type Simulator } from '../src/simulator/index.js';
import { projectRoot } from '../src/temporal/paths.js';
import { freePort } from '../src/temporal/ports.js';
import { createSlotShare, liveIdentities, LIVE_POLL_MS, positionOf, rateShare, SettlingPosition } from '../src/worker/fleetShare.js';
import { FLEET_METRIC_NAMES } from '../src/worker/metrics.js';
import { parsePrometheus, valueOf } from './support/prometheus.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';
import { startWorkerCli, type WorkerCli } from './support/workerCli.js';

// `cloud_limits` for the whole fleet of worker processes on a task queue: each process takes a
// share from Temporal's poller list (src/worker/fleetCensus.ts). The arithmetic and the join rule
// first, then real `latent-worker worker` processes against the simulator, measured where the
// cloud sees them.

const limits = { requestsPerSecond: 4, maxConcurrentCreates: 3, maxServers: undefined, lookupCacheSeconds: 300, maxBooting: undefined };

describe('the share arithmetic', () => {
  it('hands out create slots that add up to the limit, the remainder to the first ranks', () => {
    for (const limit of [1, 2, 3, 7, 10, 50]) {
      for (const size of [1, 2, 3, 4, 9]) {
        const slots = Array.from({ length: size }, (_, rank) => createSlotShare(limit, { size, rank }));
        expect(slots.reduce((a, b) => a + b, 0)).toBe(limit);
        expect(Math.max(...slots) - Math.min(...slots)).toBeLessThanOrEqual(1);
      }
    }
    expect([0, 1, 2].map((rank) => createSlotShare(2, { size: 3, rank }))).toEqual([1, 1, 0]);
    expect(createSlotShare(5, undefined)).toBe(0);
    // Requests per second in whole numbers that add up to the limit's whole part, or a part of one each when too few.
    expect([0, 1, 2, 3].map((rank) => rateShare(10, { size: 4, rank }))).toEqual([3, 3, 2, 2]);
    expect([0, 1, 2].map((rank) => rateShare(4, { size: 3, rank }))).toEqual([2, 1, 1]);
    expect([0, 1, 2].map((rank) => rateShare(100.5, { size: 3, rank }))).toEqual([34, 33, 33]);
    expect([0, 1, 2].map((rank) => rateShare(2, { size: 3, rank }))).toEqual([2 / 3, 2 / 3, 2 / 3]);
    expect(rateShare(10, undefined)).toBe(0);
  });

  it('counts the processes that polled lately, each once, in one order for all', () => {
    const now = 1_000_000;
    const pollers = [
      { identity: 'b', lastAccessMs: now - 1000 },
      { identity: 'a', lastAccessMs: now - LIVE_POLL_MS },
      { identity: 'dead', lastAccessMs: now - LIVE_POLL_MS - 6 },
      { identity: 'b', lastAccessMs: now - 5 },
      { identity: 'unknown', lastAccessMs: undefined },
    ];
    const identities = liveIdentities(pollers, now);
    expect(identities).toEqual(['a', 'b']);
    expect(positionOf(identities, 'b')).toEqual({ size: 2, rank: 1 });
    expect(positionOf(identities, 'dead')).toBeUndefined();
    // A local clock 30 s ahead of Temporal's: ages from the newest poll, so the live stay live.
    const ahead = now + 30_000;
    expect(liveIdentities(pollers, ahead)).toEqual(['a', 'b']);
    // Behind: a dead process counts a little longer, never a live one less.
    expect(liveIdentities(pollers, now - 30_000)).toEqual(['a', 'b', 'dead']);
  });

  it('takes nothing until its place has held for the settle time, and gives up room at once', () => {
    const settle = 20_000;
    const settling = new SettlingPosition(settle);
    const share = (now: number) => settling.shareOf(limits, now);
    settling.record(0, undefined);
    settling.record(1_000, { size: 2, rank: 0 });
    expect(share(1_000)).toEqual({ requestsPerSecond: 0, createSlots: 0 });
    expect(settling.settled(1_000)).toBe(false);
    settling.record(20_500, { size: 2, rank: 0 });
    // 20 s after the first reading, which did not see this process yet.
    expect(share(20_500)).toEqual({ requestsPerSecond: 0, createSlots: 0 });
    settling.record(21_000, { size: 2, rank: 0 });
    expect(share(21_000)).toEqual({ requestsPerSecond: 2, createSlots: 2 });
    expect(settling.settled(21_000)).toBe(true);
    // A third process, whose identity sorts first: less at once.
    settling.record(31_000, { size: 3, rank: 1 });
    expect(share(31_000)).toEqual({ requestsPerSecond: 1, createSlots: 1 });
    // It leaves: more only once its going has held for the settle time.
    settling.record(41_000, { size: 2, rank: 0 });
    expect(share(41_000)).toEqual({ requestsPerSecond: 1, createSlots: 1 });
    settling.record(51_000, { size: 2, rank: 0 });
    expect(share(51_000)).toEqual({ requestsPerSecond: 1, createSlots: 1 });
    settling.record(61_000, { size: 2, rank: 0 });
    expect(share(61_000)).toEqual({ requestsPerSecond: 2, createSlots: 2 });
    // No longer counted (it stopped polling): nothing at once.
    settling.record(71_000, undefined);
    expect(share(71_000)).toEqual({ requestsPerSecond: 0, createSlots: 0 });
  });

  it('a semaphore shrinks as holders release, never by taking a slot back, and grows to let waiters in', async () => {
    const slots = new Semaphore(2);
    const timeout = () => new Error('no slot');
    const first = await slots.acquire(1000, timeout);
    const second = await slots.acquire(1000, timeout);
    slots.resize(1);
    expect(slots.inUse).toBe(2);
    first();
    const third = slots.acquire(200, timeout);
    await expect(third).rejects.toThrow('no slot');
    second();
    const fourth = slots.acquire(1000, timeout);
    expect(slots.inUse).toBe(1);
    (await fourth)();
    slots.resize(0);
    const waiting = slots.acquire(5000, timeout);
    await delay(50);
    expect(slots.inUse).toBe(0);
    slots.resize(1);
    (await waiting)();
    expect(() => slots.resize(-1)).toThrow('0 or more');
  });

  it('a rate limiter at 0 holds requests until it is given a rate, and refuses them at their timeout', async () => {
    const limiter = new RateLimiter(5);
    limiter.setRate(0);
    const what = { service: 'compute' as const, operation: 'listServers' };
    await expect(limiter.acquire(what, 100)).rejects.toMatchObject({ kind: 'rateLimited', retryable: true });
    const startedAt = Date.now();
    const held = limiter.acquire(what, 5000);
    setTimeout(() => limiter.setRate(5), 150);
    await held;
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(limiter.perSecond).toBe(5);
  });
});

// The fleet test: real worker processes on the shared dev server, the simulator's record of
// every request as the measure.
const REQUESTS_PER_SECOND = 4;
/**
 * Fewer create slots than the join's three processes: one of them has none, takes creates all
 * the same, and holds each until its slot wait runs out. Those creates are tried again, elsewhere
 * or later, without failing a lifecycle (src/workflows/launch.ts); before that, CI1 of 2026-12-03
 * saw a lifecycle fail here after six such tries.
 */
const MAX_CREATES = 2;
const LIFECYCLES = 12;
/** Each create answers after this long, so that creates overlap and their number in flight shows. */
const CREATE_LATENCY_MS = 1500;
const CENSUS_SECONDS = 2;
const IMAGE = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';

const suffix = randomUUID().slice(0, 6);
const scratch = path.join(projectRoot, '.scratch', `fleet-limits-${suffix}`);
const taskQueue = uniqueTaskQueue('fleet-limits');
let simulator: Simulator;
let client: LatentWorkerClient;
let configFile: string;
let config: LoadedConfig;
const processes: { cli: WorkerCli; metricsUrl: string }[] = [];
let named = 0;

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  simulator = await startSimulator({ bootDelayMs: 300, deleteDelayMs: 100 });
  simulator.faults.inject({ kind: 'latency', route: 'nova.servers.create', ms: CREATE_LATENCY_MS });
  // Enough for a retry of each burst (a failed test runs once more).
  const names = Array.from({ length: 10 * LIFECYCLES }, (_, i) => `fleet${i}-${suffix}`);
  const raw = {
    deployment: `fleet-${suffix}`,
    workers: names.map((name) => ({ ...SEED_WORKER, image: IMAGE, os_auth_url: simulator.authUrlV2, name })),
    cloud_limits: { default: { requests_per_second: REQUESTS_PER_SECOND, max_concurrent_creates: MAX_CREATES } },
  };
  config = parseConfig(raw, 'fleet limits test');
  configFile = path.join(scratch, 'latent.config.yaml');
  writeFileSync(configFile, stringify(raw));
  client = new LatentWorkerClient(await connectClient(), taskQueue);
});

afterAll(async () => {
  for (const { cli } of processes) await cli.process.stop(5_000);
  await client?.temporal.connection.close();
  await simulator?.close();
});

/** Worker processes until there are `count` (a retried test finds those of its first try). */
async function ensureProcesses(count: number): Promise<void> {
  while (processes.length < count) await startProcess();
}

let started = 0;

async function startProcess(): Promise<void> {
  const metricsPort = await freePort();
  started += 1;
  const cli = await startWorkerCli({
    configFile,
    temporalAddress: temporalAddress(),
    taskQueue,
    logFile: path.join(scratch, `worker-${started}.log`),
    args: ['--metrics-address', `127.0.0.1:${metricsPort}`, '--census-interval', '0'],
    env: { LATENT_WORKER_FLEET_CENSUS_INTERVAL: String(CENSUS_SECONDS) },
  });
  processes.push({ cli, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` });
}

async function scrape(metricsUrl: string) {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
  return parsePrometheus(await response.text());
}

/** Until every process has taken the share that `size` processes give, as its metrics say. */
async function waitForShares(size: number, withinMs = 90_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const seen = await Promise.all(processes.map(async ({ metricsUrl }) => {
      const samples = await scrape(metricsUrl);
      return { fleet: valueOf(samples, FLEET_METRIC_NAMES.fleetProcesses), rate: valueOf(samples, FLEET_METRIC_NAMES.shareRequestsPerSecond) };
    }));
    // Whole requests per second each, adding up to the limit (src/worker/fleetShare.ts, rateShare).
    if (seen.every(({ fleet, rate }) => fleet === size && rate >= Math.floor(REQUESTS_PER_SECOND / size)) && seen.reduce((sum, { rate }) => sum + rate, 0) === REQUESTS_PER_SECOND) return;
    if (Date.now() > deadline) throw new Error(`the worker processes did not settle on a fleet of ${size} within ${withinMs / 1000} s: ${JSON.stringify(seen)}`);
    await delay(500);
  }
}

/** A burst of lifecycles, each booted, attached and released; the simulator's requests meanwhile. */
async function runBurst(count = LIFECYCLES): Promise<RecordedRequest[]> {
  const names = Array.from({ length: count }, (_, i) => `fleet${named + i}-${suffix}`);
  named += count;
  const before = simulator.requests().length;
  const results = await Promise.all(
    names.map(async (name) => {
      await client.substantiate(config.workers.get(name)!.specFor());
      await client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 250 });
      await client.attached(name);
      await client.release(name);
      return client.result(name);
    }),
  );
  for (const result of results) expect(result.outcome).toBe('released');
  expect(simulator.servers()).toEqual([]);
  const slotWaits = results.flatMap((result) => result.status.launchFailures ?? []).filter((failure) => failure.includes('no create slot free'));
  console.log(`${count} lifecycles released, ${slotWaits.length} launch(es) tried again after finding no create slot`);
  return simulator.requests().slice(before);
}

/** The most creates the cloud had in progress at once: POSTs from their arrival to their answer. */
function peakCreates(requests: RecordedRequest[]): number {
  const creates = requests.filter((r) => r.method === 'POST' && /\/servers$/.test(r.path));
  const edges = creates.flatMap((r) => [{ at: r.at, step: 1 }, { at: r.answeredAt ?? Number.POSITIVE_INFINITY, step: -1 }]);
  // An answer and an arrival at the same millisecond: the answer first (the slot was free again).
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let peak = 0;
  for (const { step } of edges) peak = Math.max(peak, (now += step));
  return peak;
}

/**
 * The most requests beyond what a token bucket of `perSecond` (with its burst of `perSecond`)
 * lets through, over every stretch between two requests: what the cloud would have seen above
 * the fleet's limit. Each process's limiter is such a bucket of its share, and the shares add up
 * to the limit, so the fleet's sum is within one bucket of the limit.
 */
function excessOverBucket(requests: RecordedRequest[], perSecond: number): { excess: number; count: number; seconds: number } {
  const times = requests.map((r) => r.at).sort((a, b) => a - b);
  let worst = { excess: Number.NEGATIVE_INFINITY, count: 0, seconds: 0 };
  for (let i = 0; i < times.length; i += 1) {
    for (let j = i; j < times.length; j += 1) {
      const seconds = (times[j]! - times[i]!) / 1000;
      const excess = j - i + 1 - (perSecond * seconds + perSecond);
      if (excess > worst.excess) worst = { excess, count: j - i + 1, seconds };
    }
  }
  return worst;
}

/** The most requests in any `seconds` long stretch. */
function busiest(requests: RecordedRequest[], seconds: number): number {
  const times = requests.map((r) => r.at).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < times.length; j += 1) {
    while (times[j]! - times[i]! >= seconds * 1000) i += 1;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

// Arrival times at the simulator, not the limiter's release times: on a loaded 2-core machine two
// requests released apart can arrive together. One request of slack per process covers that.
const ARRIVAL_SLACK = 2;

describe('cloud limits for the whole fleet', () => {
  it('one process alone reaches its whole limit', async () => {
    await ensureProcesses(1);
    await waitForShares(1);
    const requests = await runBurst();
    const creates = peakCreates(requests);
    const rate = excessOverBucket(requests, REQUESTS_PER_SECOND);
    console.log(`1 process: ${requests.length} requests, peak creates ${creates}, busiest 3 s ${busiest(requests, 3)}, worst stretch ${rate.count} requests in ${rate.seconds.toFixed(2)} s`);
    expect(creates).toBe(MAX_CREATES);
    expect(rate.excess).toBeLessThanOrEqual(ARRIVAL_SLACK);
    // More than half the limit could let through in 3 s (a half-share's bucket: 2/s, burst 2).
    expect(busiest(requests, 3)).toBeGreaterThan((REQUESTS_PER_SECOND / 2) * 3 + REQUESTS_PER_SECOND / 2);
  }, 240_000);

  it('two processes together stay within the limits, each taking part', async () => {
    await ensureProcesses(2);
    await waitForShares(2);
    const createdBefore = await Promise.all(processes.map(async ({ metricsUrl }) => valueOf(await scrape(metricsUrl), 'latent_worker_servers_created_total')));
    const requests = await runBurst();
    const createdAfter = await Promise.all(processes.map(async ({ metricsUrl }) => valueOf(await scrape(metricsUrl), 'latent_worker_servers_created_total')));
    const creates = peakCreates(requests);
    const rate = excessOverBucket(requests, REQUESTS_PER_SECOND);
    const created = createdAfter.map((after, i) => after - createdBefore[i]!);
    console.log(`2 processes: ${requests.length} requests, peak creates ${creates}, busiest 3 s ${busiest(requests, 3)}, worst stretch ${rate.count} requests in ${rate.seconds.toFixed(2)} s (excess ${rate.excess.toFixed(2)}), servers created per process ${created.join(', ')}`);
    // Both processes created servers: the limits held for a fleet, not for one process doing all the work.
    for (const count of created) expect(count).toBeGreaterThan(0);
    expect(creates).toBeLessThanOrEqual(MAX_CREATES);
    expect(rate.excess).toBeLessThanOrEqual(ARRIVAL_SLACK);
  }, 240_000);

  it('a process that joins during a burst takes part without taking the fleet above the limits', async () => {
    // A retry finds the newcomer of its first try: it goes, and the others wait until they count it
    // gone (its last poll 75 s old) and have settled.
    const leftOver = processes.length > 2;
    while (processes.length > 2) await processes.pop()!.cli.process.stop(5_000);
    await ensureProcesses(2);
    await waitForShares(2, leftOver ? 180_000 : 90_000);
    let burstEndedAt = Number.POSITIVE_INFINITY;
    // Long enough (at 4 requests a second, some 40 s at best) for the newcomer to start and settle inside it.
    const burstDone = runBurst(3 * LIFECYCLES).finally(() => (burstEndedAt = Date.now()));
    await ensureProcesses(3);
    // When the newcomer took its share, read from its metrics while the burst goes on.
    let sharedAt = Number.POSITIVE_INFINITY;
    while (Date.now() < burstEndedAt && sharedAt === Number.POSITIVE_INFINITY) {
      if (valueOf(await scrape(processes[2]!.metricsUrl), FLEET_METRIC_NAMES.shareRequestsPerSecond) > 0) sharedAt = Date.now();
      else await delay(250);
    }
    const requests = await burstDone;
    const creates = peakCreates(requests);
    const rate = excessOverBucket(requests, REQUESTS_PER_SECOND);
    const joined = await scrape(processes[2]!.metricsUrl);
    console.log(`a third process joining: ${requests.length} requests, peak creates ${creates}, worst stretch ${rate.count} requests in ${rate.seconds.toFixed(2)} s (excess ${rate.excess.toFixed(2)}); it took its share ${((burstEndedAt - sharedAt) / 1000).toFixed(1)} s before the burst ended and created ${valueOf(joined, 'latent_worker_servers_created_total')} server(s)`);
    // The join happened inside the burst, so the burst measured it.
    expect(sharedAt).toBeLessThan(burstEndedAt);
    expect(valueOf(joined, FLEET_METRIC_NAMES.fleetProcesses)).toBe(3);
    const shares = await Promise.all(processes.map(async ({ metricsUrl }) => valueOf(await scrape(metricsUrl), FLEET_METRIC_NAMES.shareRequestsPerSecond)));
    expect(shares.reduce((sum, share) => sum + share, 0)).toBe(REQUESTS_PER_SECOND);
    expect(Math.min(...shares)).toBe(Math.floor(REQUESTS_PER_SECOND / 3));
    expect(creates).toBeLessThanOrEqual(MAX_CREATES);
    expect(rate.excess).toBeLessThanOrEqual(ARRIVAL_SLACK);
    // A bound for a machine busy with the rest of the suite (the whole test took 193 s on one), and
    // for a retry's wait for the first try's newcomer to be counted gone.
  }, 600_000);
});
