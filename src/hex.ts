/**
 * Lowercase hex of bytes: digests as keys and fingerprints (replay keys, certificate thumbprints,
 * hashed names, Redis script SHAs).
 * @module
 */

export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
