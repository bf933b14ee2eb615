import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { EXIT } from '../src/client/exitCodes.js';
import { parseConfig, type LoadedConfig } from '../src/config/load.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { projectRoot } from '../src/temporal/paths.js';
import { deploymentKey, outcomeKey } from '../src/workflows/searchAttributes.js';
import { runCli } from './support/cli.js';
import { requireBuildbot, VENV_PYTHON } from './support/buildbot.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';
import { startTlsFront, type TlsFront } from './support/tlsFront.js';
import { startWorkerCli, type WorkerCli } from './support/workerCli.js';

// Issue 13: a secured Temporal service, as Temporal Cloud or a company cluster is one. Debian's
// nginx in front of the shared dev server: one listener with mutual TLS (ssl_verify_client on),
// one that wants `authorization: Bearer <key>`. The worker, the CLI and the Buildbot adapter
// connect through it with Temporal's own settings (TEMPORAL_* variables and the CLI's flags).

const suffix = randomUUID().slice(0, 6);
const API_KEY = `test-api-key-${randomUUID()}`;
const scratch = path.join(projectRoot, '.scratch', `secured-${suffix}`);
const taskQueue = uniqueTaskQueue('secured');
const names = { mtls: `tls-m-${suffix}`, apiKey: `tls-k-${suffix}`, python: `tls-py-${suffix}`, refused: `tls-no-${suffix}` };

const run = promisify(execFile);

// This checkout's adapter, ahead of the one the venv was installed with.
const ADAPTER = path.join(projectRoot, 'integrations', 'buildbot');

let front: TlsFront;
let simulator: Simulator;
let config: LoadedConfig;
let configFile: string;
let worker: WorkerCli;
let plain: LatentWorkerClient;

/** The variables an operator sets for mutual TLS through the front. */
function mtlsEnv() {
  return {
    TEMPORAL_ADDRESS: front.mtlsAddress,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.certs.caCert,
    TEMPORAL_TLS_SERVER_NAME: front.serverName,
    TEMPORAL_TLS_CLIENT_CERT_PATH: front.certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: front.certs.clientKey,
  };
}

