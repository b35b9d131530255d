/**
 * Fields sealed at rest with `portcullis/crypto`: a keyring from the environment, a value bound to
 * its row and column, and rotation.
 */
import { fieldKeyring, SealError } from 'portcullis/crypto';

// FIELD_KEY_2 seals; FIELD_KEY_1 still opens what it sealed until every value is re-sealed.
// Make a key with `generateFieldKey()` and keep it with your other secrets.
const keyring = fieldKeyring({
  keys: { k2: process.env.FIELD_KEY_2!, ...(process.env.FIELD_KEY_1 ? { k1: process.env.FIELD_KEY_1 } : {}) },
  current: 'k2',
});

/** The email column of a users table, as stored: `v1.k2.<iv>.<ciphertext>`. */
export function sealEmail(userId: string, email: string): Promise<string> {
  return keyring.seal(email, { record: userId, column: 'users.email' });
}

/** The email again; a value copied from another row (or another column) does not open. */
export async function openEmail(userId: string, sealed: string): Promise<string | undefined> {
  try {
    return await keyring.open(sealed, { record: userId, column: 'users.email' });
  } catch (error) {
    if (error instanceof SealError) return undefined; // changed, moved, or sealed with a retired key
    throw error;
  }
}

/** Rotation: a value sealed with an older key, sealed again with the current one (store the result). */
export function rotateEmail(userId: string, sealed: string): Promise<string> {
  return keyring.reseal(sealed, { record: userId, column: 'users.email' });
}
