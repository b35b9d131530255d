/**
 * The lint rules: what `portcullis lint` flags, why, how to fix it, and the OWASP API Security
 * Top 10 (2023) item each maps to. A rule looks at the policy object only; it never runs a request.
 * @module
 */

import type { JWK } from 'jose';
import { keyName, verifyKeyProblem } from '../../src/authn/jwk.ts';
import { LOOPBACK_HOSTS } from '../../src/authn/secure-url.ts';
import { unboundedStrings } from './strings.ts';
import { parseDuration } from '../../src/policy/duration.ts';
import type { Policy, RateLimitPolicy, RoutePolicy } from '../../src/policy/types.ts';
import { parsePattern, type ParsedPattern } from '../../src/router.ts';
import type { AuthnMethod } from '../../src/authn/contract.ts';
import { DEFAULT_ALLOW_HEADERS } from '../../src/stages/cors.ts';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/stages/validate.ts';
import { NETWORK_RULES } from './network-rules.ts';
import type { Hit, LintRule, LintTarget, RouteInfo } from './rule-types.ts';
import { SIGNATURE_RULES } from './rules-signature.ts';
import { ALERT_RULES } from './alert-rules.ts';
import { OWNER_READER } from '../../src/policy/field-path.ts';

export type { Hit, LintRule, LintTarget, RouteInfo, RuleContext, Severity } from './rule-types.ts';

const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];
const BODY_METHODS = ['POST', 'PUT', 'PATCH'];
/** Paths of credential flows: the targets of brute force and credential stuffing. */
export const AUTH_FLOW = /log-?in|sign-?in|token|password|passwd|reset|otp|mfa/i;
const FIFTEEN_MINUTES = 15 * 60_000;
/** Attempts per 15 minutes above which a credential-flow bucket is not strict. */
export const STRICT_ATTEMPTS = 30;
/** Body caps above this are flagged. */
export const LARGE_BODY_BYTES = 10 * 1024 * 1024;

const at = (route: RouteInfo, ...keys: (string | number)[]) => ['routes', route.pattern, ...keys];
/** The literal part of a pattern's path (params never decide what a route is for). */
const literalPath = (route: RouteInfo) => `/${route.parsed.segments.map((s) => ('literal' in s ? s.literal : ':')).join('/')}`;

/** Does the route admit callers without credentials (`'anonymous'`, or `'anonymous'` among its methods)? */
export function admitsAnonymous(route: RoutePolicy): boolean {
  return route.authn === 'anonymous' || (Array.isArray(route.authn) && route.authn.includes('anonymous'));
}

function methodsOf(policy: Policy, route: RoutePolicy): AuthnMethod[] {
  if (!Array.isArray(route.authn)) return [];
  return route.authn.flatMap((name) => (policy.authn?.[name] ? [policy.authn[name]] : []));
}

/**
 * Why a route admits every caller its authentication accepts, or undefined. Scopes alone do not
 * narrow a user token (every user's client may hold them), but they do narrow an API key: the
 * operator grants them key by key.
 */
export function openAlternative(policy: Policy, route: RoutePolicy): { keys: (string | number)[]; why: string } | undefined {
  if (route.authn === 'anonymous') {
    if (route.allow === undefined || route.allow === 'authenticated') return { keys: ['authn'], why: 'the route is anonymous: everyone may call it' };
    return undefined;
  }
  if (route.allow === 'authenticated') return { keys: ['allow'], why: "allow: 'authenticated' admits every authenticated caller" };
  if (!Array.isArray(route.allow)) return undefined;
  const keyOnly = methodsOf(policy, route).length > 0 && methodsOf(policy, route).every((method) => method.kind === 'apiKey');
  for (const [i, rule] of route.allow.entries()) {
    if (rule.roles || rule.owner || rule.check) continue;
    if (rule.scopes && keyOnly) continue;
    return { keys: ['allow', i], why: rule.scopes ? `allow[${i}] asks only for scopes (${rule.scopes.join(', ')}), which any user's token may carry` : `allow[${i}] admits everyone` };
  }
  return undefined;
}

/** Attempts per 15 minutes a bucket allows, or undefined when its window does not parse. */
function per15Minutes(bucket: RateLimitPolicy): number | undefined {
  const ms = typeof bucket.window === 'string' ? parseDuration(bucket.window) : undefined;
  return ms === undefined ? undefined : (bucket.limit * FIFTEEN_MINUTES) / ms;
}

/** A bucket that stops password guessing: few attempts, counted per client (or only failures). */
export function isStrictBucket(bucket: RateLimitPolicy | undefined): boolean {
  if (!bucket || bucket.mode === 'report') return false;
  const rate = per15Minutes(bucket);
  if (rate === undefined || rate > STRICT_ATTEMPTS) return false;
  return bucket.count === 'failures' || bucket.by === 'ip' || typeof bucket.by === 'function';
}

function metaOf(method: AuthnMethod): Readonly<Record<string, unknown>> | undefined {
  return method.meta;
}

