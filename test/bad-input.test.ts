import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/client/exitCodes.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { startLifecycleRig, SEED_WORKER, type LifecycleRig } from './support/lifecycleRig.js';
import { AUDITED_SECRETS, WRONG_PASSWORD } from './support/secrets.js';
import { runCli } from './support/cli.js';
import { temporalAddress } from './support/temporal.js';
import { freePort } from '../src/temporal/ports.js';

// Malformed configs and command lines, each through the real CLI in a child process: every one
// gets a message that names the field or the problem, a non-zero exit code, and nothing is
// created in the cloud. Static problems are refused when the config loads (exit 2, before
// Temporal or the cloud is contacted); runtime ones are found by `validate --connect`, or end
// the lifecycle before a server is created (exit 1).

const IMAGE = SEED_WORKER.image;

let rig: LifecycleRig;
/** A cloud that accepts connections and never answers Keystone. */
let silent: Simulator;
let directory: string;
let configPath: string;
let closedPort: number;
let tried = 0;

beforeAll(async () => {
  rig = await startLifecycleRig([
    { name: 'good' },
    { name: 'wrong-password', os_password: WRONG_PASSWORD },
    { name: 'too-new', client_version: '2.999' },
    { name: 'needs-flavor', flavor: '%(prop:flavor)s' },
    { name: 'unknown-flavor', flavor: 'm9.colossal' },
    { name: 'unknown-image', image: '00000000-0000-4000-8000-000000000000' },
  ]);
  silent = await startSimulator();
  silent.faults.inject({ kind: 'hang', route: 'keystone.*' });
  closedPort = await freePort();
  directory = mkdtempSync(join(tmpdir(), 'latent-bad-input-'));
  const workers = [...rig.config.workers.values()].map(({ definition }) => ({ ...SEED_WORKER, ...definition, os_auth_url: rig.simulator.authUrlV2 }));
  const good = workers[0]!;
  workers.push({ ...good, name: 'unreachable', os_auth_url: `http://127.0.0.1:${closedPort}/identity/v2.0` });
  workers.push({ ...good, name: 'silent-cloud', os_auth_url: silent.authUrlV2 });
  configPath = writeConfig('runtime', { workers });
});

afterAll(async () => {
  console.log(`bad-input: ${tried} bad inputs tried through the CLI, each refused with a named problem and a non-zero exit, no server created`);
  // Whatever any case did, no server was asked for.
  if (rig) expect(rig.simulator.requests().filter((request) => request.method === 'POST' && request.path.endsWith('/servers'))).toEqual([]);
  silent?.faults.clear();
  await silent?.close();
  await rig?.stop();
});

function writeConfig(name: string, content: unknown): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}


/** The real CLI with the test's Temporal service and task queue. */
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: rig.client.taskQueue, ...env });

const base = { name: 'bad', ...SEED_WORKER, os_auth_url: 'http://127.0.0.1:9/identity/v2.0' };
const { flavor: _flavor, ...withoutFlavor } = base;
const { image: _image, ...withoutImage } = base;
const { os_password: _password, ...withoutPassword } = base;

