/**
 * `verifyJwt` with the runtime's own crypto decides every token exactly as `jose.jwtVerify` does:
 * the same payload, or the same error (class, code, claim, message). Honest tokens of every
 * algorithm, forgeries, key confusion, `alg: none`, keys jose refuses, `crit`, and claims that fail
 * after a good signature; then a native crypto that throws, hedges or lies.
 */
import { CompactSign, createLocalJWKSet, FlattenedSign, generateKeyPair, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeCrypto } from '../../adapters/node-crypto.ts';
import {
  AUDIENCE,
  es256,
  handmadeToken,
  hmacWithPublicKey,
  hs256,
  impostorEs256,
  ISSUER,
  jwksOf,
  NOW_MS,
  NOW_SECONDS,
  rs256,
  signToken,
  standardClaims,
  withPayload,
} from '../../test/fixtures/keys.ts';
import { verifyJwt } from './jwt-verify.ts';
import type { NativeCrypto } from './native-crypto.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

const options = (extra: Partial<JWTVerifyOptions> = {}): JWTVerifyOptions => ({
  algorithms: ['ES256'],
  issuer: ISSUER,
  audience: AUDIENCE,
  requiredClaims: ['exp', 'sub'],
  clockTolerance: 5,
  currentDate: new Date(NOW_MS),
  ...extra,
});

/** What a verification came to: the payload, or the error as a caller can tell errors apart. */
async function outcome(verify: () => Promise<JWTPayload>) {
  try {
    return { payload: await verify() };
  } catch (error) {
    const { code, claim, reason } = error as { code?: string; claim?: string; reason?: string };
    return { error: { class: (error as Error).constructor.name, code, claim, reason, message: (error as Error).message } };
  }
}

const claims = standardClaims();
const esKeys = createLocalJWKSet(jwksOf(es256));
const rsKeys = createLocalJWKSet(jwksOf(rs256));
const secretKey = await crypto.subtle.importKey('raw', hs256.secret as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, true, ['verify']);
const staticKey = (key: CryptoKey): JWTVerifyGetKey => () => key;

/** Key pairs for the algorithms the shared fixtures do not cover. */
async function pairFor(alg: string, extra: Parameters<typeof generateKeyPair>[1] = {}) {
  return generateKeyPair(alg, { extractable: true, ...extra });
}
const ps256 = await pairFor('PS256');
const es384 = await pairFor('ES384');
const ed25519 = await pairFor('EdDSA', { crv: 'Ed25519' });
const signWith = (alg: string, key: CryptoKey, payload: JWTPayload = claims, header: Record<string, unknown> = {}) =>
  new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg, ...header }).sign(key);

interface Case {
  name: string;
  token: () => Promise<string> | string;
  key?: JWTVerifyGetKey;
  options?: Partial<JWTVerifyOptions>;
}

