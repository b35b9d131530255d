/**
 * `Content-Digest` (RFC 9530): the hash of the body as sent, a Structured Field Dictionary such as
 * `sha-256=:<base64>:`. A signature that covers the header covers the body through it — only if the
 * gateway checks that the digest is the body's.
 * @module
 */

import { parseDictionary } from 'structured-headers';

/** The digest algorithms the gateway computes (RFC 9530 §7.2 "Active"). */
export const DIGEST_ALGORITHMS = { 'sha-256': 'SHA-256', 'sha-512': 'SHA-512' } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

/**
 * Checks `Content-Digest` against the body. Every accepted algorithm the header names must match (a
 * wrong one beside a right one is a body someone changed); at least one must be there.
 * Digests are public values, so comparing them takes no constant-time care.
 */
export async function checkContentDigest(
  header: string | null,
  body: Uint8Array<ArrayBuffer>,
  accepted: readonly DigestAlgorithm[],
): Promise<'ok' | 'authn.digest_missing' | 'authn.digest_mismatch' | 'authn.signature_malformed'> {
  if (header === null) return 'authn.digest_missing';
  let dictionary;
  try {
    dictionary = parseDictionary(header);
  } catch {
    return 'authn.signature_malformed';
  }
  let checked = 0;
  for (const algorithm of accepted) {
    const member = dictionary.get(algorithm);
    if (member === undefined) continue;
    const [value] = member;
    if (!(value instanceof ArrayBuffer)) return 'authn.signature_malformed';
    const digest = new Uint8Array(await crypto.subtle.digest(DIGEST_ALGORITHMS[algorithm], body));
    const claimed = new Uint8Array(value);
    if (claimed.byteLength !== digest.byteLength || claimed.some((byte, i) => byte !== digest[i])) return 'authn.digest_mismatch';
    checked++;
  }
  return checked ? 'ok' : 'authn.digest_missing';
}
