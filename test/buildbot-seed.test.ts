import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSealingKeyPair, sealingKeysFromEnv } from '../src/config/sealing.js';
import { defaultNetworks } from '../src/simulator/index.js';
import { startDevServer, type DevServer } from '../src/temporal/devServer.js';
import type { GuardedProcess } from '../src/temporal/guardedProcess.js';
import { projectRoot } from '../src/temporal/paths.js';
import { freePort } from '../src/temporal/ports.js';
import { eventually, readBuilds, RESULT_NAMES, tail, type BuildRow } from './support/buildbot.js';
import { BUILDBOT37, BUILDBOT4, mustRun, requireInstall, runTool, startTool, type BuildbotInstall } from './support/buildbotVenvs.js';
import { auditServer, describeAudit } from './support/historyAudit.js';
import { AUDITED_SECRETS } from './support/secrets.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { adapt, python3Callable, seedExamples, type SeedExample } from './support/seedExamples.js';
import { header, parseMessage, startSmtp, type SmtpPeer } from './support/smtpPeer.js';

// Issue 11: the seed document's master.cfg examples, run by real Buildbot masters (Buildbot 4 from
// the package index; the simplest and the image-callable examples on Debian's 3.7 too) with only
// the class name changed and the auth URL pointed at the simulator. The worker fleet defines none
// of these workers: the master's account arguments reach it sealed. Each build: a change, the
// lifecycle boots the server, a real buildbot-worker attaches in its place once it is ACTIVE, the
// build succeeds, the server is deleted. One Temporal dev server of this file's own (so the
// seed's name bot2 is ours alone) and one simulator serve every example; masters run one at a time.

const CHANGE_LOGIN = { user: 'change', password: 'change-login-seed' };
const SMTP_LOGIN = { user: 'buildbot-mailer', password: 'smtp-login-seed' };
const NOTIFY = 'ci-admins@example.org';
const SEED_WORKER_PASSWORD = 'sekrit';
const SEED_OS_PASSWORD = 'password';

let server: DevServer;
let rig: LifecycleRig;
let smtp: SmtpPeer;
let workDir: string;
let publicKey: string;
const running: GuardedProcess[] = [];
const figures: string[] = [];

interface MasterRun {
  dir: string;
  pbPort: number;
  master: GuardedProcess;
  env: NodeJS.ProcessEnv;
  install: BuildbotInstall;
}

function scaffold(workers: string, pbPort: number, extra = ''): string {
  return `# master.cfg written by test/buildbot-seed.test.ts around an example of the seed document
from buildbot.plugins import changes, reporters, schedulers, steps, util
c = BuildmasterConfig = {}
c["buildbotNetUsageData"] = None
c["db"] = {"db_url": "sqlite:///state.sqlite"}
c["protocols"] = {"pb": {"port": "tcp:${pbPort}:interface=127.0.0.1"}}
c["change_source"] = [changes.PBChangeSource(user=${JSON.stringify(CHANGE_LOGIN.user)}, passwd=${JSON.stringify(CHANGE_LOGIN.password)})]

# --- the seed document's example, class name changed ---
${workers}
# ---

c["schedulers"] = [schedulers.AnyBranchScheduler(name="all", treeStableTimer=None, builderNames=["runtests"])]
c["builders"] = [util.BuilderConfig(name="runtests", workernames=["bot2"], factory=util.BuildFactory([steps.ShellCommand(name="hello", command=["sh", "-c", "echo built on the latent worker"])]))]
${extra}`;
}

const masterLog = (run: MasterRun): string => `--- ${run.install.label} master twistd.log ---\n${tail(path.join(run.dir, 'twistd.log'), 60)}`;

