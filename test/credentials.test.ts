// Where a worker's OpenStack credentials come from: its own arguments, a named cloud of
// clouds.yaml/secure.yaml, or the OS_* environment (docs/credentials.md), and how a missing or
// wrong piece is reported without ever showing a secret.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cloudLabel, ConfigError, resolveCredentials, type CredentialSources } from '../src/config/credentials.js';
import { parseConfig } from '../src/config/load.js';
import { workerDefinitionSchema } from '../src/config/schema.js';
import type { CloudCredentials } from '../src/openstack/index.js';

const root = mkdtempSync(join(tmpdir(), 'olw-credentials-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
/** A fresh directory holding the given files (paths relative to it). */
function dir(files: Record<string, string> = {}): string {
  const path = join(root, `d${++dirs}`);
  mkdirSync(path);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(path, name, '..'), { recursive: true });
    writeFileSync(join(path, name), text);
  }
  return path;
}

const CLOUDS_YAML = `
clouds:
  prod:
    auth:
      auth_url: https://prod.example:5000/v3
      username: prod-user
      project_name: prod-project
      user_domain_name: Users
      project_domain_id: d-prod
    region_name: RegionProd
    interface: internal
    identity_api_version: 3
    api_timeout: 45
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://prod.example:5000/v3
      application_credential_id: ac-1
  multi:
    auth: { auth_url: "https://multi.example/v3", username: m, password: multi-secret, project_id: 12345 }
    regions: [east, west]
    verify: false
  nopass:
    auth: { auth_url: "https://nopass.example/v3", username: n, project_name: p }
  oidc:
    auth_type: v3oidcpassword
    auth: { auth_url: "https://oidc.example/v3" }
`;

const SECURE_YAML = `
clouds:
  prod:
    auth:
      password: prod-secret
  appcred:
    auth:
      application_credential_secret: ac-secret
`;

/** What a sourced openrc leaves in the shell. */
const OPENRC = {
  OS_AUTH_URL: 'https://env.example:5000/v3',
  OS_USERNAME: 'env-user',
  OS_PASSWORD: 'env-secret',
  OS_PROJECT_NAME: 'env-project',
  OS_USER_DOMAIN_NAME: 'EnvDomain',
  OS_PROJECT_DOMAIN_NAME: 'EnvDomain',
  OS_REGION_NAME: 'RegionEnv',
  OS_INTERFACE: 'admin',
};

const SECRETS = ['prod-secret', 'ac-secret', 'multi-secret', 'env-secret', 'w-secret', 'tok-secret', 'yaml-secret'];

const cwd = dir({ 'clouds.yaml': CLOUDS_YAML, 'secure.yaml': SECURE_YAML, 'ca.pem': '-----BEGIN CERTIFICATE-----\n' });
const noFiles: CredentialSources = { cwd: dir(), homeDir: dir(), systemDir: dir() };
const withFiles: CredentialSources = { cwd, homeDir: dir(), systemDir: dir() };

function worker(fields: Record<string, unknown> = {}) {
  return workerDefinitionSchema.parse({ name: 'bot2', flavor: 1, image: 'debian', ...fields });
}

function resolve(fields: Record<string, unknown>, env: Record<string, string>, sources = withFiles): CloudCredentials {
  return resolveCredentials(worker(fields), env, sources);
}

