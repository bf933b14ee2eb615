import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import {
  checkCredentials,
  type AuthType,
  type CloudConnection,
  type CloudCredentials,
  type EndpointInterface,
  type IdentityVersion,
  type ProjectScope,
  type UserRef,
} from '../openstack/index.js';
import { loadNamedCloud, type Env, type NamedCloud } from './clouds.js';
import {
  cloudLayer,
  envLayer,
  mergeLayers,
  parseBoolean,
  workerLayer,
  type Layer,
  type Setting,
  type Settings,
} from './credentialSources.js';
import { ConfigError } from './errors.js';
import type { WorkerDefinition } from './schema.js';

export { ConfigError } from './errors.js';

export interface CredentialSources {
  /** For `./clouds.yaml` and relative `cacert` paths; default process.cwd(). */
  cwd?: string;
  /** For `~/.config/openstack/clouds.yaml` and `~/` in `cacert`; default os.homedir(). */
  homeDir?: string;
  /** Instead of `/etc/openstack`. */
  systemDir?: string;
}

/**
 * Credentials for one worker. Each setting comes from the first source that has it:
 *   1. the worker's own arguments (`os_*`, `region`, `os_auth_args`);
 *   2. if a cloud is named (the worker's `cloud`, else `OS_CLOUD`): that cloud of clouds.yaml,
 *      with secure.yaml merged over it;
 *   3. otherwise: the `OS_*` environment variables.
 * A named cloud replaces the environment instead of sitting on top of it, as openstacksdk's
 * `connect(cloud=...)` does: a stray openrc in the shell must not leak its region, project or
 * password into another cloud. docs/credentials.md has the details.
 */
export function resolveCredentials(worker: WorkerDefinition, env: Env, sources: CredentialSources = {}): CloudCredentials {
  try {
    return resolveUnprefixed(worker, env, sources);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`worker "${worker.name}": ${error.message}`);
    throw error;
  }
}

function resolveUnprefixed(worker: WorkerDefinition, env: Env, sources: CredentialSources): CloudCredentials {
  const cloud = namedCloud(worker, env, sources);
  const layers = [workerLayer(worker), cloud ? cloudLayer(cloud) : envLayer(env)];
  const settings = mergeLayers(layers);
  const { authType, impliedVersion } = authTypeOf(layers);
  const connection = connectionOf(settings, impliedVersion, sources);
  const text = (setting: Setting): string | undefined => textOf(settings, setting);
  const missing = new Missing(layers, cloud);

  let credentials: CloudCredentials;
  switch (authType) {
    case 'v3applicationcredential': {
      const id = text('applicationCredentialId');
      const name = text('applicationCredentialName');
      missing.check(connection.authUrl, 'authUrl');
      missing.check(text('applicationCredentialSecret'), 'applicationCredentialSecret');
      missing.check(id ?? name, 'applicationCredentialId', 'applicationCredentialName');
      if (!id && name) missing.check(text('userId') ?? text('username'), 'username', 'userId');
      missing.throwIfAny(authType);
      credentials = {
        ...connection,
        authType,
        applicationCredentialSecret: text('applicationCredentialSecret') ?? '',
        ...defined({ applicationCredentialId: id, applicationCredentialName: id ? undefined : name }),
        ...(id ? {} : userOf(settings)),
      };
      break;
    }
    case 'v3token':
      missing.check(connection.authUrl, 'authUrl');
      missing.check(text('token'), 'token');
      missing.check(text('projectName') ?? text('projectId'), 'projectName', 'projectId');
      missing.throwIfAny(authType);
      credentials = { ...connection, authType, token: text('token') ?? '', ...projectOf(settings) };
      break;
    case 'password':
      missing.check(connection.authUrl, 'authUrl');
      missing.check(text('username') ?? text('userId'), 'username', 'userId');
      missing.check(text('password'), 'password');
      missing.check(text('projectName') ?? text('projectId'), 'projectName', 'projectId');
      missing.throwIfAny(authType);
      credentials = { ...connection, authType, password: text('password') ?? '', ...userOf(settings), ...projectOf(settings) };
      break;
  }
  try {
    checkCredentials(credentials);
  } catch (error) {
    if (error instanceof RangeError) throw new ConfigError(error.message);
    throw error;
  }
  return credentials;
}

