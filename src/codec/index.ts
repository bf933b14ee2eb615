import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from './encryption.js';
import { keyRingFromEnv } from './keys.js';

export { AesGcmCodec, ENCRYPTED_ENCODING, isEncrypted, KEY_ID_METADATA, PayloadDecryptionError } from './encryption.js';
export { EncryptionKeyError, KEY_VARIABLE, KEYS_VARIABLE, keyRingFromEnv, type KeyRing } from './keys.js';

type Env = Record<string, string | undefined>;

/** The payload codec the environment asks for, or undefined when encryption is off. */
export function codecFromEnv(env: Env = process.env): AesGcmCodec | undefined {
  const keys = keyRingFromEnv(env);
  return keys && new AesGcmCodec(keys);
}

/**
 * What every worker and client of a deployment must share: with encryption on, payloads and
 * failure messages are encrypted; off, Temporal's defaults. Throws an EncryptionKeyError
 * (a ConfigError) for malformed keys.
 */
export function dataConverterFromEnv(env: Env = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec && dataConverterFor(codec);
}

export function dataConverterFor(codec: AesGcmCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath: failureConverterPath() };
}

/** One line for a process's start-up banner. */
export function describeEncryption(dataConverter: DataConverter | undefined): string {
  const codec = dataConverter?.payloadCodecs?.find((candidate) => candidate instanceof AesGcmCodec);
  if (!codec) return 'payload encryption off';
  const [current, ...older] = codec.keyIds;
  return `payload encryption on (key "${current}"${older.length ? `; also decrypts ${older.map((id) => `"${id}"`).join(', ')}` : ''})`;
}

/** Compiled in dist/, the CommonJS source when run from src/. */
export function failureConverterPath(): string {
  const compiled = fileURLToPath(new URL('./failureConverter.cjs', import.meta.url));
  return existsSync(compiled) ? compiled : compiled.replace(/\.cjs$/, '.cts');
}
