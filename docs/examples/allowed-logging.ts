import { definePolicy, jwt } from 'portcullis';

export default definePolicy({
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  // One allowed request in ten becomes a portcullis.allow event, for `portcullis replay`.
  // Query values are left out of it, except the page number's.
  logging: { allowed: { sample: 0.1, queryValues: ['page'] } },
  rateLimits: { api: { limit: 100, window: '15m' } },
  routes: {
    'GET /v1/documents': { authn: ['user'], allow: [{ roles: ['reader'] }], rateLimit: ['api'] },
  },
});