/** A label for the cloud and project a worker uses: safe for history and the Web UI. */
export function cloudLabel(credentials: CloudCredentials): string {
  const scope =
    credentials.authType === 'v3applicationcredential'
      ? `application-credential:${credentials.applicationCredentialId ?? credentials.applicationCredentialName}`
      : (credentials.projectName ?? credentials.projectId ?? '');
  return `${credentials.authUrl}#${scope}`;
}

function namedCloud(worker: WorkerDefinition, env: Env, sources: CredentialSources): NamedCloud | undefined {
  const name = worker.cloud ?? (env.OS_CLOUD || undefined);
  if (name === undefined) return undefined;
  try {
    return loadNamedCloud(name, { env, ...sources });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(`${worker.cloud ? 'cloud' : 'OS_CLOUD'}: ${error.message}`);
  }
}

/**
 * The auth type is decided by the first source that shows one: its `auth_type`, or else the kind
 * of secret it holds. So an explicit `os_password` wins over an application credential in the
 * environment, as every other explicit argument does.
 */
function authTypeOf(layers: readonly Layer[]): { authType: AuthType; impliedVersion?: IdentityVersion } {
  for (const layer of layers) {
    const explicit = layer.settings.authType;
    if (explicit) return namedAuthType(explicit.value, explicit.origin);
    const kinds = new Map<AuthType, string>();
    const note = (kind: AuthType, setting: Setting) => {
      const origin = layer.settings[setting]?.origin;
      if (origin && !kinds.has(kind)) kinds.set(kind, origin);
    };
    note('password', 'password');
    for (const setting of ['applicationCredentialSecret', 'applicationCredentialId', 'applicationCredentialName'] as const) {
      note('v3applicationcredential', setting);
    }
    note('v3token', 'token');
    if (kinds.size > 1) {
      throw new ConfigError(`${[...kinds.values()].join(' and ')} are different kinds of credentials; set auth_type to say which one to use`);
    }
    const [only] = kinds.keys();
    if (only) return { authType: only };
  }
  return { authType: 'password' };
}

function namedAuthType(value: unknown, origin: string): { authType: AuthType; impliedVersion?: IdentityVersion } {
  switch (value) {
    case 'password':
      return { authType: 'password' };
    case 'v3password':
      return { authType: 'password', impliedVersion: 'v3' };
    case 'v2password':
      return { authType: 'password', impliedVersion: 'v2.0' };
    case 'v3applicationcredential':
      return { authType: 'v3applicationcredential' };
    case 'v3token':
    case 'token':
      return { authType: 'v3token' };
  }
  throw new ConfigError(
    `${origin} is ${JSON.stringify(value)}, which is not supported: use password, v3password, v2password, v3applicationcredential or v3token`,
  );
}

function connectionOf(settings: Settings, impliedVersion: IdentityVersion | undefined, sources: CredentialSources): CloudConnection {
  const authUrl = textOf(settings, 'authUrl');
  const explicitVersion = identityVersionOf(settings.identityApiVersion);
  if (explicitVersion && impliedVersion && explicitVersion !== impliedVersion) {
    throw new ConfigError(`${settings.identityApiVersion?.origin} asks for identity ${explicitVersion}, but ${settings.authType?.origin} needs ${impliedVersion}`);
  }
  return {
    authUrl: authUrl ?? '',
    ...defined({
      identityVersion: explicitVersion ?? impliedVersion,
      regionName: textOf(settings, 'regionName'),
      interface: interfaceOf(settings.interface),
      cacert: cacertOf(settings.cacert, sources),
      insecure: insecureOf(settings.insecure),
      apiTimeoutMs: timeoutOf(settings.apiTimeout),
    }),
  };
}

function userOf(settings: Settings): UserRef {
  const username = textOf(settings, 'username');
  const userId = textOf(settings, 'userId');
  if (userId) return { userId };
  const domainId = textOf(settings, 'userDomainId');
  return defined({ username, ...(domainId ? { userDomainId: domainId } : { userDomainName: textOf(settings, 'userDomainName') ?? 'Default' }) });
}