/** Definitions refused when the config loads: `substantiate` exits 2 before it contacts anything. */
const BAD_CONFIGS: [string, unknown, string][] = [
  ['a missing flavor', { workers: [withoutFlavor] }, 'worker "bad": flavor: required: a flavor id or name'],
  ['neither image nor block_devices', { workers: [withoutImage] }, 'worker "bad": image: give image, block_devices, or both'],
  ['a block device uuid that is not one', { workers: [{ ...base, block_devices: [{ uuid: 'debian-12', volume_size: 10 }] }] }, 'worker "bad": block_devices.0.uuid: must be the UUID of the image, snapshot or volume'],
  ['a nics net-id that is not a uuid', { workers: [{ ...base, nova_args: { nics: [{ 'net-id': 'private' }] } }] }, 'worker "bad": nova_args.nics.0.net-id: must be the UUID of the network'],
  ['a nic with both net-id and port-id', { workers: [{ ...base, nova_args: { nics: [{ 'net-id': IMAGE, 'port-id': IMAGE }] } }] }, 'each nic needs exactly one of net-id, net-name or port-id'],
  ['a negative missing_timeout', { workers: [{ ...base, missing_timeout: -5 }] }, 'worker "bad": missing_timeout: must be between 1 and 604800 seconds (7 days)'],
  ['a zero boot_timeout', { workers: [{ ...base, boot_timeout: 0 }] }, 'worker "bad": boot_timeout: must be between 1 and 21600 seconds (6 hours)'],
  // Each of these passed a bare "positive number" check, and then broke the workflow task that made it a timer or a deadline.
  ['a missing_timeout of a million years', { workers: [{ ...base, missing_timeout: 3.2e13 }] }, 'worker "bad": missing_timeout: must be between 1 and 604800 seconds (7 days)'],
  ['a boot_timeout past any date', { workers: [{ ...base, boot_timeout: 1e15 }] }, 'worker "bad": boot_timeout: must be between 1 and 21600 seconds (6 hours)'],
  ['a build_wait_timeout of a century', { workers: [{ ...base, build_wait_timeout: 3.2e9 }] }, 'worker "bad": build_wait_timeout: must be negative (never), 0 (after each build) or at most 2592000 seconds (30 days)'],
  ['a reaper interval of a year', { workers: [base], reaper: { intervalSeconds: 31_536_000 } }, 'reaper.intervalSeconds: must be between 1 and 86400 seconds (1 day)'],
  ['a missing_timeout with a unit', { workers: [{ ...base, missing_timeout: '20m' }] }, 'worker "bad": missing_timeout: missing_timeout must be a number of seconds'],
  ['a negative volume_size', { workers: [{ ...base, block_devices: [{ uuid: IMAGE, volume_size: -3 }] }] }, 'worker "bad": block_devices.0.volume_size: must be a whole number of GiB above 0'],
  ['zero launch_attempts', { workers: [{ ...base, launch_attempts: 0 }] }, 'worker "bad": launch_attempts: must be at least 1'],
  ['an unknown top-level key', { workers: [base], wrokers: [] }, '  - wrokers: unknown key (check the spelling against the README)'],
  ['an unknown key in a worker', { workers: [{ ...base, flavour: 2 }] }, 'worker "bad": flavour: unknown key'],
  ['an unknown key in os_auth_args', { workers: [{ ...base, os_auth_args: { pasword: 'x' } }] }, 'worker "bad": os_auth_args.pasword: unknown key'],
  ['a flavor of the wrong type', { workers: [{ ...base, flavor: true }] }, 'worker "bad": flavor: must be a flavor id or name (text, or a whole number)'],
  ['a meta value of the wrong type', { workers: [{ ...base, meta: { owner: 42 } }] }, 'worker "bad": meta.owner: must be text, not a number'],
  ['launch_attempts as text', { workers: [{ ...base, launch_attempts: 'three' }] }, 'worker "bad": launch_attempts: must be a number, not text'],
  ['workers as a mapping', { workers: { bad: base } }, '  - workers: must be a list of worker definitions'],
  ['a file that is not a mapping', '- just\n- a list\n', '(top level): the file must hold a mapping with a "workers:" list'],
  ['a file that is not YAML', 'workers: [\n  name: "unclosed\n', 'not valid YAML'],
  ['no workers', { workers: [] }, '  - workers: define at least one worker'],
  ['a worker defined twice', { workers: [base, base] }, 'worker "bad" is defined twice'],
  ['a name unfit for a server', { workers: [{ ...base, name: 'bot 2' }] }, 'worker "bot 2": name: must be 1-63 letters'],
  ['a client_version that is no version', { workers: [{ ...base, client_version: '3' }] }, 'worker "bad": client_version: must be "1.1" (deprecated), "2" or "2.N"'],
  ['an auth URL that is no URL', { workers: [{ ...base, os_auth_url: 'keystone:5000' }] }, 'worker "bad": os_auth_url: must be an http(s) URL'],
  ['an auth URL that carries a password', { workers: [{ ...base, os_auth_url: `http://admin:${WRONG_PASSWORD}@127.0.0.1:9/v3` }] }, 'authUrl http://127.0.0.1:9/v3 carries a user name or password'],
  ['no password anywhere', { workers: [withoutPassword] }, 'worker "bad": no OpenStack credentials for os_password (or OS_PASSWORD)'],
  ['two kinds of credentials', { workers: [{ ...base, os_auth_args: { application_credential_id: 'x', application_credential_secret: 'y' } }] }, 'are different kinds of credentials; set auth_type'],
  ['a bad notify_on_missing address', { workers: [{ ...base, notify_on_missing: 'ops' }] }, 'worker "bad": notify_on_missing'],
];

