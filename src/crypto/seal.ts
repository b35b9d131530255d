/**
 * Field encryption at rest: AES-256-GCM through WebCrypto, one sealed string per value, a key id in
 * each so that keys rotate, and associated data that binds the value to its record and column.
 * @module
 */

import { base64url } from 'jose';
import { policyError } from '../errors.ts';

/** The version prefix of every sealed value. */
export const SEAL_VERSION = 'v1';

/** Where a value lives: opening it anywhere else fails, so a sealed email cannot be copied onto another user's row. */
export interface SealContext {
  /** The record's stable id, e.g. the user id `u_alice`. */
  record: string;
  /** The column (or field) the value belongs to, e.g. `users.email`. */
  column: string;
}

/** Options of `fieldKeyring`. */
export interface FieldKeyringOptions {
  /**
   * Key id → 256-bit key, as 32 raw bytes or their base64url (`generateFieldKey()`). Every key
   * opens what it sealed; keep an old key here until no value sealed with it is left.
   */
  keys: Readonly<Record<string, Uint8Array | string>>;
  /** The id of the key that seals new values. */
  current: string;
}

/** Seals and opens field values with a set of keys. */
export interface FieldKeyring {
  /** The id of the key that seals. */
  readonly current: string;
  /** Seals `plaintext` with the current key: `v1.<kid>.<iv>.<ciphertext>`. A fresh random IV every time. */
  seal(plaintext: string, context: SealContext): Promise<string>;
  /** Opens a sealed value with the key it names; throws a `SealError` when it is malformed, its key unknown, or it was changed or moved. */
  open(sealed: string, context: SealContext): Promise<string>;
  /** The key id a sealed value names, without opening it (to find values left to re-seal). */
  keyId(sealed: string): string;
  /** The value sealed with the current key: opened and sealed again when another key sealed it, unchanged otherwise. */
  reseal(sealed: string, context: SealContext): Promise<string>;
}

/** Why a sealed value was not opened. */
export class SealError extends Error {
  readonly code: 'ERR_SEAL_MALFORMED' | 'ERR_SEAL_UNKNOWN_KEY' | 'ERR_SEAL_REJECTED';
  constructor(code: SealError['code'], message: string) {
    super(message);
    this.name = 'SealError';
    this.code = code;
  }
}

const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A keyring for sealing fields. Keys are checked here and imported (non-extractable) on first use.
 *
 * Format: `v1.<kid>.<iv>.<ciphertext>`, the IV (12 bytes) and the ciphertext with its 16-byte tag
 * in base64url without padding. The associated data is the UTF-8 of the JSON array
 * `["v1", kid, record, column]`: the version, the key id, and the context, all authenticated.
 *
 * @example
 * ```ts
 * const keyring = fieldKeyring({ keys: { k2: process.env.FIELD_KEY_2!, k1: process.env.FIELD_KEY_1! }, current: 'k2' });
 * const sealed = await keyring.seal('alice@example.com', { record: 'u_alice', column: 'email' });
 * const email = await keyring.open(sealed, { record: 'u_alice', column: 'email' });
 * ```
 */
