/**
 * Client certificates on workerd: the edge's verdict arrives in `request.cf.tlsClientAuth` (set
 * here through Miniflare's `MF-CF-Blob`, as Cloudflare's edge sets it), the Workers adapter hands
 * it to the engine. A certificate header, on the other hand, comes from the client through the
 * edge: it never counts on Workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADER } from '../../src/index.ts';
import { boundToken, makeTestPki, type TestCertificate } from '../fixtures/certificates.ts';
import { es256, jwksOf } from '../fixtures/keys.ts';
import { startOrigin, type RunningOrigin } from './origin.ts';
import { startWorkerd, type RunningWorker } from './workerd.ts';

const IDENTITY_KEY = 'test-identity-key-0123456789abcdefghijklmnop';
const pki = makeTestPki();

/** What Cloudflare's edge puts in `request.cf` for a client that presented `certificate`. */
const edge = (certificate: TestCertificate, verified = 'SUCCESS') => ({
  'MF-CF-Blob': JSON.stringify({
    tlsClientAuth: {
      certPresented: '1',
      certVerified: verified,
      certRevoked: '0',
      certFingerprintSHA256: certificate.sha256,
      certSubjectDNRFC2253: certificate.subject,
    },
  }),
});

describe('mtls() on workerd', () => {
  let origin: RunningOrigin;
  let worker: RunningWorker;

  beforeAll(async () => {
    origin = await startOrigin(IDENTITY_KEY);
    worker = await startWorkerd({
      entry: 'test/cloudflare/mtls-worker.ts',
      bindings: { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY, PARTNER_SHA256: pki.billing.sha256, REPORTS_SUBJECT: pki.reports.subject, JWKS: JSON.stringify(jwksOf(es256)) },
    });
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await origin?.close();
    pki.remove();
  });

  const get = async (target: string, headers: Record<string, string>) => {
    const reply = await worker.send({ target, headers });
    return { status: reply.status, code: reply.status === 200 ? undefined : (JSON.parse(reply.body) as { code: string }).code };
  };

  it('authenticates the certificate the edge verified, by fingerprint or by subject, and tells the origin who it is', async () => {
    const before = origin.received.length;
    expect(await get('/v1/partner', edge(pki.billing))).toEqual({ status: 200, code: undefined });
    expect(origin.received[before]?.identity).toMatchObject({ ok: true, identity: { sub: 'svc_partner' } });
    expect(origin.received[before]?.headers[IDENTITY_HEADER]).toBeDefined();
    expect(await get('/v1/partner', edge(pki.reports))).toEqual({ status: 200, code: undefined });
  });

  it('refuses a certificate the edge did not verify, or found revoked', async () => {
    expect(await get('/v1/partner', edge(pki.billing, 'FAILED:self signed certificate'))).toEqual({ status: 401, code: 'authn.certificate_unverified' });
    const revoked = JSON.parse(edge(pki.billing)['MF-CF-Blob']) as { tlsClientAuth: Record<string, string> };
    revoked.tlsClientAuth.certRevoked = '1';
    expect(await get('/v1/partner', { 'MF-CF-Blob': JSON.stringify(revoked) })).toEqual({ status: 401, code: 'authn.certificate_unverified' });
  });

  it('asks for a certificate when the edge saw none', async () => {
    expect(await get('/v1/partner', { 'MF-CF-Blob': JSON.stringify({ tlsClientAuth: { certPresented: '0', certVerified: 'NONE' } }) })).toEqual({ status: 401, code: 'authn.required' });
  });

  it('binds a token to the certificate the edge saw', async () => {
    const authorization = `Bearer ${await boundToken(pki.billing)}`;
    expect(await get('/v1/me', { authorization, ...edge(pki.billing) })).toEqual({ status: 200, code: undefined });
    expect(await get('/v1/me', { authorization, ...edge(pki.reports) })).toEqual({ status: 401, code: 'authn.bound_certificate_mismatch' });
    expect(await get('/v1/me', { authorization })).toEqual({ status: 401, code: 'authn.bound_certificate_missing' });
  });
});
