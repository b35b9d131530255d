/**
 * The authentication stage names the principal after the method that authenticated it, once per
 * credential a method cached: a token seen again gets the very same principal object, and a method
 * accepted under two names gives each its own.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwt } from '../authn/jwt.ts';
import { createEngine } from '../engine.ts';
import { definePolicy } from '../policy/define.ts';

const secret = new TextEncoder().encode('a-test-secret-of-at-least-32-bytes-long!!');
const token = await new SignJWT({ roles: ['user'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('u_1').setIssuer('https://id.test').setAudience('api').setIssuedAt().setExpirationTime('1h').sign(secret);
const method = jwt({ secret, algorithms: ['HS256'], issuer: 'https://id.test', audience: 'api' });
const engine = createEngine(
  definePolicy({
    transport: { requireHttps: false },
    authn: { user: method, partner: method },
    routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' }, 'GET /partner': { authn: ['partner'], allow: 'authenticated' } },
  }),
  { log: () => {} },
);

async function principalAt(path: string) {
  const decision = await engine.evaluate(new Request(`https://api.test${path}`, { headers: { authorization: `Bearer ${token}` } }));
  if (decision.kind !== 'allow') throw new Error(`expected an allow, got ${decision.reason}`);
  return decision.principal;
}

describe('the authentication stage', () => {
  it('gives a token seen again the same principal object, frozen, with nothing but its fields', async () => {
    const first = await principalAt('/me');
    expect(await principalAt('/me')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first).toMatchObject({ id: 'u_1', method: 'user', credentialHeader: 'authorization' });
    expect(Object.getOwnPropertySymbols(first)).toEqual([]);
    expect(JSON.parse(JSON.stringify(first))).toEqual({ ...first });
  });

  it('names a method accepted under two names after the name it was accepted under, every time', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await principalAt('/me')).method).toBe('user');
      expect((await principalAt('/partner')).method).toBe('partner');
    }
  });
});
