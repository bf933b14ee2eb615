import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { KEYS_VARIABLE, type EncryptionKey, type KeyRing } from './keys.js';
import { parsePayload, serializePayload } from './payloadProto.js';

// The layout of Temporal's encryption samples: metadata {encoding: binary/encrypted,
// encryption-key-id}, data = 12-byte IV, ciphertext, 16-byte GCM tag.
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A payload this codec cannot decrypt; the message names the key id, never key material. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

/**
 * AES-256-GCM over each whole payload (metadata included, so even the encoding is hidden). The
 * key id travels in the clear so that keys can rotate: new payloads use the ring's current key,
 * older ones are read with whichever key they name. Payloads that are not encrypted pass through
 * decoding unchanged, so histories written before encryption was turned on stay readable.
 */
export class AesGcmCodec implements PayloadCodec {
  constructor(private readonly keys: KeyRing) {}

  /** The ids this codec can decrypt, the encrypting one first. */
  get keyIds(): string[] {
    return [this.keys.current.id, ...[...this.keys.byId.keys()].filter((id) => id !== this.keys.current.id)];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.keys.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv);
    const sealed = Buffer.concat([iv, cipher.update(serializePayload(payload)), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { [METADATA_ENCODING_KEY]: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) }, data: sealed };
  }

  private decrypt(payload: Payload): Payload {
    const { id, key } = this.keyFor(payload);
    const sealed = Buffer.from(payload.data ?? new Uint8Array());
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload (key "${id}") is truncated: ${sealed.length} bytes`);
    const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `cannot decrypt a payload with key "${id}" of ${this.keys.source}: authentication failed, so either that key is not the one it was encrypted with or the payload was altered`,
      );
    }
    return parsePayload(plain);
  }

  private keyFor(payload: Payload): EncryptionKey {
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    if (!idBytes) throw new PayloadDecryptionError(`encrypted payload carries no "${KEY_ID_METADATA}" metadata`);
    const id = text.decode(idBytes);
    const key = this.keys.byId.get(id);
    if (!key) {
      const known = this.keyIds.map((known) => `"${known}"`).join(', ');
      throw new PayloadDecryptionError(
        `a payload was encrypted with key "${id}", which ${this.keys.source} does not hold (it has ${known}); after a rotation keep the old key in ${KEYS_VARIABLE} behind the new one`,
      );
    }
    return key;
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return encoding !== undefined && encoding !== null && text.decode(encoding) === ENCRYPTED_ENCODING;
}