async function startMaster(install: BuildbotInstall, name: string, masterCfg: string, existingDir?: string): Promise<MasterRun> {
  const dir = existingDir ?? path.join(workDir, name);
  const pbPort = existingDir ? Number(/tcp:(\d+):/.exec(masterCfg)![1]) : await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    LATENT_WORKER_TASK_QUEUE: rig.client.taskQueue,
    LATENT_WORKER_SEALING_PUBLIC_KEY: publicKey,
  };
  if (!existingDir) {
    await mustRun(install, 'buildbot', ['create-master', '--quiet', dir], env);
    writeFileSync(path.join(dir, 'master.cfg'), masterCfg.replace('__PB_PORT__', String(pbPort)));
  }
  const master = startTool(install, 'buildbot', dir, env);
  running.push(master);
  const run = { dir, pbPort, master, env, install };
  await eventually(
    `${install.label} master ${name} starting`,
    120_000,
    async () => {
      if (master.hasExited()) throw new Error(`the master exited (${await master.exited})\n${masterLog(run)}`);
      return /BuildMaster is running/.test(tail(path.join(dir, 'twistd.log'), 400)) || undefined;
    },
    () => masterLog(run),
  );
  return run;
}

async function sendChange(run: MasterRun): Promise<void> {
  await mustRun(run.install, 'buildbot', ['sendchange', '--master', `127.0.0.1:${run.pbPort}`, '--auth', `${CHANGE_LOGIN.user}:${CHANGE_LOGIN.password}`, '--who', 'seed', '--branch', 'main', 'README.md'], run.env);
}

/** Waits for the server of bot2 to be ACTIVE, as Nova shows it. */
async function activeServer(run: MasterRun): Promise<{ id: string; name: string }> {
  return eventually(
    'a server for bot2 ACTIVE in the simulator',
    180_000,
    () => rig.simulator.servers().find((s) => s.name.startsWith('bot2-') && s.status === 'ACTIVE'),
    () => masterLog(run),
  );
}

/** The VM's part: a real buildbot-worker, named as the seed's worker, connects to the master. */
async function startVmWorker(run: MasterRun, label: string): Promise<GuardedProcess> {
  const dir = path.join(workDir, `${label}-vm`);
  await mustRun(run.install, 'buildbot-worker', ['create-worker', '--quiet', dir, `127.0.0.1:${run.pbPort}`, 'bot2', SEED_WORKER_PASSWORD], run.env);
  const worker = startTool(run.install, 'buildbot-worker', dir, run.env);
  running.push(worker);
  return worker;
}

async function finishedBuild(run: MasterRun, timeoutMs = 240_000): Promise<BuildRow> {
  return eventually(
    'the build finishing',
    timeoutMs,
    async () => (await readBuilds(run.dir).catch(() => [] as BuildRow[])).find((build) => build.complete && build.results !== 5),
    () => masterLog(run),
  );
}

async function noServersLeft(what: string): Promise<void> {
  await eventually(`${what}: every server deleted`, 120_000, () => (rig.simulator.servers().length === 0 ? true : undefined), () => JSON.stringify(rig.simulator.servers().map((s) => [s.name, s.status])));
}

/** Nova's create request bodies since `since` (epoch ms), as the simulator received them. */
function createBodies(since: number): unknown[] {
  return rig.simulator
    .requests()
    .filter((request) => request.method === 'POST' && /\/servers$/.test(request.path) && request.at >= since)
    .map((request) => request.body);
}

async function stopAll(...processes: (GuardedProcess | undefined)[]): Promise<void> {
  for (const process of processes) await process?.stop();
}

beforeAll(async () => {
  for (const install of [BUILDBOT4, BUILDBOT37]) console.log(await requireInstall(install));
  mkdirSync(path.join(projectRoot, '.scratch'), { recursive: true });
  workDir = mkdtempSync(path.join(projectRoot, '.scratch', 'buildbot-seed-'));
  const pair = newSealingKeyPair();
  publicKey = pair.publicKey;
  server = await startDevServer();
  // The fleet's config defines a worker of its own only: none of the seed's.
  rig = await startLifecycleRig([{ name: 'fleet-only' }], { address: server.address, sealingKeys: sealingKeysFromEnv({ LATENT_WORKER_SEALING_KEYS: pair.privateKey }), simulator: { bootDelayMs: 1500, deleteDelayMs: 200, network: true, blockStorage: true } });
  smtp = await startSmtp({ authOptional: true }, SMTP_LOGIN);
}, 180_000);

