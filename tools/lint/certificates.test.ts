/** The client-certificate lint rules, on policies that differ in one place. */
import { describe, expect, it } from 'vitest';
import { definePolicy, mtls, type Policy } from '../../src/index.ts';
import { lintPolicy, type LintOptions } from './index.ts';

const partner = mtls({ clients: { 'uri:spiffe://example.org/billing': { principal: 'svc_billing' }, ['sha256:' + 'ab'.repeat(32)]: { principal: 'svc_pinned' } } });

const policyWith = (extra: Partial<Policy>): Policy =>
  definePolicy({ authn: { partner }, routes: { 'GET /v1/partner': { authn: ['partner'], allow: 'authenticated' } }, ...extra });

const findings = (policy: Policy, options: LintOptions = {}) =>
  lintPolicy(policy, options)
    .filter((finding) => finding.rule.startsWith('mtls.'))
    .map(({ rule, severity, path }) => ({ rule, severity, path }));

describe('mtls.certificate_unavailable', () => {
  it('flags a certificate header that no trusted proxy may set', () => {
    expect(findings(policyWith({ clientCertificate: { from: 'xfcc' } }))).toEqual([{ rule: 'mtls.certificate_unavailable', severity: 'error', path: 'clientCertificate.from' }]);
    expect(findings(policyWith({ clientCertificate: { from: 'escaped-pem' }, clientIp: { trustedProxies: ['cloudflare'] } }))).toEqual([
      { rule: 'mtls.certificate_unavailable', severity: 'error', path: 'clientCertificate.from' },
    ]);
  });

  it('passes when the proxy that terminates TLS is trusted', () => {
    expect(findings(policyWith({ clientCertificate: { from: 'xfcc' }, clientIp: { trustedProxies: ['10.0.0.0/24'] } }))).toEqual([]);
  });

  it('flags a certificate header on Workers, whatever is trusted', () => {
    const policy = policyWith({ clientCertificate: { from: 'xfcc' }, clientIp: { trustedProxies: ['cloudflare', '10.0.0.0/24'] } });
    expect(findings(policy, { target: 'workers' })).toEqual([{ rule: 'mtls.certificate_unavailable', severity: 'error', path: 'clientCertificate.from' }]);
  });
});

describe('mtls.certificate_unavailable: the connection as the source', () => {
  it('flags mTLS from the connection on Bun and on Deno.serve, not on Node', () => {
    for (const target of ['bun', 'deno'] as const) {
      expect(findings(policyWith({}), { target })).toEqual([{ rule: 'mtls.certificate_unavailable', severity: 'error', path: 'authn.partner' }]);
    }
    expect(findings(policyWith({}), { target: 'node' })).toEqual([]);
    expect(findings(policyWith({ clientCertificate: { from: 'xfcc' }, clientIp: { trustedProxies: ['loopback'] } }), { target: 'bun' })).toEqual([]);
  });

  it('flags SAN keys on Workers, where the edge gives only the fingerprint and subject', () => {
    expect(findings(policyWith({ clientIp: { trustedProxies: ['cloudflare'] } }), { target: 'workers' })).toEqual([
      { rule: 'mtls.certificate_unavailable', severity: 'error', path: 'authn.partner.clients["uri:spiffe://example.org/billing"]' },
    ]);
  });
});
