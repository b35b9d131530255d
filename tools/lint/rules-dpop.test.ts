/**
 * The lint rules for DPoP: `allowed` on a write route, a replay cache that would live per isolate
 * on Workers, proofs accepted for long, and CORS that keeps browsers from sending proofs.
 */
import { describe, expect, it } from 'vitest';
import { AUDIENCE, es256, ISSUER, jwksOf } from '../../test/fixtures/keys.ts';
import { dpopProof, type DpopSetting } from '../../src/authn/dpop.ts';
import { jwt } from '../../src/authn/jwt.ts';
import { definePolicy } from '../../src/policy/define.ts';
import type { CorsPolicy } from '../../src/policy/types.ts';
import { lintPolicy, type LintOptions } from './lint.ts';

const user = (dpop?: DpopSetting) => jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, ...(dpop && { dpop }) });

/** A small API whose `user` method has `dpop`; the DPoP findings lint reports for it. */
function dpopFindings(dpop: DpopSetting | undefined, options: LintOptions = {}, cors?: CorsPolicy) {
  const policy = definePolicy({
    ...(cors && { cors }),
    authn: { user: user(dpop), proof: dpopProof() },
    rateLimits: { api: { limit: 100, window: '15m' } },
    routes: {
      'GET /v1/things/:id': { authn: ['user'], allow: [{ owner: { param: 'id' } }], rateLimit: ['api'] },
      'DELETE /v1/things/:id': { authn: ['user'], allow: [{ roles: ['admin'] }], rateLimit: ['api'] },
      'POST /v1/token': { authn: ['proof'], allow: 'authenticated', rateLimit: ['api'] },
    },
  });
  return lintPolicy(policy, options)
    .filter((finding) => finding.rule.includes('dpop'))
    .map((finding) => `${finding.severity} ${finding.rule} ${finding.path}`);
}

describe('DPoP lint rules', () => {
  it("warns about dpop: 'allowed' on a write route, not on a read route, and not about 'required'", () => {
    expect(dpopFindings('allowed')).toEqual(['warning authn.dpop_allowed_on_write routes["DELETE /v1/things/:id"].authn']);
    expect(dpopFindings('required')).toEqual([]);
  });

  it('warns on Workers that the replay cache of each DPoP method lives per isolate', () => {
    expect(dpopFindings('required', { target: 'workers' })).toEqual([
      'warning authn.dpop_replay_per_isolate authn.user',
      'warning authn.dpop_replay_per_isolate authn.proof',
    ]);
    expect(dpopFindings(undefined, { target: 'workers' })).toEqual(['warning authn.dpop_replay_per_isolate authn.proof']);
  });

  it('warns about proofs accepted for more than five minutes', () => {
    expect(dpopFindings({ mode: 'required', maxAge: 900 })).toEqual(['warning authn.dpop_long_proof_age authn.user.dpop.maxAge']);
    expect(dpopFindings({ mode: 'required', maxAge: 300 })).toEqual([]);
  });

  it('warns when CORS does not allow the DPoP header, or does not expose DPoP-Nonce where nonces are issued', () => {
    const origins = ['https://app.example.com'];
    expect(dpopFindings('required', {}, { origins })).toEqual(['warning cors.dpop_headers_blocked cors.allowHeaders']);
    expect(dpopFindings('required', {}, { origins, allowHeaders: ['authorization', 'DPoP'] })).toEqual([]);
    const nonce = { mode: 'required', nonce: { secret: 'a nonce secret of at least thirty-two bytes' } } as const;
    expect(dpopFindings(nonce, {}, { origins, allowHeaders: ['authorization', 'dpop'] })).toEqual(['warning cors.dpop_headers_blocked cors.exposeHeaders']);
    expect(dpopFindings(nonce, {}, { origins, allowHeaders: ['authorization', 'dpop'], exposeHeaders: ['DPoP-Nonce'] })).toEqual([]);
  });
});