describe('bad worker definitions', () => {
  it.concurrent.each(BAD_CONFIGS)('refuses %s: exit 2, the field named, nothing started', async (what, content, expected) => {
    tried += 1;
    const path = writeConfig(what.replace(/\W+/g, '-'), content);
    const result = await cli(['--config', path, 'substantiate', 'bad', '--wait', 'done']);
    expect(result.stderr).toContain(expected);
    expect(result.code).toBe(EXIT.usage);
    expect(result.stdout).toBe('');
  });
});

/** Command lines that cannot work: refused before a lifecycle starts. */
const BAD_CALLS: [string, () => string[], string, Record<string, string>?][] = [
  ['an unknown worker name', () => ['--config', configPath, 'substantiate', 'no-such-worker'], 'unknown worker "no-such-worker"'],
  ['a --property without "="', () => ['--config', configPath, 'substantiate', rig.nameOf('good'), '--property', 'branch'], '--property must look like key=value, got "branch"'],
  ['a build property the definition needs but the call did not give', () => ['--config', configPath, 'substantiate', rig.nameOf('needs-flavor')], 'flavor: uses build property "flavor", which this substantiation did not give'],
  ['an unknown --wait target', () => ['--config', configPath, 'substantiate', rig.nameOf('good'), '--wait', 'forever'], "argument 'forever' is invalid"],
  ['an unknown option', () => ['--config', configPath, 'substantiate', rig.nameOf('good'), '--flavour', '2'], "unknown option '--flavour'"],
  ['a config file that does not exist', () => ['--config', join(directory, 'nowhere.yaml'), 'substantiate', 'bot2'], 'nowhere.yaml does not exist'],
  ['an unknown worker name to validate', () => ['--config', configPath, 'validate', 'no-such-worker'], 'unknown worker "no-such-worker"'],
  ['a malformed encryption key', () => ['--config', configPath, 'substantiate', rig.nameOf('good')], 'LATENT_WORKER_ENCRYPTION_KEY is not base64', { LATENT_WORKER_ENCRYPTION_KEY: 'sh0rt!' }],
  ['a --timeout of zero', () => ['--config', configPath, 'validate', '--connect', '--timeout', '0'], '--timeout must be a positive number of seconds'],
];

describe('bad command lines', () => {
  it.concurrent.each(BAD_CALLS)('refuses %s: exit 2, nothing started', async (_what, args, expected, env) => {
    tried += 1;
    const result = await cli(args(), env);
    expect(result.stderr).toContain(expected);
    expect(result.code).toBe(EXIT.usage);
    expect(result.stdout).not.toContain('lifecycle latent-worker:');
  });
});

