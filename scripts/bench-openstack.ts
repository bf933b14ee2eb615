// The real-cloud benchmark (docs/benchmark.md, "On a real OpenStack"): N servers asked for at once
// on the OpenStack that OS_* names, three ways in one run: a bare REST client that sends every POST
// at once and reads each server every 0.5 s, one that sends one POST at a time and reads every 5 s,
// and N lifecycles on a real Temporal dev server and a `latent-worker worker` process.
//
//   OS_AUTH_URL=... OS_USERNAME=... npm run bench:openstack -- [--servers 30] [--flavor tiny] [--image tiny]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import { bootWithBareRest, RequestCounter, type ServerRun } from '../bench/openstack/bareRest.js';
import { distribution, type Distribution } from '../bench/stats.js';
import { BenchWorker } from '../bench/workerProcess.js';
import { cpuByGroup, cpuSpent, type CpuByGroup } from '../bench/openstack/cloudCpu.js';
import { LatentWorkerClient } from '../src/client/api.js';
import { loadConfigFile, type ResolvedWorker } from '../src/config/load.js';
import { OpenStackClient } from '../src/openstack/index.js';
import { startDevServer } from '../src/temporal/devServer.js';
import { projectRoot } from '../src/temporal/paths.js';
import { freePort } from '../src/temporal/ports.js';

const integer = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
};
/** How often the benchmark's master reads each lifecycle's phase: the Buildbot adapter's `poll_interval` default. */
const MASTER_POLL_MS = 500;

const WAY_KEYS = ['burst', 'serial', 'paced', 'lifecycles'] as const;
type WayKey = (typeof WAY_KEYS)[number];
function wayList(value: string): WayKey[] {
  const keys = value.split(',').map((k) => k.trim());
  for (const key of keys) if (!(WAY_KEYS as readonly string[]).includes(key)) throw new InvalidArgumentError(`"${key}" is no way; use ${WAY_KEYS.join(', ')}`);
  if (new Set(keys).size !== keys.length) throw new InvalidArgumentError(`names a way twice: "${value}"`);
  return keys as WayKey[];
}
const o = new Command('npm run bench:openstack --')
  .description('N servers at once on a real OpenStack (OS_* variables): two bare-REST baselines and N lifecycles, in one run')
  .option('--servers <n>', 'servers asked for at once in each of the three runs', integer(1, 200), 30)
  .option('--flavor <id>', 'flavor id or name', 'tiny')
  .option('--image <name>', 'image name or UUID', 'tiny')
  .option('--out <file>', 'JSON report', path.join(projectRoot, '.scratch', 'bench', `openstack-${new Date().toISOString().replace(/[:.]/g, '-')}.json`))
  .option('--timeout <seconds>', 'the whole run', integer(60, 7200), 1800)
  .option('--max-concurrent-creates <n>', "the lifecycles' cloud_limits max_concurrent_creates (default: the built-in one)", integer(1, 1000))
  .option('--max-booting <n|adaptive>', "the lifecycles' cloud_limits max_booting (default: none)", (value: string) => (value === 'adaptive' ? ('adaptive' as const) : integer(1, 1000)(value)))
  .option('--boot-cap <n>', "the paced way's servers booting at once", integer(1, 200), 6)
  .option('--client-nice <n>', "at least this niceness for this process and the Temporal dev server and worker it starts; the cloud's services keep theirs", integer(0, 19), 10)
  .option('--ways <list>', `the ways to run, in this order: ${WAY_KEYS.join(', ')} (comma-separated)`, wayList, ['burst', 'serial', 'lifecycles'])
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse(process.argv.slice(2), { from: 'user' })
  .opts<{ servers: number; flavor: string; image: string; out: string; timeout: number; ways: WayKey[]; maxConcurrentCreates?: number; maxBooting?: number | 'adaptive'; bootCap: number; clientNice: number }>();

if (!process.env.OS_AUTH_URL && !process.env.OS_CLOUD) {
  console.error('bench:openstack: set OS_AUTH_URL (and OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...) or OS_CLOUD to the cloud to measure');
  process.exit(2);
}

// In a deployment the cloud's services have machines of their own; here they share two cores with
// the clients measured (and, for the lifecycles, a Temporal server and a worker). Each way's client
// side yields the cores to the cloud alike, so that no way's own CPU slows the cloud it measures.
if (o.clientNice > os.getPriority()) os.setPriority(o.clientNice);

