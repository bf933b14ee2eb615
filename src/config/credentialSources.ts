import type { OsAuthArgs } from './authArgs.js';
import type { Env, NamedCloud } from './clouds.js';
import { isPlainObject } from './clouds.js';
import { ConfigError } from './errors.js';
import type { WorkerDefinition } from './schema.js';

/** Everything a worker's cloud connection is made of, whichever source gives it. */
export type Setting =
  | 'authType'
  | 'authUrl'
  | 'username'
  | 'userId'
  | 'password'
  | 'userDomainName'
  | 'userDomainId'
  | 'projectName'
  | 'projectId'
  | 'projectDomainName'
  | 'projectDomainId'
  | 'applicationCredentialId'
  | 'applicationCredentialName'
  | 'applicationCredentialSecret'
  | 'token'
  | 'regionName'
  | 'interface'
  | 'cacert'
  | 'insecure'
  | 'apiTimeout'
  | 'identityApiVersion';

type WorkerArgument = 'os_auth_url' | 'os_username' | 'os_password' | 'os_tenant_name' | 'os_user_domain' | 'os_project_domain' | 'region';

interface SettingSpec {
  /** The seed's named worker argument. */
  argument?: WorkerArgument;
  /** Keys of a worker's `os_auth_args`. */
  authArgs?: readonly (keyof OsAuthArgs)[];
  /** Keys of a clouds.yaml cloud's `auth:` mapping. */
  auth?: readonly string[];
  /** Top-level keys of a clouds.yaml cloud. */
  cloud?: readonly string[];
  /** OS_* variables, the first one set wins. */
  env: readonly string[];
}

const authKeys = (...keys: (keyof OsAuthArgs)[]) => ({ authArgs: keys, auth: keys });

/** Where each setting may come from, with the names users know from Buildbot, clouds.yaml and openrc files. */
export const SETTINGS: Record<Setting, SettingSpec> = {
  authType: { authArgs: ['auth_type'], cloud: ['auth_type'], env: ['OS_AUTH_TYPE'] },
  authUrl: { argument: 'os_auth_url', ...authKeys('auth_url'), env: ['OS_AUTH_URL'] },
  username: { argument: 'os_username', ...authKeys('username'), env: ['OS_USERNAME'] },
  userId: { ...authKeys('user_id'), env: ['OS_USER_ID'] },
  password: { argument: 'os_password', ...authKeys('password'), env: ['OS_PASSWORD'] },
  userDomainName: { argument: 'os_user_domain', ...authKeys('user_domain_name'), env: ['OS_USER_DOMAIN_NAME'] },
  userDomainId: { ...authKeys('user_domain_id'), env: ['OS_USER_DOMAIN_ID'] },
  projectName: { argument: 'os_tenant_name', ...authKeys('project_name', 'tenant_name'), env: ['OS_PROJECT_NAME', 'OS_TENANT_NAME'] },
  projectId: { ...authKeys('project_id', 'tenant_id'), env: ['OS_PROJECT_ID', 'OS_TENANT_ID'] },
  projectDomainName: { argument: 'os_project_domain', ...authKeys('project_domain_name'), env: ['OS_PROJECT_DOMAIN_NAME'] },
  projectDomainId: { ...authKeys('project_domain_id'), env: ['OS_PROJECT_DOMAIN_ID'] },
  applicationCredentialId: { ...authKeys('application_credential_id'), env: ['OS_APPLICATION_CREDENTIAL_ID'] },
  applicationCredentialName: { ...authKeys('application_credential_name'), env: ['OS_APPLICATION_CREDENTIAL_NAME'] },
  applicationCredentialSecret: { ...authKeys('application_credential_secret'), env: ['OS_APPLICATION_CREDENTIAL_SECRET'] },
  token: { ...authKeys('token'), env: ['OS_TOKEN'] },
  regionName: { argument: 'region', cloud: ['region_name'], env: ['OS_REGION_NAME'] },
  interface: { cloud: ['interface', 'endpoint_type'], env: ['OS_INTERFACE', 'OS_ENDPOINT_TYPE'] },
  cacert: { cloud: ['cacert'], env: ['OS_CACERT'] },
  insecure: { cloud: ['insecure'], env: ['OS_INSECURE'] },
  apiTimeout: { cloud: ['api_timeout'], env: ['OS_API_TIMEOUT'] },
  identityApiVersion: { cloud: ['identity_api_version'], env: ['OS_IDENTITY_API_VERSION'] },
};

/**
 * Settings that only make sense together: each group is taken whole from the first source that
 * sets any of it, so an explicit `os_tenant_name` is never paired with a `project_id` from
 * elsewhere (Keystone would use the id and silently pick the other project).
 */
const GROUPS: readonly (readonly Setting[])[] = [
  ['username', 'userId'],
  ['userDomainName', 'userDomainId'],
  ['projectName', 'projectId'],
  ['projectDomainName', 'projectDomainId'],
  ['applicationCredentialId', 'applicationCredentialName'],
];