afterAll(async () => {
  for (const process of running) await process.stop();
  await rig?.stop();
  await smtp?.close();
  await server?.stop();
  console.log(`buildbot seed examples:\n${figures.join('\n')}`);
  if (!process.env.KEEP_E2E) rmSync(workDir, { recursive: true, force: true });
}, 120_000);

function exampleNamed(id: SeedExample['id']): SeedExample {
  return seedExamples().find((example) => example.id === id)!;
}

function workersOf(id: SeedExample['id'] | 'image-callable-py3'): string {
  const adaptation = { authUrl: rig.simulator.authUrlV2, networkId: defaultNetworks[0]!.id };
  if (id === 'image-callable-py3') return adapt({ id: 'image-callable', text: python3Callable(exampleNamed('image-callable')) }, adaptation);
  return adapt(exampleNamed(id), adaptation);
}

const cases: [string, SeedExample['id'] | 'image-callable-py3', BuildbotInstall][] = [
  ['simplest', 'simplest', BUILDBOT4],
  ['image callable (in Python 3)', 'image-callable-py3', BUILDBOT4],
  ['block_devices', 'block-devices', BUILDBOT4],
  ['nova_args', 'nova-args', BUILDBOT4],
  ['simplest', 'simplest', BUILDBOT37],
  ['image callable (in Python 3)', 'image-callable-py3', BUILDBOT37],
];

describe('the seed document\'s examples, class name changed', () => {
  it.each(cases.map(([label, id, install]) => [`${label} on ${install.label}`, id, install] as const))('%s: build SUCCESS on a server the lifecycle booted, then deleted', async (label, id, install) => {
    const since = Date.now();
    const name = `${id}-${install === BUILDBOT4 ? 'bb4' : 'bb37'}`;
    const workers = workersOf(id);
    expect(workers).toContain('worker.TemporalOpenStackLatentWorker(');
    const run = await startMaster(install, name, scaffold(workers, 0).replace('tcp:0:', 'tcp:__PB_PORT__:'));
    let vm: GuardedProcess | undefined;
    try {
      await sendChange(run);
      await activeServer(run);
      vm = await startVmWorker(run, name);
      const build = await finishedBuild(run);
      expect({ result: RESULT_NAMES[build.results ?? -1], worker: build.worker }, masterLog(run)).toEqual({ result: 'SUCCESS', worker: 'bot2' });
      // The seed keeps Buildbot's build_wait_timeout (10 minutes idle): the server stays for the
      // next build until then, or until the master stops, which releases it.
      expect(rig.simulator.servers().map((s) => s.status)).toEqual(['ACTIVE']);
      await run.master.stop(120_000);
      await noServersLeft(name);
      const bodies = createBodies(since);
      expect(bodies).toHaveLength(1);
      // A master-defined worker (sealed account) whose image the master chose: RECORD_HISTORIES=master-defined-image-callable.
      if (id === 'image-callable-py3' && install === BUILDBOT4) await rig.recordHistory('master-defined-image-callable', 'bot2');
      figures.push(`${label}: build ${RESULT_NAMES[build.results!]}, Nova create request ${JSON.stringify(bodies[0])}`);
    } finally {
      await stopAll(vm, run.master);
    }
  }, 420_000);
});

