/**
 * Request signatures (RFC 9421) and DPoP proofs bind a request to the URL the client used. Where TLS
 * ends at a trusted proxy, that URL is https although the gateway's socket is plain HTTP: the proxy's
 * `X-Forwarded-Proto` or `Forwarded: proto=` says so, and only a trusted proxy's. From any other
 * peer those headers change nothing. Signatures come from the `http-message-signatures` package,
 * proofs from panva's `dpop` client.
 */
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import { createSigner, httpbis } from 'http-message-signatures';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, es256, ISSUER, jwksOf, signToken } from '../../test/fixtures/keys.ts';
import type { Decision } from '../decision.ts';
import { createEngine } from '../engine.ts';
import { definePolicy } from '../policy/define.ts';
import { jwt } from './jwt.ts';
import { signature } from './signature.ts';

const PROXY = '10.0.0.7';
const STRANGER = '203.0.113.5';
const HTTPS_URL = 'https://api.test/transfers';
const HTTP_URL = 'http://api.test/transfers';
const BODY = JSON.stringify({ amount: 4200 });

const partner = generateKeyPairSync('ed25519');
const client = await generateKeyPair('ES256');
const nowSeconds = () => Math.floor(Date.now() / 1000);
const boundToken = await signToken(es256, { iat: nowSeconds(), exp: nowSeconds() + 600, cnf: { jkt: await calculateThumbprint(client.publicKey) } });

/** An engine that trusts the proxies of 10.0.0.0/8 and reads `header` from them. */
function gateway(header: 'x-forwarded-for' | 'forwarded') {
  return createEngine(
    definePolicy({
      // Plain HTTP is let in so that the scheme each request ends up with is the signature's business alone.
      transport: { requireHttps: false },
      clientIp: { trustedProxies: ['10.0.0.0/8'], header },
      authn: {
        partner: signature({ scheme: 'http-message-signatures', keys: { 'partner-ed25519': { algorithm: 'ed25519', key: partner.publicKey.export({ format: 'jwk' }) as JWK } } }),
        bound: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, dpop: { mode: 'required', algorithms: ['ES256'] } }),
      },
      routes: {
        'POST /transfers': { authn: ['partner'], allow: 'authenticated', contentTypes: ['application/json'] },
        'GET /transfers': { authn: ['bound'], allow: 'authenticated' },
      },
    }),
    { log: () => {} },
  );
}

/** Headers of a POST signed over `url` (method, target URI, body digest); a nonce makes each one new. */
async function signedFor(url: string): Promise<Record<string, string>> {
  const headers = { 'content-type': 'application/json', 'content-digest': `sha-256=:${createHash('sha256').update(BODY).digest('base64')}:` };
  const signed = await httpbis.signMessage(
    { key: createSigner(partner.privateKey, 'ed25519', 'partner-ed25519'), fields: ['@method', '@target-uri', 'content-digest'], params: ['keyid', 'created', 'nonce'], paramValues: { keyid: 'partner-ed25519', nonce: randomUUID() } },
    { method: 'POST', url, headers },
  );
  return signed.headers as Record<string, string>;
}

/** Headers of a GET with the bound token and a fresh proof for `url`. */
async function provenFor(url: string): Promise<Record<string, string>> {
  return { authorization: `DPoP ${boundToken}`, dpop: await generateProof(client, url, 'GET', undefined, boundToken) };
}

/** The request as the gateway's plain-HTTP socket receives it, from `peer`, with `forwarding` headers. */
function receivedBy(engine: ReturnType<typeof gateway>) {
  return (method: 'GET' | 'POST', credentials: Record<string, string>, forwarding: Record<string, string>, peer: string): Promise<Decision> => {
    const request = new Request(HTTP_URL, { method, headers: { ...credentials, ...forwarding }, body: method === 'POST' ? BODY : undefined });
    return engine.evaluate(request, { peer: { address: peer, scheme: 'http' } });
  };
}

const received = receivedBy(gateway('x-forwarded-for'));

const outcome = (decision: Decision) => (decision.kind === 'allow' ? 'allow' : decision.reason);