/** The DPoP settings of a method (`jwt()`, `oauth2Introspection()` with `dpop`, `dpopProof()`), from its meta. */
function dpopOf(method: AuthnMethod | undefined): { mode?: unknown; maxAge?: unknown; nonce?: unknown } | undefined {
  const dpop = method?.meta?.dpop;
  return typeof dpop === 'object' && dpop !== null ? (dpop as { mode?: unknown; maxAge?: unknown; nonce?: unknown }) : undefined;
}

/** Seconds beyond which a proof's accepted age is flagged. */
const DPOP_MAX_AGE = 300;

const present = (value: unknown) => (Array.isArray(value) ? value.length > 0 : typeof value === 'string' ? value !== '' : value !== undefined && value !== null);

function isLoopbackOrigin(origin: string): boolean {
  try {
    return LOOPBACK_HOSTS.includes(new URL(origin).hostname);
  } catch {
    return false;
  }
}

// Client certificates (mtls(), certificate-bound tokens, policy.clientCertificate).
const HEADER_SOURCES = new Set(['xfcc', 'escaped-pem']);

const mtlsMethods = (policy: Policy) => Object.entries(policy.authn ?? {}).filter(([, method]) => method?.kind === 'mtls');

/** Trusted-proxy entries that name an address (`cloudflare` names no peer). */
const proxyAddresses = (policy: Policy) => (policy.clientIp?.trustedProxies ?? []).filter((entry) => entry !== 'cloudflare');

/** Runtimes whose fetch handler is given no peer certificate. */
const NO_PEER_CERTIFICATE: Partial<Record<LintTarget, string>> = {
  bun: "Bun.serve gives a handler no peer certificate (and Bun's node:https none either)",
  deno: "Deno.serve gives a handler no peer certificate (portcullis/node's serve({ tls }) on Deno's node:https does)",
};

const PROXY_FIX =
  "Terminate TLS in a proxy that verifies the certificate and overwrites the header (Envoy: forward_client_cert_details SANITIZE_SET; nginx: proxy_set_header), and list its address in clientIp.trustedProxies.";

/** A certificate source that cannot work where the policy runs: every client certificate is refused or unseen. */
const CERTIFICATE_SOURCE_RULE: LintRule = {
  id: 'mtls.certificate_unavailable',
  severity: 'error',
  owasp: 'API2',
  title: 'Client certificates cannot reach the policy as configured',
  description:
    'A certificate header (X-Forwarded-Client-Cert, an nginx escaped PEM) counts only from a peer in clientIp.trustedProxies, since anyone else can write it; from the connection, the runtime must hand the certificate over. Where neither can happen, mTLS never authenticates anyone and every certificate-bound token is refused.',
  fix: PROXY_FIX,
  check: ({ policy, target }) => {
    const from = policy.clientCertificate?.from ?? 'tls';
    const at = ['clientCertificate', 'from'];
    if (HEADER_SOURCES.has(from)) {
      if (target === 'workers') return [{ keys: at, message: `a "${from}" header on Workers comes from the client, through Cloudflare's edge: it is always refused`, fix: "Use Cloudflare's own mTLS (clientCertificate: { from: 'tls' } reads request.cf.tlsClientAuth)." }];
      if (proxyAddresses(policy).length) return [];
      return [{ keys: at, message: `certificates are read from a "${from}" header, but no proxy address is trusted to set it: every one is refused` }];
    }
    const methods = mtlsMethods(policy);
    const why = NO_PEER_CERTIFICATE[target];
    if (why) return methods.map(([name]): Hit => ({ keys: ['authn', name], message: `"${name}" reads the connection's certificate, but ${why}` }));
    if (target !== 'workers') return [];
    // Cloudflare hands over the certificate's fingerprint and subject, not its alternative names.
    return methods.flatMap(([name, method]) =>
      ((method.meta?.identities as readonly string[] | undefined) ?? [])
        .filter((identity) => /^(uri|dns|email):/.test(identity))
        .map((identity): Hit => ({
          keys: ['authn', name, 'clients', identity],
          message: `"${identity}" can never match on Workers: request.cf.tlsClientAuth names no subject alternative names`,
          fix: "Key the client by sha256: (the certificate's fingerprint) or subject:.",
        })),
    );
  },
};

