/**
 * HTTP Message Signatures (RFC 9421) against code the project did not write: the RFC's own test
 * vectors (Appendix B.2, keys of B.1) and requests signed by the `http-message-signatures` package.
 */
import { createHash, createPublicKey, constants, generateKeyPairSync, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import { createSigner, httpbis, type SigningKey } from 'http-message-signatures';
import type { JWK } from 'jose';
import { parseDictionary, type InnerList } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { withTwinSignature } from '../../test/fixtures/ecdsa-twin.ts';
import { CREATED, TEST_KEY_ED25519_PUBLIC_JWK, TEST_KEY_RSA_PSS_PUBLIC, TEST_REQUEST, TEST_SHARED_SECRET, VECTORS } from '../../test/fixtures/rfc9421.ts';
import { memoryStore } from '../stores/memory.ts';
import type { AuthnEnv, AuthnMethod } from './contract.ts';
import { signature, type HttpSignatureKey } from './signature.ts';
import { signatureBase } from './signature-base.ts';
import { httpMessageVerifier } from './signature-http.ts';

const encoder = new TextEncoder();
const RFC_KEYS: Record<string, HttpSignatureKey> = {
  'test-key-rsa-pss': { algorithm: 'rsa-pss-sha512', key: createPublicKey(TEST_KEY_RSA_PSS_PUBLIC).export({ format: 'jwk' }) as JWK },
  'test-key-ed25519': { algorithm: 'ed25519', key: { ...TEST_KEY_ED25519_PUBLIC_JWK } },
  'test-shared-secret': { algorithm: 'hmac-sha256', key: { kty: 'oct', k: Buffer.from(TEST_SHARED_SECRET, 'base64').toString('base64url') } },
};

function rfcRequest(signatureInput: string, signatureValue: string, changed: Record<string, string> = {}): Request {
  return new Request(TEST_REQUEST.url, {
    method: TEST_REQUEST.method,
    headers: { ...TEST_REQUEST.headers, 'signature-input': signatureInput, signature: signatureValue, ...changed },
    body: TEST_REQUEST.body,
  });
}

const innerList = (signatureInput: string): InnerList => [...parseDictionary(signatureInput).values()][0] as InnerList;

describe('RFC 9421 Appendix B.2 test vectors', () => {
  /** The verifier itself, without the policy floor (B.2.1 covers nothing at all). */
  const verifier = httpMessageVerifier({
    keys: RFC_KEYS,
    jwksUrl: undefined,
    algorithms: [],
    jwksSigner: {},
    components: [],
    maxAge: 300,
    clockSkew: 5,
    digest: ['sha-256', 'sha-512'],
    label: undefined,
    at: 'test',
    fetch: () => fetch,
  });

  it.each(VECTORS)('$section: the signature base is the RFC`s, byte for byte', (vector) => {
    const request = rfcRequest(vector.signatureInput, vector.signature);
    const built = signatureBase(request, { method: request.method, url: new URL(request.url) }, innerList(vector.signatureInput));
    expect(built).toMatchObject({ ok: true, base: vector.base });
  });

  it.each(VECTORS)('$section: verifies with the RFC`s key', async (vector) => {
    const request = rfcRequest(vector.signatureInput, vector.signature);
    // A signature that does not cover the digest says nothing of the body: verified here without it.
    const body = vector.covers.includes('content-digest') ? encoder.encode(TEST_REQUEST.body) : new Uint8Array(0);
    const outcome = await verifier(request, body, CREATED * 1000);
    expect(outcome).toMatchObject({ kind: 'verified', signer: { principal: vector.keyid }, claims: { keyid: vector.keyid, algorithm: vector.algorithm } });
  });

  it.each(VECTORS.filter((vector) => vector.covers.includes('date')))('$section: a changed covered header breaks it', async (vector) => {
    const request = rfcRequest(vector.signatureInput, vector.signature, { date: 'Tue, 20 Apr 2021 02:07:56 GMT' });
    const body = vector.covers.includes('content-digest') ? encoder.encode(TEST_REQUEST.body) : new Uint8Array(0);
    expect(await verifier(request, body, CREATED * 1000)).toEqual({ kind: 'failure', reason: 'authn.bad_signature' });
  });

  it('B.2.6 with its body: refused, the signature does not cover content-digest', async () => {
    const vector = VECTORS.find((v) => v.section.startsWith('B.2.6'))!;
    const outcome = await verifier(rfcRequest(vector.signatureInput, vector.signature), encoder.encode(TEST_REQUEST.body), CREATED * 1000);
    expect(outcome).toEqual({ kind: 'failure', reason: 'authn.signature_coverage' });
  });

  it('B.2.3 with another body under the same digest header: refused as a digest mismatch', async () => {
    const vector = VECTORS.find((v) => v.section.startsWith('B.2.3'))!;
    const outcome = await verifier(rfcRequest(vector.signatureInput, vector.signature), encoder.encode('{"hello": "world!"}'), CREATED * 1000);
    expect(outcome).toEqual({ kind: 'failure', reason: 'authn.digest_mismatch' });
  });

  it('B.2.1 under signature(): refused, it covers neither @method nor the target', async () => {
    const method = signature({ scheme: 'http-message-signatures', keys: RFC_KEYS, replay: 'allow' });
    const vector = VECTORS[0]!;
    const outcome = await method.authenticate(rfcRequest(vector.signatureInput, vector.signature), envAt(CREATED * 1000), { body: new Uint8Array(0) });
    expect(outcome).toEqual({ kind: 'failure', reason: 'authn.signature_coverage' });
  });
});

function envAt(now: number): AuthnEnv {
  const store = memoryStore();
  return { now: () => now, fetch, firstUse: (key, expiresAt) => store.firstUse!(key, expiresAt, now) };
}

const NOW = Date.UTC(2026, 11, 3, 10, 0, 0);
const NOW_SECONDS = NOW / 1000;
const BODY = JSON.stringify({ amount: 4200, currency: 'EUR' });
const sha256Digest = (body: string) => `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;

/** Key pairs of every algorithm, their JWKs, and a signer for the package. */
function rsaPssSigner(privateKey: KeyObject, id: string): SigningKey {
  // The package's own rsa-pss-sha512 signer leaves OpenSSL's maximum salt length; RFC 9421 §3.3.1
  // fixes it at 64 bytes. The package still builds the signature base and the headers.
  return { id, alg: 'rsa-pss-sha512', sign: async (data) => nodeSign('sha512', data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }) };
}

const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const hmacSecret = randomBytes(32);
const impostor = generateKeyPairSync('ed25519');

const SIGNERS: Record<string, SigningKey> = {
  'partner-ed25519': createSigner(ed.privateKey, 'ed25519', 'partner-ed25519'),
  'partner-p256': createSigner(ec.privateKey, 'ecdsa-p256-sha256', 'partner-p256'),
  'partner-rsa': rsaPssSigner(rsa.privateKey, 'partner-rsa'),
  'partner-hmac': createSigner(hmacSecret, 'hmac-sha256', 'partner-hmac'),
};
const KEYS: Record<string, HttpSignatureKey> = {
  'partner-ed25519': { algorithm: 'ed25519', key: ed.publicKey.export({ format: 'jwk' }) as JWK, principal: 'partner', scopes: ['payments:write'] },
  'partner-p256': { algorithm: 'ecdsa-p256-sha256', key: ec.publicKey.export({ format: 'jwk' }) as JWK, principal: 'partner' },
  'partner-rsa': { algorithm: 'rsa-pss-sha512', key: rsa.publicKey.export({ format: 'jwk' }) as JWK, principal: 'partner' },
  'partner-hmac': { algorithm: 'hmac-sha256', key: { kty: 'oct', k: hmacSecret.toString('base64url') }, principal: 'partner' },
};

interface Signed {
  request: Request;
  body: string;
}

/** A request signed by the http-message-signatures package. */
async function signed(options: { keyid?: string; signer?: SigningKey; fields?: string[]; created?: number; body?: string; sentBody?: string; digest?: string; url?: string; method?: string } = {}): Promise<Signed> {
  const keyid = options.keyid ?? 'partner-ed25519';
  const body = options.body ?? BODY;
  const url = options.url ?? 'https://api.example.com/v1/transfers?dry_run=false';
  const method = options.method ?? 'POST';
  const message = await httpbis.signMessage(
    {
      key: options.signer ?? SIGNERS[keyid]!,
      fields: options.fields ?? ['@method', '@target-uri', 'content-digest', 'content-type'],
      params: ['keyid', 'alg', 'created'],
      paramValues: { keyid, created: new Date((options.created ?? NOW_SECONDS) * 1000) },
    },
    { method, url, headers: { 'content-type': 'application/json', 'content-digest': options.digest ?? sha256Digest(body) } },
  );
  const sent = options.sentBody ?? body;
  return { request: new Request(url, { method, headers: message.headers as Record<string, string>, body: sent }), body: sent };
}

const partner = signature({ scheme: 'http-message-signatures', keys: KEYS });
const authenticate = (method: AuthnMethod, { request, body }: Signed, env = envAt(NOW)) => method.authenticate(request, env, { body: encoder.encode(body) });

describe('signature({ scheme: "http-message-signatures" }) with requests signed by the http-message-signatures package', () => {
  it.each(Object.keys(SIGNERS))('accepts %s', async (keyid) => {
    const outcome = await authenticate(partner, await signed({ keyid }));
    expect(outcome).toMatchObject({ kind: 'success', principal: { id: 'partner', kind: 'client', claims: { keyid, covered: ['@method', '@target-uri', 'content-digest', 'content-type'] } } });
  });

  it('passes an unsigned request on as absent', async () => {
    expect(await authenticate(partner, { request: new Request('https://api.example.com/v1/transfers', { method: 'POST', body: BODY }), body: BODY })).toEqual({ kind: 'absent' });
  });

  it.each<[string, () => Promise<Signed>, string]>([
    ['signed 5 minutes and 1 second ago', () => signed({ created: NOW_SECONDS - 301 }), 'authn.signature_stale'],
    ['created 10 seconds in the future', () => signed({ created: NOW_SECONDS + 10 }), 'authn.signature_stale'],
    ['signed by another key under a known keyid', () => signed({ signer: createSigner(impostor.privateKey, 'ed25519', 'partner-ed25519') }), 'authn.bad_signature'],
    ['signed by an unknown keyid', () => signed({ keyid: 'stranger', signer: createSigner(impostor.privateKey, 'ed25519', 'stranger') }), 'authn.unknown_key'],
    ['with the body altered after signing', () => signed({ sentBody: BODY.replace('4200', '9999') }), 'authn.digest_mismatch'],
    ['with a digest that is not the body`s, signed as it is', () => signed({ digest: sha256Digest('{}') }), 'authn.digest_mismatch'],
    ['without content-digest in the coverage, though there is a body', () => signed({ fields: ['@method', '@target-uri', 'content-type'] }), 'authn.signature_coverage'],
    ['without @method in the coverage', () => signed({ fields: ['@target-uri', 'content-digest'] }), 'authn.signature_coverage'],
    ['with only @path covered (another host or query could be sent)', () => signed({ fields: ['@method', '@path', 'content-digest'] }), 'authn.signature_coverage'],
    ['covering a header the request does not have', signedWithMissingHeader, 'authn.signature_component_missing'],
  ])('refuses a request %s', async (_, make, reason) => {
    expect(await authenticate(partner, await make())).toEqual({ kind: 'failure', reason });
  });

  it('refuses the request sent to another target or with another method than signed', async () => {
    const { request, body } = await signed();
    const moved = new Request('https://api.example.com/v1/transfers?dry_run=true', { method: 'POST', headers: request.headers, body });
    expect(await authenticate(partner, { request: moved, body })).toEqual({ kind: 'failure', reason: 'authn.bad_signature' });
    const put = new Request(request.url, { method: 'PUT', headers: request.headers, body });
    expect(await authenticate(partner, { request: put, body })).toEqual({ kind: 'failure', reason: 'authn.bad_signature' });
  });

  it('refuses the same signed request a second time', async () => {
    const env = envAt(NOW);
    const once = await signed();
    expect((await authenticate(partner, once, env)).kind).toBe('success');
    const again = new Request(once.request.url, { method: 'POST', headers: once.request.headers, body: once.body });
    expect(await authenticate(partner, { request: again, body: once.body }, env)).toEqual({ kind: 'failure', reason: 'authn.signature_replayed' });
  });

  it('refuses a replay whose ECDSA signature was re-encoded as its twin (r, n − s), which verifies as well', async () => {
    const env = envAt(NOW);
    const once = await signed({ keyid: 'partner-p256' });
    expect((await authenticate(partner, once, env)).kind).toBe('success');
    const headers = new Headers(once.request.headers);
    headers.set('signature', withTwinSignature(headers.get('signature')!));
    const twin = new Request(once.request.url, { method: 'POST', headers, body: once.body });
    expect(headers.get('signature')).not.toBe(once.request.headers.get('signature'));
    expect(await authenticate(partner, { request: twin, body: once.body }, env)).toEqual({ kind: 'failure', reason: 'authn.signature_replayed' });
  });

  it('remembers a signature no longer than it could be accepted, whatever its expires says', async () => {
    const message = await httpbis.signMessage(
      { key: SIGNERS['partner-hmac']!, fields: ['@method', '@target-uri'], params: ['keyid', 'created', 'expires'], paramValues: { keyid: 'partner-hmac', created: new Date(NOW), expires: new Date(NOW + 10 * 365 * 86_400_000) } },
      { method: 'GET', url: 'https://api.example.com/v1/transfers', headers: {} },
    );
    let remembered: number | undefined;
    const env: AuthnEnv = { now: () => NOW, fetch, firstUse: async (_, expiresAt) => ((remembered = expiresAt), true) };
    const request = new Request('https://api.example.com/v1/transfers', { headers: message.headers as Record<string, string> });
    expect((await partner.authenticate(request, env, { body: new Uint8Array(0) })).kind).toBe('success');
    // maxAge (300 s) and the clock skew (5 s) after created.
    expect(remembered).toBe(NOW + 305_000);
  });

  it('refuses an alg parameter that is not the key`s', async () => {
    const { request, body } = await signed();
    const headers = new Headers(request.headers);
    headers.set('signature-input', headers.get('signature-input')!.replace('alg="ed25519"', 'alg="hmac-sha256"'));
    expect(await authenticate(partner, { request: new Request(request.url, { method: 'POST', headers, body }), body })).toEqual({ kind: 'failure', reason: 'authn.alg_not_allowed' });
  });

  it('refuses unparseable signature fields as malformed', async () => {
    const request = new Request('https://api.example.com/', { method: 'POST', headers: { 'signature-input': 'sig1=("@method"', signature: 'sig1=:AA==:' }, body: BODY });
    expect(await authenticate(partner, { request, body: BODY })).toEqual({ kind: 'failure', reason: 'authn.signature_malformed' });
  });
});

