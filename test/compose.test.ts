import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TASK_QUEUE } from '../src/contract/names.js';
import { loadConfigFile } from '../src/config/load.js';
import { parseWorkerOps } from '../src/config/workerOps.js';
import { resolveTemporalCli } from '../src/temporal/binaries.js';
import { cliTypeNames } from '../src/temporal/devServer.js';
import { projectRoot } from '../src/temporal/paths.js';
import { searchAttributeKeys } from '../src/workflows/searchAttributes.js';

const run = promisify(execFile);
// No Docker engine runs here: Debian's docker-compose (v1) still parses, interpolates and
// validates the file, which is what a typo or a drifted name would break.
const COMPOSE = 'docker-compose';
const COMMAND_TIMEOUT_MS = 60_000;
// docker-compose prints absolute paths without the trailing slash that projectRoot carries.
const ROOT = path.resolve(projectRoot);

interface Service {
  image?: string;
  build?: { context: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  init?: boolean;
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** `docker-compose config` with only the given variables, so the developer's shell cannot leak in. */
async function composeConfig(variables: Record<string, string> = {}): Promise<ComposeFile> {
  const { stdout } = await run(COMPOSE, ['--project-directory', ROOT, '-f', path.join(ROOT, 'docker-compose.yml'), 'config'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...variables },
    timeout: COMMAND_TIMEOUT_MS,
  });
  return parseYaml(stdout) as ComposeFile;
}

/** `--name X --type Y` pairs of the search-attribute registration, in order. */
function registeredSearchAttributes(script: string): { name: string; type: string }[] {
  const registration = script.slice(script.indexOf('search-attribute create'));
  return [...registration.matchAll(/--name\s+(\S+)\s+--type\s+(\S+)/g)].map(([, name, type]) => ({ name: name!, type: type! }));
}

let loaded: Promise<ComposeFile> | undefined;

/** The file as docker-compose reads it; every test that needs it fails (not skips) without docker-compose. */
function loadCompose(): Promise<ComposeFile> {
  loaded ??= (async () => {
    try {
      await run(COMPOSE, ['version'], { timeout: COMMAND_TIMEOUT_MS });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`${COMPOSE} is not installed: install Debian's package with \`apt-get install docker-compose\` (.ci/run does)`);
      }
      throw error;
    }
    return composeConfig();
  })();
  return loaded;
}

let compose: ComposeFile;

