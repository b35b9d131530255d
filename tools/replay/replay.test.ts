import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicJwk as publicJwkOf } from '../../src/authn/jwk.ts';
import { definePolicy, type AuthnMethod, type SecurityEvent } from '../../src/index.ts';
import { startDemo } from '../../policies/demo-gateway.ts';
import { DEMO_EXAMPLE_API_KEY } from '../../policies/demo.ts';
import saas, { ProjectListQuery } from '../../policies/saas.ts';
import stricterDemo from '../../test/fixtures/review/demo-stricter.ts';
import type { TestKit } from '../testing/index.ts';
import { readReplayInput, replay, type ReplayReport } from './index.ts';

const TIME = '2026-11-24T12:00:00.000Z';
const event = (fields: Partial<SecurityEvent>): string =>
  JSON.stringify({ time: TIME, event: 'portcullis.allow', reason: 'allow', requestId: 'r', status: 200, method: 'GET', clientIp: '203.0.113.7', route: null, ...fields });
const summary = (report: ReplayReport) => ({
  changes: report.changes.map(({ route, change, before, after, count }) => `${route}: ${change} ${before} → ${after} ×${count}`),
  undecidable: report.undecidableBecause.map(({ route, why, count }) => `${route} ×${count}: ${why}`),
});

describe('log lines', () => {
  it('replays a principal from an allow event: its roles decide, its missing claims make it undecidable', async () => {
    const log = [
      // saas routes tie the caller to a workspace by the tenant_id claim, which the log does not keep.
      event({ path: '/v1/tenants/t_acme/projects', route: 'GET /v1/tenants/:tenantId/projects', principal: 'member:u_vic', principalKind: 'user', roles: ['viewer'], scopes: [] }),
      event({ path: '/v1/me', route: 'GET /v1/me', principal: 'member:u_vic', principalKind: 'user', roles: ['viewer'], scopes: [] }),
    ].join('\n');
    const report = await replay(saas, readReplayInput(log, { name: 'events' }));
    expect(report).toMatchObject({ replayed: 2, unchanged: 1, undecidable: 1, changed: 0 });
    expect(summary(report).undecidable).toEqual(['GET /v1/tenants/:tenantId/projects ×1: the log lacks the claim "tenant_id"']);
  });

  it('a custom check reads what the log does not hold: undecidable', async () => {
    const user: AuthnMethod = { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'absent' }) };
    const policy = definePolicy({ authn: { user }, routes: { 'GET /x': { authn: ['user'], allow: [{ name: 'on call', check: () => true }] } } });
    const report = await replay(policy, readReplayInput(event({ path: '/x', route: 'GET /x', principal: 'user:u_1', principalKind: 'user', roles: [], scopes: [] })));
    expect(summary(report).undecidable).toEqual(['GET /x ×1: the log lacks what the check on call reads (the request, the claims)']);
  });

  it('query values the log left out are undecidable where the route validates the query, and harmless where not', async () => {
    const policy = definePolicy({
      routes: {
        'GET /checked': { authn: 'anonymous', query: ProjectListQuery },
        'GET /open': { authn: 'anonymous' },
      },
    });
    const log = [event({ path: '/checked', query: 'limit', route: 'GET /checked' }), event({ path: '/open', query: 'q', route: 'GET /open' })].join('\n');
    const report = await replay(policy, readReplayInput(log));
    expect(report).toMatchObject({ unchanged: 1, undecidable: 1 });
    expect(summary(report).undecidable).toEqual(['GET /checked ×1: the log lacks the values of the query keys "limit"']);
  });

  it('never replays rate-limit denials (they depend on all the traffic), and skips lines that are no request', async () => {
    const log = [event({ event: 'portcullis.deny', reason: 'ratelimit.exceeded', status: 429, path: '/v1/me', route: 'GET /v1/me' }), '{"event":"portcullis.alert"}', 'not json'].join('\n');
    const report = await replay(saas, readReplayInput(log));
    expect(report).toMatchObject({ replayed: 1, undecidable: 1, skipped: 2 });
  });
});

