/**
 * The demo gateway's policy (`npm start`; the README's "Try the demo"): one file that replaces
 * helmet, cors, express-rate-limit and jsonwebtoken glue.
 * @module
 */

import type { JWK } from 'jose';
import * as v from 'valibot';
import { apiKey, definePolicy, dpopProof, hashApiKey, jwt, signature } from '../src/index.ts';
import type { TestKit } from '../tools/testing/index.ts';
import { DEMO_AUDIENCE, DEMO_ISSUER } from './demo-origin.ts';

/** What the demo reads from its environment. */
export interface DemoConfig {
  /** Exact CORS origins. */
  allowedOrigins: string[];
  /** CIDRs (or `loopback`) whose forwarding headers are believed. */
  trustedProxies: string[];
  /** Requests per 15 minutes per principal (per IP when anonymous). */
  rateLimit: number;
  /** Failed logins per 15 minutes per client IP. */
  loginRateLimit: number;
  /** `Host` values the gateway answers (others get 421). */
  allowedHosts: string[];
  /** Client addresses (CIDRs) allowed on `/v1/admin/*`. */
  adminCidrs: string[];
  /** Calls per day the demo API key may make to `/v1/reports`. */
  apiKeyQuota: number;
  /** Failed logins for one username within 5 minutes, from any addresses, that raise the `failed_logins` alert. */
  alertFailedLogins: number;
  /** The share of allowed requests logged as `portcullis.allow` (for `portcullis replay`); 0: none. */
  logAllowed: number;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new TypeError(`${name} must be a positive whole number, got "${value}"`);
  return number;
}

function fraction(name: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const number = Number(value);
  if (!(number >= 0 && number <= 1)) throw new TypeError(`${name} must be a share from 0 to 1, got "${value}"`);
  return number;
}

/**
 * Reads the demo's environment (comma-separated lists) with the defaults of the README. The hosts
 * default to the loopback names on `PORT`; with no port known (`PORT` unset or 0), on any port.
 */
export function demoConfig(env: Record<string, string | undefined>): DemoConfig {
  const list = (value: string | undefined, fallback: string) =>
    (value ?? fallback).split(',').map((item) => item.trim()).filter(Boolean);
  const port = env.PORT && env.PORT !== '0' ? `:${env.PORT}` : '';
  return {
    allowedHosts: list(env.ALLOWED_HOSTS, `127.0.0.1${port},localhost${port},[::1]${port}`),
    allowedOrigins: list(env.ALLOWED_ORIGINS, 'https://app.example.com'),
    trustedProxies: list(env.TRUSTED_PROXIES, 'loopback'),
    rateLimit: positive('RATE_LIMIT', env.RATE_LIMIT, 100),
    loginRateLimit: positive('LOGIN_RATE_LIMIT', env.LOGIN_RATE_LIMIT, 5),
    adminCidrs: list(env.ADMIN_CIDRS, '127.0.0.0/8,::1/128'),
    apiKeyQuota: positive('API_KEY_QUOTA', env.API_KEY_QUOTA, 1000),
    alertFailedLogins: positive('ALERT_FAILED_LOGINS', env.ALERT_FAILED_LOGINS, 10),
    logAllowed: fraction('LOG_ALLOWED', env.LOG_ALLOWED),
  };
}

/**
 * Text of `min` to `max` characters without control characters (C0, DEL, C1): a NUL or an escape
 * sequence in a name ends up in logs, terminals and every system the origin hands it to.
 */
