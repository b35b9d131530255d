/**
 * `oauth2Introspection()`: opaque bearer tokens checked with the authorization server (RFC 7662).
 * @module
 */

import { policyError, refuseUnknownOptions } from '../errors.ts';
import type { AuthnEnv, AuthnMethod, AuthnOutcome, Principal } from './contract.ts';
import { bearerToken, isB64Token } from './bearer.ts';
import { compileDpop, type DpopSetting } from './dpop.ts';
import { claimList, readClaim } from './claims.ts';
import { checkCertificateBinding, confirmsCertificateOnly } from './confirmation.ts';
import { sha256Hex } from './hash.ts';
import { secureUrl } from './secure-url.ts';
import { Lru } from './lru.ts';

/** Options of `oauth2Introspection()`. */
export interface IntrospectionOptions {
  /** The introspection endpoint (https, or http on loopback for tests). */
  endpoint: string;
  clientId: string;
  clientSecret: string;
  /** How the gateway authenticates to the endpoint. @default 'client_secret_basic' */
  clientAuth?: 'client_secret_basic' | 'client_secret_post';
  /** Accepted `iss` of the introspection response, when the server sends one. */
  issuer?: string;
  /**
   * This API's identifier: `aud` must contain it. Required, because the server answers `active`
   * for tokens it issued to any resource server; `false` accepts every audience (lint flags it).
   */
  audience: string | false;
  /**
   * Accept answers that name no token type (neither `token_type` nor `token_use`). Some servers
   * type only their access tokens, so an untyped answer may be a refresh token.
   * @default false
   */
  acceptUntypedTokens?: boolean;
  /**
   * What a token issued to a client on its own behalf (client credentials: no `sub`, or `sub` equal
   * to `client_id`) becomes: a principal of kind `client`, which never owns a resource, or a
   * `user` whose id is the client id.
   * @default 'client'
   */
  clientTokens?: 'client' | 'user';
  /** Longest time an answer is reused, in seconds; never past the token's `exp`. @default 60 */
  cacheTtl?: number;
  /** Request timeout in ms; a timeout refuses the token (fail closed). @default 3000 */
  timeoutMs?: number;
  /** @default 'roles' */
  rolesClaim?: string;
  /** @default 'scope' */
  scopesClaim?: string;
  /** @default 'api' */
  realm?: string;
  /**
   * DPoP (RFC 9449): accept tokens the server says are bound to a key (`cnf.jkt`, `token_type`
   * `DPoP`) when sent as `Authorization: DPoP <token>` with a proof from that key. `'required'`:
   * only those; `'allowed'`: plain bearer tokens too. Unset, every bound token is refused.
   */
  dpop?: DpopSetting;
}

/** A refused answer carries its reason; an accepted one the principal and the token's `exp`. */
type Answer = { active: false; reason: string } | { active: true; principal: Omit<Principal, 'method'>; exp: number | undefined };

const INACTIVE: Answer = Object.freeze({ active: false, reason: 'authn.token_inactive' });

/** `token_type` (RFC 7662, lower-cased) and `token_use` (AWS, Ory) values of an access token. */
const ACCESS_TYPES = new Set(['bearer', 'access_token', 'urn:ietf:params:oauth:token-type:access_token', 'access']);
/** Types of tokens bound to a key (RFC 9449 DPoP): presented as bearer tokens, they are refused. */
const BOUND_TYPES = new Set(['dpop']);

/**
 * Why an active answer is not an access token this method can check, or undefined when it is. A
 * refresh or ID token is active too, and a token bound to a key (DPoP) needs a proof this method
 * cannot check; a token bound to a certificate is checked against the request's (confirmation.ts).
 */
function tokenTypeProblem(body: Record<string, unknown>, acceptUntyped: boolean, dpop: boolean): string | undefined {
  const types = [body.token_type, body.token_use].filter((value) => value !== undefined);
  if (types.length === 0) return acceptUntyped ? undefined : 'authn.wrong_token_type';
  for (const type of types) {
    const name = typeof type === 'string' ? type.toLowerCase() : '';
    if (BOUND_TYPES.has(name)) {
      if (dpop) continue;
      return 'authn.sender_constrained';
    }
    if (!ACCESS_TYPES.has(name)) return 'authn.wrong_token_type';
  }
  // With DPoP on, a binding to a key (`jkt`) is checked against the request's proof; any other binding still cannot be.
  // A binding to a certificate is checked against the request's (confirmation.ts); any other cannot be.
  return body.cnf !== undefined && !(dpop && onlyKeyBinding(body.cnf)) && !confirmsCertificateOnly(body.cnf) ? 'authn.sender_constrained' : undefined;
}