/** The venv's python with this checkout's adapter; how it ended, signal included (a crash must say so). */
async function adapterRun(args: string[], env: Record<string, string>): Promise<{ code: number | string; output: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_')));
  try {
    const { stdout, stderr } = await run(VENV_PYTHON, args, { timeout: 120_000, env: { ...clean, TEMPORAL_CONFIG_FILE: path.join(scratch, 'none.toml'), ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number | string; signal?: string; killed?: boolean; stdout?: string; stderr?: string };
    return { code: failed.signal ? `signal ${failed.signal}${failed.killed ? ' (timed out)' : ''}` : (failed.code ?? 'unknown'), output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** The CLI with only what is given: no TEMPORAL_* from the test's environment. */
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(['--config', configFile, ...args], { TEMPORAL_ADDRESS: undefined, LATENT_WORKER_TASK_QUEUE: taskQueue, NODE_OPTIONS: '--no-deprecation', ...env });

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  front = await startTlsFront({ upstream: temporalAddress(), apiKey: API_KEY, dir: path.join(scratch, 'front') });
  simulator = await startSimulator({ bootDelayMs: 200, deleteDelayMs: 50 });
  const raw = { workers: Object.values(names).map((name) => ({ ...SEED_WORKER, name, os_auth_url: simulator.authUrlV2 })) };
  config = parseConfig(raw, 'secured-temporal test');
  configFile = path.join(scratch, 'latent.config.yaml');
  writeFileSync(configFile, stringify(raw));
  // The worker process itself talks to Temporal over mutual TLS only.
  const { TEMPORAL_ADDRESS, ...tlsOnly } = mtlsEnv();
  worker = await startWorkerCli({ configFile, temporalAddress: TEMPORAL_ADDRESS, taskQueue, logFile: path.join(scratch, 'worker.log'), env: tlsOnly, args: ['--log-format', 'text'] });
  plain = new LatentWorkerClient(await connectClient(), taskQueue);
});

afterAll(async () => {
  await worker?.process.stop(5_000);
  await plain?.temporal.connection.close();
  await front?.stop();
  await simulator?.close();
});

describe('a secured Temporal service behind a TLS front', () => {
  it('runs a whole lifecycle from the worker and the CLI over mutual TLS', async () => {
    const name = names.mtls;
    // The worker says how it connects, without a key or certificate in the words (its logger holds lines back ~100 ms).
    for (let i = 0; i < 100 && !worker.log().includes('polling task queue'); i++) await delay(100);
    expect(worker.log()).toContain(`on ${front.mtlsAddress}, namespace default, mutual TLS, own CA, server name localhost`);
    expect(worker.log()).toMatch(/namespace default and the search attributes .* are in place/);
    const health = (await (await fetch(`${worker.healthUrl}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
    expect(health.checks).toMatchObject({ temporal: { ok: true }, setup: { ok: true }, worker: { ok: true } });

    const started = await cli(['substantiate', name, '--wait', 'active'], mtlsEnv());
    console.log(`over mutual TLS: latent-worker substantiate ${name} --wait active: exit ${started.code}: ${started.stdout.trim()}`);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(EXIT.ok);
    expect(started.stdout).toMatch(new RegExp(`${name}: waiting-for-attach, server ${name}-\\w{8}-1`));
    expect((await cli(['attached', name], mtlsEnv())).code).toBe(EXIT.ok);
    expect((await cli(['release', name], mtlsEnv())).code).toBe(EXIT.ok);
    const done = await cli(['watch', name, '--json'], mtlsEnv());
    console.log(`over mutual TLS: latent-worker watch ${name} --json, last line: ${done.stdout.trim().split('\n').at(-1)}`);
    expect(done.code).toBe(EXIT.ok);
    expect(JSON.parse(done.stdout.trim().split('\n').at(-1)!)).toMatchObject({ phase: 'done', outcome: 'released' });
    // The same lifecycle, seen on the plain dev server behind the front: it is one service.
    expect((await plain.result(name)).outcome).toBe('released');
    expect(simulator.servers().filter((server) => server.name.startsWith(name))).toEqual([]);
    // The attributes `setup` registers beyond the first four: how it ended, and whose it is.
    const { typedSearchAttributes } = await plain.handle(name).describe();
    expect(typedSearchAttributes.get(outcomeKey)).toBe('released');
    expect(typedSearchAttributes.get(deploymentKey)).toBe(config.deployment);
  });

  it('runs a lifecycle from the CLI with an API key, given as the flags of Temporal\'s CLI', async () => {
    const name = names.apiKey;
    const flags = ['--address', front.apiKeyAddress, '--api-key', API_KEY, '--tls-ca-path', front.certs.caCert, '--tls-server-name', front.serverName];
    const started = await cli([...flags, 'substantiate', name, '--wait', 'active', '--json']);
    console.log(`over an API key: latent-worker substantiate ${name} --wait active --json: exit ${started.code}: ${started.stdout.trim()}`);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(EXIT.ok);
    expect(JSON.parse(started.stdout)).toMatchObject({ workerName: name, status: { phase: 'waiting-for-attach' } });
    expect((await cli([...flags, 'release', name])).code).toBe(EXIT.ok);
    // `-o json` is --json, as in Temporal's CLI.
    const done = await cli([...flags, '-o', 'json', 'watch', name]);
    console.log(`over an API key: latent-worker -o json watch ${name}, last line: ${done.stdout.trim().split('\n').at(-1)}`);
    expect(done.code).toBe(EXIT.ok);
    expect(JSON.parse(done.stdout.trim().split('\n').at(-1)!)).toMatchObject({ phase: 'done', outcome: 'released' });
    expect((await plain.result(name)).outcome).toBe('released');
  });

  it('reads a temporal.toml profile, as Temporal\'s CLI does', async () => {
    const toml = path.join(scratch, 'temporal.toml');
    writeFileSync(
      toml,
      [
        '[profile.secured]',
        `address = "${front.apiKeyAddress}"`,
        'namespace = "default"',
        `api_key = "${API_KEY}"`,
        '[profile.secured.tls]',
        `server_ca_cert_path = "${front.certs.caCert}"`,
        `server_name = "${front.serverName}"`,
        '',
      ].join('\n'),
    );
    const status = await cli(['status', names.mtls, '--json'], { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'secured' });
    expect(status.stderr).toBe('');
    expect(status.code).toBe(EXIT.ok);
    expect(JSON.parse(status.stdout)).toMatchObject({ phase: 'done', outcome: 'released' });
    const unknown = await cli(['--profile', 'nope', 'status'], { TEMPORAL_CONFIG_FILE: toml });
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain("Profile 'nope' not found");
  });

  it('connects the Buildbot adapter (Python temporalio, its envconfig) over the API key', async () => {
    await requireBuildbot();
    const name = names.python;
    const spec = config.workers.get(name)!.specFor({});
    const script = `
import asyncio, json, os, sys
from latent_worker_buildbot.lifecycle import LifecycleClient, TemporalSettings
async def main():
    client = LifecycleClient(TemporalSettings(address=sys.argv[1], task_queue=sys.argv[2]))
    lifecycle = await client.start(json.loads(sys.argv[3]), {})
    status = await client.wait_until_active(lifecycle, 60)
    print("phase", status["phase"])
    await client.signal(lifecycle, "release")
asyncio.run(main())
# Done. The SDK's native threads outlive the interpreter's teardown, which under load sometimes
# aborts the process (SIGABRT) after the work above succeeded: leave without that teardown.
sys.stdout.flush()
os._exit(0)
`;
    const result = await adapterRun(['-c', script, front.apiKeyAddress, taskQueue, JSON.stringify(spec)], {
      PYTHONPATH: ADAPTER,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.certs.caCert,
      TEMPORAL_TLS_SERVER_NAME: front.serverName,
    });
    expect(result).toEqual({ code: 0, output: expect.stringContaining('phase waiting-for-attach') });
    expect((await plain.result(name)).outcome).toBe('released');

    const refused = await adapterRun(['-c', script, front.apiKeyAddress, taskQueue, JSON.stringify({ ...spec, name: names.refused })], {
      PYTHONPATH: ADAPTER,
      TEMPORAL_API_KEY: 'not-the-key',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.certs.caCert,
      TEMPORAL_TLS_SERVER_NAME: front.serverName,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('invalid API key');
    expect(refused.output).not.toContain('not-the-key');
    const missingKey = await adapterRun(['-c', script, front.mtlsAddress, taskQueue, JSON.stringify({ ...spec, name: names.refused })], {
      PYTHONPATH: ADAPTER,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.certs.caCert,
      TEMPORAL_TLS_CLIENT_CERT_PATH: front.certs.clientCert,
    });
    expect(missingKey.code).not.toBe(0);
    expect(missingKey.output).toContain('TEMPORAL_TLS_CLIENT_KEY_PATH');
  });

  describe('each wrong setting gives an error that names it, and starts nothing', () => {
    const refused = () => names.refused;
    const cases: { what: string; env: () => Record<string, string>; args?: () => string[]; code: number; kind: string; says: RegExp }[] = [
      {
        what: 'a client certificate from a CA the service does not trust',
        env: () => ({ ...mtlsEnv(), TEMPORAL_TLS_CLIENT_CERT_PATH: front.certs.otherClientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: front.certs.otherClientKey }),
        code: EXIT.failure,
        kind: 'tls',
        says: /client certificate refused.*TEMPORAL_TLS_CLIENT_CERT_PATH/,
      },
      {
        what: 'a client certificate without its key',
        env: () => {
          const { TEMPORAL_TLS_CLIENT_KEY_PATH: _key, ...rest } = mtlsEnv();
          return rest;
        },
        code: EXIT.usage,
        kind: 'connection-setting',
        says: /client certificate .*TEMPORAL_TLS_CLIENT_CERT_PATH.* is set but the client private key .*TEMPORAL_TLS_CLIENT_KEY_PATH.* is not/,
      },
      {
        what: 'a key file that does not exist',
        env: () => ({ ...mtlsEnv(), TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(scratch, 'no-such.key') }),
        code: EXIT.usage,
        kind: 'connection-setting',
        says: /client private key \(TEMPORAL_TLS_CLIENT_KEY_PATH.*cannot read .*no-such\.key: no such file/,
      },
      {
        what: 'a wrong API key',
        env: () => ({ TEMPORAL_ADDRESS: front.apiKeyAddress, TEMPORAL_API_KEY: 'wrong-key-123', TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.certs.caCert, TEMPORAL_TLS_SERVER_NAME: 'localhost' }),
        code: EXIT.failure,
        kind: 'unauthenticated',
        says: /invalid API key.*TEMPORAL_API_KEY/,
      },
      {
        what: 'a server CA that did not sign the service\'s certificate',
        env: () => ({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.certs.otherCaCert }),
        code: EXIT.failure,
        kind: 'tls',
        says: /TLS handshake .* failed: .*check the server CA certificate \(TEMPORAL_TLS_SERVER_CA_CERT_PATH, --tls-ca-path\)/,
      },
      {
        what: 'a server name that is not in the service\'s certificate',
        env: () => ({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_NAME: 'temporal.example' }),
        code: EXIT.failure,
        kind: 'tls',
        says: /TLS handshake .* failed: .*temporal\.example.*check the server name \(TEMPORAL_TLS_SERVER_NAME/,
      },
      {
        what: 'no TLS towards a service that wants it',
        env: () => ({ TEMPORAL_ADDRESS: front.apiKeyAddress }),
        code: EXIT.failure,
        kind: 'tls',
        says: /speaks TLS and this connection does not: set TEMPORAL_TLS=true or --tls/,
      },
    ];
    for (const c of cases) {
      it(c.what, async () => {
        const text = await cli([...(c.args?.() ?? []), 'substantiate', refused()], c.env());
        console.log(`${c.what}: exit ${text.code}: ${text.stderr.trim()}`);
        expect(text.code).toBe(c.code);
        expect(text.stderr).toMatch(c.says);
        const json = await cli([...(c.args?.() ?? []), 'substantiate', refused(), '--json'], c.env());
        expect(json.stdout).toBe('');
        const { error } = JSON.parse(json.stderr) as { error: { kind: string; message: string; cause: string; exitCode: number } };
        expect(error).toMatchObject({ kind: c.kind, exitCode: c.code });
        expect(error.message).toMatch(c.says);
        // No secret in any of it.
        for (const secret of [API_KEY, readFileSync(front.certs.clientKey, 'utf8').split('\n')[1]!]) expect(text.stderr + json.stderr).not.toContain(secret);
        await expect(plain.status(refused())).rejects.toThrow(/no lifecycle/);
      });
    }

    it('the worker refuses to start with a wrong CA, naming the setting', async () => {
      const { TEMPORAL_ADDRESS, ...env } = { ...mtlsEnv(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.certs.otherCaCert };
      await expect(startWorkerCli({ configFile, temporalAddress: TEMPORAL_ADDRESS, taskQueue: uniqueTaskQueue('secured-refused'), logFile: path.join(scratch, 'worker-wrong-ca.log'), env, readyTimeoutMs: 60_000 })).rejects.toThrow(
        /exited.*TLS handshake .* failed: .*TEMPORAL_TLS_SERVER_CA_CERT_PATH/s,
      );
    });
  });

  it('never writes the API key or a private key to the worker\'s log', () => {
    const log = worker.log();
    expect(log).not.toContain(API_KEY);
    expect(log).not.toContain(readFileSync(front.certs.clientKey, 'utf8').split('\n')[1]!);
  });
});
