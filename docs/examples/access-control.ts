import { apiKey, createEngine, definePolicy, jwt } from 'portcullis';

// SHA-256 hex of each key (`npm run apikey` prints it); the keys themselves are stored nowhere.
const FREE_KEY_HASH = 'f'.repeat(64);
const PRO_KEY_HASH = 'e'.repeat(64);

export const policy = definePolicy({
  // Behind a load balancer on 10.0.0.0/8 that sets X-Forwarded-For and CF-IPCountry-style headers.
  clientIp: { trustedProxies: ['10.0.0.0/8'], countryHeader: 'cf-ipcountry' },
  // Every route: never these networks or countries. Deny wins over any allow.
  ip: { deny: ['192.0.2.0/24', '2001:db8:bad::/48'] },
  country: { deny: ['KP'], unknown: 'allow' }, // a request no proxy placed is let through
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
    service: apiKey({
      keys: {
        [FREE_KEY_HASH]: { principal: 'acme', scopes: ['reports:read'] }, // the policy's quota: 1,000 a day
        [PRO_KEY_HASH]: { principal: 'globex', scopes: ['reports:read'], quota: { limit: 100_000, period: 'month' } }, // its own plan
      },
      requireChecksum: true, // every key in use was made by generateApiKey()
    }),
  },
  quotas: { reports: { limit: 1000, period: 'day', by: 'apiKey' } },
  rateLimits: { api: { limit: 100, window: '1m' } },
  routes: {
    'GET /v1/reports': { authn: ['service'], allow: [{ scopes: ['reports:read'] }], rateLimit: ['api'], quota: 'reports' },
    'GET /v1/admin/users': {
      authn: ['user'],
      allow: [{ roles: ['admin'] }],
      rateLimit: ['api'],
      ip: { allow: ['10.20.0.0/16', 'fd00:20::/32'] }, // the office and the VPN
      country: { allow: ['DE', 'AT', 'CH'] }, // and from the countries the team works in
    },
  },
});

export const engine = createEngine(policy);