const startedAt = Date.now();
const deadline = startedAt + o.timeout * 1000;
const runDir = path.join(path.dirname(o.out), `openstack-run-${new Date(startedAt).toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(runDir, { recursive: true });
const say = (line: string) => console.log(`[bench:openstack ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${line}`);
setTimeout(() => {
  console.error(`bench:openstack: --timeout ${o.timeout} s passed`);
  process.exit(1);
}, o.timeout * 1000).unref();

/** What one way of booting N servers showed; milliseconds. */
interface Way {
  key: WayKey;
  name: string;
  /** Request (the client or master decided) → ACTIVE noticed by the client. */
  requestToActiveNoticed?: Distribution;
  /** Nova's own `created` → `OS-SRV-USG:launched_at` (Nova keeps whole seconds). */
  novaPostToActive?: Distribution;
  requestsPerServer: Record<string, number>;
  /** The lifecycles' requests per server by service and operation, from the worker's metrics. */
  requestsPerServerByOperation?: Record<string, number>;
  /** From the first request to the last server gone. */
  wallSeconds: number;
  /** CPU seconds of the cloud's services and of this run's own processes over the way (bench/openstack/cloudCpu.ts). */
  cpuSeconds: CpuByGroup;
  /** Each server, milliseconds from the way's first request: POST answered (client), created and launched (Nova), ACTIVE noticed. */
  servers: { name: string; posted?: number; created?: number; launched?: number; noticed?: number }[];
  failures: string[];
}

const names = (prefix: string) => Array.from({ length: o.servers }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
const configFile = path.join(runDir, 'latent.config.json');
const lifecycleNames = names('bench-os');
/** The worker whose one lifecycle warms the worker process up before the clock starts, as the baselines' warm-up server does for them. */
const WARM_UP_NAME = 'bench-os-warmup-lifecycle';
// No os_* keys: the OS_* variables are the account, as for an operator with an openrc.
writeFileSync(
  configFile,
  JSON.stringify(
    {
      deployment: `bench-openstack-${startedAt}`,
      workers: [WARM_UP_NAME, ...lifecycleNames].map((name) => ({ name, flavor: o.flavor, image: o.image })),
      cloud_limits: {
        default: {
          ...(o.maxConcurrentCreates === undefined ? {} : { max_concurrent_creates: o.maxConcurrentCreates }),
          ...(o.maxBooting === undefined ? {} : { max_booting: o.maxBooting }),
        },
      },
    },
    null,
    1,
  ),
);
const config = await loadConfigFile(configFile);
const worker = config.workers.get(lifecycleNames[0]!)!;
const counter = new RequestCounter();
const rest = new OpenStackClient(worker.credentials, { clientVersion: worker.definition.client_version, observer: counter.observe });
const WAY_NAMES: Record<WayKey, string> = {
  burst: 'bare REST, all POSTs at once, reads every 0.5 s',
  serial: 'bare REST, one POST at a time, reads every 5 s',
  paced: `bare REST, at most ${o.bootCap} booting at once, reads every 0.5 s`,
  lifecycles: `${o.servers} lifecycles (latent-worker worker)`,
};
const ways: Way[] = [];
try {
  const cloud = await lookUp(rest, worker);
  say(`cloud ${process.env.OS_AUTH_URL ?? process.env.OS_CLOUD}: image ${cloud.imageId}, flavor ${cloud.flavorId}; ${o.servers} servers per run; ways ${o.ways.join(', ')}; client side at nice ${os.getPriority()}`);
  await bootWithBareRest({ client: rest, worker, ...cloud, names: ['bench-os-warmup'], posts: 'at-once', pollIntervalMs: 500, deadline });
  say('warm-up server booted and deleted');
  for (const key of o.ways) ways.push(await runWay(key, cloud));
} finally {
  await rest.close();
}

const baselines = ways.filter((w) => w.key === 'burst' || w.key === 'serial').sort((a, b) => (a.requestToActiveNoticed?.p50 ?? Infinity) - (b.requestToActiveNoticed?.p50 ?? Infinity));
const better = baselines[0];
const ours = ways.find((w) => w.key === 'lifecycles');
const targets =
  better && ours
    ? [
        { name: 'request → ACTIVE noticed p50, lifecycles ÷ better baseline', target: '≤ 0.85', value: (ours.requestToActiveNoticed?.p50 ?? Infinity) / (better.requestToActiveNoticed?.p50 ?? 1) },
        { name: 'request → ACTIVE noticed max, lifecycles ÷ better baseline', target: '≤ 1.00', value: (ours.requestToActiveNoticed?.max ?? Infinity) / (better.requestToActiveNoticed?.max ?? 1) },
        { name: 'requests per lifecycle (every service)', target: '≤ 3', value: Object.values(ours.requestsPerServer).reduce((sum, n) => sum + n, 0) },
      ].map((t) => ({ ...t, met: t.value <= Number(t.target.slice(2)) }))
    : [];
const failed = ways.some((w) => w.failures.length > 0);
writeFileSync(o.out, `${JSON.stringify({ startedAt: new Date(startedAt).toISOString(), options: o, ways, better: better?.name, targets }, null, 2)}\n`);

const row = (d: Distribution | undefined) => (d ? `${String(d.p50).padStart(7)} ${String(d.max).padStart(7)}` : '      -       -');
console.log(`\n${o.servers} servers at once on ${process.env.OS_AUTH_URL ?? process.env.OS_CLOUD}`);
console.log('                                                   request → ACTIVE noticed   Nova POST → ACTIVE');
console.log('way                                                    p50     max              p50     max   requests per server');
for (const w of ways) {
  const requests = Object.entries(w.requestsPerServer).map(([s, n]) => `${s} ${n.toFixed(2)}`).join(', ');
  console.log(`${w.name.padEnd(50)} ${row(w.requestToActiveNoticed)}          ${row(w.novaPostToActive)}   ${requests}`);
  if (w.requestsPerServerByOperation) console.log(`  by operation: ${Object.entries(w.requestsPerServerByOperation).map(([op, n]) => `${op} ${n.toFixed(2)}`).join(', ')}`);
  for (const f of w.failures) console.log(`  failed: ${f}`);
}
const groups = [...new Set(ways.flatMap((w) => Object.keys(w.cpuSeconds)))].sort((a, b) => Math.max(...ways.map((w) => w.cpuSeconds[b] ?? 0)) - Math.max(...ways.map((w) => w.cpuSeconds[a] ?? 0)));
console.log(`\nCPU seconds over each way, by process (wall seconds first):`);
console.log(`${'way'.padEnd(12)} ${'wall'.padStart(6)} ${groups.map((g) => g.padStart(Math.max(7, g.length))).join(' ')}`);
for (const w of ways) console.log(`${w.key.padEnd(12)} ${w.wallSeconds.toFixed(1).padStart(6)} ${groups.map((g) => (w.cpuSeconds[g] ?? 0).toFixed(1).padStart(Math.max(7, g.length))).join(' ')}`);
if (better) {
  console.log(`\ntargets (against "${better.name}", the better baseline by p50):`);
  for (const t of targets) console.log(`  ${t.met ? 'met    ' : 'MISSED '} ${t.name}: ${t.value.toFixed(2)} (target ${t.target})`);
}
console.log(`\nreport: ${o.out}\nlogs: ${runDir}`);
process.exit(failed ? 1 : 0);

interface CloudIds {
  imageId: string;
  flavorId: string;
}

async function runWay(key: WayKey, cloud: CloudIds): Promise<Way> {
  const way = key === 'lifecycles' ? await lifecycles() : await bare(key, cloud);
  say(`${way.name}: done in ${way.wallSeconds} s`);
  return way;
}

async function bare(key: Exclude<WayKey, 'lifecycles'>, cloud: CloudIds): Promise<Way> {
  counter.reset();
  const cpuBefore = cpuByGroup();
  const from = new Date();
  const posts = key === 'serial' ? 'one-at-a-time' : 'at-once';
  const bootingAtOnce = key === 'paced' ? o.bootCap : undefined;
  const runs = await bootWithBareRest({ client: rest, worker, ...cloud, names: names(`bench-os-${key}`), posts, bootingAtOnce, pollIntervalMs: key === 'serial' ? 5000 : 500, deadline });
  return summarize(key, runs, from, { ...counter.byService }, cpuSpent(cpuBefore, cpuByGroup()));
}

async function lookUp(client: OpenStackClient, w: ResolvedWorker): Promise<{ imageId: string; flavorId: string }> {
  const flavor = await client.compute.getFlavor(o.flavor);
  const byId = await client.image.getImage(o.image).catch(() => undefined);
  const images = byId ? [byId] : (await client.image.findImagesByName(o.image)).filter((i) => i.status === 'active');
  if (images.length !== 1) throw new Error(`--image ${o.image}: ${images.length} active images have that name or id on ${w.credentials.authUrl}`);
  return { imageId: images[0]!.id, flavorId: flavor.id };
}

/** Nova's own `created` and `OS-SRV-USG:launched_at` of each server (epoch ms, whole seconds), read back (deleted ones included) once the run is over. */
async function novaTimes(ids: ReadonlySet<string>, from: Date): Promise<Map<string, { created: number; launched?: number }>> {
  const { servers } = await rest.compute.listServerChanges(new Date(from.getTime() - 2000));
  const times = new Map<string, { created: number; launched?: number }>();
  for (const s of servers) {
    if (!ids.has(s.id)) continue;
    const launched = (s as unknown as Record<string, unknown>)['OS-SRV-USG:launched_at'];
    times.set(s.id, { created: Date.parse(s.created), launched: typeof launched === 'string' ? Date.parse(`${launched.replace(/Z$/, '')}Z`) : undefined });
  }
  return times;
}

async function summarize(key: WayKey, runs: ServerRun[], from: Date, requests: Record<string, number>, cpuSeconds: CpuByGroup): Promise<Way> {
  const wallSeconds = Math.round((Date.now() - from.getTime()) / 100) / 10;
  const times = await novaTimes(new Set(runs.flatMap((r) => (r.id ? [r.id] : []))), from);
  const since = (at: number | undefined) => (at === undefined ? undefined : at - from.getTime());
  return {
    key,
    name: WAY_NAMES[key],
    requestToActiveNoticed: distribution(runs.flatMap((r) => (r.activeNoticedAt ? [r.activeNoticedAt - r.requestedAt] : []))),
    novaPostToActive: distribution([...times.values()].flatMap((t) => (t.launched === undefined ? [] : [t.launched - t.created]))),
    requestsPerServer: Object.fromEntries(Object.entries(requests).map(([service, n]) => [service, n / runs.length])),
    wallSeconds,
    cpuSeconds,
    servers: runs.map((r) => {
      const nova = r.id === undefined ? undefined : times.get(r.id);
      return { name: r.name, posted: since(r.postedAt), created: since(nova?.created), launched: since(nova?.launched), noticed: since(r.activeNoticedAt) };
    }),
    failures: runs.flatMap((r) => (r.error ? [`${r.name}: ${r.error}`] : r.activeNoticedAt ? [] : [`${r.name}: never ACTIVE`])),
  };
}

/** N lifecycles on a dev server and one worker process; the master attaches and releases each once its lifecycle has seen ACTIVE. */
async function lifecycles(): Promise<Way> {
  const server = await startDevServer({ logFile: path.join(runDir, 'temporal.log') });
  const metricsPort = await freePort();
  const taskQueue = `bench-openstack-${startedAt}`;
  const workerProcess = await BenchWorker.start({
    configFile,
    temporalAddress: server.address,
    taskQueue,
    logFile: path.join(runDir, 'worker.log'),
    env: { MALLOC_ARENA_MAX: '2', LATENT_WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` },
  });
  const connection = await Connection.connect({ address: server.address, connectTimeout: '10 seconds' });
  const client = new LatentWorkerClient(new Client({ connection, namespace: 'default' }), taskQueue);
  await warmUp(client);
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const beforeRun = await scrapeRequests(metricsUrl);
  const cpuBefore = cpuByGroup();
  const from = new Date();
  const runs: ServerRun[] = [];
  // Like the bare clients, which delete once every server is ACTIVE, the master releases its
  // workers only once every lifecycle has seen its server ACTIVE (or ended): a release at once
  // would put each delete into Nova while the rest still boot, work the baselines do after.
  const allActive = countdown(lifecycleNames.length);
  try {
    await Promise.all(
      lifecycleNames.map(async (name) => {
        const run: ServerRun = { name, requestedAt: Date.now() };
        runs.push(run);
        let counted = false;
        try {
          const handle = await client.substantiate(config.workers.get(name)!.specFor());
          for await (const status of client.watch(name, { intervalMs: MASTER_POLL_MS, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })) {
            if (status.phase === 'waiting-for-attach') {
              await client.attached(name);
              counted = true;
              allActive.tick();
              await allActive.done;
              await client.release(name);
              break;
            }
            if (status.phase === 'deleting' || status.phase === 'done') throw new Error(`ended ${status.outcome ?? status.phase} before ACTIVE: ${status.error ?? ''}`);
          }
          const result = await handle.result();
          run.id = result.serverId;
          if (result.status.activeAt) run.activeNoticedAt = Date.parse(result.status.activeAt);
          if (result.outcome !== 'released' || (result.status.launches ?? 1) > 1) run.error = `outcome ${result.outcome}, ${result.status.launches ?? 1} launch(es)`;
        } catch (error) {
          run.error = error instanceof Error ? error.message : String(error);
        } finally {
          if (!counted) allActive.tick();
        }
      }),
    );
    await delay(500);
    const afterRun = await scrapeRequests(metricsUrl);
    const byService = countsSince(beforeRun.byService, afterRun.byService);
    const byOperation = countsSince(beforeRun.byOperation, afterRun.byOperation);
    const way = await summarize('lifecycles', runs, from, byService, cpuSpent(cpuBefore, cpuByGroup()));
    way.requestsPerServerByOperation = Object.fromEntries(Object.entries(byOperation).map(([operation, n]) => [operation, Math.round((n / runs.length) * 100) / 100]));
    return way;
  } finally {
    await workerProcess.stop();
    await connection.close();
    await server.stop();
  }
}