describe('precedence: worker arguments, then a named cloud or else the environment', () => {
  it.each<[string, Record<string, unknown>, Record<string, string>, Partial<Record<string, unknown>>]>([
    [
      'the environment alone (an openrc)',
      {},
      OPENRC,
      { authType: 'password', authUrl: OPENRC.OS_AUTH_URL, username: 'env-user', password: 'env-secret', projectName: 'env-project', userDomainName: 'EnvDomain', projectDomainName: 'EnvDomain', regionName: 'RegionEnv', interface: 'admin' },
    ],
    [
      'worker arguments over the environment, field by field',
      { os_username: 'w-user', os_password: 'w-secret', region: 'RegionW' },
      OPENRC,
      { authUrl: OPENRC.OS_AUTH_URL, username: 'w-user', password: 'w-secret', projectName: 'env-project', regionName: 'RegionW' },
    ],
    [
      'OS_CLOUD: the named cloud replaces the environment, secure.yaml merged over clouds.yaml',
      {},
      { ...OPENRC, OS_CLOUD: 'prod' },
      { authUrl: 'https://prod.example:5000/v3', username: 'prod-user', password: 'prod-secret', projectName: 'prod-project', userDomainName: 'Users', projectDomainId: 'd-prod', regionName: 'RegionProd', interface: 'internal', identityVersion: 'v3', apiTimeoutMs: 45_000 },
    ],
    [
      "the worker's cloud over OS_CLOUD; regions[0], numeric ids and verify: false",
      { cloud: 'multi' },
      { OS_CLOUD: 'prod' },
      { authUrl: 'https://multi.example/v3', username: 'm', password: 'multi-secret', projectId: '12345', regionName: 'east', insecure: true },
    ],
    [
      'worker arguments over the named cloud',
      { cloud: 'prod', os_password: 'w-secret', region: 'RegionW' },
      {},
      { username: 'prod-user', password: 'w-secret', regionName: 'RegionW', interface: 'internal' },
    ],
    [
      'an explicit tenant name is never paired with a project id from elsewhere',
      { cloud: 'multi', os_tenant_name: 'w-project' },
      {},
      { projectName: 'w-project', projectId: undefined, projectDomainName: 'Default' },
    ],
    [
      'an application credential from clouds.yaml and secure.yaml',
      { cloud: 'appcred' },
      OPENRC,
      { authType: 'v3applicationcredential', applicationCredentialId: 'ac-1', applicationCredentialSecret: 'ac-secret', username: undefined, regionName: undefined },
    ],
    [
      'an application credential from OS_AUTH_TYPE and OS_APPLICATION_CREDENTIAL_*',
      {},
      { OS_AUTH_URL: 'https://k/v3', OS_AUTH_TYPE: 'v3applicationcredential', OS_APPLICATION_CREDENTIAL_ID: 'ac-9', OS_APPLICATION_CREDENTIAL_SECRET: 'ac-secret' },
      { authType: 'v3applicationcredential', applicationCredentialId: 'ac-9', applicationCredentialSecret: 'ac-secret' },
    ],
    [
      'an application credential recognised without auth_type',
      {},
      { OS_AUTH_URL: 'https://k/v3', OS_APPLICATION_CREDENTIAL_NAME: 'ci', OS_APPLICATION_CREDENTIAL_SECRET: 'ac-secret', OS_USERNAME: 'u', OS_USER_DOMAIN_ID: 'd-1' },
      { authType: 'v3applicationcredential', applicationCredentialName: 'ci', username: 'u', userDomainId: 'd-1' },
    ],
    [
      'an application credential by name and user id in os_auth_args',
      { os_auth_url: 'https://k/v3', os_auth_args: { auth_type: 'v3applicationcredential', application_credential_name: 'ci', application_credential_secret: 'ac-secret', user_id: 'u-1' } },
      OPENRC,
      { authType: 'v3applicationcredential', authUrl: 'https://k/v3', applicationCredentialName: 'ci', userId: 'u-1', username: undefined },
    ],
    [
      'an explicit os_password over an application credential in the environment',
      { os_username: 'w-user', os_password: 'w-secret', os_tenant_name: 'w-project' },
      { OS_AUTH_URL: 'https://k/v3', OS_APPLICATION_CREDENTIAL_ID: 'ac-9', OS_APPLICATION_CREDENTIAL_SECRET: 'ac-secret' },
      { authType: 'password', username: 'w-user', password: 'w-secret', applicationCredentialId: undefined },
    ],
    [
      'OS_TOKEN with a project id',
      {},
      { OS_AUTH_URL: 'https://k:5000', OS_TOKEN: 'tok-secret', OS_PROJECT_ID: 'p-1' },
      { authType: 'v3token', token: 'tok-secret', projectId: 'p-1', authUrl: 'https://k:5000' },
    ],
    [
      'ids from os_auth_args, and v2password pinning identity v2.0',
      { os_auth_url: 'https://k:35357', os_username: 'u', os_password: 'w-secret', os_auth_args: { auth_type: 'v2password', tenant_id: 't-1' } },
      {},
      { identityVersion: 'v2.0', projectId: 't-1', userDomainName: 'Default' },
    ],
    [
      'legacy spellings: OS_TENANT_NAME, OS_ENDPOINT_TYPE=internalURL, OS_INSECURE, a relative OS_CACERT',
      {},
      { OS_AUTH_URL: 'https://k/v3', OS_USERNAME: 'u', OS_PASSWORD: 'env-secret', OS_TENANT_NAME: 't', OS_ENDPOINT_TYPE: 'internalURL', OS_INSECURE: 'true', OS_CACERT: 'ca.pem', OS_API_TIMEOUT: '7.5', OS_IDENTITY_API_VERSION: '3' },
      { projectName: 't', interface: 'internal', insecure: true, cacert: join(cwd, 'ca.pem'), apiTimeoutMs: 7_500, identityVersion: 'v3' },
    ],
  ])('%s', (_what, fields, env, expected) => {
    const credentials = resolve(fields, env) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected)) expect([key, credentials[key]]).toEqual([key, value]);
  });
});