/** A `cnf` that binds to a DPoP key and nothing else. */
const onlyKeyBinding = (cnf: unknown) => typeof cnf === 'object' && cnf !== null && Object.keys(cnf).length === 1 && 'jkt' in cnf;

/** A time claim that is absent or a finite number of seconds; anything else makes the answer void. */
const timeClaim = (value: unknown): number | undefined | null =>
  value === undefined ? undefined : typeof value === 'number' && Number.isFinite(value) ? value : null;

/** Every option `oauth2Introspection()` knows: the `satisfies` keeps the list in step with `IntrospectionOptions`. */
const INTROSPECTION_OPTIONS: ReadonlySet<string> = new Set(
  Object.keys({
    endpoint: 0, clientId: 0, clientSecret: 0, clientAuth: 0, issuer: 0, audience: 0, acceptUntypedTokens: 0, clientTokens: 0, cacheTtl: 0, timeoutMs: 0,
    rolesClaim: 0, scopesClaim: 0, realm: 0, dpop: 0,
  } satisfies Record<keyof IntrospectionOptions, 0>),
);

/**
 * RFC 7662 token introspection for opaque access tokens.
 *
 * @example
 * ```ts
 * const opaque = oauth2Introspection({ endpoint: 'https://id.example.com/token/introspection', clientId: 'gateway', clientSecret: env.INTROSPECTION_SECRET });
 * ```
 */
