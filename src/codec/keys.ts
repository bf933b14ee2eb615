import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';

/** The one variable that holds a key ring: `id:base64key` entries, the first one encrypts. */
export const KEYS_VARIABLE = 'LATENT_WORKER_ENCRYPTION_KEYS';
/** A single key, the same as `LATENT_WORKER_ENCRYPTION_KEYS=default:<key>`. */
export const KEY_VARIABLE = 'LATENT_WORKER_ENCRYPTION_KEY';
export const SINGLE_KEY_ID = 'default';
/**
 * A file holding the key ring, as LATENT_WORKER_ENCRYPTION_KEYS would: for a secret kept out of
 * the environment, e.g. a systemd credential (`LoadCredential=`, deploy/systemd/).
 */
export const KEYS_FILE_VARIABLE = 'LATENT_WORKER_ENCRYPTION_KEYS_FILE';

const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const HOW_TO_MAKE_ONE = 'make one with: openssl rand -base64 32';

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface KeyRing {
  /** New payloads are encrypted with this key. */
  current: EncryptionKey;
  /** Every key that may decrypt, the current one included. */
  byId: ReadonlyMap<string, EncryptionKey>;
  /** The variable the keys came from, for messages. */
  source: string;
}

/** Bad key material; its message names the variable and the key id, never the key. */
export class EncryptionKeyError extends ConfigError {
  override name = 'EncryptionKeyError';
}

type Env = Record<string, string | undefined>;

/** The key ring the environment describes, or undefined when payload encryption is off. */
export function keyRingFromEnv(env: Env): KeyRing | undefined {
  const ring = env[KEYS_VARIABLE]?.trim() || undefined;
  const single = env[KEY_VARIABLE]?.trim() || undefined;
  const file = env[KEYS_FILE_VARIABLE]?.trim() || undefined;
  const set = [ring && KEYS_VARIABLE, single && KEY_VARIABLE, file && KEYS_FILE_VARIABLE].filter(Boolean);
  if (set.length > 1) throw new EncryptionKeyError(`set one of ${KEYS_VARIABLE}, ${KEY_VARIABLE} or ${KEYS_FILE_VARIABLE}, not ${set.join(' and ')}`);
  if (single) return keyRing([{ id: SINGLE_KEY_ID, key: decodeKey(single, KEY_VARIABLE) }], KEY_VARIABLE);
  if (ring) return keyRing(parseRing(ring, KEYS_VARIABLE), KEYS_VARIABLE);
  if (file) {
    const source = `${KEYS_FILE_VARIABLE} (${file})`;
    return keyRing(parseRing(readKeyFile(file, source), source), source);
  }
  return undefined;
}

function readKeyFile(file: string, source: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new EncryptionKeyError(`${source} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function parseRing(text: string, source: string): EncryptionKey[] {
  // A stray comma (e.g. from joining a list in a deployment template) is not worth refusing.
  const entries = text.split(/[,\n]/).map((entry) => entry.trim()).filter((entry) => entry !== '');
  const keys: EncryptionKey[] = [];
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    if (colon < 0) throw new EncryptionKeyError(`${source}: entry ${index + 1} is not "id:base64key"`);
    const id = entry.slice(0, colon);
    if (!KEY_ID.test(id)) {
      throw new EncryptionKeyError(`${source}: entry ${index + 1} has key id ${JSON.stringify(id)}; ids are 1-64 letters, digits, ".", "_" or "-"`);
    }
    if (keys.some((key) => key.id === id)) throw new EncryptionKeyError(`${source}: key id "${id}" appears twice`);
    keys.push({ id, key: decodeKey(entry.slice(colon + 1), `${source}: key "${id}"`) });
  });
  return keys;
}

function decodeKey(text: string, what: string): Buffer {
  const value = text.trim();
  // Buffer.from skips characters it does not know, so a typo would silently give another key.
  if (!BASE64.test(value) && !BASE64URL.test(value)) throw new EncryptionKeyError(`${what} is not base64; ${HOW_TO_MAKE_ONE}`);
  const key = Buffer.from(value, BASE64.test(value) ? 'base64' : 'base64url');
  if (key.length !== KEY_BYTES) {
    throw new EncryptionKeyError(`${what} is ${key.length} bytes; AES-256-GCM needs exactly ${KEY_BYTES} (${HOW_TO_MAKE_ONE})`);
  }
  return key;
}

function keyRing(keys: EncryptionKey[], source: string): KeyRing {
  const [current] = keys;
  if (!current) throw new EncryptionKeyError(`${source} holds no key`);
  return { current, byId: new Map(keys.map((key) => [key.id, key])), source };
}