export function fieldKeyring(options: FieldKeyringOptions): FieldKeyring {
  const raw = new Map<string, Uint8Array<ArrayBuffer>>();
  for (const [id, key] of Object.entries(options.keys ?? {})) {
    if (!KEY_ID.test(id)) policyError(`fieldKeyring().keys[${JSON.stringify(id)}]`, 'a key id is 1 to 64 letters, digits, "_" or "-"');
    const bytes = typeof key === 'string' ? decodeStrict(key) : key instanceof Uint8Array ? new Uint8Array(key) : undefined;
    if (bytes?.byteLength !== 32) policyError(`fieldKeyring().keys.${id}`, 'must be 32 bytes (AES-256), raw or base64url: make one with generateFieldKey()');
    raw.set(id, bytes);
  }
  const current = options.current;
  if (!raw.has(current)) policyError('fieldKeyring().current', `no key named ${JSON.stringify(current)} in keys`);

  const imported = new Map<string, Promise<CryptoKey>>();
  const keyFor = (id: string) => {
    let key = imported.get(id);
    if (!key) imported.set(id, (key = importAesKey(raw.get(id)!)));
    return key;
  };

  const keyring: FieldKeyring = {
    current,
    async seal(plaintext, context) {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const sealed = await aesGcmEncrypt(await keyFor(current), iv, encoder.encode(plaintext), associatedData(current, context));
      return `${SEAL_VERSION}.${current}.${base64url.encode(iv)}.${base64url.encode(sealed)}`;
    },
    async open(sealed, context) {
      const { kid, iv, ciphertext } = parseSealed(sealed);
      if (!raw.has(kid)) throw new SealError('ERR_SEAL_UNKNOWN_KEY', `no key named ${JSON.stringify(kid)} in the keyring`);
      let plaintext: Uint8Array;
      try {
        plaintext = await aesGcmDecrypt(await keyFor(kid), iv, ciphertext, associatedData(kid, context));
      } catch {
        throw new SealError('ERR_SEAL_REJECTED', 'the sealed value was changed, or belongs to another record or column');
      }
      return decoder.decode(plaintext);
    },
    keyId: (sealed) => parseSealed(sealed).kid,
    async reseal(sealed, context) {
      if (parseSealed(sealed).kid === current) return sealed;
      return keyring.seal(await keyring.open(sealed, context), context);
    },
  };
  return keyring;
}

/**
 * A fresh 256-bit field key, base64url: what `fieldKeyring` takes in `keys`.
 * @example
 * ```ts
 * console.log(generateFieldKey()); // store it as a secret, e.g. FIELD_KEY_1
 * ```
 */
export function generateFieldKey(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
}

/** The authenticated associated data of a value sealed with key `kid` in `context`. */
export function associatedData(kid: string, context: SealContext): Uint8Array<ArrayBuffer> {
  if (typeof context?.record !== 'string' || typeof context.column !== 'string') throw new TypeError('a seal context is { record: string, column: string }');
  return encoder.encode(JSON.stringify([SEAL_VERSION, kid, context.record, context.column]));
}

function parseSealed(sealed: string): { kid: string; iv: Uint8Array<ArrayBuffer>; ciphertext: Uint8Array<ArrayBuffer> } {
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  if (parts.length !== 4 || parts[0] !== SEAL_VERSION) throw new SealError('ERR_SEAL_MALFORMED', 'not a sealed value (v1.<kid>.<iv>.<ciphertext>)');
  const [, kid, iv, ciphertext] = parts as [string, string, string, string];
  const ivBytes = decodeStrict(iv);
  const ciphertextBytes = decodeStrict(ciphertext);
  if (!KEY_ID.test(kid) || ivBytes?.byteLength !== IV_BYTES || ciphertextBytes === undefined || ciphertextBytes.byteLength < TAG_BYTES) {
    throw new SealError('ERR_SEAL_MALFORMED', 'not a sealed value (v1.<kid>.<iv>.<ciphertext>)');
  }
  return { kid, iv: ivBytes, ciphertext: ciphertextBytes };
}

/** base64url without padding, in its one canonical spelling; `undefined` for anything else. */
function decodeStrict(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const bytes = base64url.decode(text) as Uint8Array<ArrayBuffer>;
    return base64url.encode(bytes) === text ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Imports 32 raw bytes as a non-extractable AES-GCM key. */
export function importAesKey(bytes: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', bytes, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** AES-GCM with a 96-bit IV and a 128-bit tag: the ciphertext with the tag appended. */
export async function aesGcmEncrypt(key: CryptoKey, iv: Uint8Array<ArrayBuffer>, plaintext: Uint8Array<ArrayBuffer>, additionalData: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData, tagLength: TAG_BYTES * 8 }, key, plaintext));
}

/** Opens what `aesGcmEncrypt` made; rejects when the tag does not verify. */
export async function aesGcmDecrypt(key: CryptoKey, iv: Uint8Array<ArrayBuffer>, ciphertext: Uint8Array<ArrayBuffer>, additionalData: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData, tagLength: TAG_BYTES * 8 }, key, ciphertext));
}
