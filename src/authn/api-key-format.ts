/**
 * The API key format: `<prefix>_<random>_<checksum>`, e.g. `pk_live_3xT…Zq_1a2B3c`.
 *
 * - `prefix`: letters and digits in `_`-separated words, starting with a letter (`pk_live`).
 * - `random`: 32 bytes from the platform CSPRNG in base62, 43 characters (256 bits).
 * - `checksum`: CRC-32 of `<prefix>_<random>` in base62, 6 characters.
 *
 * The checksum lets a gateway refuse a mistyped or made-up key before any hashing or lookup, and lets
 * secret scanners match keys with few false positives (see `API_KEY_PATTERN`). It proves nothing
 * about a key: anyone can compute it. Only the key store can say a key is real.
 * @module
 */

import { crc32 } from './crc32.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 62^43 > 2^256: 32 random bytes always fit in 43 base62 digits. */
const RANDOM_LENGTH = 43;
/** 62^6 > 2^32: a CRC-32 always fits in 6 base62 digits. */
const CHECKSUM_LENGTH = 6;

/** A key prefix: words of letters and digits joined by `_`, starting with a letter. */
export const API_KEY_PREFIX = /^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$/;

/**
 * What secret scanners (GitHub secret scanning custom patterns, gitleaks, trufflehog) can match:
 * any key of this format. A pattern with your own prefix spelled out (`\bpk_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}\b`)
 * has fewer false positives still; a match whose checksum verifies (`hasValidChecksum`) is almost surely a key.
 */
export const API_KEY_PATTERN = /\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}\b/;

const SHAPE = /^([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*)_([0-9A-Za-z]{43})_([0-9A-Za-z]{6})$/;

/** Fixed-width base62 of a non-negative integer. */
function base62(value: bigint, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = BASE62[Number(value % 62n)]! + out;
    value /= 62n;
  }
  return out;
}

/** The checksum part of a key whose `<prefix>_<random>` is `body`. */
function checksumOf(body: string): string {
  return base62(BigInt(crc32(body)), CHECKSUM_LENGTH);
}

/**
 * A new key of the format above, from 32 random bytes (the platform CSPRNG unless given, for tests).
 * @example
 * formatApiKey('pk_live'); // 'pk_live_…43 characters…_…6 characters…'
 */
export function formatApiKey(prefix: string, random: Uint8Array = crypto.getRandomValues(new Uint8Array(32))): string {
  if (!API_KEY_PREFIX.test(prefix) || prefix.length > 32) {
    throw new TypeError(`generateApiKey: the prefix "${prefix}" must be up to 32 letters, digits and single underscores, starting with a letter (e.g. "pk_live")`);
  }
  if (random.length !== 32) throw new TypeError('generateApiKey: the random part takes 32 bytes');
  const value = random.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  const body = `${prefix}_${base62(value, RANDOM_LENGTH)}`;
  return `${body}_${checksumOf(body)}`;
}

/**
 * Does the key have this format, and does its checksum match? `none`: the key is not of this format
 * (an older key); `invalid`: it is, and its checksum is wrong (a typo, a truncation, a made-up key).
 */
export function checkApiKeyChecksum(key: string): 'valid' | 'invalid' | 'none' {
  const match = SHAPE.exec(key);
  if (!match) return 'none';
  // Not a secret comparison: the checksum is a public function of the rest of the key.
  return checksumOf(`${match[1]}_${match[2]}`) === match[3] ? 'valid' : 'invalid';
}