describe('bad arguments, refused by `buildbot checkconfig` before anything starts', () => {
  const simplest = (): string => workersOf('simplest');
  const bad: [string, (workers: string) => string, string][] = [
    ['an unknown argument (a typo of nova_args)', (w) => w.replace('flavor=1,', 'flavor=1, nova_arg={},'), "unexpected keyword argument 'nova_arg'"],
    ['a timeout that is not a number', (w) => w.replace('flavor=1,', 'flavor=1, missing_timeout="soon",'), "TemporalOpenStackLatentWorker bot2: missing_timeout: 'soon' must be a number of seconds above 0"],
    ['an image that is neither an id nor a callable', (w) => w.replace("image='8ac9d4a4-5e03-48b0-acde-77a0345a9ab1'", 'image=42'), 'TemporalOpenStackLatentWorker bot2: image: 42 must be an image UUID or name, a callable given the list of images'],
    ['a block device without uuid', (w) => w.replace('flavor=1,', "flavor=1, block_devices=[{'volume_size': 10}],"), 'TemporalOpenStackLatentWorker bot2: block_devices[0].uuid'],
    ['a password that is not text', (w) => w.replace("os_password='password'", 'os_password=42'), 'TemporalOpenStackLatentWorker bot2: os_password: must be a non-empty string or a renderable such as util.Secret(...), not int'],
    ['no auth URL', (w) => w.replace(/os_auth_url=[^)]*\)/, ')'), 'TemporalOpenStackLatentWorker bot2: os_auth_url: missing'],
    ['a flavor that is not one', (w) => w.replace('flavor=1,', 'flavor=-1,'), 'TemporalOpenStackLatentWorker bot2: flavor: -1 must be a flavor id or name'],
  ];

  it.each(bad)('%s', async (_what, breakIt, message) => {
    const broken = breakIt(simplest());
    expect(broken).not.toBe(simplest());
    const dir = path.join(workDir, `bad-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'master.cfg'), scaffold(broken, 0));
    const env = { ...process.env, TEMPORAL_ADDRESS: server.address, LATENT_WORKER_SEALING_PUBLIC_KEY: publicKey };
    const { code, output } = await runTool(BUILDBOT4, 'buildbot', ['checkconfig', dir], env);
    expect(code, output).not.toBe(0);
    expect(output).toContain(message);
    // The seed's account password is not echoed back.
    expect(output).not.toMatch(/os_password='password'|"password"/);
    expect(rig.simulator.servers()).toEqual([]);
    const started = await rig.client.temporal.workflow.list({ query: `WorkflowId = 'latent-worker:bot2' AND ExecutionStatus = 'Running'` });
    for await (const execution of started) throw new Error(`a lifecycle runs: ${execution.workflowId}`);
  }, 120_000);
});

describe('the account from a secrets provider (util.Secret), as Buildbot renders it', () => {
  it('simplest with os_password=util.Secret(...): build SUCCESS, server deleted', async () => {
    const since = Date.now();
    const secretsDir = path.join(workDir, 'secrets');
    mkdirSync(secretsDir, { mode: 0o700 });
    writeFileSync(path.join(secretsDir, 'os_password'), `${SEED_OS_PASSWORD}\n`, { mode: 0o600 });
    const workers = workersOf('simplest').replace("os_password='password'", "os_password=util.Secret('os_password')");
    expect(workers).toContain("util.Secret('os_password')");
    const provider = `from buildbot.plugins import secrets\nc["secretsProviders"] = [secrets.SecretInAFile(dirname=${JSON.stringify(secretsDir)})]\n`;
    const run = await startMaster(BUILDBOT4, 'secret-bb4', scaffold(workers, 0, provider).replace('tcp:0:', 'tcp:__PB_PORT__:'));
    let vm: GuardedProcess | undefined;
    try {
      await sendChange(run);
      await activeServer(run);
      vm = await startVmWorker(run, 'secret-bb4');
      const build = await finishedBuild(run);
      expect(RESULT_NAMES[build.results!], masterLog(run)).toBe('SUCCESS');
      await run.master.stop(120_000);
      await noServersLeft('secret-bb4');
      expect(createBodies(since)).toHaveLength(1);
      figures.push(`simplest with util.Secret on ${BUILDBOT4.label}: build SUCCESS, server deleted`);
    } finally {
      await stopAll(vm, run.master);
    }
  }, 420_000);
});

describe("the seed's image callable as written (Python 2)", () => {
  it('fails the substantiation with a message naming the callable, and creates nothing', async () => {
    const since = Date.now();
    const run = await startMaster(BUILDBOT4, 'callable-as-written-bb4', scaffold(workersOf('image-callable'), 0).replace('tcp:0:', 'tcp:__PB_PORT__:'));
    try {
      await sendChange(run);
      const retried = await eventually('the build ending RETRY', 180_000, async () => (await readBuilds(run.dir)).find((build) => build.complete && build.results === 5), () => masterLog(run));
      expect(retried.worker).toBe('bot2');
      const log = tail(path.join(run.dir, 'twistd.log'), 400);
      expect(log).toContain("image callable find_image raised TypeError: 'cmp' is an invalid keyword argument for sort()");
      expect(createBodies(since)).toEqual([]);
      expect(rig.simulator.servers()).toEqual([]);
      figures.push(`image callable as written on ${BUILDBOT4.label}: build RETRY, "image callable find_image raised TypeError: 'cmp' is an invalid keyword argument for sort()", 0 servers created`);
    } finally {
      await run.master.stop(120_000);
    }
  }, 300_000);
});

describe("the seed's missing_timeout and notify_on_missing, through the master's MailNotifier", () => {
  it('a worker that never connects: the build ends RETRY, the mail reaches the SMTP peer, the server is deleted', async () => {
    const since = Date.now();
    // The document's last paragraph: the standard Worker arguments on the simplest example.
    const workers = workersOf('simplest').replace('flavor=1,', `flavor=1, missing_timeout=20, notify_on_missing=[${JSON.stringify(NOTIFY)}],`);
    const mail = `c["services"] = [reporters.MailNotifier(fromaddr="buildbot@example.org", relayhost="127.0.0.1", smtpPort=${smtp.port}, generators=[reporters.WorkerMissingGenerator(workers="all")])]\n`;
    const run = await startMaster(BUILDBOT4, 'missing-bb4', scaffold(workers, 0, mail).replace('tcp:0:', 'tcp:__PB_PORT__:'));
    try {
      await sendChange(run);
      const booted = await activeServer(run);
      // No buildbot-worker starts: the server's worker never connects.
      const retried = await eventually('the build ending RETRY', 180_000, async () => (await readBuilds(run.dir)).find((build) => build.complete && build.results === 5), () => masterLog(run));
      expect(retried.worker).toBe('bot2');
      const message = await eventually('the missing-worker mail', 120_000, () => smtp.received.find((received) => received.to.includes(NOTIFY)), () => `${smtp.received.length} mails\n${masterLog(run)}`);
      const { headers, body } = parseMessage(message.raw);
      expect(header(headers, 'Subject')).toMatch(/bot2/);
      expect(body).toMatch(/bot2/);
      await eventually(`server ${booted.id} deleted`, 120_000, () => (rig.simulator.servers().some((s) => s.id === booted.id) ? undefined : true), () => masterLog(run));
      figures.push(`missing worker on ${BUILDBOT4.label}: build RETRY, mail to ${message.to.join(', ')} "${header(headers, 'Subject')}", server ${booted.id} deleted`);
    } finally {
      // Buildbot retries the build on a new server after its quarantine: stopping the master releases that one too.
      await run.master.stop(120_000);
    }
    await noServersLeft('missing worker');
    expect(createBodies(since).length).toBeGreaterThanOrEqual(1);
  }, 600_000);
});

describe('a lifecycle that fails, reported through the master like a missing worker', () => {
  it("the build ends RETRY with the lifecycle's error, and the master mails notify_on_missing; nothing is left", async () => {
    const workers = workersOf('simplest')
      .replace("image='8ac9d4a4-5e03-48b0-acde-77a0345a9ab1'", "image='no-such-image'")
      .replace('flavor=1,', `flavor=1, notify_on_missing=[${JSON.stringify(NOTIFY)}],`);
    const mail = `c["services"] = [reporters.MailNotifier(fromaddr="buildbot@example.org", relayhost="127.0.0.1", smtpPort=${smtp.port}, generators=[reporters.WorkerMissingGenerator(workers="all")])]\n`;
    const mailsBefore = smtp.received.length;
    const run = await startMaster(BUILDBOT4, 'failed-bb4', scaffold(workers, 0, mail).replace('tcp:0:', 'tcp:__PB_PORT__:'));
    try {
      await sendChange(run);
      const retried = await eventually('the build ending RETRY', 180_000, async () => (await readBuilds(run.dir)).find((build) => build.complete && build.results === 5), () => masterLog(run));
      expect(retried.worker).toBe('bot2');
      expect(tail(path.join(run.dir, 'twistd.log'), 400)).toMatch(/no-such-image/);
      const message = await eventually('the mail', 120_000, () => smtp.received.slice(mailsBefore).find((received) => received.to.includes(NOTIFY)), () => masterLog(run));
      expect(header(parseMessage(message.raw).headers, 'Subject')).toMatch(/bot2/);
      expect(rig.simulator.servers()).toEqual([]);
      figures.push(`failed lifecycle (image 'no-such-image') on ${BUILDBOT4.label}: build RETRY, mail to ${message.to.join(', ')}, 0 servers`);
    } finally {
      await run.master.stop(120_000);
    }
  }, 400_000);
});

describe('kill -9 of the master while its server boots', () => {
  it('the restarted master takes the lifecycle up again: one server, build SUCCESS, 0 left', async () => {
    const since = Date.now();
    const run = await startMaster(BUILDBOT4, 'killed-bb4', scaffold(workersOf('simplest'), 0).replace('tcp:0:', 'tcp:__PB_PORT__:'));
    await sendChange(run);
    const booting = await eventually('a server for bot2 being created', 120_000, () => rig.simulator.servers().find((s) => s.name.startsWith('bot2-')), () => masterLog(run));
    process.kill(-run.master.pid, 'SIGKILL');
    await run.master.exited;
    console.log(`killed the master while ${booting.name} was ${booting.status}`);
    const cfg = scaffold(workersOf('simplest'), run.pbPort);
    const restarted = await startMaster(BUILDBOT4, 'killed-bb4', cfg, run.dir);
    let vm: GuardedProcess | undefined;
    try {
      // The restarted master substantiates again and joins the running lifecycle; only then does
      // the VM's worker connect (one that connects earlier is turned away by Buildbot and retries
      // with a growing backoff).
      await eventually('the restarted master taking the lifecycle up', 180_000, () => (/bot2: server \S+ \(bot2-[0-9a-f]{8}-1\) is ACTIVE; waiting for the worker to connect/.test(tail(path.join(run.dir, 'twistd.log'), 400)) ? true : undefined), () => masterLog(restarted));
      vm = await startVmWorker(restarted, 'killed-bb4');
      const build = await finishedBuild(restarted);
      expect(RESULT_NAMES[build.results!], masterLog(restarted)).toBe('SUCCESS');
      // Taken up again: the lifecycle the dead master started is the one that served the build.
      expect(createBodies(since)).toHaveLength(1);
      await restarted.master.stop(120_000);
      await noServersLeft('after the restart');
      figures.push(`kill -9 of the master while ${booting.name} was ${booting.status}: restarted master took the lifecycle up, build SUCCESS, 1 server created, 0 left`);
    } finally {
      await stopAll(vm, restarted.master);
    }
  }, 600_000);
});

describe('the secrets audit', () => {
  it("finds no master.cfg password in any history these tests made", async () => {
    const audit = await auditServer(server.address);
    const summary = describeAudit(audit);
    figures.push(`secrets audit of this file's Temporal server: ${summary}`);
    expect(audit.histories).toBeGreaterThan(0);
    expect(audit.scanner.findings, summary).toEqual([]);
    expect(audit.scanner.payloads).toBeGreaterThan(0);
    // The audit searches for the seed's account password and worker password among the rest.
    expect(AUDITED_SECRETS.map((secret) => secret.value)).toEqual(expect.arrayContaining([SEED_OS_PASSWORD, SEED_WORKER_PASSWORD]));
  }, 300_000);
});
