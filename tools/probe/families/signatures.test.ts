/**
 * The signatures family against in-process deployments: one that enforces `signature()` (nothing
 * found), and ones whose signature check was weakened (forged, stale and replayed webhooks found).
 */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { signature } from '../../../src/authn/signature.ts';
import { createEngine } from '../../../src/engine.ts';
import { definePolicy } from '../../../src/policy/define.ts';
import type { AuthnMethod } from '../../../src/authn/contract.ts';
import type { Policy } from '../../../src/policy/types.ts';
import { probe, type ProbeSender } from '../index.ts';

const SECRET = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
const Payment = v.strictObject({ type: v.pipe(v.string(), v.maxLength(100)) });

function policyWith(method: AuthnMethod): Policy {
  return definePolicy({
    transport: { requireHttps: false },
    authn: { payments: method },
    rateLimits: { api: { limit: 1000, window: '1m' } },
    routes: { 'POST /v1/webhooks': { authn: ['payments'], allow: 'authenticated', rateLimit: ['api'], body: Payment, maxBodyBytes: 4096 } },
  });
}

const strict = policyWith(signature({ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'payments' }));

/** A deployment of `policy` whose app says yes. */
function deployment(policy: Policy): ProbeSender {
  const engine = createEngine(policy, { log: () => {} });
  return async (url, init) => {
    const request = new Request(url, { method: init.method, headers: init.headers, body: init.body as BodyInit | undefined });
    const response = await engine.handle(request, { peer: { address: '203.0.113.9', scheme: 'http' } }, () => new Response(null, { status: 204 }));
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
}

/** A `signature()` that believes every request: what a gateway without the check does. */
const believeAll: AuthnMethod = { ...strict.authn!.payments!, authenticate: async () => ({ kind: 'success', principal: { id: 'payments', roles: [], scopes: [], claims: {} } }) };

const run = (deployed: Policy, aggressive = true) =>
  probe(strict, { baseUrl: 'http://api.test', send: deployment(deployed), credentials: { webhookSecret: SECRET }, aggressive, skip: ['transport', 'ratelimit', 'paths', 'methods', 'hosts', 'cors', 'bodies', 'headers', 'bola', 'jwt'] });

const found = async (deployed: Policy) => new Set((await run(deployed)).findings.map((finding) => finding.check));

describe('probe: signatures', () => {
  it('finds nothing where the deployment checks signatures, their age and their id', async () => {
    const report = await run(strict);
    expect(report.findings).toEqual([]);
    expect(report.families.find((family) => family.family === 'signatures')?.passed).toBe(3);
  });

  it('finds an unsigned, a forged, a stale and a replayed webhook where nothing is checked', async () => {
    expect(await found(policyWith(believeAll))).toEqual(new Set(['authn.missing_credentials', 'signature.forged', 'signature.stale', 'signature.replayed']));
  });

  it('finds a stale webhook where the tolerance is a day', async () => {
    expect(await found(policyWith(signature({ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'payments', tolerance: 86_400 })))).toEqual(new Set(['signature.stale']));
  });

  it('finds a replayed webhook where replays are allowed', async () => {
    expect(await found(policyWith(signature({ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'payments', replay: 'allow' })))).toEqual(new Set(['signature.replayed']));
  });

  it('sends no replay without --aggressive, and says so', async () => {
    const report = await run(strict, false);
    expect(report.notes).toContain('signatures: a replayed webhook is sent only with --aggressive (its first delivery may reach the origin)');
  });
});
