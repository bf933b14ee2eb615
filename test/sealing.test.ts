import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { masterDefinedWorker } from '../src/config/masterDefined.js';
import { newSealingKeyPair, seal, SEALING_KEYS_VARIABLE, sealingKeysFromEnv, SealingError, unseal } from '../src/config/sealing.js';
import { BUILDBOT4, requireInstall } from './support/buildbotVenvs.js';

// The master seals its account arguments for the worker fleet; only the fleet's private key opens
// them, and only under the worker name they were sealed for.

const run = promisify(execFile);
const ACCOUNT = { os_username: 'user', os_password: 'seal-test-password', os_tenant_name: 'tenant', os_auth_url: 'http://127.0.0.1:35357/v2.0', client_version: '2' };

describe('sealed credentials', () => {
  const pair = newSealingKeyPair();
  const keys = sealingKeysFromEnv({ [SEALING_KEYS_VARIABLE]: pair.privateKey });

  it('open with the fleet key under the worker name they were sealed for, and show nothing in plaintext', () => {
    const sealed = seal(JSON.stringify(ACCOUNT), pair.publicKey, 'bot2');
    expect(sealed).not.toContain(ACCOUNT.os_password);
    expect(sealed).not.toContain(Buffer.from(ACCOUNT.os_password).toString('base64'));
    expect(JSON.parse(unseal(sealed, keys, 'bot2'))).toEqual(ACCOUNT);
    // A fresh key per seal: the same account never seals to the same text.
    expect(seal(JSON.stringify(ACCOUNT), pair.publicKey, 'bot2')).not.toBe(sealed);
  });

  it('refuse another worker name, another key, a changed byte, and a fleet without keys, saying which', () => {
    const sealed = seal(JSON.stringify(ACCOUNT), pair.publicKey, 'bot2');
    const other = sealingKeysFromEnv({ [SEALING_KEYS_VARIABLE]: newSealingKeyPair().privateKey });
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[4]!, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    const tampered = [...parts.slice(0, 4), flipped.toString('base64')].join('.');
    const attempts: [() => string, RegExp][] = [
      [() => unseal(sealed, keys, 'bot3'), /do not open with key .* sealed for another worker name/],
      [() => unseal(sealed, other, 'bot2'), /sealed for key [0-9a-f]{16}, which LATENT_WORKER_SEALING_KEYS does not hold/],
      [() => unseal(tampered, keys, 'bot2'), /tampered with/],
      [() => unseal(sealed, [], 'bot2'), /this worker process has no LATENT_WORKER_SEALING_KEYS/],
      [() => unseal('os_password=hunter2', keys, 'bot2'), /not in the olw-sealed-v1 format/],
    ];
    for (const [attempt, message] of attempts) {
      expect(attempt).toThrow(SealingError);
      expect(attempt).toThrow(message);
    }
    expect(() => sealingKeysFromEnv({ [SEALING_KEYS_VARIABLE]: 'not-a-key' })).toThrow(/key 1 is not a base64 X25519 private key/);
  });

  it('give a master-defined worker its credentials, from the account only, never from the fleet\'s OS_* variables', () => {
    const sealed = seal(JSON.stringify({ ...ACCOUNT, client_version: '2.60' }), pair.publicKey, 'bot2');
    const worker = masterDefinedWorker('bot2', sealed, keys, { OS_PASSWORD: 'fleet-password', OS_REGION_NAME: 'FleetRegion' });
    expect(worker.definition.client_version).toBe('2.60');
    expect(JSON.stringify(worker.credentials)).toContain(ACCOUNT.os_password);
    expect(JSON.stringify(worker.credentials)).not.toMatch(/fleet-password|FleetRegion/);
    const bad = seal(JSON.stringify({ os_password: 'x', client_version: '2', extra: 'value-not-to-echo' }), pair.publicKey, 'bot2');
    expect(() => masterDefinedWorker('bot2', bad, keys, {})).toThrow(/the sealed account arguments are not a mapping of os_username/);
    expect(() => masterDefinedWorker('bot2', bad, keys, {})).not.toThrow(/value-not-to-echo/);
  });

  it('open what the Python adapter sealed', async () => {
    await requireInstall(BUILDBOT4);
    const { stdout } = await run(
      BUILDBOT4.python,
      ['-c', `from latent_worker_buildbot.sealing import seal, public_key_from_env; print(seal(${JSON.stringify(JSON.stringify(ACCOUNT))}, public_key_from_env(), "bot2"))`],
      { env: { ...process.env, LATENT_WORKER_SEALING_PUBLIC_KEY: pair.publicKey }, timeout: 60_000 },
    );
    expect(JSON.parse(unseal(stdout.trim(), keys, 'bot2'))).toEqual(ACCOUNT);
  });
});
