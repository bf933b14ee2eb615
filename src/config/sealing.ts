import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { ConfigError } from './errors.js';

// Credentials that a CI master hands to the worker fleet travel sealed: X25519 key agreement with a
// fresh key per seal, HKDF-SHA256, AES-256-GCM, the worker name as associated data. The master
// holds only the fleet's public key; only worker processes hold the private key, which is not the
// payload codec's key, so the Web UI's codec server cannot open them either. docs/credentials.md
// has the threat model. integrations/buildbot/latent_worker_buildbot/sealing.py is the Python half.

/** Worker processes: one private key, or several (comma-separated) while rotating; the first is current. */
export const SEALING_KEYS_VARIABLE = 'LATENT_WORKER_SEALING_KEYS';
/** Masters: the fleet's current public key. */
export const SEALING_PUBLIC_KEY_VARIABLE = 'LATENT_WORKER_SEALING_PUBLIC_KEY';

export const SEALED_PREFIX = 'olw-sealed-v1';
const INFO = Buffer.from('openstack-latent-worker sealed credentials v1');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const BASE64 = /^[A-Za-z0-9+/]{43}=$/;

export interface SealingKey {
  /** Names the key in each sealed value, so a fleet that rotates keys knows which one opens it. */
  id: string;
  privateKey: KeyObject;
  publicKey: Buffer;
}

/** Bad key material or a value that does not open; the message never holds a key or a secret. */
export class SealingError extends ConfigError {
  override name = 'SealingError';
}

export function keyIdOf(publicKey: Buffer): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

/** A new key pair, as the variables want them. */
export function newSealingKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const raw = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(X25519_PKCS8_PREFIX.length);
  return { privateKey: raw.toString('base64'), publicKey: rawPublic(publicKey).toString('base64') };
}

export function sealingKeysFromEnv(env: Record<string, string | undefined>): SealingKey[] {
  const text = env[SEALING_KEYS_VARIABLE]?.trim();
  if (!text) return [];
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => {
      if (!BASE64.test(entry)) throw new SealingError(`${SEALING_KEYS_VARIABLE}: key ${index + 1} is not a base64 X25519 private key of 32 bytes (make a pair with: latent-worker sealing-key)`);
      const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, Buffer.from(entry, 'base64')]), format: 'der', type: 'pkcs8' });
      const publicKey = rawPublic(createPublicKey(privateKey));
      return { id: keyIdOf(publicKey), privateKey, publicKey };
    });
}

/** Seals `plaintext` for the holder of `publicKey` (base64), bound to `workerName`. */
export function seal(plaintext: string, publicKeyBase64: string, workerName: string): string {
  const recipient = Buffer.from(publicKeyBase64, 'base64');
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralPublic = rawPublic(ephemeral.publicKey);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: publicKeyObject(recipient) });
  const key = deriveKey(shared, ephemeralPublic, recipient);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(workerName));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return [SEALED_PREFIX, keyIdOf(recipient), ephemeralPublic.toString('base64'), nonce.toString('base64'), ciphertext.toString('base64')].join('.');
}

/** Opens a value sealed for one of `keys` and bound to `workerName`. */
export function unseal(sealed: string, keys: readonly SealingKey[], workerName: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== SEALED_PREFIX) throw new SealingError(`worker "${workerName}": the sealed credentials are not in the ${SEALED_PREFIX} format`);
  const [, keyId, ephemeralText, nonceText, ciphertextText] = parts as [string, string, string, string, string];
  if (keys.length === 0) throw new SealingError(`worker "${workerName}": its credentials are sealed, but this worker process has no ${SEALING_KEYS_VARIABLE}`);
  const key = keys.find((candidate) => candidate.id === keyId);
  if (!key) throw new SealingError(`worker "${workerName}": its credentials are sealed for key ${keyId}, which ${SEALING_KEYS_VARIABLE} does not hold (it holds ${keys.map((k) => k.id).join(', ')})`);
  const ephemeralPublic = Buffer.from(ephemeralText, 'base64');
  const body = Buffer.from(ciphertextText, 'base64');
  try {
    const shared = diffieHellman({ privateKey: key.privateKey, publicKey: publicKeyObject(ephemeralPublic) });
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(shared, ephemeralPublic, key.publicKey), Buffer.from(nonceText, 'base64'));
    decipher.setAAD(Buffer.from(workerName));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealingError(`worker "${workerName}": the sealed credentials do not open with key ${keyId} (tampered with, or sealed for another worker name)`);
  }
}

function deriveKey(shared: Buffer, ephemeralPublic: Buffer, recipientPublic: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralPublic, recipientPublic]), INFO, 32));
}

function rawPublic(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length);
}

function publicKeyObject(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new SealingError('an X25519 public key has 32 bytes');
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}