describe('docker-compose.yml', () => {
  beforeEach(async () => {
    compose = await loadCompose();
  });

  it('is a valid compose file with PostgreSQL, the Temporal server and its setup, the Web UI and the worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
    expect(compose.services.postgresql!.image).toMatch(/^postgres:\d+/);
    expect(compose.services.postgresql!.volumes).toContain('postgresql-data:/var/lib/postgresql/data:rw');
    expect(Object.keys(compose.volumes ?? {})).toEqual(['postgresql-data']);
    expect(compose.services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', BIND_ON_IP: '0.0.0.0' });
    expect(compose.services['temporal-ui']!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_CODEC_ENDPOINT: '' });
    // Nothing is published beyond this host unless the operator says so.
    expect(compose.services.temporal!.ports).toEqual(['127.0.0.1:7233:7233/tcp']);
    expect(compose.services['temporal-ui']!.ports).toEqual(['127.0.0.1:8080:8080/tcp']);
  });

  it('pins the Temporal server and Web UI that the tests run (the temporal CLI of src/temporal/binaries.ts)', async () => {
    const { stdout } = await run(await resolveTemporalCli(), ['--version'], { timeout: COMMAND_TIMEOUT_MS });
    const [, server, ui] = /Server (\S+), UI ([^\s)]+)/.exec(stdout) ?? [];
    expect(server, stdout).toBeDefined();
    expect(compose.services.temporal!.image).toBe(`temporalio/server:${server}`);
    expect(compose.services['temporal-schema']!.image).toBe(`temporalio/admin-tools:${server}`);
    expect(compose.services['temporal-setup']!.image).toBe(`temporalio/admin-tools:${server}`);
    expect(compose.services['temporal-ui']!.image).toBe(`temporalio/ui:${ui}`);
  });

  it('starts each service once what it needs is healthy or done', () => {
    const dependsOn = Object.fromEntries(Object.entries(compose.services).map(([name, service]) => [name, service.depends_on ?? {}]));
    expect(dependsOn).toEqual({
      postgresql: {},
      'temporal-schema': { postgresql: { condition: 'service_healthy' } },
      temporal: { 'temporal-schema': { condition: 'service_completed_successfully' } },
      'temporal-setup': { temporal: { condition: 'service_healthy' } },
      'temporal-ui': { 'temporal-setup': { condition: 'service_completed_successfully' } },
      worker: { 'temporal-setup': { condition: 'service_completed_successfully' } },
    });
    for (const name of ['postgresql', 'temporal', 'temporal-ui']) expect(compose.services[name]!.healthcheck?.test.length, name).toBeGreaterThan(1);
  });

  it('registers exactly the search attributes the workflows write, with their types', () => {
    const script = compose.services['temporal-setup']!.command!.join('\n');
    expect(registeredSearchAttributes(script)).toEqual(searchAttributeKeys.map((key) => ({ name: key.name, type: cliTypeNames[key.type] })));
  });

  it('runs the worker from the Dockerfile, configured by environment, the mounted config and clouds.yaml', () => {
    const worker = compose.services.worker!;
    expect(worker.build?.context).toBe(ROOT);
    expect(worker.command).toEqual(['worker']);
    expect(worker.init).toBe(true);
    expect(worker.environment).toEqual({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'default',
      LATENT_WORKER_TASK_QUEUE: DEFAULT_TASK_QUEUE,
      LATENT_WORKER_CONFIG: '/etc/latent-worker/latent.config.yaml',
      OS_CLIENT_CONFIG_FILE: '/etc/openstack/clouds.yaml',
      OS_CLOUD: '',
      LATENT_WORKER_DEPLOYMENT: '',
      LATENT_WORKER_SMTP_PASSWORD: '',
      LATENT_WORKER_WEBHOOK_URL: '',
      LATENT_WORKER_ENCRYPTION_KEYS: '',
      LATENT_WORKER_METRICS_ADDRESS: '0.0.0.0:9464',
      LATENT_WORKER_HEALTH_ADDRESS: '0.0.0.0:8081',
      LATENT_WORKER_LOG_FORMAT: 'json',
      LATENT_WORKER_SHUTDOWN_GRACE: '45',
    });
    // What the worker makes of those variables is what the port and the healthcheck expect.
    const ops = parseWorkerOps({}, worker.environment, false);
    expect(worker.ports).toEqual([`127.0.0.1:9464:${ops.metrics!.port}/tcp`]);
    expect(worker.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${ops.health!.port}/readyz`);
    expect(ops.shutdownGraceSeconds).toBe(45);
    expect(worker.volumes).toEqual([
      `${path.join(ROOT, 'deploy', 'latent.config.yaml')}:/etc/latent-worker/latent.config.yaml:ro`,
      `${path.join(ROOT, 'deploy', 'openstack')}:/etc/openstack:ro`,
    ]);
  });

  it('takes its settings from the environment', async () => {
    const custom = await composeConfig({
      TEMPORAL_NAMESPACE: 'ci',
      LATENT_WORKER_TASK_QUEUE: 'ci-queue',
      OS_CLOUD: 'ci',
      LATENT_WORKER_CONFIG_FILE: '/srv/latent/latent.config.yaml',
      OPENSTACK_CONFIG_DIR: '/srv/openstack',
      POSTGRES_PASSWORD: 'pg-secret',
      TEMPORAL_BIND: '0.0.0.0',
      TEMPORAL_UI_PORT: '8088',
      TEMPORAL_CODEC_ENDPOINT: 'https://codec.example.org',
      LATENT_WORKER_SHUTDOWN_GRACE: '20',
      LATENT_WORKER_METRICS_PORT: '9500',
    });
    expect(custom.services.worker!.environment).toMatchObject({ LATENT_WORKER_SHUTDOWN_GRACE: '20' });
    expect(custom.services.worker!.ports).toEqual(['127.0.0.1:9500:9464/tcp']);
    expect(custom.services.worker!.environment).toMatchObject({ TEMPORAL_NAMESPACE: 'ci', LATENT_WORKER_TASK_QUEUE: 'ci-queue', OS_CLOUD: 'ci' });
    expect(custom.services.worker!.volumes).toEqual(['/srv/latent/latent.config.yaml:/etc/latent-worker/latent.config.yaml:ro', '/srv/openstack:/etc/openstack:ro']);
    expect(custom.services['temporal-setup']!.environment).toMatchObject({ TEMPORAL_NAMESPACE: 'ci' });
    expect(custom.services['temporal-ui']!.environment).toMatchObject({ TEMPORAL_DEFAULT_NAMESPACE: 'ci', TEMPORAL_CODEC_ENDPOINT: 'https://codec.example.org' });
    expect(custom.services.postgresql!.environment).toMatchObject({ POSTGRES_PASSWORD: 'pg-secret' });
    expect(custom.services.temporal!.environment).toMatchObject({ POSTGRES_PWD: 'pg-secret' });
    expect(custom.services['temporal-schema']!.environment).toMatchObject({ SQL_PASSWORD: 'pg-secret' });
    expect(custom.services.temporal!.ports).toEqual(['0.0.0.0:7233:7233/tcp']);
    expect(custom.services['temporal-ui']!.ports).toEqual(['127.0.0.1:8088:8080/tcp']);
  });

  it('mounts files that the repository ships (only deploy/openstack is the operator’s)', () => {
    const sources = Object.values(compose.services)
      .flatMap((service) => service.volumes ?? [])
      .map((volume) => volume.split(':')[0]!)
      .filter((source) => path.isAbsolute(source) && source !== path.join(ROOT, 'deploy', 'openstack'));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(source), source).toBe(true);
  });
});

describe('the files docker-compose.yml uses', () => {
  it('example deploy config loads with the config loader, credentials from the example clouds.yaml', async () => {
    const config = await loadConfigFile(path.join(ROOT, 'deploy', 'latent.config.yaml'), {
      OS_CLIENT_CONFIG_FILE: path.join(ROOT, 'deploy', 'clouds.yaml.example'),
      LATENT_WORKER_SMTP_PASSWORD: 'from-the-environment',
    });
    expect([...config.workers.keys()]).toEqual(['linux-1', 'linux-big-1']);
    expect(config.deployment).toBe('ci-prod');
    expect(config.notify.smtp).toMatchObject({ host: 'mail.example.org', password: 'from-the-environment' });
    for (const worker of config.workers.values()) {
      expect(worker.definition.cloud).toBe('ci');
      expect(worker.specFor().cloud).toBe('https://keystone.example.org:5000/v3#application-credential:0123456789abcdef0123456789abcdef');
    }
  });

  it('Dockerfile builds with npm ci in one stage and runs the CLI as a non-root user on production dependencies', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)$/gm)].map(([, stage]) => stage);
    expect(stages).toEqual(['build', 'runtime']);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(dockerfile.slice(0, dockerfile.indexOf('AS runtime'))).toMatch(/RUN npm ci .*\nCOPY [\s\S]*RUN npm run build/);
    expect(runtime).toMatch(/^RUN npm ci --omit=dev /m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^USER (?!root\b|0\b)\S+$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "dist\/client\/cli\.js"\]$/m);
    expect(runtime).toMatch(/^CMD \["worker"\]$/m);
  });
});