/** Definitions that load but cannot work against their cloud: `validate --connect` says which and why. */
const BAD_CLOUDS: [string, string, RegExp][] = [
  ['a wrong password', 'wrong-password', /^wrong-password-\w+: FAILED: authentication failed \(check the worker's OpenStack credentials\): identity authenticate failed: 401 Unauthorized/m],
  ['an unreachable auth URL', 'unreachable', /^unreachable: FAILED: cannot reach the cloud at http:\/\/127\.0\.0\.1:\d+\/identity\/v2\.0: .*ECONNREFUSED/m],
  ['a cloud that never answers', 'silent-cloud', /^silent-cloud: FAILED: cannot reach the cloud at .*: identity authenticate failed: no complete answer within 1000 ms/m],
  ['a client_version newer than the cloud', 'too-new', /^too-new-\w+: FAILED: compute negotiateMicroversion failed: compute microversion 2\.999 is not offered by this cloud, which serves 2\.1 to 2\.\d+/m],
  ['a flavor the cloud does not have', 'unknown-flavor', /^unknown-flavor-\w+: FAILED: compute getFlavor failed: no flavor has the id or name 'm9\.colossal'/m],
  ['an image the cloud does not have', 'unknown-image', /^unknown-image-\w+: FAILED: image 00000000-0000-4000-8000-000000000000 does not exist or is not visible to this project/m],
];

describe('definitions their cloud refuses', () => {
  it.concurrent.each(BAD_CLOUDS)('validate --connect reports %s: exit 1, one line per worker', async (_what, worker, expected) => {
    tried += 1;
    const name = ['unreachable', 'silent-cloud'].includes(worker) ? worker : rig.nameOf(worker);
    const result = await cli(['--config', configPath, 'validate', '--connect', '--timeout', '1', name, rig.nameOf('good')]);
    expect(result.stdout).toMatch(expected);
    expect(result.stdout).toMatch(new RegExp(`^${rig.nameOf('good')}: ok: cloud .*#tenant \\(project \\w+\\), compute 2\\.1, flavor 1 \\(m1\\.tiny\\), image ${IMAGE} \\(buildbot-worker-bookworm\\)$`, 'm'));
    expect(result.code).toBe(EXIT.failure);
  });

  it('validate without --connect checks only the definitions, and says so', async () => {
    const result = await cli(['--config', configPath, 'validate']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain(`${rig.nameOf('wrong-password')}: ok: cloud ${rig.simulator.authUrlV2}#tenant, flavor 1, image ${IMAGE} (not checked against the cloud: use --connect)`);
  });

  it('a lifecycle with a wrong password fails at authentication, says so, and creates nothing', async () => {
    tried += 1;
    const name = rig.nameOf('wrong-password');
    const result = await cli(['--config', configPath, 'substantiate', name, '--wait', 'done']);
    expect(result.code).toBe(EXIT.failure);
    expect(result.stderr).toMatch(/^latent-worker: the lifecycle failed: authentication failed \(check the worker's OpenStack credentials\): identity authenticate failed: 401 Unauthorized: /m);
    const status = await rig.client.status(name);
    expect(status).toMatchObject({ outcome: 'failed', phase: 'done' });
    // It ended at authentication: no launch was attempted.
    expect(status.launches).toBeUndefined();
    expect(status.serverId).toBeUndefined();
  });

  it('a lifecycle whose client_version is too new fails before it creates anything', async () => {
    tried += 1;
    const result = await cli(['--config', configPath, 'substantiate', rig.nameOf('too-new'), '--wait', 'done']);
    expect(result.code).toBe(EXIT.failure);
    expect(result.stderr).toContain('the lifecycle failed: compute negotiateMicroversion failed: compute microversion 2.999 is not offered by this cloud');
  });

  it('never repeats a secret on the terminal', async () => {
    const result = await cli(['--config', configPath, 'validate', '--connect', '--json', '--timeout', '1']);
    const reports = JSON.parse(result.stdout) as { worker: string; ok: boolean; summary: string }[];
    expect(reports.filter((report) => !report.ok).map((report) => report.worker.replace(/-\w{6}$/, '')).sort()).toEqual(
      ['needs-flavor', 'silent-cloud', 'too-new', 'unknown-flavor', 'unknown-image', 'unreachable', 'wrong-password'].sort(),
    );
    // A definition that needs a build property is a usage problem: exit 2 beats the cloud's 1.
    expect(reports.find((report) => report.worker === rig.nameOf('needs-flavor'))?.summary).toContain('uses build property "flavor"');
    expect(result.code).toBe(EXIT.usage);
    for (const secret of AUDITED_SECRETS.filter((candidate) => candidate.match !== 'whole-value')) {
      expect(result.stdout + result.stderr).not.toContain(secret.value);
    }
  });
});
