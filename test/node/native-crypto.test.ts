/**
 * `serve()` and the engine's crypto, over real HTTP on 127.0.0.1: by default `node:crypto` hashes
 * API keys (and checks HMAC) while WebCrypto checks public-key signatures; `nodeCrypto()` checks
 * those too; `crypto: undefined` leaves everything to WebCrypto. The answers are the same each way.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeCrypto, serve, type Running } from '../../adapters/node.ts';
import { apiKey, definePolicy, hashApiKey, jwt, type EngineEnv } from '../../src/index.ts';
import { AUDIENCE, es256, impostorEs256, ISSUER, jwksOf, signToken } from '../fixtures/keys.ts';

const KEY = 'pk_live_4f9d2c7a1b8e6f3d0a5c9e2b7d4f1a8c';
const policy = definePolicy({
  transport: { requireHttps: false },
  authn: {
    user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }),
    service: apiKey({ keys: { [await hashApiKey(KEY)]: { principal: 'svc_reports' } } }),
  },
  routes: { 'GET /me': { authn: ['user', 'service'], allow: 'authenticated' } },
});

let running: Running | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await running?.close();
  running = undefined;
});

const now = () => Math.floor(Date.now() / 1000);
const fresh = (key = es256) => signToken(key, { iat: now(), exp: now() + 600 });

/** The statuses of an honest token, a forged one, the known API key and an unknown one, with the subtle calls they made. */
async function answers(env: EngineEnv | undefined) {
  running = await serve(policy, (_request, decision) => Response.json({ id: decision.principal.id }), { port: 0, handleSignals: false, env: { log: () => {}, ...env } });
  const get = async (headers: Record<string, string>) => (await fetch(`${running!.url}/me`, { headers })).status;
  const tokens = [await fresh(), await fresh(impostorEs256)];
  const verify = vi.spyOn(crypto.subtle, 'verify');
  const digest = vi.spyOn(crypto.subtle, 'digest');
  const statuses = [
    await get({ authorization: `Bearer ${tokens[0]}` }),
    await get({ authorization: `Bearer ${tokens[1]}` }),
    await get({ 'x-api-key': KEY }),
    await get({ 'x-api-key': `${KEY}x` }),
  ];
  return { statuses, verify: verify.mock.calls.length, digest: digest.mock.calls.length };
}

describe('serve() and the engine crypto', () => {
  it('hashes API keys with node:crypto by default, and leaves ES256 signatures to WebCrypto', async () => {
    expect(await answers(undefined)).toEqual({ statuses: [200, 401, 200, 401], verify: 2, digest: 0 });
  });

  it('checks every signature with nodeCrypto(): WebCrypto sees only the forged token', async () => {
    expect(await answers({ crypto: nodeCrypto() })).toEqual({ statuses: [200, 401, 200, 401], verify: 1, digest: 0 });
  });

  it('keeps WebCrypto alone with env { crypto: undefined }', async () => {
    expect(await answers({ crypto: undefined })).toEqual({ statuses: [200, 401, 200, 401], verify: 2, digest: 2 });
  });
});
