/**
 * The engine's native crypto (`env.crypto`) through a real engine, beyond the jwt() suites that
 * run both ways: DPoP proofs and their `ath`, certificate-bound tokens and the token cache decide
 * alike with WebCrypto alone and with `nodeCrypto()`, which then leaves WebCrypto out of them.
 */
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { makeTestPki } from '../../test/fixtures/certificates.ts';
import { ENGINE_CRYPTO, spyOnVerify } from '../../test/fixtures/engine-crypto.ts';
import { AUDIENCE, es256, ISSUER, jwksOf, signToken } from '../../test/fixtures/keys.ts';
import type { Decision } from '../decision.ts';
import { createEngine, type EvaluateContext } from '../engine.ts';
import { definePolicy } from '../policy/define.ts';
import type { DpopSetting } from './dpop.ts';
import { jwt } from './jwt.ts';
import { keyMadeFor, type NativeCrypto } from './native-crypto.ts';

const URL_ME = 'https://api.test/me';
const client: KeyPair = await generateKeyPair('ES256');
const stranger: KeyPair = await generateKeyPair('ES256');
const jkt = await calculateThumbprint(client.publicKey);
const pki = makeTestPki();
afterAll(() => pki.remove());
afterEach(() => {
  vi.restoreAllMocks();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const accessToken = (cnf?: Record<string, string>) => signToken(es256, { iat: nowSeconds(), exp: nowSeconds() + 600, ...(cnf && { cnf }) });

/** An engine with `GET /me` accepting jwt() (with `dpop` when given), with `native` as its crypto. */
function guard(native: NativeCrypto | undefined, dpop?: DpopSetting) {
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      clientIp: { trustedProxies: ['10.0.0.0/24'] },
      authn: { user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, ...(dpop && { dpop }) }) },
      routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } },
    }),
    { now: () => Date.now(), log: () => {}, crypto: native },
  );
  return (headers: Record<string, string>, context: EvaluateContext = {}) => engine.evaluate(new Request(URL_ME, { headers }), context);
}

const outcome = (decision: Decision) => (decision.kind === 'deny' ? { status: decision.status, reason: decision.reason } : { allowed: decision.principal.id });
const dpopHeaders = (token: string, proof: string) => ({ authorization: `DPoP ${token}`, dpop: proof });
const withCertificate = (der: Uint8Array): EvaluateContext => ({ peer: { address: '192.0.2.1', scheme: 'https', certificate: { verified: true, der } } });

describe.each(ENGINE_CRYPTO)('with $name', ({ crypto: native }) => {
  const required = { mode: 'required', algorithms: ['ES256'] } as const;

  it.each([
    { name: 'a bound token with its fresh proof', expected: { allowed: 'user_1' }, proof: (token: string) => generateProof(client, URL_ME, 'GET', undefined, token) },
    { name: 'a proof for another token (ath)', expected: { status: 401, reason: 'authn.dpop_proof_wrong_token' }, proof: () => generateProof(client, URL_ME, 'GET', undefined, 'another') },
    { name: 'a proof by another key', expected: { status: 401, reason: 'authn.dpop_key_mismatch' }, proof: (token: string) => generateProof(stranger, URL_ME, 'GET', undefined, token) },
    {
      name: 'a proof whose signature is not its key’s',
      expected: { status: 401, reason: 'authn.dpop_proof_invalid' },
      proof: async (token: string) => (await generateProof(client, URL_ME, 'GET', undefined, token)).replace(/\.[^.]+$/, `.${'A'.repeat(86)}`),
    },
  ])('decides DPoP for $name', async ({ proof, expected }) => {
    const token = await accessToken({ jkt });
    expect(outcome(await guard(native, required)(dpopHeaders(token, await proof(token))))).toEqual(expected);
  });

  it.each([
    { name: 'the certificate it is bound to', der: () => pki.billing.der, expected: { allowed: 'user_1' } },
    { name: 'another certificate', der: () => pki.reports.der, expected: { status: 401, reason: 'authn.bound_certificate_mismatch' } },
  ])('decides a certificate-bound token with $name, on the first request and from the cache', async ({ der, expected }) => {
    const token = await accessToken({ 'x5t#S256': pki.billing.x5tS256 });
    const request = guard(native);
    expect(outcome(await request({ authorization: `Bearer ${token}` }, withCertificate(der())))).toEqual(expected);
    expect(outcome(await request({ authorization: `Bearer ${token}` }, withCertificate(der())))).toEqual(expected);
  });

  it('verifies a new token once and serves it from the cache after', async () => {
    const verify = spyOnVerify(native);
    const request = guard(native);
    const token = await accessToken();
    for (let i = 0; i < 3; i++) expect(outcome(await request({ authorization: `Bearer ${token}` }))).toEqual({ allowed: 'user_1' });
    expect(verify).toHaveBeenCalledTimes(1);
  });
});

it("leaves WebCrypto out of a DPoP request's token, proof and ath when the engine has nodeCrypto()", async () => {
  const native = ENGINE_CRYPTO.find(({ crypto }) => crypto)!.crypto!;
  const subtle = vi.spyOn(crypto.subtle, 'verify');
  const digest = vi.spyOn(crypto.subtle, 'digest');
  const verify = vi.spyOn(native, 'verify');
  const token = await accessToken({ jkt });
  const proof = await generateProof(client, URL_ME, 'GET', undefined, token);
  digest.mockClear();
  expect(outcome(await guard(native, { mode: 'required', algorithms: ['ES256'] })(dpopHeaders(token, proof)))).toEqual({ allowed: 'user_1' });
  expect(verify).toHaveBeenCalledTimes(2);
  expect(subtle).not.toHaveBeenCalled();
  // jose's JWK thumbprint and the replay cache's key are the digests left to WebCrypto.
  expect(digest.mock.calls.length).toBeLessThanOrEqual(2);
});

describe('keyMadeFor()', () => {
  it.each([
    { alg: 'ES256', key: () => es256.publicKey, made: true },
    { alg: 'ES384', key: () => es256.publicKey, made: false },
    { alg: 'RS256', key: () => es256.publicKey, made: false },
    { alg: 'HS256', key: () => es256.publicKey, made: false },
    { alg: 'ES256', key: () => es256.privateKey, made: false },
    { alg: 'none', key: () => es256.publicKey, made: false },
    { alg: 'ES256', key: () => es256.publicJwk, made: false },
  ])('$alg with the ES256 key: $made', ({ alg, key, made }) => {
    expect(keyMadeFor(alg, key())).toBe(made);
  });
});
