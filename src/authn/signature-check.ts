/**
 * What every request-signature scheme (Standard Webhooks, Stripe-style, HTTP Message Signatures)
 * concludes, and the small pieces they share: HMAC keys, strict base64, the signed bytes.
 * @module
 */

import type { AuthnTarget } from './contract.ts';

/** A scheme's verdict on one request, before the replay cache. */
export type SignatureCheck =
  /** The request carries no signature of this scheme: the next method is tried. */
  | { kind: 'absent' }
  /** A signature was there and is refused, with this reason code. */
  | { kind: 'failure'; reason: string }
  /** A valid signature. */
  | {
      kind: 'verified';
      /** The principal the signing key stands for. */
      signer: SignerRecord;
      /** What a replay of this request would repeat (`webhook-id`, the signature), and until when it must be refused. */
      replay: { key: string; expiresAt: number };
      /** What the principal's claims carry about the signature (`webhookId`, `keyid`, covered components). */
      claims: Readonly<Record<string, unknown>>;
    };

/** Who a secret or key stands for. */
export interface SignerRecord {
  /** The principal id of requests signed with it. */
  principal: string;
  roles?: readonly string[];
  scopes?: readonly string[];
}

/**
 * Checks one request's signature against the bytes of its body (read once by the engine). `target`
 * is the method and URL the engine checked, the URL the client used; absent, the request's own.
 */
export type SignatureVerifier = (request: Request, body: Uint8Array, nowMs: number, target?: AuthnTarget) => Promise<SignatureCheck>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard (padded) base64 to bytes; `undefined` when it is not exactly that. */
export function base64Bytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!BASE64.test(text)) return undefined;
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

const HEX = /^(?:[0-9a-f]{2})+$/i;

/** Hex to bytes; `undefined` when it is not hex. */
export function hexBytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!HEX.test(text)) return undefined;
  return Uint8Array.from(text.match(/../g)!, (pair) => Number.parseInt(pair, 16));
}

/** An HMAC-SHA-256 key that can only verify. A failed import shows at its first use, not as an unhandled rejection at setup. */
export function hmacVerifyKey(bytes: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const key = crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  key.catch(() => {});
  return key;
}

const encoder = new TextEncoder();

/** `prefix` (UTF-8) followed by the body's bytes: the message an HMAC scheme signs. */
export function prefixedBody(prefix: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(prefix);
  const message = new Uint8Array(head.byteLength + body.byteLength);
  message.set(head);
  message.set(body, head.byteLength);
  return message;
}

/**
 * Whether any of `signatures` is the HMAC of `message` under any of `keys`. The platform's
 * `crypto.subtle.verify` compares the MACs in constant time; nothing here compares them itself.
 */
export async function anyHmacMatches(keys: readonly Promise<CryptoKey>[], signatures: readonly Uint8Array<ArrayBuffer>[], message: Uint8Array<ArrayBuffer>): Promise<Uint8Array | undefined> {
  for (const key of keys) {
    const cryptoKey = await key;
    for (const signature of signatures) {
      if (await crypto.subtle.verify('HMAC', cryptoKey, signature, message)) return signature;
    }
  }
  return undefined;
}

/** Seconds since the epoch in a header: digits only, at most 12 of them. */
export function unixSeconds(text: string | null): number | undefined {
  return text !== null && /^\d{1,12}$/.test(text) ? Number(text) : undefined;
}
