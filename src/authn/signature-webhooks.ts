/**
 * Webhook signatures: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)
 * and the Stripe-style `Stripe-Signature: t=…,v1=…` header. Both are HMAC-SHA-256 over a timestamp
 * and the body; Standard Webhooks adds a message id, which the replay cache refuses twice.
 * @module
 */

import { policyError } from '../errors.ts';
import { hexOf } from '../hex.ts';
import {
  anyHmacMatches,
  base64Bytes,
  hexBytes,
  hmacVerifyKey,
  prefixedBody,
  unixSeconds,
  type SignatureVerifier,
  type SignerRecord,
} from './signature-check.ts';

/** The secrets, the signer they stand for, and the clock window: what both webhook schemes take. */
export interface WebhookSchemeOptions {
  secrets: readonly string[];
  signer: SignerRecord;
  /** Seconds. */
  tolerance: number;
  /** The policy path of the options, for errors. */
  at: string;
}

/** Most signatures one header may list (rotation needs two or three): more is refused unread. */
const MAX_SIGNATURES = 8;
/** Standard Webhooks ids are short (`msg_…`); a longer one is no id a sender made. */
const WEBHOOK_ID = /^[\x21-\x7e]{1,256}$/;
/** The Standard Webhooks spec asks for secrets of 24 to 64 bytes. */
const MIN_SECRET_BYTES = 24;

/**
 * Standard Webhooks: HMAC-SHA-256 of `id.timestamp.body` under the secret's bytes (`whsec_` +
 * base64), in `webhook-signature` as space-separated `v1,<base64>` entries.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export function standardWebhooksVerifier({ secrets, signer, tolerance, at }: WebhookSchemeOptions): SignatureVerifier {
  const keys = secrets.map((secret, i) => {
    const bytes = secret.startsWith('whsec_') ? base64Bytes(secret.slice('whsec_'.length)) : undefined;
    if (!bytes) policyError(`${at}.secrets[${i}]`, 'must be "whsec_" followed by the base64 of the secret');
    if (bytes.byteLength < MIN_SECRET_BYTES) policyError(`${at}.secrets[${i}]`, `must hold at least ${MIN_SECRET_BYTES} bytes, got ${bytes.byteLength}`);
    return hmacVerifyKey(bytes);
  });
  return async function verifyStandardWebhook(request, body, nowMs) {
    const header = request.headers.get('webhook-signature');
    if (header === null) return { kind: 'absent' };
    const id = request.headers.get('webhook-id');
    const timestamp = unixSeconds(request.headers.get('webhook-timestamp'));
    if (id === null || !WEBHOOK_ID.test(id) || timestamp === undefined) return { kind: 'failure', reason: 'authn.signature_malformed' };
    if (Math.abs(nowMs / 1000 - timestamp) > tolerance) return { kind: 'failure', reason: 'authn.signature_stale' };
    const entries = header.split(' ').filter(Boolean);
    if (entries.length > MAX_SIGNATURES) return { kind: 'failure', reason: 'authn.signature_malformed' };
    // Other versions (`v1a`, asymmetric) are not this verifier's: skipped, as the spec asks.
    const signatures = entries.flatMap((entry) => {
      const bytes = entry.startsWith('v1,') ? base64Bytes(entry.slice(3)) : undefined;
      return bytes?.byteLength === 32 ? [bytes] : [];
    });
    if (!signatures.length) return { kind: 'failure', reason: 'authn.bad_signature' };
    const matched = await anyHmacMatches(keys, signatures, prefixedBody(`${id}.${timestamp}.`, body));
    if (!matched) return { kind: 'failure', reason: 'authn.bad_signature' };
    return {
      kind: 'verified',
      signer,
      // The id is the message's: a sender never reuses it for another message, so a second
      // delivery of it within the window is a replay (or a retry the origin has already seen).
      replay: { key: `webhook:${signer.principal}:${id}`, expiresAt: (timestamp + tolerance) * 1000 },
      claims: Object.freeze({ scheme: 'standard-webhooks', webhookId: id, timestamp }),
    };
  };
}

/**
 * Stripe-style: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA-256 of
 * `t.body` under the secret as written (the whole `whsec_…` string is the key). Other schemes
 * (`v0`) are ignored, as Stripe's libraries do.
 * @see https://docs.stripe.com/webhooks#verify-manually
 */
export function stripeVerifier({ secrets, signer, tolerance, at }: WebhookSchemeOptions): SignatureVerifier {
  const encoder = new TextEncoder();
  const keys = secrets.map((secret, i) => {
    if (secret.length < MIN_SECRET_BYTES) policyError(`${at}.secrets[${i}]`, `must be at least ${MIN_SECRET_BYTES} characters`);
    return hmacVerifyKey(encoder.encode(secret) as Uint8Array<ArrayBuffer>);
  });
  return async function verifyStripeSignature(request, body, nowMs) {
    const header = request.headers.get('stripe-signature');
    if (header === null) return { kind: 'absent' };
    const pairs = header.split(',');
    if (pairs.length > MAX_SIGNATURES + 2) return { kind: 'failure', reason: 'authn.signature_malformed' };
    let timestamp: number | undefined;
    const signatures: Uint8Array<ArrayBuffer>[] = [];
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (name === 't') {
        // Two timestamps: which one the signature covers is ambiguous.
        if (timestamp !== undefined) return { kind: 'failure', reason: 'authn.signature_malformed' };
        timestamp = unixSeconds(value);
        if (timestamp === undefined) return { kind: 'failure', reason: 'authn.signature_malformed' };
      } else if (name === 'v1') {
        const bytes = hexBytes(value);
        if (bytes?.byteLength === 32) signatures.push(bytes);
      }
    }
    if (timestamp === undefined) return { kind: 'failure', reason: 'authn.signature_malformed' };
    if (Math.abs(nowMs / 1000 - timestamp) > tolerance) return { kind: 'failure', reason: 'authn.signature_stale' };
    if (!signatures.length) return { kind: 'failure', reason: 'authn.bad_signature' };
    const matched = await anyHmacMatches(keys, signatures, prefixedBody(`${timestamp}.`, body));
    if (!matched) return { kind: 'failure', reason: 'authn.bad_signature' };
    return {
      kind: 'verified',
      signer,
      // No message id in the header: the signature itself is what a replay repeats.
      replay: { key: `stripe:${signer.principal}:${hexOf(matched)}`, expiresAt: (timestamp + tolerance) * 1000 },
      claims: Object.freeze({ scheme: 'stripe', timestamp }),
    };
  };
}