describe('signature() whose policy asks for @authority and @path rather than @target-uri', () => {
  const byPath = signature({ scheme: 'http-message-signatures', keys: KEYS, components: ['@method', '@authority', '@path'], replay: 'allow' });
  const PATH_ONLY = ['@method', '@authority', '@path', 'content-digest'];

  it('accepts a request without a query signed over them', async () => {
    expect((await authenticate(byPath, await signed({ url: 'https://api.example.com/v1/transfers', fields: PATH_ONLY }))).kind).toBe('success');
  });

  it('refuses a request whose query the signature leaves out: it could be rewritten under the signature', async () => {
    expect(await authenticate(byPath, await signed({ fields: PATH_ONLY }))).toEqual({ kind: 'failure', reason: 'authn.signature_coverage' });
  });

  it.each(['@query', '@request-target', '@target-uri'])('accepts a request with a query when %s covers it', async (component) => {
    expect((await authenticate(byPath, await signed({ fields: [...PATH_ONLY, component] }))).kind).toBe('success');
  });
});

describe('signature() with a Content-Digest covered member by member (`;key=`)', () => {
  const sha512 = (body: string) => `sha-512=:${createHash('sha512').update(body).digest('base64')}:`;
  const bothDigests = (body: string) => `${sha256Digest(body)}, ${sha512(body)}`;
  const onlySha256 = signature({ scheme: 'http-message-signatures', keys: KEYS, digest: ['sha-256'], replay: 'allow' });

  it('accepts a signature over the member the gateway checks', async () => {
    const request = await signed({ fields: ['@method', '@target-uri', '"content-digest";key="sha-256"'], digest: bothDigests(BODY) });
    expect((await authenticate(onlySha256, request)).kind).toBe('success');
  });

  it('refuses a signature over a member the gateway does not check: the body could be swapped under it', async () => {
    const { request } = await signed({ fields: ['@method', '@target-uri', '"content-digest";key="sha-512"'], digest: bothDigests(BODY) });
    // The signed sha-512 member is kept; the sha-256 member, which the gateway checks, is the new body's.
    const swapped = BODY.replace('4200', '9999');
    const headers = new Headers(request.headers);
    headers.set('content-digest', `${sha256Digest(swapped)}, ${sha512(BODY)}`);
    const forged = new Request(request.url, { method: 'POST', headers, body: swapped });
    expect(await authenticate(onlySha256, { request: forged, body: swapped })).toEqual({ kind: 'failure', reason: 'authn.signature_coverage' });
  });
});

/** The package refuses to sign a missing header, so the signature is made over a header then removed. */
async function signedWithMissingHeader(): Promise<Signed> {
  const url = 'https://api.example.com/v1/transfers';
  const message = await httpbis.signMessage(
    { key: SIGNERS['partner-hmac']!, fields: ['@method', '@target-uri', 'content-digest', 'x-trace'], params: ['keyid', 'created'], paramValues: { keyid: 'partner-hmac', created: new Date(NOW) } },
    { method: 'POST', url, headers: { 'content-digest': sha256Digest(BODY), 'x-trace': 't1' } },
  );
  const headers = new Headers(message.headers as Record<string, string>);
  headers.delete('x-trace');
  return { request: new Request(url, { method: 'POST', headers, body: BODY }), body: BODY };
}
