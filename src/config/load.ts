import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { CloudCredentials } from '../openstack/index.js';
import type { WorkerSpec } from '../workflows/types.js';
import { ConfigError, cloudLabel, resolveCredentials } from './credentials.js';
import { resolveNotifySettings, type NotifySettings } from './notify.js';
import { renderProperties } from './render.js';
import { shareThisPackageWithConfigCode } from './selfImport.js';
import { configFileSchema, deploymentSchema, workerDefinitionSchema, type DeleteSettings, type ReaperSettings, type WorkerDefinition } from './schema.js';
import type { ImageFunction } from './serverOptions.js';
import { checkCloudNames, limitsFor, type CloudLimits, type CloudNames } from './limits.js';

export { ConfigError } from './credentials.js';

export const CONFIG_FILE_NAMES = [
  'latent.config.yaml',
  'latent.config.yml',
  'latent.config.json',
  'latent.config.ts',
  'latent.config.mjs',
  'latent.config.js',
];

export interface ResolvedWorker {
  definition: WorkerDefinition;
  credentials: CloudCredentials;
  /** Set when `image` is a function: the worker process calls it, workflows only know it exists. */
  imageFunction?: ImageFunction;
  /** How gently this worker's cloud is treated; the same for every worker of that cloud. */
  limits: CloudLimits;
  /** The workflow input for one substantiation: the definition rendered with its build properties. */
  specFor(properties?: Record<string, string>): WorkerSpec;
}

export interface LoadedConfig {
  /** Where the definitions came from, for messages. */
  source: string;
  workers: ReadonlyMap<string, ResolvedWorker>;
  /** Where missing-worker reports go besides the log. */
  notify: NotifySettings;
  /** Written on every server this installation creates; its reaper looks at no other servers. */
  deployment: string;
  reaper: ReaperSettings;
  deletes: DeleteSettings;
}

type Env = Record<string, string | undefined>;

/** Finds the config file: an explicit path, then LATENT_WORKER_CONFIG, then latent.config.* in cwd. */
export function findConfigFile(explicit: string | undefined, env: Env = process.env, cwd = process.cwd()): string {
  const chosen = explicit ?? env.LATENT_WORKER_CONFIG;
  if (chosen) {
    const path = resolve(cwd, chosen);
    if (!existsSync(path)) throw new ConfigError(`config file ${path} does not exist`);
    return path;
  }
  const found = CONFIG_FILE_NAMES.map((name) => resolve(cwd, name)).find((path) => existsSync(path));
  if (!found) {
    throw new ConfigError(`no config file: pass --config FILE, set LATENT_WORKER_CONFIG, or create one of ${CONFIG_FILE_NAMES.join(', ')} in ${cwd}`);
  }
  return found;
}

export async function loadConfigFile(path: string, env: Env = process.env): Promise<LoadedConfig> {
  return parseConfig(await readConfigFile(path), path, env);
}

async function readConfigFile(path: string): Promise<unknown> {
  if (/\.(mjs|js|ts)$/.test(path)) {
    await shareThisPackageWithConfigCode();
    // TypeScript configs hold image functions written like the seed's find_image example.
    const module = (path.endsWith('.ts') ? await tsImport(pathToFileURL(path).href, import.meta.url) : await import(pathToFileURL(path).href)) as { default?: unknown };
    return defaultExport(module.default);
  }
  const text = readFileSync(path, 'utf8');
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

/**
 * A config's default export. In a CommonJS project, `export default` compiles to
 * `exports.default`, which an import sees one level down (`module.exports.default`).
 */
function defaultExport(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && '__esModule' in value && 'default' in value) return value.default;
  return value;
}

/** Validates raw definitions and resolves each worker's credentials, refusing bad input up front. */
export function parseConfig(raw: unknown, source: string, env: Env = process.env): LoadedConfig {
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${source}: invalid configuration:\n${describeIssues(parsed.error, raw)}`);
  }
  const notify = withSource(source, () => resolveNotifySettings(parsed.data.notify, env));
  const workers = new Map<string, ResolvedWorker>();
  const cloudNames: CloudNames[] = [];
  const limitsByScope = new Map<string, { worker: string; limits: CloudLimits }>();
  for (const definition of parsed.data.workers) {
    if (workers.has(definition.name)) throw new ConfigError(`${source}: worker "${definition.name}" is defined twice`);
    const credentials = resolveCredentials(definition, env);
    const imageFunction = typeof definition.image === 'function' ? definition.image : undefined;
    const specFor = (properties: Record<string, string> = {}): WorkerSpec => toSpec(render(definition, properties, source), credentials);
    const names: CloudNames = { label: cloudLabel(credentials), cloudName: definition.cloud ?? (env.OS_CLOUD || undefined) };
    cloudNames.push(names);
    const limits = limitsFor(parsed.data.cloud_limits, names);
    const scope = cloudScopeOf(credentials);
    const other = limitsByScope.get(scope);
    if (other && JSON.stringify(other.limits) !== JSON.stringify(limits)) {
      throw new ConfigError(`${source}: cloud_limits: workers "${other.worker}" and "${definition.name}" use the same cloud (${scope}) but get different limits; set them on one name of that cloud`);
    }
    limitsByScope.set(scope, { worker: definition.name, limits });
    workers.set(definition.name, { definition, credentials, imageFunction, limits, specFor });
  }
  withSource(source, () => checkCloudNames(parsed.data.cloud_limits, cloudNames));
  return { source, workers, notify, deployment: withSource(source, () => deploymentFrom(parsed.data.deployment, env)), reaper: parsed.data.reaper, deletes: parsed.data.deletes };
}

/** What shares a request budget, a create limit and look-ups: one auth URL, project and region. */
export function cloudScopeOf(credentials: CloudCredentials): string {
  return cloudLabel(credentials) + (credentials.regionName ? ` (region ${credentials.regionName})` : '');
}

function deploymentFrom(configured: string, env: Env): string {
  const fromEnv = env.LATENT_WORKER_DEPLOYMENT;
  if (fromEnv === undefined || fromEnv === '') return configured;
  const checked = deploymentSchema.safeParse(fromEnv);
  if (!checked.success) throw new ConfigError(`LATENT_WORKER_DEPLOYMENT: ${checked.error.issues[0]!.message}`);
  return checked.data;
}

function withSource<T>(source: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${source}: ${error.message}`);
    throw error;
  }
}