const text = (min: number, max: number) =>
  v.pipe(v.string(), v.minLength(min), v.maxLength(max), v.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'));

/** `POST /v1/auth/login` */
export const LoginBody = v.strictObject({
  username: text(1, 100),
  password: text(1, 1000),
});

/** `PATCH /v1/users/:id`: only these two fields; anything else (`role`, `isAdmin`) is a 422. */
export const UserPatch = v.strictObject({
  name: v.optional(text(2, 100)),
  email: v.optional(v.pipe(text(3, 254), v.email())),
});

/**
 * `POST /v1/webhooks/payments`, a Standard Webhooks payload: the event type, when it happened, and
 * its data (the provider's own shape, passed on as sent).
 */
export const PaymentWebhook = v.strictObject({
  type: text(1, 100),
  timestamp: v.optional(text(1, 40)),
  data: v.record(v.pipe(v.string(), v.maxLength(100)), v.unknown()),
});

/** Owner or admin. */
const ownerOrAdmin = [{ roles: ['admin'] }, { owner: { param: 'id' } }];

/**
 * What callers read of a user record. The origin sends every field; the login address reaches
 * admins only. The schema is an allowlist of what the origin may send (a key it does not declare,
 * such as a password hash, never leaves the gateway).
 */
export const userResponse = {
  fields: { email: ['owner', 'admin'], lastLoginIp: ['admin'] },
  schema: v.object({ id: v.string(), name: v.string(), email: v.string(), lastLoginIp: v.nullable(v.string()) }),
};

/** The keys the demo policy trusts. */
export interface DemoKeys {
  /** The public half of the key the demo login signs tokens with. */
  publicJwk: JWK;
  /** SHA-256 hex of the demo service's API key (the key itself is never stored). */
  apiKeyHash: string;
  /** The Standard Webhooks secret (`whsec_` + base64) the payments provider signs webhooks with. */
  webhookSecret: string;
}

/** The demo policy for a configuration. */
export function demoPolicy(config: DemoConfig, keys: DemoKeys) {
  return definePolicy({
    hosts: config.allowedHosts,
    clientIp: { trustedProxies: config.trustedProxies },
    // HTTPS everywhere, except a developer talking to the demo directly on 127.0.0.1.
    transport: { requireHttps: true, allowLoopbackHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true } },
    cors: { origins: config.allowedOrigins, credentials: true, maxAge: 86400, allowHeaders: ['authorization', 'content-type', 'x-api-key', 'dpop'] },
    authn: {
      // Logins with a DPoP proof get tokens bound to the proof's key (cnf.jkt): those work only with a
      // fresh proof from that key. Logins without one get bearer tokens, which keep working.
      user: jwt({ jwks: { keys: [keys.publicJwk] }, algorithms: ['ES256'], issuer: DEMO_ISSUER, audience: DEMO_AUDIENCE, dpop: { mode: 'allowed', algorithms: ['ES256'] } }),
      // A login's proof, checked against the URL the client used; the origin binds the token to its key.
      dpop: dpopProof({ algorithms: ['ES256'] }),
      service: apiKey({ header: 'x-api-key', keys: { [keys.apiKeyHash]: { principal: 'svc_demo', scopes: ['reports:read'], name: 'demo service' } } }),
      // Webhooks: the signature covers id, timestamp and body; a webhook-id is accepted once.
      payments: signature({ scheme: 'standard-webhooks', secrets: [keys.webhookSecret], principal: 'payments-provider', scopes: ['webhooks:payments'] }),
    },
    headers: { contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'", frameOptions: 'DENY' },
    versions: {
      '/v0': { deprecation: '2026-06-01T00:00:00Z', sunset: '2027-06-01T00:00:00Z', link: 'https://demo.portcullis.dev/docs/migrate-to-v1' },
    },
    roleHierarchy: { admin: ['user'] },
    rateLimits: {
      api: { limit: config.rateLimit, window: '15m', by: 'principal' },
      // Brute-force protection: only failed logins count, per client address.
      login: { limit: config.loginRateLimit, window: '15m', by: 'ip', count: 'failures', failureStatuses: [401] },
    },
    // Calls per UTC day for each API key; admins reading reports with a token are not counted.
    quotas: { reports: { limit: config.apiKeyQuota, period: 'day', by: 'apiKey' } },
    // Credential stuffing: failures for one username from many addresses, which the per-address limit does not see.
    alerts: {
      failed_logins: { kind: 'failed-logins', per: 'username', routes: ['POST /v1/auth/login'], threshold: config.alertFailedLogins, window: '5m', failureStatuses: [401] },
    },
    limits: { maxBodyBytes: 64 * 1024 },
    ...(config.logAllowed > 0 ? { logging: { allowed: { sample: config.logAllowed } } } : {}),
    routes: {
      'GET /v1/health': { authn: 'anonymous', rateLimit: ['api'] },
      'GET /.well-known/jwks.json': { authn: 'anonymous', rateLimit: ['api'] },
      'POST /v1/auth/login': { authn: ['dpop', 'anonymous'], allow: 'authenticated', rateLimit: ['login', 'api'], body: LoginBody },
      'GET /v1/users/:id': { authn: ['user'], allow: ownerOrAdmin, rateLimit: ['api'], response: userResponse },
      'PATCH /v1/users/:id': { authn: ['user'], allow: ownerOrAdmin, rateLimit: ['api'], body: UserPatch, response: userResponse },
      'DELETE /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }], rateLimit: ['api'] },
      'GET /v1/reports': { authn: ['service', 'user'], allow: [{ scopes: ['reports:read'] }, { roles: ['admin'] }], rateLimit: ['api'], quota: 'reports' },
      // Answered by the gateway itself (its recent security events), to admins on admin networks only.
      'GET /v1/admin/events': { authn: ['user'], allow: [{ roles: ['admin'] }], rateLimit: ['api'], ip: { allow: config.adminCidrs } },
      'GET /v0/users/:id': { authn: ['user'], allow: ownerOrAdmin, rateLimit: ['api'], response: userResponse },
      // The signature is checked over the body as sent, then the body against its schema.
      'POST /v1/webhooks/payments': { authn: ['payments'], allow: [{ scopes: ['webhooks:payments'] }], rateLimit: ['api'], body: PaymentWebhook },
    },
  });
}

/** The API key the CLI's copy of the demo policy accepts (`explain --api-key`); never a real key. */
export const DEMO_EXAMPLE_API_KEY = 'pk_demo_example_0123456789abcdef';

/** The webhook secret of the CLI's copy of the demo policy, unless DEMO_WEBHOOK_SECRET is set; never a real secret. */
export const DEMO_EXAMPLE_WEBHOOK_SECRET = 'whsec_ZGVtby1leGFtcGxlLXdlYmhvb2stc2VjcmV0LTAxMjM=';

/**
 * For `portcullis lint | explain | openapi policies/demo.ts`: the demo policy with the demo's
 * settings of this environment (ALLOWED_ORIGINS, TRUSTED_PROXIES, RATE_LIMIT … as `npm start` reads
 * them, so a probe of a running demo expects what it serves), trusting the CLI's throwaway test key
 * (explain's `--as` tokens) and DEMO_EXAMPLE_API_KEY.
 */
export default async function demoPolicyForCli(kit: TestKit) {
  const webhookSecret = process.env.DEMO_WEBHOOK_SECRET || DEMO_EXAMPLE_WEBHOOK_SECRET;
  return demoPolicy(demoConfig(process.env), { publicJwk: kit.publicJwk, apiKeyHash: await hashApiKey(DEMO_EXAMPLE_API_KEY), webhookSecret });
}
