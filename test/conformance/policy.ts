/**
 * The policy every runtime serves in the conformance suite, and the fixed application behind it.
 *
 * It trusts one fixed ES256 key and one API key (test/conformance/keys.json, test-only), and has
 * something of each stage: HTTPS except direct loopback, CORS, an IP rate limit small enough to
 * exhaust, a failures-only login bucket (so adapters must settle), schemas, ownership, versioning.
 * @module
 */

import * as v from 'valibot';
import { apiKey, definePolicy, jwt, mtls, signature, type Handler } from 'portcullis';
import keys from './keys.json' with { type: 'json' };
import signingKeys from './http-signature-keys.json' with { type: 'json' };

export const ISSUER = 'https://id.conformance.test';
export const AUDIENCE = 'conformance';
export const ALLOWED_ORIGIN = 'https://app.example.com';
/** The Standard Webhooks secret of `POST /v1/webhooks` (test-only). */
export const WEBHOOK_SECRET = 'whsec_Y29uZm9ybWFuY2Utd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc=';
/** The SAN URI of the client certificate `GET /v1/partner` knows. */
export const PARTNER_URI = 'spiffe://conformance.test/partner';

/** `PATCH /v1/users/:id`: these two fields only; `role` or `isAdmin` is a 422 (mass assignment). */
export const UserPatch = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.minLength(2), v.maxLength(100))),
  email: v.optional(v.pipe(v.string(), v.email())),
});

export const LoginBody = v.strictObject({ username: v.string(), password: v.string() });

/** The keys RFC 9421 callers sign with, by keyid: the public halves (the secret, for HMAC). */
const { d: _ed25519, ...ed25519 } = signingKeys.ed25519;
const { d: _p256, ...p256 } = signingKeys.p256;
const { kty, n, e } = signingKeys.rsa;
const partnerKeys = {
  'partner-ed25519': { algorithm: 'ed25519', key: ed25519, principal: 'partner' },
  'partner-p256': { algorithm: 'ecdsa-p256-sha256', key: p256, principal: 'partner' },
  'partner-rsa': { algorithm: 'rsa-pss-sha512', key: { kty, n, e }, principal: 'partner' },
  'partner-hmac': { algorithm: 'hmac-sha256', key: signingKeys.hmac, principal: 'partner' },
} as const;

const ownerOrAdmin = [{ roles: ['admin'] }, { owner: { param: 'id' } }];

