import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/temporal/paths.js';
import { WORKER_PROCESS_ENV } from '../src/worker/tuning.js';

// What runs the worker outside a developer's shell: the systemd unit of deploy/systemd (checked
// by systemd's own verifier, offline, as systemd is not PID 1 on CI machines) and the Dockerfile
// (no Docker engine here: its settings are checked against the code that measured them).

const run = promisify(execFile);
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const UNIT_DIR = path.join(projectRoot, 'deploy', 'systemd');
const UNIT = 'latent-worker.service';
const scratch = mkdtempSync(path.join(tmpdir(), 'deploy-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `Key=value` lines of a unit's section, in order (a key may repeat). */
function directives(text: string, section: string): [string, string][] {
  const body = text.split(/^\[/m).find((part) => part.startsWith(`${section}]`)) ?? '';
  return [...body.matchAll(/^(\w+)=(.*)$/gm)].map(([, key, value]) => [key!, value!]);
}

/** `Environment=` assignments of a unit, unquoted. */
function environmentOf(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of directives(text, 'Service')) {
    if (key !== 'Environment') continue;
    const assignment = value.replace(/^"(.*)"$/, '$1');
    const eq = assignment.indexOf('=');
    env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  return env;
}

/**
 * A root directory with the unit and its drop-ins where an operator installs them, systemd's own
 * units (for the targets it depends on), and an executable where ExecStart expects the CLI.
 */
function systemdRoot(name: string, { withExecutable = true } = {}): string {
  const root = path.join(scratch, name);
  const system = path.join(root, 'etc', 'systemd', 'system');
  mkdirSync(system, { recursive: true });
  cpSync(path.join(UNIT_DIR, UNIT), path.join(system, UNIT));
  cpSync(path.join(UNIT_DIR, `${UNIT}.d`), path.join(system, `${UNIT}.d`), { recursive: true });
  cpSync('/usr/lib/systemd/system', path.join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  if (withExecutable) {
    const execStart = directives(readFileSync(path.join(UNIT_DIR, UNIT), 'utf8'), 'Service').find(([key]) => key === 'ExecStart')![1].split(' ')[0]!;
    const executable = path.join(root, execStart);
    mkdirSync(path.dirname(executable), { recursive: true });
    writeFileSync(executable, '#!/bin/sh\nexit 0\n');
    chmodSync(executable, 0o755);
  }
  return root;
}

async function systemdAnalyze(...args: string[]): Promise<{ code: number; output: string }> {
  if (!existsSync(SYSTEMD_ANALYZE)) throw new Error(`${SYSTEMD_ANALYZE} is missing: install Debian's systemd package, as .ci/run does`);
  try {
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, args, { timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('the systemd unit', () => {
  it('passes systemd-analyze verify with its drop-ins, without a single warning', async () => {
    const root = systemdRoot('verify');
    const result = await systemdAnalyze('verify', `--root=${root}`, UNIT);
    console.log(`systemd-analyze verify ${UNIT} (+ ${UNIT}.d/*.conf): exit ${result.code}, output: ${JSON.stringify(result.output)}`);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toBe('');
  });

  it('fails the verification when something is wrong (so the check above can fail)', async () => {
    const missing = await systemdAnalyze('verify', `--root=${systemdRoot('no-executable', { withExecutable: false })}`, UNIT);
    expect(missing.code).not.toBe(0);
    expect(missing.output).toContain('latent-worker');
    const typo = systemdRoot('typo');
    writeFileSync(path.join(typo, 'etc', 'systemd', 'system', `${UNIT}.d`, 'typo.conf'), '[Service]\nProtectSystm=strict\n');
    const typoResult = await systemdAnalyze('verify', `--root=${typo}`, UNIT);
    expect(typoResult.output).toContain("Unknown key 'ProtectSystm'");
  });

  it('is hardened: a dynamic user, a read-only system, secrets as credentials; exposure below 2 of 10', async () => {
    const unit = readFileSync(path.join(UNIT_DIR, UNIT), 'utf8');
    const service = new Map(directives(unit, 'Service'));
    expect(service.get('DynamicUser')).toBe('yes');
    expect(service.get('ProtectSystem')).toBe('strict');
    expect(service.get('NoNewPrivileges')).toBe('yes');
    expect(service.get('CapabilityBoundingSet')).toBe('');
    // V8's JIT needs writable and executable pages: this one would stop node at start.
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
    const credentials = [unit, ...['secure-yaml.conf', 'encryption.conf'].map((file) => readFileSync(path.join(UNIT_DIR, `${UNIT}.d`, file), 'utf8'))]
      .flatMap((text) => directives(text, 'Service'))
      .filter(([key]) => key === 'LoadCredential')
      .map(([, value]) => value.split(':')[0]);
    expect(credentials).toEqual(['clouds.yaml', 'secure.yaml', 'encryption-keys']);
    // Each credential reaches the worker by path, never by value.
    expect(environmentOf(unit).OS_CLIENT_CONFIG_FILE).toBe('%d/clouds.yaml');
    expect(environmentOf(readFileSync(path.join(UNIT_DIR, `${UNIT}.d`, 'encryption.conf'), 'utf8')).LATENT_WORKER_ENCRYPTION_KEYS_FILE).toBe('%d/encryption-keys');
    const security = await systemdAnalyze('security', '--offline=yes', `--root=${systemdRoot('security')}`, '--threshold=20', UNIT);
    const overall = /Overall exposure level for latent-worker\.service: (\S+)/.exec(security.output)?.[1];
    console.log(`systemd-analyze security --offline=yes: overall exposure ${overall}`);
    expect(security.code, security.output).toBe(0);
    expect(Number(overall)).toBeLessThanOrEqual(2);
  });

  it('runs the worker with the memory settings the benchmark measured, and a stop timeout longer than the drain', () => {
    const unit = readFileSync(path.join(UNIT_DIR, UNIT), 'utf8');
    const env = environmentOf(unit);
    expect(env).toMatchObject(WORKER_PROCESS_ENV);
    expect(env.LATENT_WORKER_WORKFLOW_BUNDLE).toBeDefined();
    const service = new Map(directives(unit, 'Service'));
    expect(Number(service.get('TimeoutStopSec'))).toBeGreaterThan(Number(env.LATENT_WORKER_SHUTDOWN_GRACE) + 10);
    expect(service.get('ExecStart')).toMatch(/latent-worker worker$/);
  });
});

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
  /** ENV assignments of the runtime stage, continuation lines joined. */
  const env = Object.fromEntries(
    [...runtime.replace(/\\\n\s*/g, ' ').matchAll(/^ENV (.+)$/gm)].flatMap(([, assignments]) =>
      [...assignments!.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map(([, key, value]) => [key!, value!.replace(/^"(.*)"$/, '$1')]),
    ),
  );

  it('runs the worker with the memory settings the benchmark measured', () => {
    expect(env).toMatchObject(WORKER_PROCESS_ENV);
  });

  it('builds both workflow bundles in the build stage and points the worker at them', () => {
    const build = dockerfile.slice(0, dockerfile.indexOf('AS runtime'));
    const bundled = /^RUN npm run bundle:workflows -- --out-dir (\S+)$/m.exec(build);
    expect(bundled).not.toBeNull();
    expect(env.LATENT_WORKER_WORKFLOW_BUNDLE).toBe(path.posix.join('/app', bundled![1]!));
    expect(bundled![1]!.startsWith('dist/')).toBe(true);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    // The script it runs is in the build context, which otherwise leaves scripts/ out.
    expect(build).toMatch(/^COPY scripts\/bundle-workflows\.ts \.\/scripts\/$/m);
    const ignore = readFileSync(path.join(projectRoot, '.dockerignore'), 'utf8').split('\n');
    expect(ignore.indexOf('!scripts/bundle-workflows.ts')).toBeGreaterThan(ignore.indexOf('scripts'));
  });
});
