import * as v from 'valibot';
import { createEngine, definePolicy, ecsLineSink, jwt } from 'portcullis';

export const policy = definePolicy({
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  rateLimits: { login: { limit: 5, window: '15m', by: 'ip', count: 'failures' } },
  alerts: {
    // Credential stuffing: one username failing from any number of addresses.
    failed_logins: { kind: 'failed-logins', per: 'username', routes: ['POST /v1/auth/login'], threshold: 10, window: '5m' },
    // Password spraying: one address failing for many usernames (below the login bucket's 5 per 15 minutes).
    spraying: { kind: 'failed-logins', per: 'ip', routes: ['POST /v1/auth/login'], threshold: 4, window: '15m' },
    // A shared or stolen token: one principal from 5 addresses within an hour.
    shared_token: { kind: 'principal-ips', threshold: 5, window: '1h' },
    // Denials and server errors far above the last hour's rate.
    denial_spike: { kind: 'spike', of: 'denials', window: '1m', baseline: '1h', factor: 5, minimum: 50 },
    error_spike: { kind: 'spike', of: '5xx', window: '1m', baseline: '1h' },
  },
  routes: {
    'POST /v1/auth/login': {
      authn: 'anonymous',
      rateLimit: ['login'],
      body: v.strictObject({ username: v.pipe(v.string(), v.maxLength(100)), password: v.pipe(v.string(), v.maxLength(1000)) }),
    },
    'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'id' } }] },
  },
});

// Events, alerts included, as Elastic Common Schema documents: one JSON line each on stdout.
export const engine = createEngine(policy, { log: ecsLineSink });
