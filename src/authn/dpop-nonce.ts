/**
 * DPoP server nonces (RFC 9449 §8, §9) without server state: a nonce names a time slot and carries
 * the HMAC of it, so every gateway holding the same secret issues and accepts the same nonces, and
 * no store is asked. A nonce is good in its own slot and the next one.
 * @module
 */

import { base64url } from 'jose';
import { policyError } from '../errors.ts';

/** Options of DPoP nonces. */
export interface DpopNonceOptions {
  /** The HMAC secret; at least 32 bytes. Gateways that share it accept each other's nonces. */
  secret: string | Uint8Array;
  /** Seconds a nonce is handed out for; it is accepted for up to twice as long. @default 300 */
  lifetime?: number;
}

/** Issues and checks nonces. */
export interface DpopNonces {
  /** The nonce to hand out at `nowMs`. */
  current(nowMs: number): Promise<string>;
  /** Whether `nonce` was issued by these nonces in this slot or the one before. */
  accepts(nonce: unknown, nowMs: number): Promise<boolean>;
}

/** `slot.mac`: a decimal slot number and a base64url HMAC-SHA-256 (43 characters). */
const NONCE = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/;

/** Compiles nonce options; `at` names them in policy errors. */
export function compileNonces(options: DpopNonceOptions, at: string): DpopNonces {
  if (typeof options !== 'object' || options === null) policyError(at, 'must be { secret, lifetime? }');
  const bytes = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret instanceof Uint8Array ? new Uint8Array(options.secret) : undefined;
  if (!bytes || bytes.byteLength < 32) policyError(`${at}.secret`, 'is required, at least 32 bytes: a short HMAC secret can be guessed from the nonces it signed');
  const lifetime = options.lifetime ?? 300;
  if (!Number.isInteger(lifetime) || lifetime < 1) policyError(`${at}.lifetime`, 'must be a positive whole number of seconds');
  const slotMs = lifetime * 1000;
  const key = crypto.subtle.importKey('raw', bytes as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  key.catch(() => {});
  const encoder = new TextEncoder();
  const data = (slot: number) => encoder.encode(`dpop-nonce.${slot}`);
  let issued: { slot: number; nonce: Promise<string> } | undefined;

  return {
    current(nowMs) {
      const slot = Math.floor(nowMs / slotMs);
      if (issued?.slot !== slot) {
        const nonce = key.then(async (k) => `${slot}.${base64url.encode(new Uint8Array(await crypto.subtle.sign('HMAC', k, data(slot))))}`);
        issued = { slot, nonce };
      }
      return issued.nonce;
    },
    async accepts(nonce, nowMs) {
      const match = typeof nonce === 'string' ? NONCE.exec(nonce) : null;
      if (!match) return false;
      const slot = Number(match[1]);
      const now = Math.floor(nowMs / slotMs);
      if (slot !== now && slot !== now - 1) return false;
      return crypto.subtle.verify('HMAC', await key, base64url.decode(match[2]!) as BufferSource, data(slot));
    },
  };
}