/** Every rule, in the order findings are reported. */
export const RULES: readonly LintRule[] = [
  {
    id: 'policy.dev_mode',
    severity: 'error',
    owasp: 'API8',
    title: 'Development mode is on',
    description: 'With dev: true every denial carries the decision trace to the caller: route patterns, rule names and why a credential failed.',
    fix: 'Remove dev: true (or set it from an environment that is never production).',
    check: ({ policy }) => (policy.dev ? [{ keys: ['dev'], message: 'dev mode shows decision traces to callers' }] : []),
  },
  {
    id: 'policy.report_only',
    severity: 'warning',
    owasp: 'API8',
    title: 'Report-only mode: denials are logged, not enforced',
    description: 'Report-only mode (policy.mode, a route mode or a bucket mode) lets every request through that the rule would refuse. It is meant for a rollout on live traffic, not for good.',
    fix: "Once the portcullis.report events show no false positives, remove mode: 'report' (or set 'enforce').",
    check: ({ policy, routes }) => {
      const hits: Hit[] = [];
      if (policy.mode === 'report') hits.push({ keys: ['mode'], message: 'the whole policy is report-only: nothing is refused' });
      for (const route of routes) {
        if (route.route.mode === 'report') hits.push({ keys: at(route, 'mode'), message: `${route.pattern} is report-only: its denials are let through` });
      }
      for (const [name, bucket] of Object.entries(policy.rateLimits ?? {})) {
        if (bucket.mode === 'report') hits.push({ keys: ['rateLimits', name, 'mode'], message: `bucket "${name}" is report-only: it never returns 429` });
      }
      return hits;
    },
  },
  {
    id: 'transport.https_not_required',
    severity: 'error',
    owasp: 'API8',
    title: 'Plain HTTP is accepted',
    description: 'Without requireHttps, tokens, API keys and personal data may cross the network in clear text.',
    fix: 'Remove requireHttps: false. For local development use allowLoopbackHttp: true, which never exempts a proxied request.',
    check: ({ policy }) =>
      policy.transport?.requireHttps === false ? [{ keys: ['transport', 'requireHttps'], message: 'plain-HTTP requests are served' }] : [],
  },
  {
    id: 'transport.hsts_disabled',
    severity: 'warning',
    owasp: 'API8',
    title: 'No Strict-Transport-Security',
    description: 'Without HSTS a browser that once typed http:// can be downgraded by anyone on the network path.',
    fix: 'Remove hsts: false (the default is max-age=31536000; includeSubDomains), unless a proxy in front sets HSTS itself.',
    check: ({ policy }) => (policy.transport?.hsts === false ? [{ keys: ['transport', 'hsts'], message: 'HSTS is turned off' }] : []),
  },
  {
    id: 'headers.csp_disabled',
    severity: 'warning',
    owasp: 'API8',
    title: 'No Content-Security-Policy',
    description: "An API response rendered by a browser (an error page, a JSON file opened directly, an upload) can run script without a CSP; default-src 'none' costs an API nothing.",
    fix: "Remove contentSecurityPolicy: false (the default is default-src 'none'; frame-ancestors 'none').",
    check: ({ policy }) =>
      policy.headers?.contentSecurityPolicy === false ? [{ keys: ['headers', 'contentSecurityPolicy'], message: 'the Content-Security-Policy header is turned off' }] : [],
  },
  {
    id: 'clientip.trust_everyone',
    severity: 'error',
    owasp: 'API4',
    title: 'Forwarding headers believed from any address',
    description: 'A trusted-proxy range of /0 believes the forwarding header (clientIp.header: X-Forwarded-For, or RFC 7239 Forwarded) from every client, so anyone picks the IP that per-IP limits and logs see.',
    fix: 'List only the addresses of your own proxies or load balancers (or "loopback", "cloudflare").',
    check: ({ policy }) =>
      (policy.clientIp?.trustedProxies ?? []).flatMap((entry, i) =>
        /\/0$/.test(entry) ? [{ keys: ['clientIp', 'trustedProxies', i], message: `"${entry}" trusts every address to name its own client IP` }] : [],
      ),
  },
  {
    id: 'cors.null_origin',
    severity: 'error',
    owasp: 'API8',
    title: 'CORS allows the origin "null"',
    description: 'Sandboxed iframes, file: pages and some redirects all send Origin: null; allowing it allows any attacker page that sandboxes itself.',
    fix: 'Remove "null" from cors.origins; list exact https origins.',
    check: ({ policy }) =>
      (policy.cors?.origins ?? []).flatMap((origin, i) =>
        origin.trim().toLowerCase() === 'null' ? [{ keys: ['cors', 'origins', i], message: 'the "null" origin is allowed' }] : [],
      ),
  },
  {
    id: 'cors.wildcard_origin',
    severity: 'warning',
    owasp: 'API8',
    title: 'CORS allows every origin ("*")',
    description: 'Any website can read the responses of this API from its visitors\' browsers. Harmless for public data, a leak for anything reachable by network position (an intranet API) or by ambient credentials.',
    fix: 'List the exact origins of your front ends. Keep "*" only for a public, credential-free API.',
    check: ({ policy }) =>
      (policy.cors?.origins ?? []).flatMap((origin, i) =>
        origin === '*'
          ? [
              policy.cors?.credentials
                ? { keys: ['cors', 'origins', i], message: 'every origin is allowed, with credentials', severity: 'error' as const }
                : { keys: ['cors', 'origins', i], message: 'every origin is allowed' },
            ]
          : [],
      ),
  },
  {
    id: 'cors.wildcard_subdomain',
    severity: 'error',
    owasp: 'API8',
    title: 'CORS origin with a wildcard subdomain',
    description: 'A pattern such as https://*.example.com trusts every subdomain, including a forgotten one an attacker can take over; with credentials that page acts as the user.',
    fix: 'List each front-end origin exactly.',
    check: ({ policy }) =>
      (policy.cors?.origins ?? []).flatMap((origin, i) =>
        origin !== '*' && origin.includes('*')
          ? [
              policy.cors?.credentials
                ? { keys: ['cors', 'origins', i], message: `"${origin}" matches every subdomain, with credentials` }
                : { keys: ['cors', 'origins', i], message: `"${origin}" matches every subdomain`, severity: 'warning' as const },
            ]
          : [],
      ),
  },
  {
    id: 'cors.insecure_origin',
    severity: 'warning',
    owasp: 'API8',
    title: 'CORS allows a plain-HTTP origin',
    description: 'Anyone on the network path of an http:// page can inject script into it, and that script is then an allowed origin.',
    fix: 'Use the https:// origin (http://localhost for development is not flagged).',
    check: ({ policy }) =>
      (policy.cors?.origins ?? []).flatMap((origin, i) =>
        origin.startsWith('http://') && !origin.includes('*') && !isLoopbackOrigin(origin)
          ? [{ keys: ['cors', 'origins', i], message: `"${origin}" is served over plain HTTP` }]
          : [],
      ),
  },
  {
    id: 'authn.unchecked_method',
    severity: 'warning',
    owasp: 'API2',
    title: 'Authentication method lint cannot inspect',
    description: 'A custom method without meta hides its settings: audience, issuer, key strength and key transport cannot be checked.',
    fix: 'Give the method a meta object describing its settings (no secrets), as jwt(), apiKey() and oauth2Introspection() do.',
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) =>
        metaOf(method) === undefined ? [{ keys: ['authn', name], message: `"${name}" (${method.kind}) exposes no meta` }] : [],
      ),
  },
  {
    id: 'authn.jwt_no_audience',
    severity: 'error',
    owasp: 'API2',
    title: 'JWT accepted for any audience',
    description: 'Without an audience check, a token minted for another API of the same issuer (or another tenant\'s client) is accepted here.',
    fix: "Set audience to this API's identifier (the aud your issuer puts in its tokens).",
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) =>
        method.kind === 'jwt' && method.meta && !present(method.meta.audience) ? [{ keys: ['authn', name, 'audience'], message: `"${name}" checks no audience` }] : [],
      ),
  },
  {
    id: 'authn.jwt_no_issuer',
    severity: 'error',
    owasp: 'API2',
    title: 'JWT accepted from any issuer',
    description: 'Without an issuer check, any party whose key is in the key set (a shared JWKS, a multi-tenant IdP) can mint accepted tokens.',
    fix: 'Set issuer to the exact iss of your identity provider.',
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) =>
        method.kind === 'jwt' && method.meta && !present(method.meta.issuer) ? [{ keys: ['authn', name, 'issuer'], message: `"${name}" checks no issuer` }] : [],
      ),
  },
  {
    id: 'authn.jwt_no_exp',
    severity: 'warning',
    owasp: 'API2',
    title: 'JWT without exp accepted',
    description: 'A token without an expiry is valid forever once leaked; only rotating the key revokes it.',
    fix: 'Remove dangerouslyAllowMissingExp and have the issuer set exp.',
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) =>
        method.kind === 'jwt' && method.meta?.requireExp === false ? [{ keys: ['authn', name], message: `"${name}" accepts tokens that never expire` }] : [],
      ),
  },
  {
    id: 'authn.jwt_key_unusable',
    severity: 'error',
    owasp: 'API2',
    title: 'JWT key that cannot verify',
    description: 'A key with private members, use "enc", key_ops without "verify", or a type none of the algorithms uses is passed over by the verifier: every token signed for it is refused, and a published private key lets anyone sign.',
    fix: 'Publish the public members only (kty and its public parameters, kid, alg, use "sig"), of a type the algorithms verify with.',
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) => {
        const keys = (method.kind === 'jwt' && (method.meta?.jwks as { keys?: unknown } | undefined)?.keys) || [];
        const algorithms = Array.isArray(method.meta?.algorithms) ? (method.meta.algorithms as string[]) : [];
        return (Array.isArray(keys) ? (keys as JWK[]) : []).flatMap((key, i) => {
          const problem = verifyKeyProblem(key, algorithms);
          return problem ? [{ keys: ['authn', name, 'jwks', 'keys', i], message: `"${name}": ${keyName(key, i)} ${problem}` }] : [];
        });
      }),
  },
  {
    id: 'authn.hmac_secret_short',
    severity: 'error',
    owasp: 'API2',
    title: 'HMAC secret shorter than 32 bytes',
    description: 'A short shared secret can be brute-forced offline from a single captured token, and then any token can be forged.',
    fix: 'Use at least 32 random bytes (64 for HS512), or move to a public-key algorithm (ES256, EdDSA).',
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) => {
        const bytes = method.meta?.secretBytes;
        return typeof bytes === 'number' && bytes < 32 ? [{ keys: ['authn', name, 'secret'], message: `"${name}" signs with a ${bytes}-byte secret` }] : [];
      }),
  },
  {
    id: 'authn.api_key_in_url',
    severity: 'error',
    owasp: 'API2',
    title: 'API key accepted from the URL',
    description: 'Keys in query strings end up in access logs, proxy caches, browser history and Referer headers.',
    fix: 'Remove dangerouslyAllowQueryParam; send the key in a header.',
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) => {
        const param = method.meta?.queryParam;
        return typeof param === 'string' && param !== '' ? [{ keys: ['authn', name, 'queryParam'], message: `"${name}" reads keys from the query parameter "${param}"` }] : [];
      }),
  },
  {
    id: 'authn.introspection_no_audience',
    severity: 'error',
    owasp: 'API2',
    title: 'Introspected tokens accepted for any audience',
    description: 'The authorization server answers active for a token issued to any resource server; without an audience check (audience: false) this API accepts them all.',
    fix: "Set audience in oauth2Introspection() to this API's identifier.",
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) =>
        method.kind === 'oauth2Introspection' && method.meta && (method.meta.audience === false || !present(method.meta.audience))
          ? [{ keys: ['authn', name, 'audience'], message: `"${name}" checks no audience` }]
          : [],
      ),
  },
  {
    id: 'authn.dpop_allowed_on_write',
    severity: 'warning',
    owasp: 'API2',
    title: "DPoP only 'allowed' on a route that changes state",
    description:
      "With dpop: 'allowed' a method also takes plain bearer tokens, so a stolen token that is bound to no key still writes. DPoP protects a write only where it is required.",
    fix: "Set dpop: 'required' on the method the write routes accept (a second method with 'allowed' can serve the read routes).",
    check: ({ policy, routes }) =>
      routes.flatMap((route) => {
        if (!WRITE_METHODS.includes(route.parsed.method) || !Array.isArray(route.route.authn)) return [];
        return route.route.authn
          .filter((name) => dpopOf(policy.authn?.[name])?.mode === 'allowed')
          .map((name) => ({ keys: at(route, 'authn'), message: `${route.pattern} takes "${name}" bearer tokens as well as DPoP-bound ones (dpop: 'allowed')` }));
      }),
  },
  {
    id: 'authn.dpop_replay_per_isolate',
    severity: 'warning',
    owasp: 'API2',
    title: 'DPoP replay cache in per-isolate memory on Workers',
    description:
      "A proof's jti is remembered in the rate-limit store. On Workers the default memory store is per isolate, so a captured proof can be sent again to another isolate while it is fresh.",
    fix: 'Pass a shared store on Workers: createEngine(policy, { rateLimitStore: upstashStore({ redis }) }) or durableObjectStore().',
    check: ({ policy, target }) =>
      target !== 'workers'
        ? []
        : Object.entries(policy.authn ?? {}).flatMap(([name, method]) =>
            dpopOf(method) ? [{ keys: ['authn', name], message: `"${name}" checks DPoP proofs; the default memory store remembers their jti per isolate` }] : [],
          ),
  },
  {
    id: 'authn.dpop_long_proof_age',
    severity: 'warning',
    owasp: 'API2',
    title: 'DPoP proofs accepted for long',
    description: `A proof is a one-time signature made just before the request. The longer one is accepted (maxAge, default 60 s), the longer a proof made ahead of time by someone who had the key for a moment stays usable, and the more the replay cache must hold.`,
    fix: 'Keep dpop maxAge at a few minutes at most; use server nonces (dpop.nonce) where proofs must be provably fresh.',
    check: ({ policy }) =>
      Object.entries(policy.authn ?? {}).flatMap(([name, method]) => {
        const maxAge = dpopOf(method)?.maxAge;
        return typeof maxAge === 'number' && maxAge > DPOP_MAX_AGE ? [{ keys: ['authn', name, 'dpop', 'maxAge'], message: `"${name}" accepts DPoP proofs up to ${maxAge} s old` }] : [];
      }),
  },
  {
    id: 'cors.dpop_headers_blocked',
    severity: 'warning',
    owasp: 'API8',
    title: 'CORS keeps browsers from using DPoP',
    description:
      'A browser sends a DPoP proof in the DPoP request header and reads server nonces from the DPoP-Nonce response header; unless CORS allows the one and exposes the other, every cross-origin DPoP request fails its preflight or never learns its nonce.',
    fix: "Add 'dpop' to cors.allowHeaders (and, with nonces, 'dpop-nonce' to cors.exposeHeaders).",
    check: ({ policy }) => {
      if (!policy.cors) return [];
      const methods = Object.values(policy.authn ?? {}).map((method) => dpopOf(method)).filter((dpop) => dpop !== undefined);
      if (!methods.length) return [];
      const hits: Hit[] = [];
      const allowed = (policy.cors.allowHeaders ?? DEFAULT_ALLOW_HEADERS).map((name) => name.toLowerCase());
      if (!allowed.includes('dpop')) hits.push({ keys: ['cors', 'allowHeaders'], message: 'the policy takes DPoP proofs, but CORS does not allow the DPoP request header' });
      const exposed = (policy.cors.exposeHeaders ?? []).map((name) => name.toLowerCase());
      if (methods.some((dpop) => dpop.nonce === true) && !exposed.includes('dpop-nonce')) {
        hits.push({ keys: ['cors', 'exposeHeaders'], message: 'the policy issues DPoP nonces, but CORS does not expose the DPoP-Nonce response header' });
      }
      return hits;
    },
  },
  {
    id: 'ratelimit.missing',
    severity: 'error',
    owasp: 'API4',
    title: 'Route without a rate limit',
    description: 'An unlimited route lets one client exhaust the origin, the database, or a paid downstream service. Anonymous routes are errors; authenticated ones warnings (the caller is known and can be blocked).',
    fix: 'Add rateLimit: [<bucket>] naming a bucket of policy.rateLimits (by ip for anonymous routes, by principal or apiKey otherwise).',
    check: ({ routes }) =>
      routes.flatMap((route) =>
        route.route.rateLimit?.length
          ? []
          : admitsAnonymous(route.route)
            ? [{ keys: at(route, 'rateLimit'), message: `${route.pattern} is anonymous and unlimited` }]
            : [{ keys: at(route, 'rateLimit'), message: `${route.pattern} is unlimited`, severity: 'warning' as const }],
      ),
  },
  {
    id: 'ratelimit.auth_flow_unprotected',
    severity: 'error',
    owasp: 'API2',
    title: 'Credential flow without a strict bucket',
    description: `Login, token and password-reset routes are where credentials are guessed. They need a bucket that allows few attempts per client: one that counts only failures, or one keyed by ip, at most ${STRICT_ATTEMPTS} per 15 minutes.`,
    fix: "Add a bucket such as { limit: 5, window: '15m', by: 'ip', count: 'failures' } to the route's rateLimit.",
    check: ({ policy, routes }) =>
      routes.flatMap((route) => {
        if (!WRITE_METHODS.includes(route.parsed.method) || !AUTH_FLOW.test(literalPath(route))) return [];
        const names = route.route.rateLimit ?? [];
        if (names.some((name) => isStrictBucket(policy.rateLimits?.[name]))) return [];
        return [{ keys: at(route, 'rateLimit'), message: `${route.pattern} is a credential flow without a strict per-client bucket` }];
      }),
  },
  {
    id: 'ratelimit.memory_store_workers',
    severity: 'warning',
    owasp: 'API4',
    title: 'In-memory rate limits on Workers are per isolate',
    description: 'On Cloudflare Workers every isolate (many per colo, restarted at will) has its own memory store, so a limit of 5 can become 5 × the number of isolates.',
    fix: 'Pass a shared store on Workers: createEngine(policy, { rateLimitStore: upstashStore({ redis }) }).',
    check: ({ policy, target, routes }) =>
      target === 'workers' && Object.keys(policy.rateLimits ?? {}).length && routes.some((route) => route.route.rateLimit?.length)
        ? [{ keys: ['rateLimits'], message: 'the default memory store counts per isolate on Workers' }]
        : [],
  },
  {
    id: 'authn.anonymous_write',
    severity: 'warning',
    owasp: 'API5',
    title: 'Anonymous route that changes state',
    description: 'A POST, PUT, PATCH or DELETE that anyone may call (other than a login or password-reset flow) is rarely intended.',
    fix: 'Require authentication on the route, or keep it anonymous on purpose with a strict per-IP bucket and a body schema.',
    check: ({ routes }) =>
      routes.flatMap((route) =>
        admitsAnonymous(route.route) && WRITE_METHODS.includes(route.parsed.method) && !AUTH_FLOW.test(literalPath(route)) && !isAdminRoute(route)
          ? [{ keys: at(route, 'authn'), message: `${route.pattern} lets anonymous callers change state` }]
          : [],
      ),
  },
  {
    id: 'authz.admin_open',
    severity: 'error',
    owasp: 'API5',
    title: 'Admin or DELETE route reachable by every caller',
    description: 'Administrative functions and deletions must be limited to roles (or owners, or a custom check); otherwise any account, or anyone, can call them.',
    fix: "Replace the open alternative with { roles: ['admin'] } (or an owner / check rule).",
    check: ({ policy, routes }) =>
      routes.flatMap((route) => {
        if (!isAdminRoute(route)) return [];
        const open = openAlternative(policy, route.route);
        return open ? [{ keys: at(route, ...open.keys), message: `${route.pattern}: ${open.why}` }] : [];
      }),
  },
  {
    id: 'authz.object_unchecked',
    severity: 'warning',
    owasp: 'API1',
    title: 'Object route without an ownership check',
    description: 'A route with an object id in its path that admits every authenticated caller lets one user read or change another\'s object by changing the id (BOLA).',
    fix: "Add an owner rule ({ owner: { param: 'id' } }), a check that looks the object up, or roles; or make the route anonymous if the data is public.",
    check: ({ policy, routes }) =>
      routes.flatMap((route) => {
        if (isAdminRoute(route) || !route.parsed.params.length || route.route.authn === 'anonymous') return [];
        const open = openAlternative(policy, route.route);
        return open ? [{ keys: at(route, ...open.keys), message: `${route.pattern} takes :${route.parsed.params.join(', :')}, and ${open.why}` }] : [];
      }),
  },
  {
    id: 'validate.body_without_schema',
    severity: 'error',
    owasp: 'API3',
    title: 'Body accepted without a schema',
    description: 'A route that accepts a structured body without a schema passes whatever fields the caller sends (role, isAdmin, owner) to the origin.',
    fix: 'Give the route a body schema (valibot strictObject or any Standard Schema).',
    check: ({ routes }) =>
      routes.flatMap((route) => {
        if (route.route.body || !route.route.contentTypes?.length || !BODY_METHODS.includes(route.parsed.method)) return [];
        const structured = route.route.contentTypes.some((type) => /json|x-www-form-urlencoded|multipart|xml/.test(type));
        return [
          {
            keys: at(route, 'contentTypes'),
            message: `${route.pattern} accepts ${route.route.contentTypes.join(', ')} without a body schema`,
            severity: structured ? ('error' as const) : ('warning' as const),
          },
        ];
      }),
  },
  {
    id: 'validate.string_unbounded',
    severity: 'warning',
    owasp: 'API8',
    title: 'Body string without a maximum length or a pattern',
    description: 'A string field that takes any length and any character passes NUL bytes, control characters and megabytes of text to the origin, where they break logs, terminals, C libraries and databases.',
    fix: 'Give the field v.maxLength() and a v.regex() that refuses control characters (e.g. /^[^\\p{Cc}]*$/u), or a format (v.email(), v.uuid()).',
    check: ({ routes }) =>
      routes.flatMap((route) =>
        route.route.body && BODY_METHODS.includes(route.parsed.method)
          ? unboundedStrings(route.route.body).map((pointer) => ({
              keys: at(route, 'body'),
              message: `${route.pattern}: the body string ${pointer} has no maximum length and no pattern`,
            }))
          : [],
      ),
  },
  {
    id: 'validate.body_size_default',
    severity: 'warning',
    owasp: 'API4',
    title: 'Body size cap left at the default',
    description: `Routes that take a body are capped at ${DEFAULT_MAX_BODY_BYTES / 1024} KiB unless the policy says otherwise. Choosing the cap makes it part of the reviewed policy.`,
    fix: 'Set limits.maxBodyBytes for the policy, or maxBodyBytes on the route, to the largest body the route needs.',
    check: ({ policy, routes }) =>
      policy.limits?.maxBodyBytes !== undefined
        ? []
        : routes.flatMap((route) =>
            (route.route.body || route.route.contentTypes) && route.route.maxBodyBytes === undefined && BODY_METHODS.includes(route.parsed.method)
              ? [{ keys: at(route, 'maxBodyBytes'), message: `${route.pattern} relies on the default body cap` }]
              : [],
          ),
  },
  {
    id: 'validate.body_size_large',
    severity: 'warning',
    owasp: 'API4',
    title: 'Body size cap above 10 MiB',
    description: 'A large cap lets a few clients tie up memory and bandwidth; uploads that big belong on a direct-to-storage URL.',
    fix: 'Lower maxBodyBytes, or hand out pre-signed upload URLs for large files.',
    check: ({ policy, routes }) => {
      const hits: Hit[] = [];
      const fallback = policy.limits?.maxBodyBytes;
      if (fallback !== undefined && fallback > LARGE_BODY_BYTES) hits.push({ keys: ['limits', 'maxBodyBytes'], message: `${fallback} bytes is above 10 MiB` });
      for (const route of routes) {
        const cap = route.route.maxBodyBytes;
        if (cap !== undefined && cap > LARGE_BODY_BYTES) hits.push({ keys: at(route, 'maxBodyBytes'), message: `${route.pattern} accepts ${cap} bytes` });
      }
      return hits;
    },
  },
  {
    id: 'validate.unknown_keys_stripped',
    severity: 'warning',
    owasp: 'API3',
    title: 'Unknown body keys silently stripped on a write route',
    description: "With unknownKeys: 'strip' a request carrying role or isAdmin is answered as if it were fine; rejecting it (422) tells the client and shows the attempt in the log.",
    fix: "Remove unknownKeys: 'strip' (the default is 'reject').",
    check: ({ routes }) =>
      routes.flatMap((route) =>
        route.route.unknownKeys === 'strip' && BODY_METHODS.includes(route.parsed.method)
          ? [{ keys: at(route, 'unknownKeys'), message: `${route.pattern} strips unknown body keys instead of refusing them` }]
          : [],
      ),
  },
  {
    id: 'version.past_sunset',
    severity: 'warning',
    owasp: 'API9',
    title: 'Route of a version past its sunset',
    description: 'After the sunset the engine answers 410 Gone, so these routes are dead policy: they widen what reviewers must read and come back to life if the version entry is removed.',
    fix: 'Delete the routes of the retired version (and its origin code); keep the versions entry so callers keep getting 410.',
    check: ({ policy, routes, now }) =>
      Object.entries(policy.versions ?? {}).flatMap(([prefix, version]) => {
        const sunset = version.sunset === undefined ? NaN : Date.parse(version.sunset);
        if (!(sunset <= now)) return [];
        const parts = prefix.split('/').filter(Boolean);
        return routes
          .filter((route) => parts.every((part, i) => 'literal' in (route.parsed.segments[i] ?? {}) && (route.parsed.segments[i] as { literal: string }).literal === part))
          .map((route) => ({ keys: at(route), message: `${route.pattern} is still routed, but ${prefix} reached its sunset on ${version.sunset}` }));
      }),
  },
  ...SIGNATURE_RULES,
  CERTIFICATE_SOURCE_RULE,
  ...NETWORK_RULES,
  ...ALERT_RULES,
  {
    id: 'response.unknown_role',
    severity: 'warning',
    owasp: 'API3',
    title: 'Response field readable by a role the policy never grants',
    description: 'A response field names a role that no allow rule, role hierarchy or fieldRoles entry mentions: usually a typo, and then the field reaches nobody it was meant for.',
    fix: 'Spell the role as the allow rules do, or add it to roleHierarchy.',
    check: ({ policy, routes }) => {
      const known = knownRoles(policy, routes);
      return routes.flatMap((route) =>
        Object.entries(route.route.response?.fields ?? {}).flatMap(([field, readers]) => {
          const unknown = readers.filter((reader) => reader !== OWNER_READER && !known.has(reader));
          return unknown.length ? [{ keys: at(route, 'response', 'fields', field), message: `${route.pattern}: "${field}" is for ${unknown.map((role) => `"${role}"`).join(', ')}, which no rule grants` }] : [];
        }),
      );
    },
  },
  {
    id: 'response.fields_on_anonymous',
    severity: 'warning',
    owasp: 'API3',
    title: 'Response fields restricted on a route without authentication',
    description: 'An anonymous route has no principal and no roles: every restricted field is removed for every caller, so the origin sends data nobody may read — or the route was meant to authenticate.',
    fix: 'Authenticate the route (authn: [<method>]) so roles can read the fields, or stop the origin from sending them.',
    check: ({ routes }) =>
      routes.flatMap((route) =>
        route.route.authn === 'anonymous' && Object.keys(route.route.response?.fields ?? {}).length
          ? [{ keys: at(route, 'response', 'fields'), message: `${route.pattern} is anonymous: its restricted response fields reach nobody` }]
          : [],
      ),
  },
];