/**
 * One lifecycle before the clock starts. The bare clients hold a token and the image and flavor
 * ids before their first POST; a worker that has served for a while holds the same (its token and
 * look-up caches), and its cloud's status watcher runs. Without this the lifecycles way would
 * also time a fresh process's first login, version discovery and look-ups.
 */
async function warmUp(client: LatentWorkerClient): Promise<void> {
  const deadlineSignal = AbortSignal.timeout(Math.max(1, Math.min(deadline - Date.now(), 300_000)));
  const handle = await client.substantiate(config.workers.get(WARM_UP_NAME)!.specFor());
  for await (const status of client.watch(WARM_UP_NAME, { intervalMs: MASTER_POLL_MS, signal: deadlineSignal })) {
    if (status.phase === 'waiting-for-attach') {
      await client.attached(WARM_UP_NAME);
      await client.release(WARM_UP_NAME);
      break;
    }
    if (status.phase === 'deleting' || status.phase === 'done') throw new Error(`the warm-up lifecycle ended ${status.outcome ?? status.phase} before ACTIVE: ${status.error ?? ''}`);
  }
  const result = await handle.result();
  if (result.outcome !== 'released') throw new Error(`the warm-up lifecycle ended ${result.outcome}`);
  say('warm-up lifecycle booted and released');
}