export const policy = definePolicy({
  // No forwarding header is believed: the socket address is the client.
  clientIp: { trustedProxies: [] },
  // Certificates would come from Envoy; with no trusted proxy, every such header is refused.
  clientCertificate: { from: 'xfcc' },
  transport: { requireHttps: true, allowLoopbackHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true } },
  cors: { origins: [ALLOWED_ORIGIN], credentials: true, maxAge: 600, allowHeaders: ['authorization', 'content-type', 'x-api-key'] },
  authn: {
    user: jwt({ jwks: { keys: [keys.es256.public] }, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }),
    service: apiKey({ header: 'x-api-key', keys: { [keys.apiKey.hash]: { principal: 'svc_reports', scopes: ['reports:read'] } } }),
    // DPoP-bound tokens only. The table's proofs are made once, before every runtime runs: an hour's age.
    boundUser: jwt({ jwks: { keys: [keys.es256.public] }, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, dpop: { mode: 'required', algorithms: ['ES256'], maxAge: 3600 } }),
    webhook: signature({ scheme: 'standard-webhooks', secrets: [WEBHOOK_SECRET], principal: 'payments-provider' }),
    partner: mtls({ clients: { [`uri:${PARTNER_URI}`]: { principal: 'svc_partner' } } }),
    // RFC 9421. The table's signatures are made once, before every runtime runs: an hour's age.
    signedPartner: signature({ scheme: 'http-message-signatures', keys: partnerKeys, maxAge: 3600 }),
    // The same keys where the policy asks for @authority and @path instead of @target-uri.
    signedPartnerByPath: signature({ scheme: 'http-message-signatures', keys: partnerKeys, components: ['@method', '@authority', '@path'], maxAge: 3600 }),
  },
  roleHierarchy: { admin: ['user'] },
  rateLimits: {
    burst: { limit: 2, window: '1m', by: 'ip' },
    login: { limit: 2, window: '1m', by: 'ip', count: 'failures', failureStatuses: [401] },
  },
  quotas: { metered: { limit: 1, period: 'day' } },
  limits: { maxBodyBytes: 1024 },
  versions: {
    '/v0': { deprecation: '2026-01-01T00:00:00Z', sunset: '2099-01-01T00:00:00Z', link: 'https://docs.example.com/migrate-to-v1' },
    '/legacy': { sunset: '2020-01-01T00:00:00Z' },
  },
  routes: {
    'GET /v1/health': { authn: 'anonymous' },
    'GET /v1/users/:id': { authn: ['user'], allow: ownerOrAdmin },
    'PATCH /v1/users/:id': { authn: ['user'], allow: ownerOrAdmin, body: UserPatch },
    'DELETE /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }] },
    'GET /v1/reports': { authn: ['service', 'user'], allow: [{ scopes: ['reports:read'] }, { roles: ['admin'] }] },
    'GET /v1/limited': { authn: 'anonymous', rateLimit: ['burst'] },
    'POST /v1/login': { authn: 'anonymous', rateLimit: ['login'], body: LoginBody },
    'GET /v1/boom': { authn: 'anonymous' },
    'GET /v0/users/:id': { authn: ['user'], allow: ownerOrAdmin },
    'GET /legacy/ping': { authn: 'anonymous' },
    'GET /v1/bound/me': { authn: ['boundUser'], allow: 'authenticated' },
    'POST /v1/webhooks': { authn: ['webhook'], allow: 'authenticated', contentTypes: ['application/json'] },
    'GET /v1/partner': { authn: ['partner'], allow: 'authenticated' },
    // The suite's client is 127.0.0.1 on every runtime: one route admits only loopback, one refuses it.
    'GET /v1/loopback-only': { authn: 'anonymous', ip: { allow: ['127.0.0.0/8', '::1'] } },
    'GET /v1/loopback-refused': { authn: 'anonymous', ip: { deny: ['127.0.0.0/8', '::1'] } },
    'GET /v1/metered': { authn: ['service'], allow: [{ scopes: ['reports:read'] }], quota: 'metered' },
    // Response protection: what each caller reads of the echo's answers (see PROTECTED_ANSWERS).
    'GET /v1/profiles/:id': {
      authn: ['user'],
      allow: ownerOrAdmin,
      response: { fields: { email: ['owner', 'admin'], lastLoginIp: ['admin'], 'sessions[].ip': ['admin'] } },
    },
    'GET /v1/audit/:id': { authn: ['user'], allow: ownerOrAdmin, response: { fields: { lastLoginIp: ['admin'] }, mode: 'strict' } },
    'GET /v1/export': { authn: 'anonymous', response: { fields: { 'rows[].owner': ['admin'] }, maxBytes: 1024 } },
    'GET /v1/page': { authn: 'anonymous', response: { fields: { secret: ['admin'] } } },
    'GET /v1/crash': { authn: 'anonymous' },
    'GET /v1/busy': { authn: 'anonymous' },
    // Requests signed by their caller (RFC 9421), the body through Content-Digest.
    'POST /v1/signed/transfers': { authn: ['signedPartner'], allow: 'authenticated', contentTypes: ['application/json'] },
    'GET /v1/signed/transfers': { authn: ['signedPartner'], allow: 'authenticated' },
    'PUT /v1/signed/transfers': { authn: ['signedPartnerByPath'], allow: 'authenticated', contentTypes: ['application/json'] },
  },
});

/** The one password `POST /v1/login` accepts. */
export const PASSWORD = 'correct horse battery staple';