export function oauth2Introspection(options: IntrospectionOptions): AuthnMethod {
  refuseUnknownOptions('oauth2Introspection()', options, INTROSPECTION_OPTIONS);
  const endpoint = secureUrl(options.endpoint, 'oauth2Introspection().endpoint', 'must be https (tokens and the client secret travel in the request)');
  if (!options.clientId) policyError('oauth2Introspection().clientId', 'is required');
  if (!options.clientSecret) policyError('oauth2Introspection().clientSecret', 'is required');
  const audience = options.audience as unknown;
  if (audience !== false && (typeof audience !== 'string' || audience === '')) {
    policyError('oauth2Introspection().audience', "is required: this API's identifier (the aud its tokens carry), or false to accept tokens issued for any API");
  }
  if (options.clientTokens !== undefined && options.clientTokens !== 'client' && options.clientTokens !== 'user') {
    policyError('oauth2Introspection().clientTokens', "must be 'client' or 'user'");
  }
  const clientsAreUsers = options.clientTokens === 'user';
  const ttlMs = (options.cacheTtl ?? 60) * 1000;
  const cache = new Lru<string, { answer: Answer; until: number }>(10_000);
  const realm = options.realm ?? 'api';
  const dpop = compileDpop(options.dpop, 'oauth2Introspection().dpop', realm);
  const basic = `Basic ${btoa(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`)}`;

  async function introspect(token: string, env: AuthnEnv): Promise<Answer> {
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if ((options.clientAuth ?? 'client_secret_basic') === 'client_secret_basic') headers.authorization = basic;
    else form.set('client_id', options.clientId), form.set('client_secret', options.clientSecret);
    const response = await env.fetch(endpoint, {
      method: 'POST',
      headers,
      body: form,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 3000),
    });
    if (response.status !== 200) throw new Error(`introspection answered ${response.status}`);
    const body = (await response.json()) as Record<string, unknown>;
    if (body.active !== true) return INACTIVE;
    const exp = timeClaim(body.exp);
    const nbf = timeClaim(body.nbf);
    // A time the server wrote as a string (or not at all legibly) cannot be checked: fail closed.
    if (exp === null || nbf === null || timeClaim(body.iat) === null) return INACTIVE;
    const nowSec = env.now() / 1000;
    if (exp !== undefined && exp <= nowSec) return INACTIVE;
    if (nbf !== undefined && nbf > nowSec) return INACTIVE;
    if (options.issuer !== undefined && body.iss !== undefined && body.iss !== options.issuer) return INACTIVE;
    // The type first: a refresh token says what it is, whatever its audience.
    const typeProblem = tokenTypeProblem(body, options.acceptUntypedTokens ?? false, dpop !== undefined);
    if (typeProblem) return { active: false, reason: typeProblem };
    if (options.audience !== false && !claimList(body.aud).includes(options.audience)) return INACTIVE;
    const sub = typeof body.sub === 'string' && body.sub ? body.sub : undefined;
    const clientId = typeof body.client_id === 'string' && body.client_id ? body.client_id : undefined;
    const id = sub ?? clientId;
    if (id === undefined) return INACTIVE;
    // A client acting for itself is not a user: an owner rule must never match its id.
    const kind = (sub === undefined || sub === clientId) && !clientsAreUsers ? 'client' : 'user';
    return {
      active: true,
      exp,
      principal: {
        id,
        kind,
        roles: claimList(readClaim(body, options.rolesClaim ?? 'roles')),
        scopes: claimList(readClaim(body, options.scopesClaim ?? 'scope')),
        claims: Object.freeze({ ...body }),
      },
    };
  }

  /**
   * The answer for a token, asking the server at most once at a time per token: concurrent requests
   * with a new token share one call. A failure reaches the requests of that call only, never the cache.
   */
  const inflight = new Map<string, Promise<Answer>>();
  function lookup(key: string, token: string, env: AuthnEnv): Promise<Answer> {
    let pending = inflight.get(key);
    if (pending === undefined) {
      const started = env.now();
      pending = introspect(token, env)
        .then((answer) => {
          const until = Math.min(started + ttlMs, answer.active && answer.exp !== undefined ? answer.exp * 1000 : Infinity);
          cache.set(key, { answer, until });
          return answer;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  }

  /** The answer for a token that is syntactically a token, from the cache or the server. */
  async function check(token: string, env: AuthnEnv): Promise<AuthnOutcome> {
    if (token.length > 4096) return { kind: 'failure', reason: 'authn.token_too_large' };
    // Cached by hash: the cache never holds a usable token.
    const key = await sha256Hex(token, env.crypto);
    const now = env.now();
    const entry = cache.get(key);
    let answer: Answer;
    if (entry && entry.until > now && !(entry.answer.active && entry.answer.exp !== undefined && entry.answer.exp * 1000 <= now)) {
      answer = entry.answer;
    } else {
      try {
        answer = await lookup(key, token, env);
      } catch {
        // The server is down or answered nonsense: the token cannot be checked, so it is refused.
        return { kind: 'failure', reason: 'authn.unavailable' };
      }
    }
    if (!answer.active) return { kind: 'failure', reason: answer.reason };
    return { kind: 'success', principal: answer.principal };
  }

  return {
    kind: 'oauth2Introspection',
    credentialHeader: 'authorization',
    challenge: dpop?.challenge ?? `Bearer realm="${realm}"`,
    meta: Object.freeze({
      endpoint: endpoint.href,
      clientAuth: options.clientAuth ?? 'client_secret_basic',
      audience: options.audience,
      issuer: options.issuer,
      acceptUntypedTokens: options.acceptUntypedTokens ?? false,
      clientTokens: options.clientTokens ?? 'client',
      dpop: dpop?.meta,
    }),
    usesReplayCache: dpop !== undefined,
    async authenticate(request, env, context): Promise<AuthnOutcome> {
      if (dpop) {
        const checked = (token: string) => (isB64Token(token) ? check(token, env) : Promise.resolve({ kind: 'failure' as const, reason: 'authn.invalid_request' }));
        return checkCertificateBinding(await dpop.authenticate(request, env, context, checked), context);
      }
      const extracted = bearerToken(request.headers);
      if (extracted.kind === 'absent') return { kind: 'absent' };
      if (extracted.kind === 'invalid') return { kind: 'failure', reason: 'authn.invalid_request' };
      return checkCertificateBinding(await check(extracted.token, env), context);
    },
  };
}
