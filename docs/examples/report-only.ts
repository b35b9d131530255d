import { definePolicy, jwt } from 'portcullis';

export default definePolicy({
  mode: 'report', // the whole policy…
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  rateLimits: { api: { limit: 100, window: '15m', mode: 'report' } }, // …or one bucket…
  routes: {
    'GET /v1/users/:id': { authn: ['user'], allow: 'authenticated', rateLimit: ['api'] },
    'DELETE /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }], mode: 'report' }, // …or one route
  },
});
