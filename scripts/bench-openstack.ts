// The real-cloud benchmark (docs/benchmark.md, "On a real OpenStack"): N servers asked for at once
// on the OpenStack that OS_* names, three ways in one run: a bare REST client that sends every POST
// at once and reads each server every 0.5 s, one that sends one POST at a time and reads every 5 s,
// and N lifecycles on a real Temporal dev server and a `latent-worker worker` process.
//
//   OS_AUTH_URL=... OS_USERNAME=... npm run bench:openstack -- [--servers 30] [--flavor tiny] [--image tiny]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import { bootWithBareRest, RequestCounter, type ServerRun } from '../bench/openstack/bareRest.js';
import { distribution, type Distribution } from '../bench/stats.js';
import { BenchWorker } from '../bench/workerProcess.js';
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
const o = new Command('npm run bench:openstack --')
  .description('N servers at once on a real OpenStack (OS_* variables): two bare-REST baselines and N lifecycles, in one run')
  .option('--servers <n>', 'servers asked for at once in each of the three runs', integer(1, 200), 30)
  .option('--flavor <id>', 'flavor id or name', 'tiny')
  .option('--image <name>', 'image name or UUID', 'tiny')
  .option('--out <file>', 'JSON report', path.join(projectRoot, '.scratch', 'bench', `openstack-${new Date().toISOString().replace(/[:.]/g, '-')}.json`))
  .option('--timeout <seconds>', 'the whole run', integer(60, 7200), 1800)
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse(process.argv.slice(2), { from: 'user' })
  .opts<{ servers: number; flavor: string; image: string; out: string; timeout: number }>();

if (!process.env.OS_AUTH_URL && !process.env.OS_CLOUD) {
  console.error('bench:openstack: set OS_AUTH_URL (and OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...) or OS_CLOUD to the cloud to measure');
  process.exit(2);
}

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
  name: string;
  /** Request (the client or master decided) → ACTIVE noticed by the client. */
  requestToActiveNoticed?: Distribution;
  /** Nova's own `created` → `OS-SRV-USG:launched_at` (Nova keeps whole seconds). */
  novaPostToActive?: Distribution;
  requestsPerServer: Record<string, number>;
  failures: string[];
}