/**
 * Headers an application leaks; every adapter must strip them (and the handler's own CORS), keep
 * the policy's value where the application set its own, and merge the application's `Vary`.
 */
const LEAKY_HEADERS = {
  'x-powered-by': 'Express',
  server: 'leaky/1.0',
  'access-control-allow-origin': '*',
  'x-frame-options': 'SAMEORIGIN',
  'content-security-policy': 'default-src *',
  'x-request-id': 'chosen-by-the-app',
  vary: 'Accept-Encoding',
};

/** Cookies the application sets on its answers: each must reach the client as its own line. */
export const APP_COOKIES = ['session=abc; Path=/; HttpOnly', 'theme=dark; Path=/'];

/** The application's response headers: the leaky ones, and two cookies. */
function appHeaders(): Headers {
  const headers = new Headers(LEAKY_HEADERS);
  for (const cookie of APP_COOKIES) headers.append('set-cookie', cookie);
  return headers;
}

/** What the application says about a request, given who the policy says the caller is. */
export interface EchoInput {
  principal: string;
  params: Readonly<Record<string, string>>;
}

/**
 * The fixed application behind the policy, as a plain function of the request: the same code
 * runs in every runtime's handler, in the Hono routes and in an origin behind a gateway.
 * `GET /v1/boom` throws (the secret in the message must never reach the caller), `POST /v1/login`
 * answers 401 to a wrong password, everything else echoes `{ principal, params, body }`.
 */
export async function echo(request: Request, { principal, params }: EchoInput): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === '/v1/boom') throw new Error('kaboom: db password is hunter2');
  const protectedAnswer = PROTECTED_ANSWERS[pathname.replace(/^\/v1\/(profiles|audit)\/[^/]+$/, '/v1/$1/:id')];
  if (protectedAnswer) return protectedAnswer();
  const text = await request.text();
  const body: unknown = text === '' ? null : JSON.parse(text);
  if (pathname === '/v1/login') {
    const ok = (body as { password?: unknown }).password === PASSWORD;
    return Response.json({ ok }, { status: ok ? 200 : 401, headers: LEAKY_HEADERS });
  }
  // `target`: the path and query this application was asked for, which must be the ones the policy
  // checked; `scheme`: the one its server listens with, whatever an absolute-form target claimed.
  const { search, protocol } = new URL(request.url);
  return Response.json({ principal, params, body, target: `${pathname}${search}`, scheme: protocol }, { headers: appHeaders() });
}

/**
 * What the application answers on the response-protection routes: more than some callers may read
 * (the gateway removes it), an answer too large or not JSON (refused), and server errors whose
 * bodies name a database and its password (masked).
 */
const PROTECTED_ANSWERS: Record<string, () => Response> = {
  '/v1/profiles/:id': () => Response.json({ id: 'u_alice', email: 'alice@example.com', lastLoginIp: '203.0.113.9', sessions: [{ id: 's1', ip: '198.51.100.4' }] }, { headers: appHeaders() }),
  '/v1/audit/:id': () => Response.json({ id: 'u_alice', lastLoginIp: '203.0.113.9' }),
  '/v1/export': () => Response.json({ rows: Array.from({ length: 64 }, (_, i) => ({ i, owner: 'u_alice' })) }),
  '/v1/page': () => new Response('<p>secret: 42</p>', { headers: { 'content-type': 'text/html' } }),
  '/v1/crash': () => new Response('Error: connect ECONNREFUSED postgres://app:hunter2@10.0.0.5/db', { status: 500, headers: { 'content-type': 'text/plain' } }),
  '/v1/busy': () => Response.json({ error: 'pool exhausted on db-2.internal' }, { status: 503, headers: { 'retry-after': '7' } }),
};

/** `echo` as a portcullis `Handler` (Node, Bun, Deno). */
export const echoHandler: Handler = (request, decision) => echo(request, { principal: decision.principal.id, params: decision.params });
