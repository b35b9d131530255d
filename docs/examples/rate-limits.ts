import { createEngine, definePolicy, jwt, memoryStore } from 'portcullis';

export const policy = definePolicy({
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  rateLimits: {
    api: { limit: 100, window: '15m' }, // per principal; per address when anonymous
    login: { limit: 5, window: '15m', by: 'ip', count: 'failures' }, // only 401/403 answers count
    burst: { limit: 20, window: '1s', by: 'ip', algorithm: 'token-bucket' },
  },
  rateLimiting: { onStoreError: 'deny', storeTimeoutMs: 1000 }, // the defaults
  routes: {
    'POST /v1/auth/login': { authn: 'anonymous', rateLimit: ['login', 'burst'], contentTypes: ['application/json'] },
    'GET /v1/users/:id': { authn: ['user'], allow: 'authenticated', rateLimit: ['api'] },
  },
});

// The default store, with room for more keys: 100,000 by default, about 200 bytes each.
export const engine = createEngine(policy, { rateLimitStore: memoryStore({ maxKeys: 1_000_000 }) });
