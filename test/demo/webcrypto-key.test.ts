/**
 * The demo with a `DEMO_SIGNING_KEY` exported by WebCrypto (`exportKey('jwk')`), whose JWK carries
 * `key_ops: ["sign"]` and `ext: true`: the demo publishes only the public members, and its own
 * tokens are accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';

let demo: Awaited<ReturnType<typeof startDemo>>;
let privateJwk: JsonWebKey;

beforeAll(async () => {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  privateJwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  demo = await startDemo({ env: { DEMO_SIGNING_KEY: JSON.stringify(privateJwk) }, port: 0, log: () => {} });
});
afterAll(() => demo.close());

async function login() {
  const res = await fetch(`${demo.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'correct horse battery staple' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

describe('a WebCrypto-exported DEMO_SIGNING_KEY', () => {
  it('is exported with key_ops ["sign"] and ext, as WebCrypto does', () => {
    expect(privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', key_ops: ['sign'], ext: true });
  });

  it('publishes only the public members, kid, alg and use "sig" in the JWKS', async () => {
    const { keys } = (await (await fetch(`${demo.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y, alg: 'ES256', use: 'sig' });
  });

  it('signs tokens the gateway accepts: alice logs in and reads and patches herself', async () => {
    const token = await login();
    const read = await fetch(`${demo.url}/v1/users/u_alice`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: 'u_alice' });
    const patch = await fetch(`${demo.url}/v1/users/u_alice`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Alice W.' }),
    });
    expect(patch.status).toBe(200);
  });
});
