import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/load.js';
import { SEED_SIMPLEST_EXAMPLE } from '../src/config/seedExample.js';

const seedWorker = SEED_SIMPLEST_EXAMPLE;

function configError(raw: unknown, env: Record<string, string> = {}): string {
  try {
    parseConfig(raw, 'test.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('worker definitions', () => {
  it("reads the seed document's simplest example as written, with the seed's defaults", async () => {
    const config = await loadConfigFile(resolve('examples/seed-simplest.yaml'), {});
    const bot2 = config.workers.get('bot2')!;
    expect(bot2.credentials).toEqual({
      authType: 'password',
      authUrl: 'http://127.0.0.1:35357/v2.0',
      username: 'user',
      password: 'password',
      projectName: 'tenant',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      regionName: undefined,
    });
    expect(bot2.specFor()).toEqual({
      name: 'bot2',
      cloud: 'http://127.0.0.1:35357/v2.0#tenant',
      flavor: '1',
      image: '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1',
      meta: {},
      novaArgs: {},
      blockDevices: undefined,
      clientVersion: '1.1',
      missingTimeoutSeconds: 1200,
      bootTimeoutSeconds: 600,
      buildWaitTimeoutSeconds: 600,
      launchAttempts: 3,
      notifyOnMissing: [],
    });
  });

  it('keeps every credential out of the spec that workflows receive', () => {
    const spec = parseConfig({ workers: [seedWorker] }, 'test', {}).workers.get('bot2')!.specFor();
    const text = JSON.stringify(spec);
    for (const secret of ['sekrit', '"password"', 'user"']) expect(text).not.toContain(secret);
  });

  it('takes missing credentials from OS_* variables, and the worker arguments win over them', () => {
    const { os_username: _u, os_password: _p, os_tenant_name: _t, os_auth_url: _a, ...bare } = seedWorker;
    const env = { OS_AUTH_URL: 'https://keystone.example:5000/v3', OS_USERNAME: 'envuser', OS_PASSWORD: 'envpass', OS_PROJECT_NAME: 'envproject', OS_USER_DOMAIN_NAME: 'Users' };
    const fromEnv = parseConfig({ workers: [bare] }, 'test', env).workers.get('bot2')!.credentials;
    expect(fromEnv).toMatchObject({ authUrl: env.OS_AUTH_URL, username: 'envuser', password: 'envpass', projectName: 'envproject', userDomainName: 'Users' });
    const own = parseConfig({ workers: [seedWorker] }, 'test', env).workers.get('bot2')!.credentials;
    expect(own).toMatchObject({ authUrl: seedWorker.os_auth_url, username: 'user', password: 'password', projectName: 'tenant' });
  });

  it.each([
    ['no flavor', { ...seedWorker, flavor: undefined }, 'worker "bot2": flavor'],
    ['an unknown key', { ...seedWorker, flavour: 1 }, 'worker "bot2": flavour: unknown key'],
    ['a bad auth URL', { ...seedWorker, os_auth_url: 'keystone' }, 'worker "bot2": os_auth_url: must be an http(s) URL'],
    ['a negative missing_timeout', { ...seedWorker, missing_timeout: -5 }, 'worker "bot2": missing_timeout'],
    ['a string missing_timeout', { ...seedWorker, missing_timeout: '20m' }, 'missing_timeout must be a number of seconds'],
    ['a bad client_version', { ...seedWorker, client_version: '3' }, 'client_version: must be "1.1" (deprecated), "2" or "2.N"'],
    ['a bad email', { ...seedWorker, notify_on_missing: ['ops'] }, 'worker "bot2": notify_on_missing'],
    ['a name unfit for a server name', { ...seedWorker, name: 'bot 2' }, 'worker "bot 2": name: must be 1-63 letters'],
  ])('refuses %s, naming the field', (_what, worker, expected) => {
    expect(configError({ workers: [worker] })).toContain(expected);
  });

  it('refuses a worker without credentials, naming what is missing and where it may come from', () => {
    const { os_password: _p, os_auth_url: _a, ...partial } = seedWorker;
    const message = configError({ workers: [partial] });
    expect(message).toContain('worker "bot2": no OpenStack credentials for os_auth_url (or OS_AUTH_URL), os_password (or OS_PASSWORD)');
  });

  it("says what is valid, never zod's bare words", () => {
    const refused = (extra: Record<string, unknown>) => configError({ workers: [{ ...seedWorker, ...extra }] });
    expect(refused({ nova_args: { nics: 'bogus' } })).toContain('worker "bot2": nova_args.nics: must be "none", "auto", or a list of nics, each {net-id | net-name | port-id, v4-fixed-ip, v6-fixed-ip, tag}');
    expect(refused({ block_devices: [{ volume_size: 1 }] })).toContain('worker "bot2": block_devices.0.uuid: required: the UUID of the image, snapshot or volume');
    expect(refused({ nova_args: { security_groups: 'default' } })).toContain('nova_args.security_groups: must be a list, not text');
    expect(refused({ nova_args: { config_drive: 'yes' } })).toContain('nova_args.config_drive: must be true or false, not text');
    expect(refused({ nova_args: { key_name: '' } })).toContain('nova_args.key_name: must not be empty');
    expect(refused({ meta: 'x' })).toContain('meta: must be a mapping of keys to values, not text');
    expect(refused({ notify_on_missing: 'x' })).toContain('notify_on_missing: must be an email address');
    for (const extra of [{ nova_args: { nics: 'bogus' } }, { block_devices: [{ volume_size: 1 }] }, { os_username: 5 }, { os_auth_args: 5 }, { launch_attempts: 'a' }]) {
      expect(refused(extra)).not.toMatch(/Invalid input|expected \w+, received/);
    }
  });

  it('refuses a worker name defined twice and an empty list', () => {
    expect(configError({ workers: [seedWorker, seedWorker] })).toContain('worker "bot2" is defined twice');
    expect(configError({ workers: [] })).toContain('define at least one worker');
  });

  it('renders build properties into image, flavor, meta, nova_args and block_devices, and checks the result', () => {
    const templated = {
      ...seedWorker,
      image: 'buildbot-worker-%(prop:distro:-bookworm)s',
      flavor: '%(prop:flavor)s',
      meta: { branch: '%(prop:branch)s' },
      nova_args: { availability_zone: 'az-%(prop:zone:-1)s' },
      block_devices: [{ uuid: '%(prop:volume)s', source_type: 'volume' }],
    };
    const worker = parseConfig({ workers: [templated] }, 'test', {}).workers.get('bot2')!;
    const spec = worker.specFor({ flavor: 'm1.small', branch: 'main', volume: '3f0b8868-67e7-4a5b-b685-2824709bd486' });
    expect(spec).toMatchObject({
      image: 'buildbot-worker-bookworm',
      flavor: 'm1.small',
      meta: { branch: 'main' },
      novaArgs: { availability_zone: 'az-1' },
      blockDevices: [{ uuid: '3f0b8868-67e7-4a5b-b685-2824709bd486', sourceType: 'volume' }],
    });
    expect(() => worker.specFor({ branch: 'main', volume: '3f0b8868-67e7-4a5b-b685-2824709bd486' })).toThrow(
      'worker "bot2": flavor: uses build property "flavor", which this substantiation did not give',
    );
    expect(() => worker.specFor({ flavor: 'x', branch: 'main', volume: 'not-a-uuid' })).toThrow(/block_devices\.0\.uuid: must be the UUID/);
  });
});

describe('server metadata against Nova’s limit', () => {
  const meta = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`key-${i}`, 'v']));

  it('counts the 4 owner keys every server gets: 124 user items pass, 125 (129 in all) are refused, naming the field', () => {
    expect(() => parseConfig({ workers: [{ ...seedWorker, meta: meta(124) }] }, 'test.yaml', {})).not.toThrow();
    const message = configError({ workers: [{ ...seedWorker, meta: meta(125) }] });
    expect(message).toContain('meta');
    expect(message).toContain('at most 124 metadata items, got 125: Nova allows 128');
    expect(message).toContain('latent-worker:deployment, latent-worker:workflow-id, latent-worker:run-id, latent-worker:attempt');
  });

  it('refuses a user key that would overwrite an owner key', () => {
    expect(configError({ workers: [{ ...seedWorker, meta: { 'latent-worker:run-id': 'mine' } }] })).toContain('metadata keys starting with "latent-worker:" are this project\'s own (latent-worker:run-id)');
  });
});
