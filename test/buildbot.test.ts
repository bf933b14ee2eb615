import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnknownLifecycleError } from '../src/client/api.js';
import { projectRoot } from '../src/temporal/paths.js';
import { freePort } from '../src/temporal/ports.js';
import type { GuardedProcess } from '../src/temporal/guardedProcess.js';
import type { LifecycleResult, LifecycleStatus } from '../src/workflows/types.js';
import { buildbotCommand, checkConfig, eventually, readBuilds, requireBuildbot, RESULT_NAMES, startDaemon, tail, venvPython, type BuildRow } from './support/buildbot.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { BUILDBOT_WORKER_PASSWORD } from './support/secrets.js';
import { temporalAddress } from './support/temporal.js';

// Issue 6, item 3: a real Buildbot 3.7 master with integrations/buildbot's latent worker, against
// the simulator and the shared Temporal dev server. A change is sent; the master substantiates the
// worker through our lifecycle; once the server is ACTIVE a real buildbot-worker process starts in
// place of the VM and connects; the build runs; with build_wait_timeout=0 the server is deleted.

const IMAGE = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';
const CHANGE_LOGIN = { user: 'change', password: 'change-login-e2e' };

let rig: LifecycleRig;
let workDir: string;
let masterDir: string;
let workerDir: string;
let pbPort: number;
let workerName: string;
let brokenName: string;
let keptName: string;
let master: GuardedProcess | undefined;
let worker: GuardedProcess | undefined;
let keptWorker: GuardedProcess | undefined;
let failed = false;

function masterConfig(): string {
  const py = (value: string): string => JSON.stringify(value);
  return `# Written by test/buildbot.test.ts
from buildbot.plugins import changes, schedulers, steps, util
from latent_worker_buildbot import TemporalOpenStackLatentWorker

c = BuildmasterConfig = {}
c["title"] = "latent worker e2e"
c["buildbotNetUsageData"] = None
c["db"] = {"db_url": "sqlite:///state.sqlite"}
c["protocols"] = {"pb": {"port": "tcp:${pbPort}:interface=127.0.0.1"}}
c["change_source"] = [changes.PBChangeSource(user=${py(CHANGE_LOGIN.user)}, passwd=${py(CHANGE_LOGIN.password)})]
c["workers"] = [
    TemporalOpenStackLatentWorker(
        ${py(workerName)}, ${py(BUILDBOT_WORKER_PASSWORD)},
        flavor=1,
        image=${py(IMAGE)},
        meta={"ci-branch": util.Interpolate("%(prop:branch)s"), "ci-run": util.Interpolate("%(prop:ci-run)s")},
        build_wait_timeout=0,
        missing_timeout=120,
        temporal_address=${py(temporalAddress())},
        task_queue=${py(rig.client.taskQueue)},
        stop_timeout=60,
    ),
    TemporalOpenStackLatentWorker(
        ${py(brokenName)}, ${py(BUILDBOT_WORKER_PASSWORD)},
        flavor=1,
        image="no-such-image",
        temporal_address=${py(temporalAddress())},
        task_queue=${py(rig.client.taskQueue)},
        stop_timeout=60,
    ),
    TemporalOpenStackLatentWorker(
        ${py(keptName)}, ${py(BUILDBOT_WORKER_PASSWORD)},
        flavor=1,
        image=${py(IMAGE)},
        build_wait_timeout=600,
        temporal_address=${py(temporalAddress())},
        task_queue=${py(rig.client.taskQueue)},
        stop_timeout=60,
    ),
]
c["schedulers"] = [
    schedulers.AnyBranchScheduler(name="main", change_filter=util.ChangeFilter(branch="main"), treeStableTimer=None, builderNames=["runtests"]),
    schedulers.AnyBranchScheduler(name="broken", change_filter=util.ChangeFilter(branch="broken"), treeStableTimer=None, builderNames=["broken-image"]),
    schedulers.AnyBranchScheduler(name="kept", change_filter=util.ChangeFilter(branch="kept"), treeStableTimer=None, builderNames=["kept-worker"]),
]
hello = util.BuildFactory([steps.ShellCommand(name="hello", command=["sh", "-c", "echo built on the latent worker in $(pwd)"])])
c["builders"] = [
    util.BuilderConfig(name="runtests", workernames=[${py(workerName)}], factory=hello),
    util.BuilderConfig(name="broken-image", workernames=[${py(brokenName)}], factory=hello),
    util.BuilderConfig(name="kept-worker", workernames=[${py(keptName)}], factory=hello),
]
`;
}