/** Every role the policy mentions outside response rules: in allow rules, fieldRoles and the role hierarchy. */
function knownRoles(policy: Policy, routes: readonly RouteInfo[]): Set<string> {
  const known = new Set<string>();
  for (const [role, implied] of Object.entries(policy.roleHierarchy ?? {})) for (const name of [role, ...implied]) known.add(name);
  for (const { route } of routes) {
    if (Array.isArray(route.allow)) for (const rule of route.allow) for (const role of rule.roles ?? []) known.add(role);
    for (const roles of Object.values(route.fieldRoles ?? {})) for (const role of roles) known.add(role);
  }
  return known;
}

/** Findings for what `definePolicy` refuses; the other rules still run. */
export const INVALID_POLICY_RULE: LintRule = {
  id: 'policy.invalid',
  severity: 'error',
  owasp: 'API8',
  title: 'definePolicy refuses the policy',
  description: 'The engine will not compile this policy; the message names what is malformed.',
  fix: 'Correct the value at the path; definePolicy names the rule it breaks.',
  check: () => [],
};

/** Every rule lint knows, `policy.invalid` first: the catalogue of the SARIF output. */
export const ALL_RULES: readonly LintRule[] = [INVALID_POLICY_RULE, ...RULES];

/** Deletions and routes under an `admin` segment: functions only some callers may reach. */
export function isAdminRoute(route: RouteInfo): boolean {
  return route.parsed.method === 'DELETE' || /\/admin/i.test(literalPath(route));
}

/** Parses the route table, skipping patterns that do not parse (definePolicy reports those). */
export function routeInfos(policy: Policy): RouteInfo[] {
  return Object.entries(policy.routes ?? {}).flatMap(([pattern, route]) => {
    const parsed = parsePattern(pattern);
    return typeof parsed === 'string' || typeof route !== 'object' || route === null ? [] : [{ pattern, route: route as RoutePolicy, parsed }];
  });
}
