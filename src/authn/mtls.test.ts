/**
 * `mtls()` and `policy.clientCertificate` through a real engine, with certificates openssl made:
 * the runtime's TLS (a DER the Node adapter hands in, a digest as Cloudflare gives it), Envoy's
 * X-Forwarded-Client-Cert and nginx's escaped PEM from trusted and untrusted peers, and the
 * mapping of fingerprints, SANs and subjects to principals.
 */
import { afterAll, describe, expect, it, test } from 'vitest';
import { escapedPem, makeTestPki } from '../../test/fixtures/certificates.ts';
import type { ClientCertificateOptions } from './certificate-source.ts';
import type { Decision } from '../decision.ts';
import { createEngine, type EvaluateContext } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import { definePolicy } from '../policy/define.ts';
import { mtls, type MtlsOptions } from './mtls.ts';

const pki = makeTestPki();
afterAll(() => pki.remove());

const PROXY = '10.0.0.2';
const STRANGER = '203.0.113.9';

const clients: MtlsOptions['clients'] = {
  [`uri:spiffe://example.org/billing`]: { principal: 'svc_billing', roles: ['service'], name: 'billing batch' },
  [`sha256:${pki.reports.sha256}`]: { principal: 'svc_reports', scopes: ['reports:read'] },
};

function guard(options: MtlsOptions = { clients }, clientCertificate?: ClientCertificateOptions) {
  const engine = createEngine(
    definePolicy({
      clientIp: { trustedProxies: ['10.0.0.0/24'] },
      ...(clientCertificate && { clientCertificate }),
      authn: { partner: mtls(options) },
      routes: { 'GET /me': { authn: ['partner'], allow: 'authenticated' } },
    }),
    { log: () => {} },
  );
  return (context: EvaluateContext, headers?: HeadersInit) => engine.evaluate(new Request('https://api.test/me', { headers }), context);
}

const tls = (certificate: { der: Uint8Array }, verified = true): EvaluateContext => ({ peer: { address: STRANGER, scheme: 'https', certificate: { verified, der: certificate.der } } });

function expectPrincipal(decision: Decision, id: string) {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
  if (decision.kind === 'allow') expect(decision.principal.id).toBe(id);
}

function expectRefused(decision: Decision, reason: string) {
  expect(decision.kind).toBe('deny');
  if (decision.kind !== 'deny') return;
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status: 401, reason });
  expect(decision.headers.get('www-authenticate')).toMatch(/^ClientCertificate realm="api"/);
}