const CASES: Case[] = [
  { name: 'an honest ES256 token (JWKS)', token: () => signToken(es256) },
  { name: 'an honest RS256 token (JWKS)', token: () => signToken(rs256), key: rsKeys, options: { algorithms: ['RS256'] } },
  { name: 'an honest HS256 token', token: () => signToken(hs256), key: staticKey(secretKey), options: { algorithms: ['HS256'] } },
  { name: 'an honest PS256 token', token: () => signWith('PS256', ps256.privateKey), key: staticKey(ps256.publicKey), options: { algorithms: ['PS256'] } },
  { name: 'an honest ES384 token', token: () => signWith('ES384', es384.privateKey), key: staticKey(es384.publicKey), options: { algorithms: ['ES384'] } },
  { name: 'an honest EdDSA token', token: () => signWith('EdDSA', ed25519.privateKey), key: staticKey(ed25519.publicKey), options: { algorithms: ['EdDSA'] } },
  { name: 'a tampered payload', token: async () => withPayload(await signToken(es256), { ...claims, sub: 'admin' }) },
  { name: 'a signature by another key under the same kid', token: () => signToken(impostorEs256) },
  { name: 'a signature with a flipped last character', token: async () => (await signToken(es256)).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) },
  { name: 'a truncated signature', token: async () => (await signToken(es256)).slice(0, -4) },
  { name: 'an HS256 token over a secret, checked against another secret', token: () => signToken({ ...hs256, secret: new Uint8Array(32) }), key: staticKey(secretKey), options: { algorithms: ['HS256'] } },
  { name: 'an HS256 token signed with the RSA public key (alg confusion)', token: () => hmacWithPublicKey(rs256.spkiPem, { kid: rs256.kid }, claims), key: rsKeys, options: { algorithms: ['RS256'] } },
  {
    name: 'an HS256 token signed with the EC public key, HS256 allowed next to ES256',
    token: () => hmacWithPublicKey(es256.spkiPem, {}, claims),
    key: staticKey(es256.publicKey),
    options: { algorithms: ['ES256', 'HS256'] },
  },
  { name: 'alg "none"', token: () => handmadeToken({ alg: 'none' }, claims) },
  { name: 'alg "none" with a signature part', token: () => handmadeToken({ alg: 'none' }, claims, 'AAAA') },
  { name: 'an ES384 token on an ES256-only check', token: () => signWith('ES384', es384.privateKey), key: staticKey(es384.publicKey) },
  { name: 'an ES256 token checked with a P-384 key (wrong curve)', token: () => signToken(es256), key: staticKey(es384.publicKey) },
  { name: 'an RS256 token checked with a PS256 key (wrong key type)', token: () => signToken(rs256), key: staticKey(ps256.publicKey), options: { algorithms: ['RS256'] } },
  { name: 'an ES256 token checked with an HMAC key', token: () => signToken(es256), key: staticKey(secretKey) },
  {
    name: 'a crit header naming an understood extension',
    token: () => signToken(es256, {}, { header: { crit: ['urn:x'], 'urn:x': 1 }, crit: { 'urn:x': true } }),
    options: { crit: { 'urn:x': true } },
  },
  { name: 'a crit header naming an unknown extension', token: () => signToken(es256, {}, { header: { crit: ['urn:x'], 'urn:x': 1 }, crit: { 'urn:x': true } }) },
  {
    name: 'an unencoded payload (b64: false)',
    token: async () => {
      const jws = await new FlattenedSign(new TextEncoder().encode('unencoded')).setProtectedHeader({ alg: 'ES256', kid: es256.kid, b64: false, crit: ['b64'] }).sign(es256.privateKey);
      return `${jws.protected}.${jws.payload}.${jws.signature}`;
    },
  },
  { name: 'b64: false without crit (ignored)', token: () => signToken(es256, {}, { header: { b64: false } }) },
  { name: 'an expired token', token: () => signToken(es256, { iat: NOW_SECONDS - 3600, exp: NOW_SECONDS - 60 }) },
  { name: 'a token from another issuer', token: () => signToken(es256, { iss: 'https://evil.example' }) },
  { name: 'a token for another audience', token: () => signToken(es256, { aud: 'other' }) },
  { name: 'a token without sub', token: () => signToken(es256, { sub: undefined }) },
  { name: 'a token too old for maxTokenAge', token: () => signToken(es256, { iat: NOW_SECONDS - 120 }), options: { maxTokenAge: 60 } },
  { name: 'a token with the required typ', token: () => signToken(es256, {}, { header: { typ: 'at+jwt' } }), options: { typ: 'application/at+JWT' } },
  { name: 'a token with another typ', token: () => signToken(es256), options: { typ: 'at+jwt' } },
  { name: 'a token with a non-string typ', token: () => signToken(es256, {}, { header: { typ: 7 } }), options: { typ: 'at+jwt' } },
  { name: 'a signed payload that is not JSON', token: () => new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'ES256', kid: es256.kid }).sign(es256.privateKey) },
  { name: 'a signed payload that is a JSON array', token: () => new CompactSign(new TextEncoder().encode('[1]')).setProtectedHeader({ alg: 'ES256', kid: es256.kid }).sign(es256.privateKey) },
  { name: 'an unknown kid', token: () => signToken(es256, {}, { header: { kid: 'nobody' } }) },
];

