/**
 * DPoP (RFC 9449) on `jwt()` and `dpopProof()`, driven through a real engine. The proofs come from
 * panva's `dpop` client, not from this project; the access tokens from jose with the test keys.
 */
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, es256, ISSUER, jwksOf, signToken } from '../../test/fixtures/keys.ts';
import type { Decision } from '../decision.ts';
import { createEngine, type EvaluateContext } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import { definePolicy } from '../policy/define.ts';
import type { AuthnMethod } from '../stages/authn.ts';
import { memoryStore } from '../stores/memory.ts';
import type { RateLimitStore } from '../stores/types.ts';
import { dpopProof, type DpopSetting } from './dpop.ts';
import { jwt } from './jwt.ts';

const URL_ME = 'https://api.test/me';
const DPOP = 'DPoP realm="api", algs="ES256"';
const NONCE_SECRET = 'a nonce secret of at least thirty-two bytes';

const client: KeyPair = await generateKeyPair('ES256');
const jkt = await calculateThumbprint(client.publicKey);
const stranger: KeyPair = await generateKeyPair('ES256');

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** An access token from the test issuer, valid now; `cnf.jkt` binds it to `key`. */
const accessToken = (boundTo?: string) => signToken(es256, { iat: nowSeconds(), exp: nowSeconds() + 600, ...(boundTo && { cnf: { jkt: boundTo } }) });

const user = (dpop?: DpopSetting) => jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, ...(dpop && { dpop }) });

interface GuardOptions {
  /** Seconds the gateway's clock is ahead of the client's. */
  skew?: number;
  store?: RateLimitStore;
  context?: EvaluateContext;
}

/** An engine with `GET /me` and `POST /me` accepting `method`; returns a request function. */
function guard(method: AuthnMethod, options: GuardOptions = {}) {
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      clientIp: { trustedProxies: ['loopback'] },
      authn: { user: method },
      routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' }, 'POST /me': { authn: ['user'], allow: 'authenticated' } },
    }),
    { now: () => Date.now() + (options.skew ?? 0) * 1000, log: () => {}, ...(options.store && { rateLimitStore: options.store }) },
  );
  return (headers: Record<string, string>, init: { url?: string; method?: string } = {}) =>
    engine.evaluate(new Request(init.url ?? URL_ME, { method: init.method ?? 'GET', headers }), options.context);
}

const dpopHeaders = (token: string, proof: string) => ({ authorization: `DPoP ${token}`, dpop: proof });

function expectDenied(decision: Decision, reason: string, challenge: string | null, status = 401) {
  expect(decision.kind === 'deny' ? { status: decision.status, reason: decision.reason } : 'allow').toEqual({ status, reason });
  expect(decision.headers.get('www-authenticate')).toBe(challenge);
}

function expectAllowed(decision: Decision) {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
}

const ES256_ONLY = { mode: 'required', algorithms: ['ES256'] } as const;