describe('the certificate of the TLS connection', () => {
  const request = guard();

  it('authenticates a verified certificate by its SAN URI, with the mapped roles and the certificate in the claims', async () => {
    const decision = await request(tls(pki.billing));
    expectPrincipal(decision, 'svc_billing');
    if (decision.kind !== 'allow') return;
    expect(decision.principal).toMatchObject({ method: 'partner', roles: ['service'] });
    expect(decision.principal.claims.certificate).toEqual({
      sha256: pki.billing.sha256,
      x5tS256: pki.billing.x5tS256,
      subject: pki.billing.subject,
      uris: ['spiffe://example.org/billing'],
      dnsNames: ['billing.internal'],
      emails: ['ops@example.com'],
    });
  });

  it('reads the subject as openssl prints it in RFC 2253 form, escapes included', async () => {
    expect(pki.billing.subject).toBe('CN=billing,O=Example\\, Inc.,C=US');
    const bySubject = guard({ clients: { [`subject:${pki.billing.subject}`]: { principal: 'svc_billing' } } });
    expectPrincipal(await bySubject(tls(pki.billing)), 'svc_billing');
  });

  it('authenticates a pinned certificate by its fingerprint, however openssl spelled it', async () => {
    expectPrincipal(await request(tls(pki.reports)), 'svc_reports');
    const colons = pki.reports.sha256.toUpperCase().match(/../g)!.join(':');
    expectPrincipal(await guard({ clients: { [`sha256:${colons}`]: { principal: 'svc_reports' } } })(tls(pki.reports)), 'svc_reports');
  });

  it('matches DNS and email SANs', async () => {
    expectPrincipal(await guard({ clients: { 'dns:BILLING.internal': { principal: 'dns' } } })(tls(pki.billing)), 'dns');
    expectPrincipal(await guard({ clients: { 'email:ops@example.com': { principal: 'mail' } } })(tls(pki.billing)), 'mail');
  });

  it('refuses a certificate the TLS layer did not verify, whatever it names', async () => {
    expectRefused(await request(tls(pki.stranger, false)), 'authn.certificate_unverified');
  });

  it('refuses a verified certificate that names no known client', async () => {
    expectRefused(await guard({ clients: { 'uri:spiffe://example.org/other': { principal: 'x' } } })(tls(pki.billing)), 'authn.certificate_unknown');
  });

  it('refuses a certificate that matches the keys of two principals', async () => {
    const twoOwners = { 'uri:spiffe://example.org/billing': { principal: 'a' }, 'dns:billing.internal': { principal: 'b' } };
    expectRefused(await guard({ clients: twoOwners })(tls(pki.billing)), 'authn.certificate_ambiguous');
  });

  it('asks for credentials when there is no certificate', async () => {
    const decision = await request({ peer: { address: STRANGER, scheme: 'https' } });
    expect(decision.kind === 'deny' && decision.reason).toBe('authn.required');
  });

  it('takes Cloudflare\'s digest and subject when the runtime gives no DER', async () => {
    const cloudflare = guard({ clients: { [`sha256:${pki.reports.sha256}`]: { principal: 'svc_reports' }, [`subject:${pki.billing.subject}`]: { principal: 'svc_billing' } } });
    const edge = (certificate: { sha256: string; subject: string }, verified = true): EvaluateContext => ({ peer: { platform: 'cloudflare', certificate: { verified, ...certificate } } });
    expectPrincipal(await cloudflare(edge(pki.reports)), 'svc_reports');
    expectPrincipal(await cloudflare(edge(pki.billing)), 'svc_billing');
    expectRefused(await cloudflare(edge(pki.reports, false)), 'authn.certificate_unverified');
  });

  it('resolves clients with a function, which sees the whole certificate', async () => {
    const spiffe = guard({ resolve: (certificate) => (certificate.uris[0]?.startsWith('spiffe://example.org/') ? { principal: certificate.uris[0] } : undefined) });
    expectPrincipal(await spiffe(tls(pki.billing)), 'spiffe://example.org/billing');
    expectRefused(await spiffe(tls(pki.reports)), 'authn.certificate_unknown');
  });

  it('fails closed when the resolver throws', async () => {
    const broken = guard({ resolve: () => Promise.reject(new Error('database down')) });
    const decision = await broken(tls(pki.billing));
    expect(decision.kind === 'deny' && [decision.status, decision.reason]).toEqual([503, 'authn.unavailable']);
  });

  it('ignores certificate headers when the source is the connection', async () => {
    const decision = await request({ peer: { address: PROXY, scheme: 'https' } }, { 'x-forwarded-client-cert': `Hash=${pki.reports.sha256}` });
    expect(decision.kind === 'deny' && decision.reason).toBe('authn.required');
  });
});

describe("Envoy's X-Forwarded-Client-Cert", () => {
  const request = guard({ clients }, { from: 'xfcc' });
  const from = (address: string): EvaluateContext => ({ peer: { address, scheme: 'https' } });
  const xfcc = (value: string) => ({ 'x-forwarded-client-cert': value });
  const full = `By=spiffe://example.org/gateway;Hash=${pki.billing.sha256};Cert="${encodeURIComponent(pki.billing.cert)}";Subject="${pki.billing.subject}";URI=spiffe://example.org/billing;DNS=billing.internal`;

  it('believes the header of a trusted proxy: the certificate in Cert=', async () => {
    const decision = await request(from(PROXY), xfcc(full));
    expectPrincipal(decision, 'svc_billing');
    if (decision.kind === 'allow') expect(decision.principal.claims.certificate).toMatchObject({ sha256: pki.billing.sha256, emails: ['ops@example.com'] });
  });

  it('believes Hash=, Subject=, URI= and DNS= without Cert=', async () => {
    expectPrincipal(await request(from(PROXY), xfcc(`Hash=${pki.reports.sha256};Subject="${pki.reports.subject}"`)), 'svc_reports');
    expectPrincipal(await request(from(PROXY), xfcc(`Hash=${'0'.repeat(64)};URI=spiffe://example.org/billing;DNS=billing.internal`)), 'svc_billing');
  });

  it('refuses the same header from a peer that is not a trusted proxy', async () => {
    expectRefused(await request(from(STRANGER), xfcc(full)), 'authn.certificate_untrusted_source');
    expectRefused(await request(from(STRANGER), xfcc(`Hash=${pki.reports.sha256}`)), 'authn.certificate_untrusted_source');
  });

  test.each([
    ['two elements (two hops, or two headers)', `Hash=${pki.reports.sha256},Hash=${pki.billing.sha256}`],
    ['neither Hash nor Cert', 'URI=spiffe://example.org/billing'],
    ['a Hash that is not the digest of Cert', `Hash=${pki.reports.sha256};Cert="${encodeURIComponent(pki.billing.cert)}"`],
    ['an unterminated quote', `Hash=${pki.reports.sha256};Subject="CN=x`],
    ['a Hash that is not SHA-256 hex', 'Hash=abc'],
    ['two Hash values', `Hash=${pki.reports.sha256};Hash=${pki.reports.sha256}`],
    ['a Cert that is not a certificate', `Cert="${encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')}"`],
  ])('refuses %s from a trusted proxy as malformed', async (_, value) => {
    expectRefused(await request(from(PROXY), xfcc(value)), 'authn.certificate_malformed');
  });

  it('reads the header the policy names', async () => {
    const custom = guard({ clients }, { from: 'xfcc', header: 'X-Client-Cert-Details' });
    expectPrincipal(await custom(from(PROXY), { 'x-client-cert-details': `Hash=${pki.reports.sha256}` }), 'svc_reports');
  });
});

