/**
 * `serve()` checks a new token's signature with the runtime's own crypto (`nodeCrypto()`) unless
 * its env says otherwise, over real HTTP on 127.0.0.1; the answers are the same either way.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serve, type Running } from '../../adapters/node.ts';
import { definePolicy, jwt, type EngineEnv } from '../../src/index.ts';
import { AUDIENCE, es256, impostorEs256, ISSUER, jwksOf, signToken } from '../fixtures/keys.ts';

const policy = definePolicy({
  transport: { requireHttps: false },
  authn: { user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }) },
  routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } },
});

let running: Running | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await running?.close();
  running = undefined;
});

const now = () => Math.floor(Date.now() / 1000);
const fresh = (key = es256) => signToken(key, { iat: now(), exp: now() + 600 });

async function statuses(env: EngineEnv | undefined): Promise<number[]> {
  running = await serve(policy, (_request, decision) => Response.json({ id: decision.principal.id }), { port: 0, handleSignals: false, env: { log: () => {}, ...env } });
  const get = async (token: string) => (await fetch(`${running!.url}/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  return [await get(await fresh()), await get(await fresh(impostorEs256))];
}

describe('serve() and the engine crypto', () => {
  it('verifies with nodeCrypto() by default: WebCrypto checks only the forged token', async () => {
    const subtle = vi.spyOn(crypto.subtle, 'verify');
    expect(await statuses(undefined)).toEqual([200, 401]);
    // The honest token was verified natively; the forged one natively refused, then by WebCrypto.
    expect(subtle).toHaveBeenCalledTimes(1);
  });

  it('keeps WebCrypto alone with env { crypto: undefined }', async () => {
    const subtle = vi.spyOn(crypto.subtle, 'verify');
    expect(await statuses({ crypto: undefined })).toEqual([200, 401]);
    expect(subtle).toHaveBeenCalledTimes(2);
  });
});
