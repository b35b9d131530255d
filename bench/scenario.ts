/**
 * The one scenario every stack serves: `GET /users/:id?fields=…` behind a bearer JWT, an
 * owner-or-admin rule, a strict query schema, a rate limit that is never hit, CORS for one origin
 * and security headers. The runner and every stack import their constants from here.
 * @module
 */

import type { JWK } from 'jose';

export const HOST = '127.0.0.1';
export const ORIGIN = 'https://app.example.com';
export const ISSUER = 'https://id.bench.example';
export const AUDIENCE = 'api';
/** The request of the load run. */
export const PATH = '/users/42?fields=name';
/** The rate limit every stack applies per principal: never reached in a run. */
export const RATE_LIMIT = { limit: 1_000_000_000, windowMs: 15 * 60 * 1000, window: '15m' } as const;

/** The handler's answer. */
export function userBody(id: string) {
  return { id, name: 'Ada Lovelace' };
}

export type Alg = 'ES256' | 'HS256';

/** What a stack is told about the signing key: the public JWK (ES256) or the shared secret (HS256). */
export interface StackKey {
  alg: Alg;
  publicJwk?: JWK;
  secret?: string;
}

/** The key the runner passed in `BENCH_KEY` (JSON of a StackKey). */
export function keyFromEnv(): StackKey {
  const raw = process.env.BENCH_KEY;
  if (!raw) throw new Error('BENCH_KEY is not set: stacks are started by bench/run.ts');
  return JSON.parse(raw) as StackKey;
}

/** The claims a verified token must carry for the owner-or-admin rule. */
export interface Claims {
  sub?: string;
  roles?: unknown;
}

/** Owner or admin: the rule every stack applies (portcullis says it in its policy). */
export function ownerOrAdmin(claims: Claims, id: string): boolean {
  return claims.sub === id || (Array.isArray(claims.roles) && claims.roles.includes('admin'));
}