describe('a HAR recorded against the demo, replayed with its real tokens', () => {
  let demo: Awaited<ReturnType<typeof startDemo>>;
  let publicJwk: Record<string, unknown>;
  const entries: unknown[] = [];

  /** Sends a request and records it as a HAR entry, as a browser's network panel would. */
  async function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    const url = `${demo.url}${path}`;
    const startedDateTime = new Date().toISOString();
    const response = await fetch(url, init);
    const text = await response.text();
    entries.push({
      startedDateTime,
      request: {
        method: init.method ?? 'GET',
        url,
        headers: Object.entries(init.headers ?? {}).map(([name, value]) => ({ name, value })),
        ...(init.body ? { postData: { mimeType: 'application/json', text: init.body } } : {}),
      },
      response: { status: response.status, content: { mimeType: response.headers.get('content-type') ?? '', text } },
    });
    return text;
  }

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(pair.privateKey);
    publicJwk = publicJwkOf({ ...privateJwk, kid: 'har' }, { kid: 'har', alg: 'ES256' }) as Record<string, unknown>;
    demo = await startDemo({ env: { DEMO_SIGNING_KEY: JSON.stringify({ ...privateJwk, kid: 'har' }), DEMO_API_KEY: DEMO_EXAMPLE_API_KEY }, port: 0, log: () => {} });
    const login = (username: string, password: string) => send('/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    const alice = (JSON.parse(await login('alice', 'correct horse battery staple')) as { token: string }).token;
    const bearer = { authorization: `Bearer ${alice}` };
    await send('/v1/health');
    await send('/v1/users/u_alice', { headers: bearer });
    await send('/v1/users/u_bob', { headers: bearer });
    await send('/v1/reports', { headers: bearer });
    await send('/v1/reports', { headers: { 'x-api-key': DEMO_EXAMPLE_API_KEY } });
    await send('/v1/users/u_alice', { method: 'PATCH', headers: { ...bearer, 'content-type': 'application/json' }, body: '{"name":"Alice A"}' });
    await send('/v1/users/u_alice', { method: 'PATCH', headers: { ...bearer, 'content-type': 'application/json' }, body: '{"role":"admin"}' });
    await send('/v1/status');
  });
  afterAll(() => demo.close());

  it('decides every request in full — bodies validated, tokens verified — and reports what the stricter policy changes', async () => {
    const policy = await stricterDemo({ publicJwk } as unknown as TestKit);
    const report = await replay(policy, readReplayInput(JSON.stringify({ log: { version: '1.2', entries } }), { clientIp: '127.0.0.1', name: 'demo.har' }));
    expect(report).toMatchObject({ replayed: 9, changed: 4, unchanged: 5, undecidable: 0 });
    expect(summary(report).changes.sort()).toEqual([
      'GET /v1/health: allow→deny allow → authn.required ×1',
      'GET /v1/reports: reason authz.denied → authn.required ×1',
      'GET /v1/status: deny→allow route.not_found → allow ×1',
      'GET /v1/users/:id: allow→deny allow → authz.denied ×1',
    ]);
    expect(report.changes.find((group) => group.route === 'GET /v1/users/:id')!.examples[0]).toMatchObject({ at: 'demo.har#3', method: 'GET', path: '/v1/users/u_alice' });
  });

  it('reads the recorded decision from the problem+json code, and replays unchanged under the policy that made it', async () => {
    const { default: demoPolicyForCli } = await import('../../policies/demo.ts');
    const policy = await demoPolicyForCli({ publicJwk } as unknown as TestKit);
    const input = readReplayInput(JSON.stringify({ log: { entries } }), { clientIp: '127.0.0.1' });
    expect(input.records.map((record) => record.before.reason)).toEqual(['allow', 'allow', 'allow', 'authz.denied', 'authz.denied', 'allow', 'allow', 'validate.invalid', 'route.not_found']);
    expect(await replay(policy, input)).toMatchObject({ replayed: 9, changed: 0, unchanged: 9, undecidable: 0 });
  });
});
