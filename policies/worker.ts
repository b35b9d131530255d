/**
 * The Worker of wrangler.toml (`npx wrangler dev`): portcullis at the edge, guarding the origin at
 * `ORIGIN_URL`. README's "Cloudflare Workers" section shows this file; test/cloudflare runs it.
 * @module
 */

import { apiKey, definePolicy, jwt, type ApiKeyRecord } from 'portcullis';
import { binding, gateway } from 'portcullis/cloudflare';

export interface Env {
  /** var: the origin this Worker guards. */
  ORIGIN_URL: string;
  /** vars: the identity provider whose ES256 tokens users present. */
  JWKS_URL: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  /** secret: HMAC key of the identity assertion; the origin verifies with the same key. */
  PORTCULLIS_IDENTITY_KEY: string;
  /** secret: JSON of SHA-256(key) → { principal, scopes } (`hashApiKey`); the keys themselves live nowhere. */
  API_KEYS: string;
}

export default gateway((env: Env) =>
  definePolicy({
    // On Workers the client is CF-Connecting-IP, which Cloudflare's edge sets.
    clientIp: { trustedProxies: ['cloudflare'] },
    authn: {
      user: jwt({ jwksUrl: binding(env, 'JWKS_URL'), issuer: binding(env, 'JWT_ISSUER'), audience: binding(env, 'JWT_AUDIENCE'), algorithms: ['ES256'] }),
      service: apiKey({ header: 'x-api-key', keys: JSON.parse(binding(env, 'API_KEYS')) as Record<string, ApiKeyRecord> }),
    },
    // Per isolate with the default memory store; pass a Durable Objects or Upstash store (gateway options.engine) for global limits.
    rateLimits: { api: { limit: 100, window: '1m', by: 'principal' } },
    routes: {
      'GET /v1/health': { authn: 'anonymous', rateLimit: ['api'] },
      'GET /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }], rateLimit: ['api'] },
      'GET /v1/reports': { authn: ['service'], allow: [{ scopes: ['reports:read'] }], rateLimit: ['api'] },
    },
  }),
);
