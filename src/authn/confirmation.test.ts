/**
 * Certificate-bound JWT access tokens (RFC 8705 §3), signed by jose and checked through a real
 * engine: the token counts only on a request that presents the certificate its `cnf["x5t#S256"]`
 * names, from the policy's certificate source — on every request, whatever the token cache holds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestPki } from '../../test/fixtures/certificates.ts';
import { AUDIENCE, es256, ISSUER, jwksOf, NOW_MS, signToken } from '../../test/fixtures/keys.ts';
import type { Decision } from '../decision.ts';
import { createEngine, type EvaluateContext } from '../engine.ts';
import { definePolicy } from '../policy/define.ts';
import type { ClientCertificateOptions } from './certificate-source.ts';
import { jwt } from './jwt.ts';

const pki = makeTestPki();
afterAll(() => pki.remove());

function guard(clientCertificate?: ClientCertificateOptions) {
  const engine = createEngine(
    definePolicy({
      clientIp: { trustedProxies: ['10.0.0.0/24'] },
      ...(clientCertificate && { clientCertificate }),
      authn: { user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }) },
      routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } },
    }),
    { now: () => NOW_MS, log: () => {} },
  );
  return (token: string, context: EvaluateContext = {}, headers: Record<string, string> = {}) =>
    engine.evaluate(new Request('https://api.test/me', { headers: { authorization: `Bearer ${token}`, ...headers } }), context);
}

const withCertificate = (der: Uint8Array, verified = true): EvaluateContext => ({ peer: { address: '192.0.2.1', scheme: 'https', certificate: { verified, der } } });
const bound = (x5tS256: unknown) => signToken(es256, { cnf: { 'x5t#S256': x5tS256 } });

function expectAllowed(decision: Decision) {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
}

function expectRefused(decision: Decision, reason: string) {
  expect(decision.kind).toBe('deny');
  if (decision.kind !== 'deny') return;
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status: 401, reason });
  expect(decision.headers.get('www-authenticate')).toBe('Bearer realm="api", error="invalid_token"');
}

describe('jwt() with a certificate-bound token', () => {
  const request = guard();

  it('accepts the token with the certificate it is bound to', async () => {
    expectAllowed(await request(await bound(pki.billing.x5tS256), withCertificate(pki.billing.der)));
  });

  it('refuses it without a certificate: a stolen copy alone is worth nothing', async () => {
    expectRefused(await request(await bound(pki.billing.x5tS256)), 'authn.bound_certificate_missing');
  });

  it('refuses it with another verified certificate', async () => {
    expectRefused(await request(await bound(pki.billing.x5tS256), withCertificate(pki.reports.der)), 'authn.bound_certificate_mismatch');
  });

  it('refuses it with its own certificate when the TLS layer did not verify that', async () => {
    expectRefused(await request(await bound(pki.billing.x5tS256), withCertificate(pki.billing.der, false)), 'authn.certificate_unverified');
  });

  it('checks the certificate on every request, also when the token comes from the cache', async () => {
    const token = await bound(pki.billing.x5tS256);
    expectAllowed(await request(token, withCertificate(pki.billing.der)));
    expectRefused(await request(token), 'authn.bound_certificate_missing');
    expectRefused(await request(token, withCertificate(pki.reports.der)), 'authn.bound_certificate_mismatch');
    expectAllowed(await request(token, withCertificate(pki.billing.der)));
  });

  it.each([
    ['a thumbprint in hex', () => pki.billing.sha256],
    ['a padded thumbprint', () => `${pki.billing.x5tS256}=`],
    ['a number', () => 42],
  ])('refuses a token whose thumbprint is %s', async (_, thumbprint) => {
    expectRefused(await request(await bound(thumbprint()), withCertificate(pki.billing.der)), 'authn.claim_invalid');
  });

  it('refuses a cnf that is not an object', async () => {
    expectRefused(await request(await signToken(es256, { cnf: 'x5t' }), withCertificate(pki.billing.der)), 'authn.claim_invalid');
  });

  it('leaves unbound tokens alone, and a key-bound (DPoP) token to the DPoP rule', async () => {
    expectAllowed(await request(await signToken(es256)));
    const keyBound = await request(await signToken(es256, { cnf: { jkt: 'checked elsewhere' } }));
    expect(keyBound.kind === 'deny' && keyBound.reason).toBe('authn.dpop_bound_as_bearer');
  });
});

describe('a certificate-bound token behind a proxy that terminates TLS', () => {
  const request = guard({ from: 'xfcc' });
  const proxy: EvaluateContext = { peer: { address: '10.0.0.2', scheme: 'https' } };
  const stranger: EvaluateContext = { peer: { address: '203.0.113.9', scheme: 'https' } };
  const xfcc = { 'x-forwarded-client-cert': `Hash=${pki.billing.sha256};URI=spiffe://example.org/billing` };

  it('accepts the token with the certificate the trusted proxy reports', async () => {
    expectAllowed(await request(await bound(pki.billing.x5tS256), proxy, xfcc));
  });

  it('refuses the token with the same header from anyone else', async () => {
    expectRefused(await request(await bound(pki.billing.x5tS256), stranger, xfcc), 'authn.certificate_untrusted_source');
  });
});
