import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentWorkerClient } from '../src/client/api.js';
import { parseConfig } from '../src/config/load.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { projectRoot } from '../src/temporal/paths.js';
import { SEED_WORKER } from './support/lifecycleRig.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from './support/temporal.js';
import { startWorkerCli, type WorkerCli } from './support/workerCli.js';

// The package as a user gets it: `npm pack`, installed into a fresh project of each module
// kind, with a config written in TypeScript (and one in JavaScript) that imports the package,
// as examples/seed-image-function.ts says to. `validate` must pass and the installed worker must
// run a lifecycle on the simulator. The install is offline: the tarball's dependencies come from
// npm's cache (filled by `npm ci` of this checkout), pinned to this checkout's lock file, so the
// test reaches nothing beyond loopback.

const run = promisify(execFile);
const NPM_TIMEOUT_MS = 300_000;
const suffix = randomUUID().slice(0, 6);
const scratch = path.join(projectRoot, '.scratch', `package-install-${suffix}`);
const OLDEST_WORKER_IMAGE = '5b1e6a2e-4c1f-4c47-9d0e-2a7c3f6b9e10';

type Kind = 'commonjs' | 'module';

let tarball: string;
let simulator: Simulator;

async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await run('npm', args, { cwd, timeout: NPM_TIMEOUT_MS, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
    return stdout + stderr;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} in ${cwd} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

/**
 * A project that depends on the tarball, with a lock file that pins every dependency of the
 * package as this checkout's lock does, so `npm ci --offline` resolves them all from the cache.
 */
function writeProject(dir: string, kind: Kind): void {
  mkdirSync(dir, { recursive: true });
  const ours = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(readFileSync(path.join(projectRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const spec = `file:${path.relative(dir, tarball)}`;
  const manifest = { name: `consumer-${kind}`, version: '1.0.0', private: true, ...(kind === 'module' ? { type: 'module' } : {}), dependencies: { 'openstack-latent-worker': spec } };
  const packages: Record<string, unknown> = {
    '': { name: manifest.name, version: manifest.version, dependencies: manifest.dependencies },
    'node_modules/openstack-latent-worker': {
      version: ours.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      license: ours.license,
      dependencies: ours.dependencies,
      bin: ours.bin,
      engines: ours.engines,
    },
  };
  // Production dependencies only, where this checkout's install put them.
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (location === '' || entry.dev === true) continue;
    const { devOptional: _devOptional, ...kept } = entry;
    packages[location] = kept;
  }
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }, null, 2));
}

/** The worker definition every config below describes, pointed at the simulator. */
function definition(name: string) {
  return { ...SEED_WORKER, name, flavor: 1, os_auth_url: simulator.authUrlV3 };
}

/** A TypeScript config as the example writes it, importing the package by name. */
function typescriptConfig(name: string, typeOnly: boolean): string {
  const { image: _image, ...fields } = definition(name);
  const header = typeOnly ? `import type { Image } from 'openstack-latent-worker';` : `import { defineConfig, type Image } from 'openstack-latent-worker';`;
  const wrap = (value: string) => (typeOnly ? value : `defineConfig(${value})`);
  return `${header}

// The seed's find_image: the oldest buildbot-worker image.
function findImage(images: Image[]): Image {
  const candidates = images.filter((image) => image.name.startsWith('buildbot-worker-'));
  candidates.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  return candidates[0]!;
}

export default ${wrap(`{ workers: [{ ...${JSON.stringify(fields)}, image: findImage }] }`)};
`;
}

/** A JavaScript config in the project's own module system. */
function javascriptConfig(name: string, kind: Kind): string {
  const body = `defineConfig({ workers: [${JSON.stringify({ ...definition(name), image: OLDEST_WORKER_IMAGE })}] })`;
  return kind === 'module'
    ? `import { defineConfig } from 'openstack-latent-worker';\nexport default ${body};\n`
    : `const { defineConfig } = require('openstack-latent-worker');\nmodule.exports = ${body};\n`;
}

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  // prepack builds dist/ first.
  await npm(['pack', '--pack-destination', scratch], projectRoot);
  tarball = path.join(scratch, readdirSync(scratch).find((file) => file.endsWith('.tgz'))!);
  simulator = await startSimulator({ bootDelayMs: 500, deleteDelayMs: 100 });
}, NPM_TIMEOUT_MS);