describe("jwt({ dpop: 'required' })", () => {
  it('accepts a bound token as DPoP with a fresh proof for the method, URL and token', async () => {
    const token = await accessToken(jkt);
    const decision = await guard(user(ES256_ONLY))(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)));
    expectAllowed(decision);
    expect(decision.kind === 'allow' && decision.principal.claims.cnf).toEqual({ jkt });
  });

  it('refuses the bound token sent as a bearer token, before looking at it', async () => {
    const token = await accessToken(jkt);
    expectDenied(await guard(user(ES256_ONLY))({ authorization: `Bearer ${token}` }), 'authn.dpop_required', `${DPOP}, error="invalid_token"`);
  });

  it('asks for DPoP, naming its algorithms, when no credentials come', async () => {
    expectDenied(await guard(user(ES256_ONLY))({}), 'authn.required', DPOP);
  });

  it.each([
    { name: 'another URL', url: 'https://api.test/other', method: 'GET', reason: 'authn.dpop_proof_wrong_url' },
    { name: 'another host', url: 'https://evil.test/me', method: 'GET', reason: 'authn.dpop_proof_wrong_url' },
    { name: 'plain http', url: 'http://api.test/me', method: 'GET', reason: 'authn.dpop_proof_wrong_url' },
    { name: 'another method', url: URL_ME, method: 'POST', reason: 'authn.dpop_proof_wrong_method' },
  ])('refuses a proof made for $name', async ({ url, method, reason }) => {
    const token = await accessToken(jkt);
    expectDenied(await guard(user(ES256_ONLY))(dpopHeaders(token, await generateProof(client, url, method, undefined, token))), reason, `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('refuses the same proof twice (replayed jti)', async () => {
    const token = await accessToken(jkt);
    const request = guard(user(ES256_ONLY));
    const headers = dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token));
    expectAllowed(await request(headers));
    expectDenied(await request(headers), 'authn.dpop_replayed', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('shares the replay cache through the rate-limit store: a proof used at one gateway is refused at another', async () => {
    const store = memoryStore();
    const token = await accessToken(jkt);
    const headers = dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token));
    expectAllowed(await guard(user(ES256_ONLY), { store })(headers));
    expectDenied(await guard(user(ES256_ONLY), { store })(headers), 'authn.dpop_replayed', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('keeps a jti however many rate-limit keys come after it: a flood of clients cannot evict it', async () => {
    const store = memoryStore({ maxKeys: 2 });
    const token = await accessToken(jkt);
    const headers = dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token));
    expectAllowed(await guard(user(ES256_ONLY), { store })(headers));
    const bucket = { name: 'api', limit: 10, windowMs: 60_000, algorithm: 'fixed-window' } as const;
    for (let i = 0; i < 10; i++) await store.consume(bucket, `ip:203.0.113.${i}`, Date.now());
    expectDenied(await guard(user(ES256_ONLY), { store })(headers), 'authn.dpop_replayed', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('is refused by createEngine on a store that cannot remember keys, naming the method', () => {
    const counters: RateLimitStore = { name: 'counters-only', consume: memoryStore().consume, peek: memoryStore().peek };
    expect(() => guard(user(ES256_ONLY), { store: counters })).toThrow(
      'createEngine: authn.user refuses replays, which needs a rate-limit store with firstUse (memory, Redis, Upstash, Durable Objects); the counters-only store has none',
    );
    expect(() => guard(dpopProof(), { store: counters })).toThrow(/authn\.user refuses replays/);
    // Without DPoP, the same store serves jwt().
    expect(() => guard(user(), { store: counters })).not.toThrow();
  });

  it('fails closed (503) when the store that keeps the replay cache fails', async () => {
    const down = () => Promise.reject(new Error('down'));
    const broken: RateLimitStore = { consume: down, peek: down, firstUse: down };
    const token = await accessToken(jkt);
    const decision = await guard(user(ES256_ONLY), { store: broken })(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)));
    expectDenied(decision, 'authn.dpop_replay_unavailable', DPOP, 503);
  });

  it('refuses a proof signed by another key than the one the token is bound to', async () => {
    const token = await accessToken(jkt);
    const decision = await guard(user(ES256_ONLY))(dpopHeaders(token, await generateProof(stranger, URL_ME, 'GET', undefined, token)));
    expectDenied(decision, 'authn.dpop_key_mismatch', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it.each([
    { name: 'without ath', proofToken: undefined },
    { name: 'for another token', proofToken: 'another.access.token' },
  ])('refuses a proof $name', async ({ proofToken }) => {
    const token = await accessToken(jkt);
    const decision = await guard(user(ES256_ONLY))(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, proofToken)));
    expectDenied(decision, 'authn.dpop_proof_wrong_token', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('refuses a DPoP token without a proof, and with two', async () => {
    const token = await accessToken(jkt);
    const request = guard(user(ES256_ONLY));
    expectDenied(await request({ authorization: `DPoP ${token}` }), 'authn.dpop_proof_missing', `${DPOP}, error="invalid_dpop_proof"`);
    const proof = await generateProof(client, URL_ME, 'GET', undefined, token);
    const two = new Headers({ authorization: `DPoP ${token}` });
    two.append('dpop', proof);
    two.append('dpop', proof);
    expectDenied(await request(Object.fromEntries(two)), 'authn.dpop_proof_invalid', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('refuses a token bound to no key sent as DPoP', async () => {
    const token = await accessToken();
    const decision = await guard(user(ES256_ONLY))(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)));
    expectDenied(decision, 'authn.dpop_unbound_token', `${DPOP}, error="invalid_token"`);
  });

  it('refuses a bad token as invalid_token, whatever the proof', async () => {
    const token = await signToken(es256, { iat: nowSeconds() - 7200, exp: nowSeconds() - 3600, cnf: { jkt } });
    const decision = await guard(user(ES256_ONLY))(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)));
    expectDenied(decision, 'authn.token_expired', `${DPOP}, error="invalid_token"`);
  });

  it.each([
    { name: 'too old (the gateway clock 2 minutes ahead)', skew: 120 },
    { name: 'from the future (the gateway clock 1 minute behind)', skew: -60 },
  ])('refuses a proof $name', async ({ skew }) => {
    const token = signToken(es256, { iat: nowSeconds() + skew, exp: nowSeconds() + skew + 600, cnf: { jkt } });
    const decision = await guard(user(ES256_ONLY), { skew })(dpopHeaders(await token, await generateProof(client, URL_ME, 'GET', undefined, await token)));
    expectDenied(decision, 'authn.dpop_proof_stale', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('refuses a proof in an algorithm the policy does not list', async () => {
    const rsa = await generateKeyPair('PS256');
    const token = await accessToken(await calculateThumbprint(rsa.publicKey));
    const decision = await guard(user(ES256_ONLY))(dpopHeaders(token, await generateProof(rsa, URL_ME, 'GET', undefined, token)));
    expectDenied(decision, 'authn.dpop_proof_alg_not_allowed', `${DPOP}, error="invalid_dpop_proof"`);
  });

  it('accepts PS256 and Ed25519 proofs by default', async () => {
    const request = guard(user('required'));
    for (const alg of ['PS256', 'Ed25519'] as const) {
      const keys = await generateKeyPair(alg);
      const token = await accessToken(await calculateThumbprint(keys.publicKey));
      expectAllowed(await request(dpopHeaders(token, await generateProof(keys, URL_ME, 'GET', undefined, token))));
    }
  });

  it('refuses a proof that carries its private key, or points at a key elsewhere', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const privateJwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    const { kty, crv, x, y } = privateJwk;
    const token = await accessToken(await calculateThumbprint(pair.publicKey));
    const sign = (header: Record<string, unknown>) =>
      new SignJWT({ htm: 'GET', htu: URL_ME, jti: crypto.randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', ...header }).setIssuedAt().sign(pair.privateKey);
    const request = guard(user(ES256_ONLY));
    for (const header of [{ jwk: privateJwk }, { jwk: { kty, crv, x, y }, jku: 'https://evil.test/jwks' }, { jwk: { kty, crv, x, y }, typ: 'JWT' }, {}]) {
      expectDenied(await request(dpopHeaders(token, await sign(header))), 'authn.dpop_proof_invalid', `${DPOP}, error="invalid_dpop_proof"`);
    }
  });

  it('compares htu after RFC 3986 normalization, without the query', async () => {
    const token = await accessToken(jkt);
    const request = guard(user(ES256_ONLY));
    expectAllowed(await request(dpopHeaders(token, await generateProof(client, 'HTTPS://API.test:443/%6De', 'GET', undefined, token))));
    const decision = await request(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)), { url: `${URL_ME}?page=2` });
    expectAllowed(decision);
  });

  it('checks htu against the URL the client used: https as a trusted proxy reports it, not the socket', async () => {
    const token = await accessToken(jkt);
    const behindProxy = guard(user(ES256_ONLY), { context: { peer: { address: '127.0.0.1', scheme: 'http' } } });
    const forwarded = { 'x-forwarded-proto': 'https' };
    const proofFor = async (url: string) => ({ ...forwarded, ...dpopHeaders(token, await generateProof(client, url, 'GET', undefined, token)) });
    expectAllowed(await behindProxy(await proofFor(URL_ME), { url: 'http://api.test/me' }));
    expectDenied(await behindProxy(await proofFor('http://api.test/me'), { url: 'http://api.test/me' }), 'authn.dpop_proof_wrong_url', `${DPOP}, error="invalid_dpop_proof"`);
  });
});

describe("jwt({ dpop: 'allowed' })", () => {
  const BOTH = `Bearer realm="api", ${DPOP}`;

  it('accepts plain bearer tokens and bound tokens with their proofs', async () => {
    const request = guard(user({ mode: 'allowed', algorithms: ['ES256'] }));
    expectAllowed(await request({ authorization: `Bearer ${await accessToken()}` }));
    const token = await accessToken(jkt);
    expectAllowed(await request(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token))));
  });

  it('refuses a bound token sent as a bearer token, the error on the Bearer challenge', async () => {
    const decision = await guard(user({ mode: 'allowed', algorithms: ['ES256'] }))({ authorization: `Bearer ${await accessToken(jkt)}` });
    expectDenied(decision, 'authn.dpop_bound_as_bearer', `Bearer realm="api", error="invalid_token", ${DPOP}`);
  });

  it('names both schemes when no credentials come, and puts a proof error on the DPoP one', async () => {
    const request = guard(user({ mode: 'allowed', algorithms: ['ES256'] }));
    expectDenied(await request({}), 'authn.required', BOTH);
    const token = await accessToken(jkt);
    expectDenied(await request({ authorization: `DPoP ${token}` }), 'authn.dpop_proof_missing', `${BOTH}, error="invalid_dpop_proof"`);
  });
});

describe('jwt() without dpop', () => {
  it('refuses a token bound to a key: without its proof it is a stolen token', async () => {
    const decision = await guard(user())({ authorization: `Bearer ${await accessToken(jkt)}` });
    expectDenied(decision, 'authn.dpop_bound_as_bearer', 'Bearer realm="api", error="invalid_token"');
  });

  it('treats a DPoP-scheme request as carrying no bearer token', async () => {
    const token = await accessToken(jkt);
    expectDenied(await guard(user())(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token))), 'authn.required', 'Bearer realm="api"');
  });
});

describe('DPoP server nonces', () => {
  const withNonces = (secret = NONCE_SECRET) => user({ mode: 'required', algorithms: ['ES256'], nonce: { secret, lifetime: 60 } });

  it('answers a proof without a nonce with use_dpop_nonce and a DPoP-Nonce, then accepts the retry', async () => {
    const token = await accessToken(jkt);
    const request = guard(withNonces());
    const first = await request(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)));
    expectDenied(first, 'authn.dpop_nonce_required', `${DPOP}, error="use_dpop_nonce"`);
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    const retry = await request(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', nonce!, token)));
    expectAllowed(retry);
    expect(retry.headers.get('dpop-nonce')).toBe(nonce);
  });

  it('refuses a nonce from a gateway with another secret, and one two lifetimes old', async () => {
    const token = await accessToken(jkt);
    const other = await guard(withNonces('another secret, also thirty-two bytes or more'))(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)));
    const foreign = other.headers.get('dpop-nonce')!;
    const request = guard(withNonces());
    expectDenied(await request(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', foreign, token))), 'authn.dpop_nonce_required', `${DPOP}, error="use_dpop_nonce"`);
    const [slot, mac] = (await request(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', undefined, token)))).headers.get('dpop-nonce')!.split('.');
    const old = `${Number(slot) - 2}.${mac}`;
    expectDenied(await request(dpopHeaders(token, await generateProof(client, URL_ME, 'GET', old, token))), 'authn.dpop_nonce_required', `${DPOP}, error="use_dpop_nonce"`);
  });
});

describe('dpopProof()', () => {
  const proofOnly = () => {
    const engine = createEngine(
      definePolicy({
        transport: { requireHttps: false },
        authn: { proof: dpopProof({ algorithms: ['ES256'] }) },
        routes: { 'POST /token': { authn: ['proof', 'anonymous'], allow: 'authenticated' } },
      }),
      { log: () => {} },
    );
    return (headers: Record<string, string>) => engine.evaluate(new Request('https://api.test/token', { method: 'POST', headers }));
  };

  it('makes the key the principal: its thumbprint, a client that owns nothing', async () => {
    const decision = await proofOnly()({ dpop: await generateProof(client, 'https://api.test/token', 'POST') });
    expect(decision.kind === 'allow' && decision.principal).toMatchObject({ id: jkt, kind: 'client', method: 'proof', claims: { jkt } });
  });

  it('lets a request without a proof through as anonymous, and refuses a bad one', async () => {
    const request = proofOnly();
    const anonymous = await request({});
    expect(anonymous.kind === 'allow' && anonymous.principal.id).toBe('anonymous');
    expectDenied(await request({ dpop: await generateProof(client, 'https://api.test/other', 'POST') }), 'authn.dpop_proof_wrong_url', `${DPOP}, error="invalid_dpop_proof"`);
  });
});

describe('dpop options', () => {
  it.each([
    { dpop: 'sometimes', path: 'jwt().dpop' },
    { dpop: { mode: 'allowed', algorithms: ['HS256'] }, path: 'jwt().dpop.algorithms' },
    { dpop: { mode: 'allowed', algorithms: [] }, path: 'jwt().dpop.algorithms' },
    { dpop: { mode: 'allowed', maxAge: 86400 }, path: 'jwt().dpop.maxAge' },
    { dpop: { mode: 'allowed', nonce: { secret: 'short' } }, path: 'jwt().dpop.nonce.secret' },
    { dpop: { mode: 'allowed', nonces: {} }, path: 'jwt().dpop.nonces' },
    { dpop: { algorithms: ['ES256'] }, path: 'jwt().dpop.mode' },
  ])('refuses $dpop at $path', ({ dpop, path }) => {
    expect(() => user(dpop as DpopSetting)).toThrow(PolicyError);
    try {
      user(dpop as DpopSetting);
    } catch (error) {
      expect((error as PolicyError).issues[0]!.path).toBe(path);
    }
  });
});
