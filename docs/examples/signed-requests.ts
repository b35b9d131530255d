import * as v from 'valibot';
import { definePolicy, signature } from 'portcullis';

// The partner's public key (here the Ed25519 test key of RFC 9421, Appendix B.1.4).
const partnerKey = { kty: 'OKP', crv: 'Ed25519', x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs' };
const { PAYMENTS_WEBHOOK_SECRET, PAYMENTS_WEBHOOK_SECRET_OLD } = process.env;

export default definePolicy({
  authn: {
    // Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature: v1,<base64>.
    // Two secrets while the sender rotates; a webhook-id is accepted once.
    payments: signature({
      scheme: 'standard-webhooks',
      secrets: [PAYMENTS_WEBHOOK_SECRET!, ...(PAYMENTS_WEBHOOK_SECRET_OLD ? [PAYMENTS_WEBHOOK_SECRET_OLD] : [])],
      principal: 'payments-provider',
      scopes: ['webhooks:payments'],
    }),
    // HTTP Message Signatures (RFC 9421): keys by keyid; every signature covers the method and
    // the whole target URI, and content-digest whenever there is a body.
    partner: signature({
      scheme: 'http-message-signatures',
      keys: { 'partner-2026': { algorithm: 'ed25519', key: partnerKey, principal: 'partner', scopes: ['transfers:write'] } },
      components: ['@method', '@target-uri', 'content-type'],
      maxAge: 300,
    }),
  },
  rateLimits: { api: { limit: 600, window: '1m' } },
  routes: {
    'POST /v1/webhooks/payments': {
      authn: ['payments'],
      allow: [{ scopes: ['webhooks:payments'] }],
      rateLimit: ['api'],
      body: v.strictObject({ type: v.pipe(v.string(), v.maxLength(100)), timestamp: v.optional(v.pipe(v.string(), v.maxLength(40))), data: v.record(v.pipe(v.string(), v.maxLength(100)), v.unknown()) }),
      maxBodyBytes: 64 * 1024,
    },
    'POST /v1/transfers': {
      authn: ['partner'],
      allow: [{ scopes: ['transfers:write'] }],
      rateLimit: ['api'],
      body: v.strictObject({ amount: v.pipe(v.number(), v.integer(), v.minValue(1)), currency: v.picklist(['EUR', 'USD']) }),
      maxBodyBytes: 4 * 1024,
    },
  },
});
