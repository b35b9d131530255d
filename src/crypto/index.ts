/**
 * `portcullis/crypto`: seal sensitive fields before they are stored (AES-256-GCM through WebCrypto,
 * on every runtime the engine runs on), with key ids for rotation and associated data that binds
 * each value to its record and column.
 *
 * @example
 * ```ts
 * import { fieldKeyring } from 'portcullis/crypto';
 * const keyring = fieldKeyring({ keys: { k1: process.env.FIELD_KEY_1! }, current: 'k1' });
 * const sealed = await keyring.seal('alice@example.com', { record: 'u_alice', column: 'email' });
 * ```
 * @module
 */

export { fieldKeyring, generateFieldKey, SEAL_VERSION, SealError } from './seal.ts';
export type { FieldKeyring, FieldKeyringOptions, SealContext } from './seal.ts';
