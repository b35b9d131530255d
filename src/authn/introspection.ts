/**
 * `oauth2Introspection()`: opaque bearer tokens checked with the authorization server (RFC 7662).
 * @module
 */

import { policyError } from '../errors.ts';
import type { AuthnEnv, AuthnMethod, AuthnOutcome, Principal } from '../stages/authn.ts';
import { bearerToken } from './bearer.ts';
import { claimList, readClaim } from './claims.ts';
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
  /** Required audience (`aud` must contain it), when set. */
  audience?: string;
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
}

type Answer = { active: false } | { active: true; principal: Omit<Principal, 'method'>; exp: number | undefined };

/**
 * RFC 7662 token introspection for opaque access tokens.
 *
 * @example
 * ```ts
 * const opaque = oauth2Introspection({ endpoint: 'https://id.example.com/token/introspection', clientId: 'gateway', clientSecret: env.INTROSPECTION_SECRET });
 * ```
 */
export function oauth2Introspection(options: IntrospectionOptions): AuthnMethod {
  const endpoint = secureUrl(options.endpoint, 'oauth2Introspection().endpoint', 'must be https (tokens and the client secret travel in the request)');
  if (!options.clientId) policyError('oauth2Introspection().clientId', 'is required');
  if (!options.clientSecret) policyError('oauth2Introspection().clientSecret', 'is required');
  const ttlMs = (options.cacheTtl ?? 60) * 1000;
  const cache = new Lru<string, { answer: Answer; until: number }>(10_000);
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
    if (body.active !== true) return { active: false };
    const nowSec = env.now() / 1000;
    const exp = typeof body.exp === 'number' && Number.isFinite(body.exp) ? body.exp : undefined;
    if (exp !== undefined && exp <= nowSec) return { active: false };
    if (typeof body.nbf === 'number' && body.nbf > nowSec) return { active: false };
    if (options.issuer !== undefined && body.iss !== undefined && body.iss !== options.issuer) return { active: false };
    if (options.audience !== undefined && !claimList(body.aud).includes(options.audience)) return { active: false };
    const id = typeof body.sub === 'string' && body.sub ? body.sub : typeof body.client_id === 'string' ? body.client_id : undefined;
    if (id === undefined) return { active: false };
    return {
      active: true,
      exp,
      principal: {
        id,
        roles: claimList(readClaim(body, options.rolesClaim ?? 'roles')),
        scopes: claimList(readClaim(body, options.scopesClaim ?? 'scope')),
        claims: Object.freeze({ ...body }),
      },
    };
  }

  return {
    kind: 'oauth2Introspection',
    credentialHeader: 'authorization',
    challenge: `Bearer realm="${options.realm ?? 'api'}"`,
    meta: Object.freeze({ endpoint: endpoint.href, clientAuth: options.clientAuth ?? 'client_secret_basic', audience: options.audience, issuer: options.issuer }),
    async authenticate(request: Request, env: AuthnEnv): Promise<AuthnOutcome> {
      const extracted = bearerToken(request.headers);
      if (extracted.kind === 'absent') return { kind: 'absent' };
      if (extracted.kind === 'invalid') return { kind: 'failure', reason: 'authn.invalid_request' };
      if (extracted.token.length > 4096) return { kind: 'failure', reason: 'authn.token_too_large' };
      // Cached by hash: the cache never holds a usable token.
      const key = await sha256Hex(extracted.token);
      const now = env.now();
      let entry = cache.get(key);
      if (!entry || entry.until <= now || (entry.answer.active && entry.answer.exp !== undefined && entry.answer.exp * 1000 <= now)) {
        let answer: Answer;
        try {
          answer = await introspect(extracted.token, env);
        } catch {
          // The server is down or answered nonsense: the token cannot be checked, so it is refused.
          return { kind: 'failure', reason: 'authn.unavailable' };
        }
        const until = Math.min(now + ttlMs, answer.active && answer.exp !== undefined ? answer.exp * 1000 : Infinity);
        entry = { answer, until };
        cache.set(key, entry);
      }
      if (!entry.answer.active) return { kind: 'failure', reason: 'authn.token_inactive' };
      return { kind: 'success', principal: entry.answer.principal };
    },
  };
}
