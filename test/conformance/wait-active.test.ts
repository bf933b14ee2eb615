import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/client/exitCodes.js';
import { OpenStackClient } from '../../src/openstack/index.js';
import { startDevServer, type DevServer } from '../../src/temporal/devServer.js';
import { WorkerProcess } from '../chaos/workerProcess.js';
import { runCli } from '../support/cli.js';
import { openTarget, type Target } from './support/target.js';

// The seed's block_devices example on the test cloud, through the real CLI, a real worker process
// and a real Temporal service. The cloud has no Cinder, so every server goes to ERROR ("Build of
// instance ... aborted: publicURL endpoint for volumev3 service in RegionOne region not found")
// and is relaunched: `substantiate --wait active` must exit non-zero with Nova's fault (it once
// printed `deleting, server ...` and exited 0), and every launched server must be deleted.
// The simulator target's catalog has no volumev3 either, and answers the same (servers.test.ts).
const REAL_FAULT = 'publicURL endpoint for volumev3 service in RegionOne region not found';

let target: Target;
let temporal: DevServer;
let worker: WorkerProcess | undefined;
let cloud: OpenStackClient;
const dir = mkdtempSync(join(tmpdir(), 'latent-conformance-bdm-'));
const name = `bdm-${randomUUID().slice(0, 8)}`;
const taskQueue = `conformance-${name}`;

beforeAll(async () => {
  target = await openTarget();
  temporal = await startDevServer({ startTimeoutMs: 90_000, logFile: join(dir, 'temporal.log') });
  cloud = new OpenStackClient(
    { authUrl: target.authUrl, username: target.demo.username, password: target.demo.password, projectName: target.demo.project, userDomainName: 'Default', projectDomainName: 'Default', regionName: target.region },
    { timeoutMs: 20_000 },
  );
  const [image] = await cloud.image.findImagesByName(target.image);
  // examples/seed-block-devices.yaml, pointed at the test cloud and its demo account.
  const definition = {
    name,
    password: 'sekrit',
    flavor: target.flavor,
    image: image!.id,
    os_username: target.demo.username,
    os_password: target.demo.password,
    os_tenant_name: target.demo.project,
    os_auth_url: target.authUrl,
    region: target.region,
    client_version: '2.52',
    nova_args: { nics: 'none' },
    launch_attempts: 2,
    boot_timeout: 120,
    block_devices: [{ uuid: image!.id, volume_size: 1 }],
  };
  writeFileSync(join(dir, 'latent.config.yaml'), stringify({ workers: [definition], deployment: `conformance-${name}` }));
  worker = await WorkerProcess.start({ configFile: join(dir, 'latent.config.yaml'), temporalAddress: temporal.address, taskQueue, logFile: join(dir, 'worker.log') });
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await temporal?.stop();
  await cloud?.close();
  await target?.close();
});

describe("the seed's block_devices example on a cloud without Cinder", () => {
  it('`substantiate --wait active` exits non-zero with Nova\'s fault, and every launched server is deleted', async () => {
    const result = await runCli(['--config', join(dir, 'latent.config.yaml'), 'substantiate', name, '--wait', 'active'], { TEMPORAL_ADDRESS: temporal.address, LATENT_WORKER_TASK_QUEUE: taskQueue });
    // The report pastes this: what an operator sees.
    console.log(`latent-worker substantiate ${name} --wait active (target ${target.name}): exit ${result.code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`);
    expect(result.code).toBe(EXIT.failure);
    expect(result.stderr).toContain(REAL_FAULT);
    expect(result.stderr).toMatch(/all 2 launch attempts failed/);
    expect(result.stdout).not.toMatch(/waiting-for-attach/);
    const left = (await cloud.compute.listServers({ name: `^${name}-` })).filter((server) => server.status !== 'DELETED');
    expect(left).toEqual([]);
  }, 240_000);
});