function projectOf(settings: Settings): ProjectScope {
  const projectId = textOf(settings, 'projectId');
  if (projectId) return { projectId };
  const domainId = textOf(settings, 'projectDomainId');
  return defined({
    projectName: textOf(settings, 'projectName'),
    ...(domainId ? { projectDomainId: domainId } : { projectDomainName: textOf(settings, 'projectDomainName') ?? 'Default' }),
  });
}

/** YAML gives numbers for numeric-looking ids; they are strings to Keystone. */
function textOf(settings: Settings, setting: Setting): string | undefined {
  const found = settings[setting];
  if (found === undefined) return undefined;
  if (typeof found.value === 'string') return found.value === '' ? undefined : found.value;
  if (typeof found.value === 'number') return String(found.value);
  // The origin, never the value: it may be a password.
  throw new ConfigError(`${found.origin} must be a string`);
}

const INTERFACES: Record<string, EndpointInterface> = {
  public: 'public',
  publicURL: 'public',
  internal: 'internal',
  internalURL: 'internal',
  admin: 'admin',
  adminURL: 'admin',
};

function interfaceOf(found: Settings['interface']): EndpointInterface | undefined {
  if (found === undefined) return undefined;
  const value = INTERFACES[String(found.value)];
  if (!value) throw new ConfigError(`${found.origin} is ${JSON.stringify(found.value)}; use public, internal or admin`);
  return value;
}

function identityVersionOf(found: Settings['identityApiVersion']): IdentityVersion | undefined {
  if (found === undefined) return undefined;
  const text = String(found.value).replace(/^v/, '');
  if (/^3(\.\d+)?$/.test(text)) return 'v3';
  if (/^2(\.0)?$/.test(text)) return 'v2.0';
  throw new ConfigError(`${found.origin} is ${JSON.stringify(found.value)}; use 3 or 2.0`);
}

function timeoutOf(found: Settings['apiTimeout']): number | undefined {
  if (found === undefined) return undefined;
  const seconds = typeof found.value === 'number' ? found.value : Number(found.value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new ConfigError(`${found.origin} must be a positive number of seconds`);
  return seconds * 1000;
}

function insecureOf(found: Settings['insecure']): boolean | undefined {
  if (found === undefined) return undefined;
  const insecure = parseBoolean(found.value);
  if (insecure === undefined) throw new ConfigError(`${found.origin} must be true or false`);
  return insecure;
}

/** Checked here so that a wrong path fails the configuration, not the first boot. */
function cacertOf(found: Settings['cacert'], sources: CredentialSources): string | undefined {
  if (found === undefined) return undefined;
  if (typeof found.value !== 'string' || found.value === '') throw new ConfigError(`${found.origin} must be the path of a PEM file`);
  const expanded = found.value.startsWith('~/') ? `${sources.homeDir ?? homedir()}${found.value.slice(1)}` : found.value;
  const path = resolve(sources.cwd ?? process.cwd(), expanded);
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigError(`${found.origin} names ${path}, which is not a file`);
  return path;
}

function defined<T extends Record<string, unknown>>(values: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** Collects what is missing, to name it all at once with the places each could come from. */
class Missing {
  private readonly labels: string[] = [];

  constructor(
    private readonly layers: readonly Layer[],
    private readonly cloud: NamedCloud | undefined,
  ) {}

  check(value: string | undefined, ...settings: Setting[]): void {
    if (value) return;
    const [explicit, fallback] = this.layers;
    const own = settings.flatMap((setting) => explicit?.describe(setting) ?? []).join(' or ');
    const elsewhere = settings.flatMap((setting) => fallback?.describe(setting) ?? []).join(' / ');
    this.labels.push(elsewhere ? `${own} (or ${elsewhere})` : own);
  }

  throwIfAny(authType: AuthType): void {
    if (this.labels.length === 0) return;
    const kind = authType === 'password' ? '' : ` (auth type ${authType})`;
    const hint = this.cloud ? '' : '; or name a cloud of clouds.yaml with "cloud" or OS_CLOUD';
    throw new ConfigError(`no OpenStack credentials for ${this.labels.join(', ')}${kind}${hint}`);
  }
}