/** A promise that resolves once `tick` has been called `n` times. */
function countdown(n: number): { tick(): void; done: Promise<void> } {
  let left = n;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  if (left <= 0) resolve();
  return {
    tick() {
      left -= 1;
      if (left === 0) resolve();
    },
    done,
  };
}

/** What a counter added between two scrapes, leaving out those that added nothing. */
function countsSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).flatMap(([key, n]) => (n > (before[key] ?? 0) ? [[key, n - (before[key] ?? 0)]] : [])));
}

/** The worker's own count of its OpenStack requests so far, by service and by operation. */
async function scrapeRequests(url: string): Promise<{ byService: Record<string, number>; byOperation: Record<string, number> }> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
  const byService: Record<string, number> = {};
  const byOperation: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^latent_worker_openstack_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)/.exec(line);
    const service = match && /service="([^"]+)"/.exec(match[1]!)?.[1];
    if (!match || !service) continue;
    const operation = `${service} ${/operation="([^"]+)"/.exec(match[1]!)?.[1] ?? '?'}`;
    byService[service] = (byService[service] ?? 0) + Number(match[2]);
    byOperation[operation] = (byOperation[operation] ?? 0) + Number(match[2]);
  }
  if (Object.keys(byService).length === 0) throw new Error(`${url} showed no latent_worker_openstack_requests_total`);
  return { byService, byOperation };
}