describe('verifyJwt() with nodeCrypto() decides as jose.jwtVerify', () => {
  it.each(CASES)('$name', async ({ token: make, key = esKeys, options: extra }) => {
    const token = await make();
    const expected = await outcome(async () => (await jwtVerify(token, key, options(extra))).payload);
    expect(await outcome(() => verifyJwt(token, key, options(extra), nodeCrypto()))).toEqual(expected);
    expect(await outcome(() => verifyJwt(token, key, options(extra), undefined))).toEqual(expected);
  });

  it('leaves WebCrypto out of an honest token it verified, for every algorithm', async () => {
    const subtle = vi.spyOn(crypto.subtle, 'verify');
    const native = nodeCrypto();
    const verify = vi.spyOn(native, 'verify');
    for (const { token, key = esKeys, options: extra } of CASES.filter(({ name }) => name.startsWith('an honest'))) {
      expect((await verifyJwt(await token(), key, options(extra), native)).sub).toBe('user_1');
    }
    expect(verify).toHaveBeenCalledTimes(6);
    expect(subtle).not.toHaveBeenCalled();
  });

  it('hands a forged signature on to WebCrypto, which refuses it', async () => {
    const subtle = vi.spyOn(crypto.subtle, 'verify');
    const token = withPayload(await signToken(es256), { ...claims, sub: 'admin' });
    await expect(verifyJwt(token, esKeys, options(), nodeCrypto())).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    expect(subtle).toHaveBeenCalledTimes(1);
  });
});

describe('verifyJwt() fails closed whatever the native crypto does', () => {
  const liar = (answer: unknown): NativeCrypto => ({ verify: () => answer as boolean, sha256: () => new Uint8Array(32) });
  const forged = async () => withPayload(await signToken(es256), { ...claims, sub: 'admin' });

  it.each([
    { name: 'throws', native: { verify: () => { throw new Error('native crypto broke'); }, sha256: () => new Uint8Array(32) } as NativeCrypto },
    { name: 'answers undefined (not supported)', native: liar(undefined) },
    { name: 'answers a truthy non-boolean', native: liar(1) },
    { name: 'answers false for an honest token', native: liar(false) },
  ])('when it $name, the honest token passes and the forged one is refused, through WebCrypto', async ({ native }) => {
    expect((await verifyJwt(await signToken(es256), esKeys, options(), native)).sub).toBe('user_1');
    await expect(verifyJwt(await forged(), esKeys, options(), native)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it.each([
    { name: 'a P-384 key for an ES256 token', token: () => signToken(es256), key: () => staticKey(es384.publicKey), algorithms: ['ES256'] },
    { name: 'an RSA-PSS key for an RS256 token', token: () => signToken(rs256), key: () => staticKey(ps256.publicKey), algorithms: ['RS256'] },
    { name: 'a public EC key for an HS256 token (key confusion)', token: () => hmacWithPublicKey(es256.spkiPem, {}, claims), key: () => staticKey(es256.publicKey), algorithms: ['HS256'] },
    { name: 'an HMAC key for an ES256 token', token: () => signToken(es256), key: () => staticKey(secretKey), algorithms: ['ES256'] },
    {
      name: 'a 1024-bit RSA key',
      token: () => handmadeToken({ alg: 'RS256' }, claims, 'AAAA'),
      key: async () => {
        const weak = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
        return staticKey(((await crypto.subtle.generateKey(weak, true, ['sign', 'verify'])) as CryptoKeyPair).publicKey);
      },
      algorithms: ['RS256'],
    },
    {
      name: 'a key without the verify usage',
      token: () => signToken(es256),
      key: async () => staticKey(await crypto.subtle.importKey('jwk', es256.publicJwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, [])),
      algorithms: ['ES256'],
    },
  ])('never asks a native crypto that says yes to everything about $name', async ({ token: make, key: makeKey, algorithms }) => {
    const token = await make();
    const key = await makeKey();
    const native = liar(true);
    const verify = vi.spyOn(native, 'verify');
    const expected = await outcome(async () => (await jwtVerify(token, key, options({ algorithms }))).payload);
    expect(expected).toHaveProperty('error');
    expect(await outcome(() => verifyJwt(token, key, options({ algorithms }), native))).toEqual(expected);
    expect(verify).not.toHaveBeenCalled();
  });
});
