/**
 * Conformance cases of response protection and server-error masking: the same answers on every
 * runtime, whether the application runs in-process (Node, Bun, Deno, Hono) or as an origin behind
 * `forwardTo` (Workers).
 * @module
 */

import { importJWK, SignJWT, type JWK } from 'jose';
import type { Case } from './cases.ts';
import keys from './keys.json' with { type: 'json' };
import { AUDIENCE, ISSUER } from './policy.ts';

const privateKey = (await importJWK(keys.es256.private as JWK, 'ES256')) as CryptoKey;
const now = Math.floor(Date.now() / 1000);
const bearer = async (sub: string, roles: string[]) => ({
  authorization: `Bearer ${await new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, sub, roles }).setProtectedHeader({ alg: 'ES256', kid: keys.es256.private.kid, typ: 'JWT' }).sign(privateKey)}`,
});
const alice = await bearer('u_alice', ['user']);
const bob = await bearer('u_bob', ['admin']);

const PROBLEM = { 'content-type': 'application/problem+json' };
const problem = (code: string, status: number) => ({ type: `https://portcullis.dev/problems/${code}`, code, status });

export const protectCases: Case[] = [
  {
    name: 'response fields: the owner reads her email, not the login address or session addresses',
    request: { method: 'GET', target: '/v1/profiles/u_alice', headers: alice },
    expect: { status: 200, json: { id: 'u_alice', email: 'alice@example.com', sessions: [{ id: 's1' }] }, bodyExcludes: ['lastLoginIp', '203.0.113.9', '198.51.100.4'] },
  },
  {
    name: 'response fields: an admin reads every field',
    request: { method: 'GET', target: '/v1/profiles/u_alice', headers: bob },
    expect: { status: 200, json: { id: 'u_alice', email: 'alice@example.com', lastLoginIp: '203.0.113.9', sessions: [{ id: 's1', ip: '198.51.100.4' }] } },
  },
  {
    name: 'response fields, strict: a field the caller may not read refuses the answer (502)',
    request: { method: 'GET', target: '/v1/audit/u_alice', headers: alice },
    expect: { status: 502, headers: PROBLEM, json: problem('response.forbidden_field', 502), bodyExcludes: ['lastLoginIp', '203.0.113.9'] },
  },
  {
    name: 'response fields, strict: a caller who may read it gets the answer',
    request: { method: 'GET', target: '/v1/audit/u_alice', headers: bob },
    expect: { status: 200, json: { lastLoginIp: '203.0.113.9' } },
  },
  {
    name: 'response rule: an answer over maxBytes is refused (502), not streamed',
    request: { method: 'GET', target: '/v1/export' },
    expect: { status: 502, headers: PROBLEM, json: problem('response.too_large', 502), bodyExcludes: ['u_alice'] },
  },
  {
    name: 'response rule: a success that is not JSON is refused (502)',
    request: { method: 'GET', target: '/v1/page' },
    expect: { status: 502, headers: PROBLEM, json: problem('response.unreadable', 502), bodyExcludes: ['secret'] },
  },
  {
    name: 'server errors: a 500 body (a connection string) becomes a problem that says nothing',
    request: { method: 'GET', target: '/v1/crash' },
    expect: { status: 500, headers: PROBLEM, json: problem('internal.error', 500), bodyExcludes: ['hunter2', 'postgres', 'ECONNREFUSED'] },
  },
  {
    name: 'server errors: a 503 becomes 502 origin.unavailable, keeping a valid Retry-After',
    request: { method: 'GET', target: '/v1/busy' },
    expect: { status: 502, headers: { ...PROBLEM, 'retry-after': '7' }, json: problem('origin.unavailable', 502), bodyExcludes: ['db-2.internal'] },
  },
];