/** Fills in build properties where the seed lets Buildbot render them, and checks the result again. */
function render(definition: WorkerDefinition, properties: Record<string, string>, source: string): WorkerDefinition {
  const worker = `worker "${definition.name}"`;
  const rendered = {
    ...definition,
    flavor: renderProperties(definition.flavor, properties, `${worker}: flavor`),
    image: typeof definition.image === 'function' ? definition.image : renderProperties(definition.image, properties, `${worker}: image`),
    meta: renderProperties(definition.meta, properties, `${worker}: meta`),
    nova_args: renderProperties(definition.nova_args, properties, `${worker}: nova_args`),
    block_devices: renderProperties(definition.block_devices, properties, `${worker}: block_devices`),
  };
  const checked = workerDefinitionSchema.safeParse(rendered);
  if (!checked.success) {
    throw new ConfigError(`${source}: ${worker} with build properties ${JSON.stringify(properties)}:\n${describeIssues(checked.error, { workers: [rendered] })}`);
  }
  return checked.data;
}

function toSpec(definition: WorkerDefinition, credentials: CloudCredentials): WorkerSpec {
  return {
    name: definition.name,
    cloud: cloudLabel(credentials),
    flavor: definition.flavor,
    image: typeof definition.image === 'function' ? { resolver: 'function' } : definition.image,
    blockDevices: definition.block_devices?.map((device) => ({
      uuid: device.uuid,
      volumeSize: device.volume_size,
      deviceName: device.device_name,
      sourceType: device.source_type,
      destinationType: device.destination_type,
      deleteOnTermination: device.delete_on_termination,
      bootIndex: device.boot_index,
    })),
    meta: definition.meta,
    novaArgs: definition.nova_args,
    clientVersion: definition.client_version,
    missingTimeoutSeconds: definition.missing_timeout,
    bootTimeoutSeconds: definition.boot_timeout,
    buildWaitTimeoutSeconds: definition.build_wait_timeout,
    launchAttempts: definition.launch_attempts,
    notifyOnMissing: definition.notify_on_missing,
  };
}

/** One line per problem, naming the worker (by name where it has one) and the field. */
function describeIssues(error: z.ZodError, raw: unknown): string {
  return error.issues
    .map((issue) => {
      const [top, index, ...rest] = issue.path;
      let where = issue.path.join('.');
      if (top === 'workers' && typeof index === 'number') {
        const name = (raw as { workers?: { name?: unknown }[] }).workers?.[index]?.name;
        const worker = typeof name === 'string' ? `worker "${name}"` : `workers[${index}]`;
        const field = issue.code === 'unrecognized_keys' ? [...rest, issue.keys.join(', ')].join('.') : rest.join('.');
        where = field ? `${worker}: ${field}` : worker;
      }
      if (issue.code === 'unrecognized_keys' && top !== 'workers') where = [...issue.path, issue.keys.join(', ')].join('.');
      const message = issue.code === 'unrecognized_keys' ? 'unknown key (check the spelling against the README)' : plainMessage(issue.message);
      return `  - ${where || '(top level)'}: ${message}`;
    })
    .join('\n');
}

// zod's own words for a wrong type, as a person would say what is valid.
const KINDS: Record<string, string> = { string: 'text', number: 'a number', boolean: 'true or false', array: 'a list', object: 'a mapping of keys to values', record: 'a mapping of keys to values', int: 'a whole number' };

function plainMessage(message: string): string {
  const wrongType = /^Invalid input: expected (\w+), received (\w+)$/.exec(message);
  if (wrongType) {
    const [, expected, received] = wrongType;
    const kind = KINDS[expected!] ?? expected!;
    return received === 'undefined' ? `required: ${kind}` : `must be ${kind}, not ${KINDS[received!] ?? received}`;
  }
  if (/^Too small: expected string to have >=1 characters?$/.test(message)) return 'must not be empty';
  if (message === 'Invalid email address') return 'must be an email address, such as ci@example.org';
  if (message === 'Invalid input') return 'not one of the accepted forms (see the README for this field)';
  return message;
}

export function workerOrThrow(config: LoadedConfig, name: string): ResolvedWorker {
  const worker = config.workers.get(name);
  if (!worker) {
    throw new ConfigError(`unknown worker "${name}": ${config.source} defines ${[...config.workers.keys()].join(', ')}`);
  }
  return worker;
}