function logs(): string {
  return `--- master twistd.log ---\n${tail(path.join(masterDir, 'twistd.log'))}\n--- worker twistd.log ---\n${tail(path.join(workerDir, 'twistd.log'), 20)}`;
}

beforeAll(async () => {
  console.log(`buildbot e2e: ${await requireBuildbot()}`);
  rig = await startLifecycleRig([{ name: 'buildbot' }, { name: 'broken' }, { name: 'kept' }]);
  workerName = rig.nameOf('buildbot');
  brokenName = rig.nameOf('broken');
  keptName = rig.nameOf('kept');
  mkdirSync(path.join(projectRoot, '.scratch'), { recursive: true });
  workDir = mkdtempSync(path.join(projectRoot, '.scratch', 'buildbot-e2e-'));
  masterDir = path.join(workDir, 'master');
  workerDir = path.join(workDir, 'worker');
  pbPort = await freePort();
  await buildbotCommand(['create-master', '--quiet', masterDir]);
  writeFileSync(path.join(masterDir, 'master.cfg'), masterConfig());
  master = startDaemon('buildbot', masterDir);
  await eventually(
    'the Buildbot master starting',
    90_000,
    async () => {
      if (master!.hasExited()) throw new Error(`the Buildbot master exited (${await master!.exited})\n${logs()}`);
      return /BuildMaster is running/.test(tail(path.join(masterDir, 'twistd.log'), 200)) || undefined;
    },
    logs,
  );
});

