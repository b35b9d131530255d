/**
 * The probe's certificates family against engines in process: a deployment that enforces the
 * policy passes; one that believes certificate headers from anyone, and one that ignores a token's
 * certificate binding (as a gateway without RFC 8705 does), are each caught.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, es256, ISSUER, jwksOf } from '../../test/fixtures/keys.ts';
import { jwt } from '../../src/authn/jwt.ts';
import { mtls } from '../../src/authn/mtls.ts';
import type { AuthnMethod } from '../../src/authn/contract.ts';
import { createEngine } from '../../src/engine.ts';
import { definePolicy } from '../../src/policy/define.ts';
import type { Policy } from '../../src/policy/types.ts';
import { probe, type ProbeSender } from './index.ts';

const user = jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE });
const partner = mtls({ clients: { ['sha256:' + 'c3'.repeat(32)]: { principal: 'svc_partner' } } });

const policyWith = (overrides: Partial<Policy> = {}) =>
  definePolicy({
    clientIp: { trustedProxies: ['10.0.0.0/24'] },
    clientCertificate: { from: 'xfcc' },
    authn: { user, partner },
    routes: {
      'GET /v1/health': { authn: 'anonymous' },
      'GET /v1/me': { authn: ['user'], allow: 'authenticated' },
      'GET /v1/partner': { authn: ['partner'], allow: 'authenticated' },
    },
    ...overrides,
  });

/** The deployment: an engine behind which an app says yes; the probe connects from 203.0.113.9. */
function deployment(policy: Policy): ProbeSender {
  const engine = createEngine(policy, { log: () => {} });
  return async (url, init) => {
    const request = new Request(url, { method: init.method, headers: init.headers });
    const response = await engine.handle(request, { peer: { address: '203.0.113.9', scheme: 'https' } }, () => Response.json({ ok: true }));
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
}

const run = (policy: Policy, deployed: Policy) =>
  probe(policy, { baseUrl: 'https://api.test', send: deployment(deployed), credentials: { signingKey: es256.privateJwk, subject: 'u_alice' }, skip: ['ratelimit'] });

const certificateFindings = (report: Awaited<ReturnType<typeof run>>) => report.findings.filter((finding) => finding.family === 'certificates').map((finding) => `${finding.check} ${finding.route}`);

/** A jwt method of a gateway that never heard of RFC 8705: it verifies the token and ignores `cnf`. */
const ignoresBinding: AuthnMethod = {
  kind: 'jwt',
  challenge: 'Bearer realm="api"',
  meta: user.meta,
  async authenticate(request) {
    const token = request.headers.get('authorization')?.replace(/^Bearer /, '');
    if (!token) return { kind: 'absent' };
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwksOf(es256)), { issuer: ISSUER, audience: AUDIENCE });
      return { kind: 'success', principal: { id: String(payload.sub), roles: [], scopes: [], claims: payload } };
    } catch {
      return { kind: 'failure', reason: 'authn.invalid_token' };
    }
  },
};

describe('the certificates family', () => {
  it('passes a deployment that enforces the policy', async () => {
    const report = await run(policyWith(), policyWith());
    expect(certificateFindings(report)).toEqual([]);
    expect(report.families.find((family) => family.family === 'certificates')).toMatchObject({ passed: 3, failed: 0, inconclusive: 0 });
  });

  it('catches a deployment that believes certificate headers from every address', async () => {
    const report = await run(policyWith(), policyWith({ clientIp: { trustedProxies: ['0.0.0.0/0'] } }));
    expect(certificateFindings(report)).toEqual(['certificates.forged_header GET /v1/partner', 'certificates.bound_token_without_certificate GET /v1/me']);
  });

  it('catches a deployment that ignores the certificate binding of tokens', async () => {
    const report = await run(policyWith(), policyWith({ authn: { user: ignoresBinding, partner } }));
    expect(certificateFindings(report)).toEqual(['certificates.bound_token_without_certificate GET /v1/me', 'certificates.bound_token_without_certificate GET /v1/me']);
  });

  it('sends no forged header from a trusted proxy, and says why', async () => {
    const report = await probe(policyWith(), { baseUrl: 'https://api.test', send: deployment(policyWith()), trustedProxy: true, skip: ['ratelimit'] });
    expect(report.notes.join('\n')).toMatch(/certificates: the probe runs on a trusted proxy/);
    expect(report.notes.join('\n')).toMatch(/certificates: no bound token was made \(give --signing-key\)/);
  });
});