describe('where clouds.yaml is found', () => {
  const cloudsFile = (url: string) => `clouds:\n  c:\n    auth: {auth_url: "${url}", username: u, password: yaml-secret, project_name: p}\n`;

  it.each<[string, (home: string) => { files: Record<string, string>; env: Record<string, string> }, string]>([
    ['OS_CLIENT_CONFIG_FILE first', () => ({ files: { 'here/clouds.yaml': cloudsFile('https://cwd/v3'), 'there/mine.yaml': cloudsFile('https://explicit/v3') }, env: { OS_CLIENT_CONFIG_FILE: 'there/mine.yaml' } }), 'https://explicit/v3'],
    ['then ./clouds.yaml', () => ({ files: { 'here/clouds.yaml': cloudsFile('https://cwd/v3'), 'home/.config/openstack/clouds.yaml': cloudsFile('https://home/v3') }, env: {} }), 'https://cwd/v3'],
    ['then ~/.config/openstack/clouds.yml', () => ({ files: { 'home/.config/openstack/clouds.yml': cloudsFile('https://home/v3'), 'etc/clouds.yaml': cloudsFile('https://etc/v3') }, env: {} }), 'https://home/v3'],
    ['with $XDG_CONFIG_HOME instead of ~/.config', (base) => ({ files: { 'xdg/openstack/clouds.yaml': cloudsFile('https://xdg/v3') }, env: { XDG_CONFIG_HOME: join(base, 'xdg') } }), 'https://xdg/v3'],
    ['then /etc/openstack/clouds.yaml', () => ({ files: { 'etc/clouds.yaml': cloudsFile('https://etc/v3') }, env: {} }), 'https://etc/v3'],
  ])('%s', (_what, layout, expectedUrl) => {
    const base = dir();
    const { files, env } = layout(base);
    for (const sub of ['here', 'home', 'etc']) mkdirSync(join(base, sub), { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(base, name, '..'), { recursive: true });
      writeFileSync(join(base, name), text);
    }
    const sources = { cwd: join(base, 'here'), homeDir: join(base, 'home'), systemDir: join(base, 'etc') };
    const credentials = resolveCredentials(worker({ cloud: 'c' }), { ...env, OS_CLIENT_CONFIG_FILE: env.OS_CLIENT_CONFIG_FILE ? join(base, env.OS_CLIENT_CONFIG_FILE) : '' }, sources);
    expect(credentials.authUrl).toBe(expectedUrl);
  });
});