const names = (prefix: string) => Array.from({ length: o.servers }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
const configFile = path.join(runDir, 'latent.config.json');
const lifecycleNames = names('bench-os');
// No os_* keys: the OS_* variables are the account, as for an operator with an openrc.
writeFileSync(configFile, JSON.stringify({ deployment: `bench-openstack-${startedAt}`, workers: lifecycleNames.map((name) => ({ name, flavor: o.flavor, image: o.image })) }, null, 1));
const config = await loadConfigFile(configFile);
const worker = config.workers.get(lifecycleNames[0]!)!;
const counter = new RequestCounter();
const rest = new OpenStackClient(worker.credentials, { clientVersion: worker.definition.client_version, observer: counter.observe });
const ways: Way[] = [];
try {
  const { imageId, flavorId } = await lookUp(rest, worker);
  say(`cloud ${process.env.OS_AUTH_URL ?? process.env.OS_CLOUD}: image ${imageId}, flavor ${flavorId}; ${o.servers} servers per run`);
  await bootWithBareRest({ client: rest, worker, imageId, flavorId, names: ['bench-os-warmup'], posts: 'at-once', pollIntervalMs: 500, deadline });
  say('warm-up server booted and deleted');
  for (const [label, posts, pollIntervalMs] of [
    ['bare REST, all POSTs at once, reads every 0.5 s', 'at-once', 500],
    ['bare REST, one POST at a time, reads every 5 s', 'one-at-a-time', 5000],
  ] as const) {
    counter.reset();
    const from = new Date();
    const runs = await bootWithBareRest({ client: rest, worker, imageId, flavorId, names: names(posts === 'at-once' ? 'bench-os-burst' : 'bench-os-serial'), posts, pollIntervalMs, deadline });
    ways.push(await summarize(label, runs, from, { ...counter.byService }));
    say(`${label}: done`);
  }
  ways.push(await lifecycles());
} finally {
  await rest.close();
}

const better = [ways[0]!, ways[1]!].sort((a, b) => (a.requestToActiveNoticed?.p50 ?? Infinity) - (b.requestToActiveNoticed?.p50 ?? Infinity))[0]!;
const ours = ways[2]!;
const requestsPerLifecycle = Object.values(ours.requestsPerServer).reduce((sum, n) => sum + n, 0);
const targets = [
  { name: 'request → ACTIVE noticed p50, lifecycles ÷ better baseline', target: '≤ 0.85', value: (ours.requestToActiveNoticed?.p50 ?? Infinity) / (better.requestToActiveNoticed?.p50 ?? 1) },
  { name: 'request → ACTIVE noticed max, lifecycles ÷ better baseline', target: '≤ 1.00', value: (ours.requestToActiveNoticed?.max ?? Infinity) / (better.requestToActiveNoticed?.max ?? 1) },
  { name: 'requests per lifecycle (every service)', target: '≤ 3', value: requestsPerLifecycle },
].map((t) => ({ ...t, met: t.value <= Number(t.target.slice(2)) }));
const failed = ways.some((w) => w.failures.length > 0);
writeFileSync(o.out, `${JSON.stringify({ startedAt: new Date(startedAt).toISOString(), options: o, ways, better: better.name, targets }, null, 2)}\n`);

const row = (d: Distribution | undefined) => (d ? `${String(d.p50).padStart(7)} ${String(d.max).padStart(7)}` : '      -       -');
console.log(`\n${o.servers} servers at once on ${process.env.OS_AUTH_URL ?? process.env.OS_CLOUD}`);
console.log('                                                   request → ACTIVE noticed   Nova POST → ACTIVE');
console.log('way                                                    p50     max              p50     max   requests per server');
for (const w of ways) {
  const requests = Object.entries(w.requestsPerServer).map(([s, n]) => `${s} ${n.toFixed(2)}`).join(', ');
  console.log(`${w.name.padEnd(50)} ${row(w.requestToActiveNoticed)}          ${row(w.novaPostToActive)}   ${requests}`);
  for (const f of w.failures) console.log(`  failed: ${f}`);
}
console.log(`\ntargets (against "${better.name}", the better baseline by p50):`);
for (const t of targets) console.log(`  ${t.met ? 'met    ' : 'MISSED '} ${t.name}: ${t.value.toFixed(2)} (target ${t.target})`);
console.log(`\nreport: ${o.out}\nlogs: ${runDir}`);
process.exit(failed ? 1 : 0);

async function lookUp(client: OpenStackClient, w: ResolvedWorker): Promise<{ imageId: string; flavorId: string }> {
  const flavor = await client.compute.getFlavor(o.flavor);
  const byId = await client.image.getImage(o.image).catch(() => undefined);
  const images = byId ? [byId] : (await client.image.findImagesByName(o.image)).filter((i) => i.status === 'active');
  if (images.length !== 1) throw new Error(`--image ${o.image}: ${images.length} active images have that name or id on ${w.credentials.authUrl}`);
  return { imageId: images[0]!.id, flavorId: flavor.id };
}

/** Nova's own view of each server, read back (deleted ones included) once the run is over. */
async function novaTimes(ids: ReadonlySet<string>, from: Date): Promise<number[]> {
  const { servers } = await rest.compute.listServerChanges(new Date(from.getTime() - 2000));
  const raw = (s: object, key: string) => (s as Record<string, unknown>)[key];
  return servers
    .filter((s) => ids.has(s.id))
    .flatMap((s) => {
      const launched = raw(s, 'OS-SRV-USG:launched_at');
      return typeof launched === 'string' ? [Date.parse(`${launched.replace(/Z$/, '')}Z`) - Date.parse(s.created)] : [];
    });
}

async function summarize(name: string, runs: ServerRun[], from: Date, requests: Record<string, number>): Promise<Way> {
  const ids = new Set(runs.flatMap((r) => (r.id ? [r.id] : [])));
  return {
    name,
    requestToActiveNoticed: distribution(runs.flatMap((r) => (r.activeNoticedAt ? [r.activeNoticedAt - r.requestedAt] : []))),
    novaPostToActive: distribution(await novaTimes(ids, from)),
    requestsPerServer: Object.fromEntries(Object.entries(requests).map(([service, n]) => [service, n / runs.length])),
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
  const from = new Date();
  const runs: ServerRun[] = [];
  try {
    await Promise.all(
      lifecycleNames.map(async (name) => {
        const run: ServerRun = { name, requestedAt: Date.now() };
        runs.push(run);
        try {
          const handle = await client.substantiate(config.workers.get(name)!.specFor());
          for await (const status of client.watch(name, { intervalMs: 250, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })) {
            if (status.phase === 'waiting-for-attach') {
              await client.attached(name);
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
        }
      }),
    );
    await delay(500);
    const requests = await scrapeRequests(`http://127.0.0.1:${metricsPort}/metrics`);
    return await summarize(`${o.servers} lifecycles (latent-worker worker)`, runs, from, requests);
  } finally {
    await workerProcess.stop();
    await connection.close();
    await server.stop();
  }
}

/** The worker's own count of its OpenStack requests, by service, over the whole run. */
async function scrapeRequests(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
  const byService: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^latent_worker_openstack_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)/.exec(line);
    const service = match && /service="([^"]+)"/.exec(match[1]!)?.[1];
    if (match && service) byService[service] = (byService[service] ?? 0) + Number(match[2]);
  }
  if (Object.keys(byService).length === 0) throw new Error(`${url} showed no latent_worker_openstack_requests_total`);
  return byService;
}