afterAll(async () => {
  await simulator?.close();
  // The installs are large; the configs and worker logs stay for a look after a failure.
  for (const kind of ['commonjs', 'module']) rmSync(path.join(scratch, kind, 'node_modules'), { recursive: true, force: true });
  if (tarball) rmSync(tarball, { force: true });
});

describe('the packed package', () => {
  it('holds the compiled code, its types and the deploy kit, not the tests or sources', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], { timeout: 60_000 });
    const files = stdout.split('\n').filter(Boolean);
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/client/cli.js', 'dist/codec/failureConverter.cjs', 'deploy/systemd/latent-worker.service', 'deploy/prometheus/rules.yml', 'deploy/grafana/latent-worker-dashboard.json', 'docs/operations.md']) {
      expect(files, file).toContain(`package/${file}`);
    }
    expect(files.filter((file) => /^package\/(test|src|scripts|bench|\.ci)\//.test(file))).toEqual([]);
  });

  describe.each<[string, Kind]>([
    ['a CommonJS project (no "type" in package.json)', 'commonjs'],
    ['an ES module project ("type": "module")', 'module'],
  ])('installed into %s', (_title, kind) => {
    const dir = path.join(scratch, kind);
    const cli = path.join(dir, 'node_modules', '.bin', 'latent-worker');
    const names = { ts: `pkg-${kind}-ts-${suffix}`, typeOnly: `pkg-${kind}-type-${suffix}`, js: `pkg-${kind}-js-${suffix}` };
    let worker: WorkerCli | undefined;

    beforeAll(async () => {
      writeProject(dir, kind);
      await npm(['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
      writeFileSync(path.join(dir, 'latent.config.ts'), typescriptConfig(names.ts, false));
      writeFileSync(path.join(dir, 'type-only.config.ts'), typescriptConfig(names.typeOnly, true));
      writeFileSync(path.join(dir, 'latent.config.js'), javascriptConfig(names.js, kind));
    }, NPM_TIMEOUT_MS);

    afterAll(async () => {
      await worker?.process.stop(10_000);
    });

    it.each([
      ['a TypeScript config that calls defineConfig', 'latent.config.ts', 'ts'],
      ['a TypeScript config with a type-only import', 'type-only.config.ts', 'typeOnly'],
      ['a JavaScript config in the project’s module system', 'latent.config.js', 'js'],
    ] as const)('validates %s', async (_what, file, key) => {
      const { stdout, stderr } = await run(cli, ['--config', path.join(dir, file), 'validate'], { cwd: dir, timeout: 60_000 }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`latent-worker validate failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      });
      console.log(`[${kind}] latent-worker --config ${file} validate: ${stdout.trim()}${stderr.trim() ? ` (stderr: ${stderr.trim()})` : ''}`);
      expect(stdout).toContain(`${names[key]}: ok`);
    });

    it('runs a lifecycle on the simulator with the installed worker and the TypeScript config', async () => {
      const taskQueue = uniqueTaskQueue(`package-${kind}`);
      worker = await startWorkerCli({
        configFile: path.join(dir, 'latent.config.ts'),
        temporalAddress: temporalAddress(),
        taskQueue,
        logFile: path.join(scratch, `worker-${kind}.log`),
        cli: [cli],
      });
      // The same definition, for the spec the master sends: its image is the worker's function.
      const spec = parseConfig({ workers: [{ ...definition(names.ts), image: () => undefined }] }, 'package test', {}).workers.get(names.ts)!.specFor();
      const client = new LatentWorkerClient(await connectClient(), taskQueue);
      try {
        simulator.clearRequests();
        await client.substantiate(spec);
        await client.waitForPhase(names.ts, 'waiting-for-attach', { intervalMs: 100 });
        await client.attached(names.ts);
        await client.release(names.ts);
        const result = await client.result(names.ts);
        expect(result.outcome).toBe('released');
        // The config's image function ran in the installed worker: the oldest worker image.
        const create = simulator.requests().find((request) => request.method === 'POST' && request.path.endsWith('/servers'));
        expect((create?.body as { server: { imageRef: string } }).server.imageRef).toBe(OLDEST_WORKER_IMAGE);
        console.log(`[${kind}] lifecycle ${names.ts} on the installed worker: ${result.outcome}, server ${result.serverId}`);
      } finally {
        await client.temporal.connection.close();
      }
    }, 180_000);
  });
});
