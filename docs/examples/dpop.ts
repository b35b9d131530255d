import { definePolicy, jwt } from 'portcullis';

const issuer = { jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' } as const;

export default definePolicy({
  authn: {
    // Only tokens bound to a key (cnf.jkt), each request with a fresh proof from that key.
    payer: jwt({ ...issuer, dpop: 'required' }),
    // Bearer tokens too, but never a bound one without its proof: for reads while clients move over.
    reader: jwt({ ...issuer, dpop: { mode: 'allowed', algorithms: ['ES256', 'EdDSA'], maxAge: 60 } }),
  },
  rateLimits: { api: { limit: 100, window: '15m' } }, // the store also remembers each proof's jti
  routes: {
    'GET /v1/payments': { authn: ['reader'], allow: 'authenticated', rateLimit: ['api'] },
    'POST /v1/payments': { authn: ['payer'], allow: [{ scopes: ['payments:write'] }], rateLimit: ['api'] },
  },
});
