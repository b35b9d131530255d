/**
 * The demo gateway's policy (`npm start`; the README's "Try the demo"): one file that replaces
 * helmet, cors, express-rate-limit and jsonwebtoken glue.
 * @module
 */

import type { JWK } from 'jose';
import * as v from 'valibot';
import { apiKey, definePolicy, hashApiKey, jwt } from '../src/index.ts';
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
}

/** The demo policy for a configuration. */
export function demoPolicy(config: DemoConfig, keys: DemoKeys) {
  return definePolicy({
    hosts: config.allowedHosts,
    clientIp: { trustedProxies: config.trustedProxies },
    // HTTPS everywhere, except a developer talking to the demo directly on 127.0.0.1.
    transport: { requireHttps: true, allowLoopbackHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true } },
    cors: { origins: config.allowedOrigins, credentials: true, maxAge: 86400, allowHeaders: ['authorization', 'content-type', 'x-api-key'] },
    authn: {
      user: jwt({ jwks: { keys: [keys.publicJwk] }, algorithms: ['ES256'], issuer: DEMO_ISSUER, audience: DEMO_AUDIENCE }),
      service: apiKey({ header: 'x-api-key', keys: { [keys.apiKeyHash]: { principal: 'svc_demo', scopes: ['reports:read'], name: 'demo service' } } }),
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
    limits: { maxBodyBytes: 64 * 1024 },
    ...(config.logAllowed > 0 ? { logging: { allowed: { sample: config.logAllowed } } } : {}),
    routes: {
      'GET /v1/health': { authn: 'anonymous', rateLimit: ['api'] },
      'GET /.well-known/jwks.json': { authn: 'anonymous', rateLimit: ['api'] },
      'POST /v1/auth/login': { authn: 'anonymous', rateLimit: ['login', 'api'], body: LoginBody },
      'GET /v1/users/:id': { authn: ['user'], allow: ownerOrAdmin, rateLimit: ['api'], response: userResponse },
      'PATCH /v1/users/:id': { authn: ['user'], allow: ownerOrAdmin, rateLimit: ['api'], body: UserPatch, response: userResponse },
      'DELETE /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }], rateLimit: ['api'] },
      'GET /v1/reports': { authn: ['service', 'user'], allow: [{ scopes: ['reports:read'] }, { roles: ['admin'] }], rateLimit: ['api'] },
      'GET /v0/users/:id': { authn: ['user'], allow: ownerOrAdmin, rateLimit: ['api'], response: userResponse },
    },
  });
}

/** The API key the CLI's copy of the demo policy accepts (`explain --api-key`); never a real key. */
export const DEMO_EXAMPLE_API_KEY = 'pk_demo_example_0123456789abcdef';

/**
 * For `portcullis lint | explain | openapi policies/demo.ts`: the demo policy with the demo's
 * settings of this environment (ALLOWED_ORIGINS, TRUSTED_PROXIES, RATE_LIMIT … as `npm start` reads
 * them, so a probe of a running demo expects what it serves), trusting the CLI's throwaway test key
 * (explain's `--as` tokens) and DEMO_EXAMPLE_API_KEY.
 */
export default async function demoPolicyForCli(kit: TestKit) {
  return demoPolicy(demoConfig(process.env), { publicJwk: kit.publicJwk, apiKeyHash: await hashApiKey(DEMO_EXAMPLE_API_KEY) });
}
