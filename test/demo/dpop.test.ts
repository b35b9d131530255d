/**
 * DPoP at the demo (RFC 9449), over real HTTP, with proofs from panva's `dpop` client: a login with
 * a proof gets a token bound to the proof's key, which then works only as `Authorization: DPoP`
 * with a fresh proof for the request's method and URL.
 */
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';

let demo: Awaited<ReturnType<typeof startDemo>>;
let client: KeyPair;
const LOGIN = { username: 'alice', password: 'correct horse battery staple' };

beforeAll(async () => {
  client = await generateKeyPair('ES256');
  // The refused logins below must not run into the login limit.
  demo = await startDemo({ env: { DEMO_API_KEY: 'pk_demo_test_0123456789abcdefghijklmnop', LOGIN_RATE_LIMIT: '50' }, port: 0, log: () => {} });
});
afterAll(() => demo.close());

/** POST /v1/auth/login as alice, with a proof when `proof` is given. */
async function login(proof?: string) {
  return fetch(`${demo.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(proof && { dpop: proof }) },
    body: JSON.stringify(LOGIN),
  });
}

/** A DPoP-bound token for alice, bound to `keys`. */
async function boundToken(keys: KeyPair = client): Promise<string> {
  const response = await login(await generateProof(keys, `${demo.url}/v1/auth/login`, 'POST'));
  expect(response.status).toBe(200);
  const body = (await response.json()) as { token: string; token_type: string };
  expect(body.token_type).toBe('DPoP');
  return body.token;
}

const aliceUrl = () => `${demo.url}/v1/users/u_alice`;

/** GET alice's record with the token as DPoP and a proof (by default a fresh, honest one). */
async function getAlice(token: string, proof?: string) {
  return fetch(aliceUrl(), { headers: { authorization: `DPoP ${token}`, dpop: proof ?? (await generateProof(client, aliceUrl(), 'GET', undefined, token)) } });
}

async function expectRefused(response: Response, code: string) {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toContain('DPoP');
  expect(((await response.json()) as { code: string }).code).toBe(code);
}

describe('DPoP login', () => {
  it('binds the token to the key of the login proof: cnf.jkt is its thumbprint', async () => {
    const token = await boundToken();
    expect(decodeJwt(token)).toMatchObject({ sub: 'u_alice', cnf: { jkt: await calculateThumbprint(client.publicKey) } });
  });

  it('still gives a bearer token to a login without a proof', async () => {
    const response = await login();
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['token']);
    expect(decodeJwt(body.token as string).cnf).toBeUndefined();
    expect((await fetch(aliceUrl(), { headers: { authorization: `Bearer ${body.token as string}` } })).status).toBe(200);
  });

  it('refuses a login proof made for another URL or method, and a replayed one', async () => {
    await expectRefused(await login(await generateProof(client, `${demo.url}/v1/auth/logout`, 'POST')), 'authn.dpop_proof_wrong_url');
    await expectRefused(await login(await generateProof(client, `${demo.url}/v1/auth/login`, 'GET')), 'authn.dpop_proof_wrong_method');
    const proof = await generateProof(client, `${demo.url}/v1/auth/login`, 'POST');
    expect((await login(proof)).status).toBe(200);
    await expectRefused(await login(proof), 'authn.dpop_replayed');
  });
});

describe('a DPoP-bound token', () => {
  it('works as Authorization: DPoP with a fresh proof for the method, URL and token', async () => {
    const token = await boundToken();
    const response = await getAlice(token);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: 'u_alice' });
    // A new proof each time: the next request works too.
    expect((await getAlice(token)).status).toBe(200);
  });

  it('is refused as a bearer token', async () => {
    const token = await boundToken();
    await expectRefused(await fetch(aliceUrl(), { headers: { authorization: `Bearer ${token}` } }), 'authn.dpop_bound_as_bearer');
  });

  it('is refused without a proof, or with a proof from another key', async () => {
    const token = await boundToken();
    await expectRefused(await fetch(aliceUrl(), { headers: { authorization: `DPoP ${token}` } }), 'authn.dpop_proof_missing');
    const thief = await generateKeyPair('ES256');
    await expectRefused(await getAlice(token, await generateProof(thief, aliceUrl(), 'GET', undefined, token)), 'authn.dpop_key_mismatch');
  });

  it('is refused with a proof for another URL or method, or without the token hash', async () => {
    const token = await boundToken();
    await expectRefused(await getAlice(token, await generateProof(client, `${demo.url}/v1/users/u_bob`, 'GET', undefined, token)), 'authn.dpop_proof_wrong_url');
    await expectRefused(await getAlice(token, await generateProof(client, aliceUrl(), 'PATCH', undefined, token)), 'authn.dpop_proof_wrong_method');
    await expectRefused(await getAlice(token, await generateProof(client, aliceUrl(), 'GET')), 'authn.dpop_proof_wrong_token');
  });

  it('is refused with a replayed proof (jti seen before)', async () => {
    const token = await boundToken();
    const proof = await generateProof(client, aliceUrl(), 'GET', undefined, token);
    expect((await getAlice(token, proof)).status).toBe(200);
    await expectRefused(await getAlice(token, proof), 'authn.dpop_replayed');
  });

  it('writes with a proof for the write: PATCH with htm PATCH', async () => {
    const token = await boundToken();
    const response = await fetch(aliceUrl(), {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `DPoP ${token}`, dpop: await generateProof(client, aliceUrl(), 'PATCH', undefined, token) },
      body: JSON.stringify({ name: 'Alice P. Liddell' }),
    });
    expect(response.status).toBe(200);
  });
});