afterEach(({ task }) => {
  if (task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  await worker?.stop();
  await keptWorker?.stop();
  await master?.stop();
  await rig?.stop();
  // Kept for a look after a failure; .scratch is git-ignored.
  if (!failed && !process.env.KEEP_E2E) rmSync(workDir, { recursive: true, force: true });
  else if (workDir) console.log(`buildbot e2e: master and worker directories kept in ${workDir}`);
});

describe('Buildbot 3.7 with TemporalOpenStackLatentWorker', () => {
  it("passes the adapter's own Python tests (spec building, the asyncio bridge), run with twisted.trial", async () => {
    const { code, output } = await venvPython(['-m', 'twisted.trial', `--temp-directory=${path.join(workDir, '_trial_temp')}`, 'tests'], {
      PYTHONPATH: path.join(projectRoot, 'integrations', 'buildbot'),
    });
    const summary = /^PASSED \(successes=(\d+)\)$/m.exec(output);
    expect(code, output).toBe(0);
    expect(Number(summary?.[1]), output).toBeGreaterThanOrEqual(7);
    console.log(`python tests: ${summary![0]}`);
  });

  it('refuses a master.cfg with account arguments but no fleet key to seal them with, or bad server options, naming the argument', async () => {
    const badDir = path.join(workDir, 'bad-master');
    mkdirSync(badDir);
    writeFileSync(
      path.join(badDir, 'master.cfg'),
      `from latent_worker_buildbot import TemporalOpenStackLatentWorker
c = BuildmasterConfig = {"buildbotNetUsageData": None, "protocols": {"pb": {"port": "tcp:0:interface=127.0.0.1"}}}
c["workers"] = [
    TemporalOpenStackLatentWorker("creds", "pw", flavor=1, image=${JSON.stringify(IMAGE)}, os_username="u", os_password="cloud-secret", os_auth_url="http://127.0.0.1:1/v3"),
    TemporalOpenStackLatentWorker("flavorless", "pw", flavor=-1, image=${JSON.stringify(IMAGE)}, launch_attempts=0),
]
`,
    );
    const { code, output } = await checkConfig(badDir);
    expect(code, output).not.toBe(0);
    expect(output).toContain('TemporalOpenStackLatentWorker creds: os_username, os_password, os_auth_url: LATENT_WORKER_SEALING_PUBLIC_KEY is not set');
    expect(output).toContain('TemporalOpenStackLatentWorker flavorless: flavor: -1 must be a flavor id or name');
    expect(output).toContain('TemporalOpenStackLatentWorker flavorless: launch_attempts: 0 must be a whole number from 1 to 20');
    // Refused without echoing the credential's value.
    expect(output).not.toContain('cloud-secret');
  });

  it('runs a build on a server our lifecycle boots, then deletes the server (build_wait_timeout=0)', async () => {
    await buildbotCommand(['sendchange', '--master', `127.0.0.1:${pbPort}`, '--auth', `${CHANGE_LOGIN.user}:${CHANGE_LOGIN.password}`, '--who', 'e2e', '--branch', 'main', '--property', 'ci-run:e2e', '--comments', 'a build on a latent worker', 'README.md']);

    const active = await eventually<LifecycleStatus>(
      'the lifecycle the master started reaching waiting-for-attach (server ACTIVE)',
      120_000,
      async () => {
        const status = await rig.client.status(workerName).catch((error: unknown) => {
          if (error instanceof UnknownLifecycleError) return undefined;
          throw error;
        });
        if (status?.outcome) throw new Error(`lifecycle ended ${status.outcome} before the worker could attach: ${status.error}\n${logs()}`);
        return status?.phase === 'waiting-for-attach' ? status : undefined;
      },
      logs,
    );
    expect(rig.simulator.servers().map((server) => [server.id, server.status])).toEqual([[active.serverId, 'ACTIVE']]);

    // The VM's part: a real buildbot-worker with the worker's name and password connects to the master.
    await buildbotCommand(['create-worker', '--quiet', workerDir, `127.0.0.1:${pbPort}`, workerName, BUILDBOT_WORKER_PASSWORD], 'buildbot-worker');
    worker = startDaemon('buildbot-worker', workerDir);

    const build = await eventually<BuildRow>('the build finishing', 120_000, async () => (await readBuilds(masterDir)).find((row) => row.complete), logs);
    console.log(`Buildbot build #${build.number} of ${build.builder} on ${build.worker}: ${RESULT_NAMES[build.results ?? -1] ?? build.results} (${build.state})`);
    expect(build).toMatchObject({ builder: 'runtests', worker: workerName, results: 0 });

    const result = await Promise.race([
      rig.client.result(workerName),
      new Promise<LifecycleResult>((_resolve, reject) => setTimeout(() => reject(new Error(`lifecycle did not end within 60 s after the build\n${logs()}`)), 60_000)),
    ]);
    console.log(`lifecycle ${result.outcome} (${result.status.releaseReason}), server ${result.serverId} deleted at ${result.status.deletedAt}`);
    expect(result.outcome).toBe('released');
    expect(result.serverId).toBe(active.serverId);
    expect(result.status).toMatchObject({ phase: 'done', buildsFinished: 1, imageId: IMAGE });
    expect(result.status.attachedAt).toBeDefined();
    expect(result.status.deletedAt).toBeDefined();
    // The VM is gone: so is its worker process.
    await worker.stop();
    expect(rig.simulator.servers()).toEqual([]);

    // The master rendered the build's properties into the server, as OpenStackLatentWorker does.
    const create = rig.simulator.requests().filter((request) => request.method === 'POST' && request.path.endsWith('/servers'));
    expect(create).toHaveLength(1);
    expect((create[0]!.body as { server: { metadata: Record<string, string> } }).server.metadata).toMatchObject({ 'ci-branch': 'main', 'ci-run': 'e2e' });

    // The worker's login to the master never reaches the lifecycle.
    const history = JSON.stringify(await rig.client.handle(workerName).fetchHistory());
    expect(history).toContain(workerName);
    expect(history).not.toContain(BUILDBOT_WORKER_PASSWORD);
  });

  it("fails the substantiation with the lifecycle's own error when the lifecycle fails, leaving no server", async () => {
    await buildbotCommand(['sendchange', '--master', `127.0.0.1:${pbPort}`, '--auth', `${CHANGE_LOGIN.user}:${CHANGE_LOGIN.password}`, '--who', 'e2e', '--branch', 'broken', 'README.md']);
    const build = await eventually<BuildRow>('the build on the broken worker ending', 120_000, async () => (await readBuilds(masterDir)).find((row) => row.builder === 'broken-image' && row.complete), logs);
    console.log(`Buildbot build #${build.number} of ${build.builder}: ${RESULT_NAMES[build.results ?? -1] ?? build.results} (${build.state})`);
    // Buildbot's answer to a worker that failed to substantiate: the request is retried later.
    expect(build).toMatchObject({ results: RESULT_NAMES.indexOf('RETRY'), state: 'worker not available' });

    const { status } = await rig.client.handle(brokenName).describe();
    expect(status.name).toBe('FAILED');
    const masterLog = tail(path.join(masterDir, 'twistd.log'), 400);
    expect(masterLog).toMatch(/LatentWorkerFailedToSubstantiate: .*lifecycle latent-worker:broken-\w+ failed: ImageNotFound: no active image is named .*no-such-image/);
    expect(rig.simulator.servers()).toEqual([]);
  });

  it('releases a worker kept between builds when the master shuts down, and the server is deleted', async () => {
    rig.simulator.clearRequests();
    await buildbotCommand(['sendchange', '--master', `127.0.0.1:${pbPort}`, '--auth', `${CHANGE_LOGIN.user}:${CHANGE_LOGIN.password}`, '--who', 'e2e', '--branch', 'kept', 'README.md']);
    const active = await eventually<LifecycleStatus>(
      'the kept worker\'s server becoming ACTIVE',
      120_000,
      async () => {
        const status = await rig.client.status(keptName).catch((error: unknown) => (error instanceof UnknownLifecycleError ? undefined : Promise.reject(error)));
        return status?.phase === 'waiting-for-attach' ? status : undefined;
      },
      logs,
    );
    const keptDir = path.join(workDir, 'kept-worker');
    await buildbotCommand(['create-worker', '--quiet', keptDir, `127.0.0.1:${pbPort}`, keptName, BUILDBOT_WORKER_PASSWORD], 'buildbot-worker');
    keptWorker = startDaemon('buildbot-worker', keptDir);
    const build = await eventually<BuildRow>('the build on the kept worker finishing', 120_000, async () => (await readBuilds(masterDir)).find((row) => row.builder === 'kept-worker' && row.complete), logs);
    expect(build).toMatchObject({ worker: keptName, results: 0 });

    // build_wait_timeout=600: the server stays for the next build, its lifecycle serving.
    const serving = await rig.client.waitForPhase(keptName, 'attached', { intervalMs: 100 });
    expect(serving).toMatchObject({ phase: 'attached', serverId: active.serverId, buildsFinished: 1 });
    expect(rig.simulator.servers().map((server) => server.id)).toEqual([active.serverId]);

    // SIGTERM: Buildbot's stopService insubstantiates the worker, whose stop_instance releases the lifecycle.
    await master!.stop(60_000);
    console.log(`master stopped (${await master!.exited})`);
    const result = await rig.client.result(keptName);
    expect(result).toMatchObject({ outcome: 'released', serverId: active.serverId, status: { releaseReason: 'master' } });
    // stop_instance waited for the deletion before the master went away.
    expect(tail(path.join(masterDir, 'twistd.log'), 100)).toContain(`ended released (master); server ${active.serverId} deleted at ${result.status.deletedAt}`);
    await keptWorker.stop();
    expect(rig.simulator.servers()).toEqual([]);
    const deletes = rig.simulator.requests().filter((request) => request.method === 'DELETE');
    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.every((request) => request.path.endsWith(`/servers/${active.serverId}`))).toBe(true);
  });
});