export interface SettingValue {
  value: unknown;
  /** Where it was found, e.g. `os_password`, `OS_AUTH_URL`, `clouds.prod.auth.password in /etc/openstack/clouds.yaml`. */
  origin: string;
}

export type Settings = Partial<Record<Setting, SettingValue>>;

/** One source of settings; `describe` says how to set a missing value there. */
export interface Layer {
  settings: Settings;
  describe(setting: Setting): string[];
}

/** The worker's own arguments: the seed's os_* names, `region`, and `os_auth_args`. */
export function workerLayer(worker: WorkerDefinition): Layer {
  const settings: Settings = {};
  for (const [setting, spec] of entries()) {
    const found: SettingValue[] = [];
    if (spec.argument && worker[spec.argument] !== undefined) found.push({ value: worker[spec.argument], origin: spec.argument });
    for (const key of spec.authArgs ?? []) {
      if (worker.os_auth_args?.[key] !== undefined) found.push({ value: worker.os_auth_args[key], origin: `os_auth_args.${key}` });
    }
    const [first, ...others] = found;
    const differing = others.find((other) => other.value !== first?.value);
    if (first && differing) throw new ConfigError(`${first.origin} and ${differing.origin} disagree; give it once`);
    if (first) settings[setting] = first;
  }
  return {
    settings,
    describe: (setting) => {
      const spec = SETTINGS[setting];
      return [spec.argument ?? (spec.authArgs?.[0] ? `os_auth_args.${spec.authArgs[0]}` : undefined)].filter((name) => name !== undefined);
    },
  };
}

/** A named cloud of clouds.yaml (secure.yaml merged over it). */
export function cloudLayer(cloud: NamedCloud): Layer {
  const { entry } = cloud;
  const auth = isPlainObject(entry.auth) ? entry.auth : {};
  const where = `cloud '${cloud.name}' (${cloud.files.join(' + ')})`;
  const settings: Settings = {};
  for (const [setting, spec] of entries()) {
    const found =
      (spec.auth ?? []).flatMap((key) => (auth[key] === undefined || auth[key] === null ? [] : [{ value: auth[key], origin: `auth.${key} of ${where}` }]))[0] ??
      (spec.cloud ?? []).flatMap((key) => (entry[key] === undefined || entry[key] === null ? [] : [{ value: entry[key], origin: `${key} of ${where}` }]))[0];
    if (found) settings[setting] = found;
  }
  // `verify: false` is the clouds.yaml spelling; it overrides `insecure` as openstacksdk's does.
  if (entry.verify !== undefined) {
    const verify = parseBoolean(entry.verify);
    settings.insecure = { value: verify === undefined ? entry.verify : !verify, origin: `verify of ${where}` };
  }
  // A multi-region cloud lists `regions:`; without `region_name` openstacksdk takes the first.
  const firstRegion = Array.isArray(entry.regions) ? (entry.regions[0] as unknown) : undefined;
  const regionName = typeof firstRegion === 'string' ? firstRegion : isPlainObject(firstRegion) ? firstRegion.name : undefined;
  if (settings.regionName === undefined && typeof regionName === 'string') {
    settings.regionName = { value: regionName, origin: `regions[0] of ${where}` };
  }
  return {
    settings,
    describe: (setting) => {
      const spec = SETTINGS[setting];
      return [...(spec.auth ?? []).slice(0, 1).map((key) => `auth.${key}`), ...(spec.cloud ?? []).slice(0, 1)].map((key) => `${key} of ${where}`);
    },
  };
}

/** OS_* variables, as an openrc file sets them. Empty values count as unset. */
export function envLayer(env: Env): Layer {
  const settings: Settings = {};
  for (const [setting, spec] of entries()) {
    const variable = spec.env.find((name) => env[name]);
    if (variable) settings[setting] = { value: env[variable], origin: variable };
  }
  return { settings, describe: (setting) => [...SETTINGS[setting].env] };
}

/** Each setting (each group of settings) from the first layer that has it. */
export function mergeLayers(layers: readonly Layer[]): Settings {
  const merged: Settings = {};
  const grouped = new Set(GROUPS.flat());
  const units = [...GROUPS, ...(Object.keys(SETTINGS) as Setting[]).filter((setting) => !grouped.has(setting)).map((setting) => [setting])];
  for (const unit of units) {
    const layer = layers.find((candidate) => unit.some((setting) => candidate.settings[setting] !== undefined));
    for (const setting of unit) {
      const value = layer?.settings[setting];
      if (value !== undefined) merged[setting] = value;
    }
  }
  return merged;
}

export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  if (/^(true|yes|1|on)$/i.test(value)) return true;
  if (/^(false|no|0|off)$/i.test(value)) return false;
  return undefined;
}

function entries(): [Setting, SettingSpec][] {
  return Object.entries(SETTINGS) as [Setting, SettingSpec][];
}