describe('refusals name the worker, the field and where it could come from, never a secret', () => {
  const badYaml = dir({ 'clouds.yaml': 'clouds:\n  c:\n    auth:\n      password: yaml-secret\n     username: [broken\n' });

  it.each<[string, Record<string, unknown>, Record<string, string>, string, CredentialSources?]>([
    [
      'nothing at all',
      {},
      {},
      'worker "bot2": no OpenStack credentials for os_auth_url (or OS_AUTH_URL), os_username or os_auth_args.user_id (or OS_USERNAME / OS_USER_ID), os_password (or OS_PASSWORD), os_tenant_name or os_auth_args.project_id (or OS_PROJECT_NAME / OS_TENANT_NAME / OS_PROJECT_ID / OS_TENANT_ID); or name a cloud of clouds.yaml with "cloud" or OS_CLOUD',
      noFiles,
    ],
    ['a named cloud without a password', { cloud: 'nopass' }, {}, `worker "bot2": no OpenStack credentials for os_password (or auth.password of cloud 'nopass' (${join(cwd, 'clouds.yaml')}))`],
    ['an application credential without its secret', { os_auth_url: 'https://k/v3', os_auth_args: { application_credential_id: 'ac-1' } }, {}, 'no OpenStack credentials for os_auth_args.application_credential_secret (or OS_APPLICATION_CREDENTIAL_SECRET) (auth type v3applicationcredential)'],
    ['an application credential by name without its user', {}, { OS_AUTH_URL: 'https://k/v3', OS_APPLICATION_CREDENTIAL_NAME: 'ci', OS_APPLICATION_CREDENTIAL_SECRET: 'ac-secret' }, 'os_username or os_auth_args.user_id (or OS_USERNAME / OS_USER_ID) (auth type v3applicationcredential)'],
    ['a token without a project', {}, { OS_AUTH_URL: 'https://k/v3', OS_AUTH_TYPE: 'v3token', OS_TOKEN: 'tok-secret' }, 'no OpenStack credentials for os_tenant_name or os_auth_args.project_id'],
    ['an unknown cloud', { cloud: 'staging' }, {}, `worker "bot2": cloud: cloud 'staging' is not defined in ${join(cwd, 'clouds.yaml')} and ${join(cwd, 'secure.yaml')}; it defines 'prod', 'appcred', 'multi', 'nopass', 'oidc'`],
    ['OS_CLOUD without any clouds.yaml', {}, { OS_CLOUD: 'prod' }, "worker \"bot2\": OS_CLOUD: cloud 'prod' is named, but there is no clouds.yaml: looked for", noFiles],
    ['OS_CLIENT_CONFIG_FILE naming nothing', { cloud: 'prod' }, { OS_CLIENT_CONFIG_FILE: '/nonexistent/clouds.yaml' }, 'OS_CLIENT_CONFIG_FILE names /nonexistent/clouds.yaml, which does not exist'],
    ['a clouds.yaml that is not YAML', { cloud: 'c' }, {}, `worker "bot2": cloud: ${join(badYaml, 'clouds.yaml')}: not valid YAML at line 5, column 1 (BAD_INDENT)`, { cwd: badYaml, homeDir: dir(), systemDir: dir() }],
    ['os_username and os_auth_args.username that disagree', { os_username: 'a', os_auth_args: { username: 'b' } }, OPENRC, 'worker "bot2": os_username and os_auth_args.username disagree; give it once'],
    ['an auth_type we cannot do', { cloud: 'oidc' }, {}, "auth_type of cloud 'oidc'"],
    ['two kinds of secret and no auth_type', {}, { ...OPENRC, OS_TOKEN: 'tok-secret' }, 'OS_PASSWORD and OS_TOKEN are different kinds of credentials; set auth_type to say which one to use'],
    ['an unknown interface', {}, { ...OPENRC, OS_INTERFACE: 'private' }, 'OS_INTERFACE is "private"; use public, internal or admin'],
    ['a CA bundle that is not there', {}, { ...OPENRC, OS_CACERT: 'missing.pem' }, `OS_CACERT names ${join(cwd, 'missing.pem')}, which is not a file`],
    ['a bad api_timeout', {}, { ...OPENRC, OS_API_TIMEOUT: 'soon' }, 'OS_API_TIMEOUT must be a positive number of seconds'],
    ['a bad OS_INSECURE', {}, { ...OPENRC, OS_INSECURE: 'maybe' }, 'OS_INSECURE must be true or false'],
    ['an application credential on identity v2.0', { os_auth_url: 'https://k:35357/v2.0', os_auth_args: { application_credential_id: 'i', application_credential_secret: 'ac-secret' } }, {}, 'worker "bot2": application credentials need identity v3'],
    ['identity_api_version contradicting auth_type', { os_auth_args: { auth_type: 'v2password' } }, { ...OPENRC, OS_IDENTITY_API_VERSION: '3' }, 'OS_IDENTITY_API_VERSION asks for identity v3, but os_auth_args.auth_type needs v2.0'],
    ['an auth URL that is no URL', {}, { ...OPENRC, OS_AUTH_URL: 'keystone:5000' }, "authUrl 'keystone:5000' must be an http or https URL"],
  ])('%s', (_what, fields, env, expected, sources = withFiles) => {
    let error: unknown;
    try {
      resolveCredentials(worker(fields), env, sources);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(expected);
    for (const secret of SECRETS) expect(message).not.toContain(secret);
  });
});

describe('through the config file', () => {
  it('accepts cloud and os_auth_args, and keeps every secret out of the spec', () => {
    const config = parseConfig(
      {
        workers: [
          { name: 'a', flavor: 1, image: 'debian', cloud: 'appcred' },
          { name: 'b', flavor: 1, image: 'debian', os_auth_url: 'https://k/v3', os_auth_args: { auth_type: 'v3token', token: 'tok-secret', project_id: 'p-1' } },
        ],
      },
      'test.yaml',
      { OS_CLIENT_CONFIG_FILE: join(cwd, 'clouds.yaml'), OS_CLIENT_SECURE_FILE: join(cwd, 'secure.yaml') },
    );
    const a = config.workers.get('a')!;
    expect(a.credentials).toMatchObject({ authType: 'v3applicationcredential', applicationCredentialSecret: 'ac-secret' });
    expect(a.specFor().cloud).toBe('https://prod.example:5000/v3#application-credential:ac-1');
    const b = config.workers.get('b')!;
    expect(b.specFor().cloud).toBe('https://k/v3#p-1');
    for (const secret of SECRETS) expect(JSON.stringify([a.specFor(), b.specFor()])).not.toContain(secret);
  });

  it('refuses an unknown os_auth_args key and an unknown auth_type', () => {
    const refuse = (os_auth_args: unknown) => () => parseConfig({ workers: [{ name: 'a', flavor: 1, image: 'x', os_auth_args }] }, 'test.yaml', OPENRC);
    expect(refuse({ application_credential: 'x' })).toThrow(/application_credential: unknown key/);
    expect(refuse({ auth_type: 'v3oidcpassword' })).toThrow(/os_auth_args\.auth_type: must be one of password, v3password/);
  });

  it('labels each kind of credentials without a secret', () => {
    expect(cloudLabel({ authUrl: 'https://k/v3', authType: 'v3applicationcredential', applicationCredentialName: 'ci', applicationCredentialSecret: 'ac-secret', userId: 'u' })).toBe(
      'https://k/v3#application-credential:ci',
    );
    expect(cloudLabel({ authUrl: 'https://k/v3', authType: 'v3token', token: 'tok-secret', projectName: 'demo' })).toBe('https://k/v3#demo');
  });
});
