import { describe, expect, it } from 'vitest';
import { jwt } from '../../src/authn/jwt.ts';
import { definePolicy } from '../../src/policy/define.ts';
import { assertSpec, createTestKit, defineSpec, runSpec } from './index.ts';

const policy = (jwks: { keys: object[] }) =>
  definePolicy({
    authn: { user: jwt({ jwks: jwks as never, algorithms: ['ES256'], issuer: 'https://id.test', audience: 'api' }) },
    routes: { 'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'id' } }] } },
  });

describe('runSpec', () => {
  it('passes cases whose expectations hold, signing tokens the policy trusts', async () => {
    const report = await runSpec(
      defineSpec({
        name: 'owners',
        policy: (kit) => policy(kit.jwks),
        cases: [
          { request: 'GET /v1/users/u_alice', as: { sub: 'u_alice' }, expect: 200, reason: 'allow' },
          { request: 'GET /v1/users/u_bob', as: { sub: 'u_alice' }, expect: 403, reason: 'authz.denied' },
          { request: 'GET /v1/users/u_bob', expect: 401, reason: 'authn.required' },
        ],
      }),
    );
    expect(report.ok).toBe(true);
    expect(report.results).toHaveLength(3);
  });

  it('fails a case whose expectation is wrong, and shows the trace', async () => {
    const report = await runSpec(
      defineSpec({ name: 'wrong', policy: (kit) => policy(kit.jwks), cases: [{ request: 'GET /v1/users/u_bob', as: { sub: 'u_alice' }, expect: 200 }] }),
    );
    expect(report.ok).toBe(false);
    expect(report.failed[0]!.message).toContain('expected status 200, got 403');
    expect(report.failed[0]!.message).toContain('authz.not_owner');
    expect(() => assertSpec(report)).toThrow(/1 of 1 cases failed/);
  });

  it('fails a spec that runs no case', async () => {
    const report = await runSpec(defineSpec({ name: 'empty', policy: (kit) => policy(kit.jwks), cases: [] }));
    expect(report.ok).toBe(false);
    expect(() => assertSpec(report)).toThrow(/no case ran/);
  });

  it('serves its JWKS to policies with a remote jwksUrl, without any network', async () => {
    const report = await runSpec(
      defineSpec({
        name: 'remote keys',
        policy: definePolicy({
          authn: { user: jwt({ jwksUrl: 'https://id.test/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.test', audience: 'api' }) },
          routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } },
        }),
        cases: [{ request: 'GET /me', as: { sub: 'u_1' }, expect: 200 }],
      }),
    );
    expect(report.failed).toEqual([]);
  });

  it('pins the clock: tokens expire on the kit clock, not the wall clock', async () => {
    const kit = await createTestKit({ now: '2030-01-01T00:00:00Z' });
    const token = await kit.sign({ sub: 'u_1' }, { expiresIn: 60 });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(payload.exp - payload.iat).toBe(60);
    expect(payload.iat).toBe(Date.parse('2030-01-01T00:00:00Z') / 1000);
  });
});

describe('spec cases', () => {
  const limited = definePolicy({
    transport: { requireHttps: false },
    rateLimits: { tight: { limit: 2, window: '1m', by: 'ip' } },
    routes: { 'GET /ping': { authn: 'anonymous', rateLimit: ['tight'] } },
  });

  it('start with empty rate-limit counters: a limit of 2 does not refuse the third and fourth case', async () => {
    const report = await runSpec(defineSpec({ name: 'independent', policy: limited, cases: Array.from({ length: 4 }, () => ({ request: 'GET /ping', expect: 200 })) }));
    expect(report.failed.map((failure) => failure.message)).toEqual([]);
  });

  it('reach a limit with repeat: the expectation holds for the last of the repeated requests', async () => {
    const report = await runSpec(
      defineSpec({
        name: 'repeat',
        policy: limited,
        cases: [
          { request: 'GET /ping', repeat: 2, expect: 200 },
          { request: 'GET /ping', repeat: 3, expect: 429, reason: 'ratelimit.exceeded' },
        ],
      }),
    );
    expect(report.failed.map((failure) => failure.message)).toEqual([]);
  });

  it('refuses a case that expects a 2xx together with a denial reason, naming the case', () => {
    expect(() =>
      defineSpec({
        name: 'contradiction',
        policy: limited,
        cases: [
          { request: 'GET /ping', expect: 200 },
          { name: 'pings', request: 'GET /ping', expect: 200, reason: 'authz.denied' },
        ],
      }),
    ).toThrow('spec "contradiction": cases[1] (pings): expects 200 together with the denial reason "authz.denied" (a 403)');
  });

  it('refuses the contradiction in cases made from the kit when the spec runs', async () => {
    const spec = defineSpec({ name: 'late', policy: limited, cases: async () => [{ request: 'GET /ping', expect: 204, reason: 'ratelimit.exceeded' }] });
    await expect(runSpec(spec)).rejects.toThrow('spec "late": cases[0] (GET /ping → 204): expects 204 together with the denial reason "ratelimit.exceeded"');
  });

  it('accepts a preflight, the one denial answered with a 2xx', () => {
    expect(() => defineSpec({ name: 'preflight', policy: limited, cases: [{ request: 'OPTIONS /ping', expect: 204, reason: 'cors.preflight' }] })).not.toThrow();
  });

  it('refuses reason "allow" with an error status, and a repeat that is not a whole number ≥ 1', () => {
    expect(() => defineSpec({ name: 's', policy: limited, cases: [{ request: 'GET /ping', expect: 403, reason: 'allow' }] })).toThrow(/expects 403 together with reason "allow"/);
    expect(() => defineSpec({ name: 's', policy: limited, cases: [{ request: 'GET /ping', expect: 200, repeat: 0 }] })).toThrow(/repeat must be a whole number/);
  });
});