describe("nginx's escaped PEM", () => {
  const request = guard({ clients }, { from: 'escaped-pem' });
  const from = (address: string): EvaluateContext => ({ peer: { address, scheme: 'https' } });

  it('believes a trusted proxy that verified the certificate', async () => {
    expectPrincipal(await request(from(PROXY), { 'x-ssl-client-cert': escapedPem(pki.billing), 'x-ssl-client-verify': 'SUCCESS' }), 'svc_billing');
  });

  it('refuses a certificate the proxy did not verify, or did not say it verified', async () => {
    expectRefused(await request(from(PROXY), { 'x-ssl-client-cert': escapedPem(pki.stranger), 'x-ssl-client-verify': 'FAILED:unable to get local issuer certificate' }), 'authn.certificate_unverified');
    expectRefused(await request(from(PROXY), { 'x-ssl-client-cert': escapedPem(pki.billing) }), 'authn.certificate_unverified');
  });

  it('refuses the headers from a peer that is not a trusted proxy', async () => {
    expectRefused(await request(from(STRANGER), { 'x-ssl-client-cert': escapedPem(pki.billing), 'x-ssl-client-verify': 'SUCCESS' }), 'authn.certificate_untrusted_source');
  });

  it('refuses a header that is not one URL-encoded PEM certificate', async () => {
    for (const value of ['%E0%A4%A', encodeURIComponent(pki.billing.cert + pki.reports.cert), 'x'.repeat(20_000)]) {
      expectRefused(await request(from(PROXY), { 'x-ssl-client-cert': value, 'x-ssl-client-verify': 'SUCCESS' }), 'authn.certificate_malformed');
    }
  });
});

describe('mtls() options and policy.clientCertificate', () => {
  function policyErrorOf(build: () => unknown): PolicyError {
    try {
      build();
    } catch (error) {
      if (error instanceof PolicyError) return error;
      throw error;
    }
    throw new Error('no PolicyError');
  }

  test.each([
    [{}, 'mtls().clients', 'give exactly one of clients or resolve'],
    [{ clients: {}, resolve: () => undefined }, 'mtls().clients', 'give exactly one'],
    [{ clients: { 'cn:billing': { principal: 'x' } } }, 'mtls().clients["cn:billing"]', 'must start with sha256:, uri:, dns:, email: or subject:'],
    [{ clients: { 'sha256:abc': { principal: 'x' } } }, 'mtls().clients["sha256:abc"]', '64 hex digits'],
    [{ clients: { 'uri:': { principal: 'x' } } }, 'mtls().clients["uri:"]', 'names no uri'],
    [{ clients: { 'uri:spiffe://a/b': { principal: '' } } }, 'mtls().clients["uri:spiffe://a/b"].principal', 'is required'],
    [{ clients: { 'dns:a.example': { principal: 'x' }, 'dns:A.example': { principal: 'y' } } }, 'mtls().clients["dns:A.example"]', 'names the same certificate'],
    [{ clients: {}, allowUnverified: true }, 'mtls().allowUnverified', 'unknown key'],
  ])('mtls(%j) fails at %s', (options, path, message) => {
    const error = policyErrorOf(() => mtls(options as MtlsOptions));
    expect(error.path).toBe(path);
    expect(error.message).toContain(message);
  });

  test.each([
    [{ from: 'header' }, 'clientCertificate.from'],
    [{ header: 'x-forwarded-client-cert' }, 'clientCertificate.header'],
    [{ from: 'xfcc', verifyHeader: 'x-ssl-client-verify' }, 'clientCertificate.verifyHeader'],
    [{ from: 'escaped-pem', header: 'bad header' }, 'clientCertificate.header'],
  ])('clientCertificate %j fails at %s', (clientCertificate, path) => {
    const error = policyErrorOf(() => definePolicy({ clientCertificate: clientCertificate as ClientCertificateOptions, routes: { 'GET /x': { authn: 'anonymous' } } }));
    expect(error.path).toBe(path);
  });

  it('publishes the identities it knows, for lint and the probe', () => {
    expect(mtls({ clients }).meta).toEqual({ lookup: 'static', identities: ['uri:spiffe://example.org/billing', `sha256:${pki.reports.sha256}`] });
  });
});
