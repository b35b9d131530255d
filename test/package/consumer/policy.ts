// The policy `npx portcullis lint policy.ts` reads: TypeScript that imports a local module as a
// NodeNext project writes it (./settings.js for settings.ts).
import { definePolicy, jwt } from 'portcullis';
import { audience } from './settings.js';

interface Issuer {
  url: string;
  jwks: string;
}
const issuer: Issuer = { url: 'https://id.example.com', jwks: 'https://id.example.com/.well-known/jwks.json' };

export default definePolicy({
  authn: { user: jwt({ jwksUrl: issuer.jwks, issuer: issuer.url, audience, algorithms: ['ES256'] }) },
  rateLimits: { api: { limit: 100, window: '1m' } },
  routes: {
    'GET /v1/health': { authn: 'anonymous', rateLimit: ['api'] },
    'GET /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }], rateLimit: ['api'] },
  },
});