const TLS_AT_PROXY: [string, Record<string, string>][] = [
  ['X-Forwarded-Proto: https', { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' }],
  ['X-Forwarded-Proto: https alone', { 'x-forwarded-proto': 'https' }],
];

describe('signature() behind a TLS-terminating proxy', () => {
  it.each(TLS_AT_PROXY)('accepts a signature over the https URL the client used, when a trusted proxy says %s', async (_, forwarding) => {
    expect(outcome(await received('POST', await signedFor(HTTPS_URL), forwarding, PROXY))).toBe('allow');
  });

  it.each(TLS_AT_PROXY)('refuses a signature over the proxy`s plain-HTTP leg when a trusted proxy says %s', async (_, forwarding) => {
    expect(outcome(await received('POST', await signedFor(HTTP_URL), forwarding, PROXY))).toBe('authn.bad_signature');
  });

  it('refuses the https signature when an untrusted peer sends X-Forwarded-Proto: https: the scheme stays the socket`s', async () => {
    const forwarding = { 'x-forwarded-proto': 'https', forwarded: 'proto=https' };
    expect(outcome(await received('POST', await signedFor(HTTPS_URL), forwarding, STRANGER))).toBe('authn.bad_signature');
    expect(outcome(await received('POST', await signedFor(HTTP_URL), forwarding, STRANGER))).toBe('allow');
  });

  it('takes http when a client wrote https before the trusted proxy appended http (fails closed)', async () => {
    const forwarding = { 'x-forwarded-proto': 'https, http' };
    expect(outcome(await received('POST', await signedFor(HTTPS_URL), forwarding, PROXY))).toBe('authn.bad_signature');
    expect(outcome(await received('POST', await signedFor(HTTP_URL), forwarding, PROXY))).toBe('allow');
  });
});

describe('DPoP behind a TLS-terminating proxy', () => {
  it.each(TLS_AT_PROXY)('accepts a proof for the https URL the client used, when a trusted proxy says %s', async (_, forwarding) => {
    expect(outcome(await received('GET', await provenFor(HTTPS_URL), forwarding, PROXY))).toBe('allow');
  });

  it('refuses a proof for https when an untrusted peer sends X-Forwarded-Proto: https: the scheme stays the socket`s', async () => {
    const forwarding = { 'x-forwarded-proto': 'https', forwarded: 'proto=https' };
    expect(outcome(await received('GET', await provenFor(HTTPS_URL), forwarding, STRANGER))).toBe('authn.dpop_proof_wrong_url');
    expect(outcome(await received('GET', await provenFor(HTTP_URL), forwarding, STRANGER))).toBe('allow');
  });

  it('takes http when a client wrote https before the trusted proxy appended http (fails closed)', async () => {
    expect(outcome(await received('GET', await provenFor(HTTPS_URL), { 'x-forwarded-proto': 'https, http' }, PROXY))).toBe('authn.dpop_proof_wrong_url');
  });
});

describe('signature() and DPoP behind a proxy that sends RFC 7239 Forwarded', () => {
  const received = receivedBy(gateway('forwarded'));
  const send = (method: 'GET' | 'POST', credentials: Record<string, string>, forwarded: string, peer: string) => received(method, credentials, { forwarded }, peer);

  it('binds to https when the trusted proxy`s own element says proto=https', async () => {
    expect(outcome(await send('POST', await signedFor(HTTPS_URL), 'for=198.51.100.1;proto=https', PROXY))).toBe('allow');
    expect(outcome(await send('GET', await provenFor(HTTPS_URL), 'for=198.51.100.1;proto=https', PROXY))).toBe('allow');
  });

  it('ignores a proto=https the client wrote into its own element, left of the trusted proxy`s', async () => {
    const forwarded = 'for=198.51.100.1;proto=https, for=198.51.100.2';
    expect(outcome(await send('POST', await signedFor(HTTPS_URL), forwarded, PROXY))).toBe('authn.bad_signature');
    expect(outcome(await send('GET', await provenFor(HTTPS_URL), forwarded, PROXY))).toBe('authn.dpop_proof_wrong_url');
  });

  it('ignores Forwarded from an untrusted peer', async () => {
    expect(outcome(await send('POST', await signedFor(HTTPS_URL), 'for=198.51.100.1;proto=https', STRANGER))).toBe('authn.bad_signature');
  });
});
