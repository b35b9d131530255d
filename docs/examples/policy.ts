import * as v from 'valibot';
import { definePolicy, jwt } from 'portcullis';

export default definePolicy({
  // HTTPS is required by default: http:// gets a 308 to https:// (GET, HEAD) or a 403.
  // For local development, plain HTTP straight from 127.0.0.1 or ::1 is let through (never a proxied request).
  transport: { allowLoopbackHttp: true },
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  roleHierarchy: { admin: ['user'] },
  cors: { origins: ['https://app.example.com'], credentials: true },
  rateLimits: { api: { limit: 100, window: '15m' } }, // per caller: the principal, or the address when anonymous
  limits: { maxBodyBytes: 16 * 1024 },
  routes: {
    'GET /v1/health': { authn: 'anonymous', rateLimit: ['api'] },
    'GET /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }], rateLimit: ['api'] },
    'PATCH /v1/users/:id': {
      authn: ['user'],
      allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }],
      rateLimit: ['api'],
      body: v.strictObject({ name: v.optional(v.pipe(v.string(), v.maxLength(100))), email: v.optional(v.pipe(v.string(), v.email())) }),
    },
    'DELETE /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }], rateLimit: ['api'] },
  },
});
