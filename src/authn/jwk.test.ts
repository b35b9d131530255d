/**
 * Verification keys: the public half a JWKS publishes, local keys `jwt()` refuses at definition
 * because they cannot verify, and remote keys it skips (with a notice) for the same reason.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE, es256, ISSUER, rs256 } from '../../test/fixtures/keys.ts';
import { createEngine } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import type { SecurityEvent } from '../log.ts';
import { definePolicy } from '../policy/define.ts';
import { publicJwk } from './jwk.ts';
import { jwt, type JwtOptions } from './jwt.ts';

/** An ES256 key pair made and exported by WebCrypto itself: its JWKs carry `key_ops` and `ext`. */
async function webCryptoPair() {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  return {
    pair,
    privateJwk: (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JWK,
    publicJwk: (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JWK,
  };
}

const sign = (key: CryptoKey, kid: string) =>
  new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('user_1').setIssuedAt().setExpirationTime('5m').sign(key);

function policyErrorOf(make: () => unknown): PolicyError {
  try {
    make();
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  return expect.unreachable('no PolicyError');
}

describe('publicJwk()', () => {
  it('keeps only the public members of a WebCrypto-exported private key, with kid, alg and use "sig"', async () => {
    const { privateJwk } = await webCryptoPair();
    expect(privateJwk).toMatchObject({ key_ops: ['sign'], ext: true });
    expect(publicJwk(privateJwk, { kid: 'k1', alg: 'ES256' })).toEqual({ kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y, kid: 'k1', alg: 'ES256', use: 'sig' });
  });

  it.each([
    { name: 'RSA', key: () => rs256.privateJwk, members: ['kty', 'n', 'e', 'kid', 'alg', 'use'] },
    { name: 'OKP', key: async () => exportJWK((await generateKeyPair('EdDSA', { extractable: true })).privateKey), members: ['kty', 'crv', 'x', 'use'] },
  ])('keeps only the public members of an $name key', async ({ key, members }) => {
    expect(Object.keys(publicJwk(await key())).sort()).toEqual([...members].sort());
  });

  it('refuses a symmetric key, which has no public half', () => {
    expect(() => publicJwk({ kty: 'oct', k: 'c2VjcmV0' })).toThrow(TypeError);
  });
});

describe('jwt({ jwks }) with keys that cannot verify', () => {
  const base = { algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE } as JwtOptions;
  const es = es256.publicJwk;

  it.each<{ name: string; keys: JWK[]; algorithms?: string[]; path: string; message: RegExp }>([
    { name: 'key_ops ["sign"]', keys: [{ ...es, key_ops: ['sign'] }], path: 'jwt().jwks.keys[0]', message: /key "es256-2026-01" \(keys\[0\]\) has key_ops \["sign"\] without "verify"/ },
    { name: 'use "enc"', keys: [es, { ...es, kid: 'enc-1', use: 'enc' }], path: 'jwt().jwks.keys[1]', message: /key "enc-1" \(keys\[1\]\) has use "enc"/ },
    { name: 'private members', keys: [{ ...es256.privateJwk, kid: 'leaked' }], path: 'jwt().jwks.keys[0]', message: /key "leaked" \(keys\[0\]\) holds private members \(d\)/ },
    { name: 'RSA private members without d', keys: [{ ...rs256.publicJwk, p: 'AQAB' }], algorithms: ['RS256'], path: 'jwt().jwks.keys[0]', message: /holds private members \(p\)/ },
    { name: 'an RSA key for ES256', keys: [rs256.publicJwk], path: 'jwt().jwks.keys[0]', message: /has alg "RS256", which is not among the accepted algorithms/ },
    { name: 'an RSA key without alg for ES256', keys: [{ kty: 'RSA', n: rs256.publicJwk.n!, e: 'AQAB' }], path: 'jwt().jwks.keys[0]', message: /^.*keys\[0\] is a RSA key, which none of ES256 verifies with/ },
    { name: 'a P-384 key for ES256', keys: [{ ...es, alg: undefined, crv: 'P-384' }], path: 'jwt().jwks.keys[0]', message: /is a EC P-384 key/ },
  ])('refuses a key with $name, naming it', ({ keys, algorithms, path, message }) => {
    const error = policyErrorOf(() => jwt({ ...base, jwks: { keys }, ...(algorithms && { algorithms: algorithms as JwtOptions['algorithms'] }) }));
    expect(error.path).toBe(path);
    expect(error.message).toMatch(message);
  });

  it('accepts a public key exported by WebCrypto (key_ops ["verify"], ext) and verifies its tokens', async () => {
    const { pair, publicJwk: exported } = await webCryptoPair();
    expect(exported).toMatchObject({ key_ops: ['verify'], ext: true });
    const user = jwt({ ...base, jwks: { keys: [{ ...exported, kid: 'wc' }] } });
    const engine = createEngine(definePolicy({ transport: { requireHttps: false }, authn: { user }, routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } } }), { log: () => {} });
    const decision = await engine.evaluate(new Request('https://api.test/me', { headers: { authorization: `Bearer ${await sign(pair.privateKey, 'wc')}` } }));
    expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
  });
});

describe('jwt({ jwksUrl }) with keys that cannot verify', () => {
  let server: Server;
  let jwksUrl: string;
  let published: JWK[] = [];

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: published })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('skips a key that cannot verify, logs one notice for it, and still verifies with the others', async () => {
    const good = await webCryptoPair();
    const bad = await webCryptoPair();
    published = [
      { ...bad.privateJwk, kid: 'copied-private' },
      { ...bad.publicJwk, kid: 'sign-only', key_ops: ['sign'] },
      { ...good.publicJwk, kid: 'good', alg: 'ES256', use: 'sig' },
    ];
    const events: SecurityEvent[] = [];
    const user = jwt({ jwksUrl, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE });
    const engine = createEngine(definePolicy({ transport: { requireHttps: false }, authn: { user }, routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } } }), {
      log: (event) => void events.push(event),
    });
    const request = async (token: string) => engine.evaluate(new Request('https://api.test/me', { headers: { authorization: `Bearer ${token}` } }));

    const allowed = await request(await sign(good.pair.privateKey, 'good'));
    expect(allowed.kind === 'deny' ? allowed.reason : 'allow').toBe('allow');
    const notices = events.filter((event) => event.event === 'portcullis.notice');
    expect(notices.map((event) => [event.reason, event.error])).toEqual([
      ['authn.jwks_key_skipped', `${jwksUrl}: key "copied-private" (keys[0]) holds private members (d): give the public key only; skipped`],
      ['authn.jwks_key_skipped', `${jwksUrl}: key "sign-only" (keys[1]) has key_ops ["sign"] without "verify"; skipped`],
    ]);
    for (const kid of ['copied-private', 'sign-only']) {
      const refused = await request(await sign(bad.pair.privateKey, kid));
      expect(refused.kind === 'deny' && refused.reason).toBe('authn.unknown_key');
    }
  });
});
