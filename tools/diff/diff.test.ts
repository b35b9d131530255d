import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { definePolicy, jwt } from '../../src/index.ts';
import type { Policy } from '../../src/policy/types.ts';
import internalPolicyWithExampleKeys from '../../policies/internal.ts';
import catalog from '../../policies/public-read.ts';
import saas from '../../policies/saas.ts';
import widenedInternal from '../../test/fixtures/review/internal-widened.ts';
import widenedCatalog from '../../test/fixtures/review/public-read-widened.ts';
import widenedSaas from '../../test/fixtures/review/saas-widened.ts';
import { diffAllow } from './allow-diff.ts';
import { diffPolicies, diffToMarkdown, formatDiff, summarizeChanges } from './index.ts';
import { diffSchemas } from './schema-diff.ts';

const user = jwt({ jwksUrl: 'https://id.example.com/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' });
const base = (routes: Policy['routes'], extra: Partial<Policy> = {}) => definePolicy({ authn: { user }, roleHierarchy: { admin: ['user'] }, routes, ...extra });
const classes = (before: Policy, after: Policy) => diffPolicies(before, after).map((c) => `${c.class} ${c.path} ${c.owasp?.id.replace(':2023', '') ?? '-'}`);

describe('the example policies', () => {
  test.each([
    ['saas', () => saas],
    ['public-read', () => catalog],
    ['internal', internalPolicyWithExampleKeys],
  ])('%s against itself: no change', async (_name, load) => {
    const policy = await load();
    expect(diffPolicies(policy, policy)).toEqual([]);
  });

  it('reports the widened copy of saas.ts as widening, each with its OWASP item', () => {
    expect(classes(saas, widenedSaas)).toEqual([
      'widening routes["POST /v1/tenants/:tenantId/projects"].body API3',
      'widening routes["POST /v1/tenants/:tenantId/projects"].body API4',
      'widening routes["DELETE /v1/tenants/:tenantId/projects/:projectId"].allow API5',
      'widening routes["POST /v1/tenants/:tenantId/invitations"].rateLimit API4',
      'widening routes["GET /v1/tenants/:tenantId/admin/audit-log"].allow API1',
      'widening cors.origins API8',
    ]);
  });

  it('reports the way back as narrowing', () => {
    expect(summarizeChanges(diffPolicies(widenedSaas, saas))).toEqual({ widening: 0, narrowing: 6, neutral: 0 });
  });

  it('reports the widened public-read.ts: MFA dropped, editors delete, search unbounded', () => {
    expect(classes(catalog, widenedCatalog)).toEqual([
      'widening routes["GET /v1/search"].query API4',
      'widening routes["GET /v1/search"].rateLimit API4',
      'widening routes["DELETE /v1/books/:isbn"].allow API5',
      'widening authn.editor.requireMfa API2',
    ]);
  });

  it('reports the widened internal.ts: one scope fewer on reversals, a new route for every key', async () => {
    expect(classes(await internalPolicyWithExampleKeys(), await widenedInternal())).toEqual([
      'widening routes["POST /internal/v1/transfers/:transferId/reversal"].allow API5',
      'widening routes["GET /internal/v1/accounts/:accountId/statement"] API9',
    ]);
  });

  it('writes Markdown for a pull request: the verdict, then a table per class with OWASP links', () => {
    const markdown = diffToMarkdown(diffPolicies(saas, widenedSaas), { old: 'main:policies/saas.ts', new: 'policies/saas.ts' });
    expect(markdown).toContain('⚠️ **Access widens**: 6 widening, 0 narrowing, 0 neutral.');
    expect(markdown).toContain('| `routes["GET /v1/tenants/:tenantId/admin/audit-log"].allow` | now also admits roles "owner", with no ownership condition | [API1:2023](https://owasp.org/API-Security/editions/2023/en/0xa1-broken-object-level-authorization/)');
    expect(diffToMarkdown([], { old: 'a', new: 'b' })).toContain('✅ No change in access.');
  });

  it('writes one text line per change, widening first', () => {
    const text = formatDiff(diffPolicies(widenedSaas, saas).concat(diffPolicies(saas, widenedSaas).slice(0, 1)), { old: 'a', new: 'b' });
    expect(text.split('\n')[1]).toMatch(/^\+ widening {2}routes\["POST \/v1\/tenants\/:tenantId\/projects"\]\.body: ownerId: field added {2}\[API3:2023/);
  });
});

describe('who is allowed', () => {
  const hierarchy = { owner: ['admin'], admin: ['member'] };
  test.each([
    ['a role implied by the old one (admin → member admits members too)', [{ roles: ['admin'] }], [{ roles: ['member'] }], ['widening']],
    ['a role that implies the old one', [{ roles: ['member'] }], [{ roles: ['admin'] }], ['narrowing']],
    ['one more role', [{ roles: ['admin'] }], [{ roles: ['admin', 'owner'] }], []],
    ['one scope fewer', [{ scopes: ['a', 'b'] }], [{ scopes: ['a'] }], ['widening']],
    ['one scope more', [{ scopes: ['a'] }], [{ scopes: ['a', 'b'] }], ['narrowing']],
    ['ownership dropped', [{ owner: { param: 'id' } }], 'authenticated', ['widening']],
    ['ownership by another claim', [{ owner: { param: 'id' } }], [{ owner: { param: 'id', claim: 'org' } }], ['widening', 'narrowing']],
    ['an alternative added', [{ roles: ['admin'] }], [{ roles: ['admin'] }, { owner: { param: 'id' } }], ['widening']],
  ] as const)('%s', (_name, before, after, expected) => {
    expect(diffAllow(before as never, after as never, hierarchy).map((c) => c.class)).toEqual(expected);
  });

  it('names a dropped ownership condition as BOLA (API1)', () => {
    expect(diffAllow([{ roles: ['user'], owner: { param: 'id' } }], [{ roles: ['user'] }])[0]!.owasp).toBe('API1');
  });

  it('reads a new role hierarchy as widening', () => {
    const route = { 'GET /x': { authn: ['user'], allow: [{ roles: ['admin'] }] } } as const;
    expect(classes(base(route), base(route, { roleHierarchy: { admin: ['user'], support: ['admin'] } }))).toEqual(['widening roleHierarchy API5']);
  });
});

describe('schemas', () => {
  test.each([
    ['a field added', { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }, { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, additionalProperties: false }, ['widening /b API3']],
    ['a field required', { type: 'object', properties: { a: { type: 'string' } } }, { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, ['narrowing /a -']],
    ['a field optional', { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { type: 'object', properties: { a: { type: 'string' } } }, ['widening /a API8']],
    ['unknown keys accepted', { type: 'object', properties: {}, additionalProperties: false }, { type: 'object', properties: {} }, ['widening  API3']],
    ['maxLength raised', { type: 'string', maxLength: 10 }, { type: 'string', maxLength: 11 }, ['widening  API4']],
    ['maximum removed', { type: 'integer', maximum: 10 }, { type: 'integer' }, ['widening  API4']],
    ['minLength raised', { type: 'string', minLength: 1 }, { type: 'string', minLength: 2 }, ['narrowing  -']],
    ['an enum value added', { enum: ['a'] }, { enum: ['a', 'b'] }, ['widening  API3']],
    ['a pattern changed', { type: 'string', pattern: '^a$' }, { type: 'string', pattern: '^b$' }, ['widening  API8']],
    ['a type added', { type: 'string' }, { type: ['string', 'null'] }, ['widening  API8']],
    ['nested in an array', { type: 'array', items: { type: 'string', maxLength: 5 } }, { type: 'array', items: { type: 'string', maxLength: 3 } }, ['narrowing /items -']],
  ] as const)('%s', (_name, before, after, expected) => {
    expect(diffSchemas(before, after, 'body').map((c) => `${c.class} ${c.pointer} ${c.owasp ?? '-'}`)).toEqual(expected);
  });

  it('a body schema where there was none: the route takes a body now', () => {
    expect(diffSchemas(undefined, { type: 'object' }, 'body')[0]!.class).toBe('widening');
    expect(diffSchemas(undefined, { type: 'object' }, 'query')[0]!.class).toBe('narrowing');
    expect(diffSchemas({ type: 'object' }, undefined, 'query')[0]!.class).toBe('widening');
  });

  it('compares valibot schemas of a route through their JSON Schema', () => {
    const before = base({ 'POST /x': { authn: ['user'], allow: 'authenticated', body: v.strictObject({ name: v.pipe(v.string(), v.maxLength(10)) }) } });
    const after = base({ 'POST /x': { authn: ['user'], allow: 'authenticated', body: v.object({ name: v.pipe(v.string(), v.maxLength(10)), role: v.optional(v.string()) }) } });
    expect(diffPolicies(before, after).map((c) => c.message)).toEqual(['unknown keys are now accepted', 'role: field added']);
  });
});

describe('the rest of the policy', () => {
  const route = { 'GET /x': { authn: ['user'], allow: 'authenticated' } } as const;
  test.each([
    ['plain HTTP', { transport: { requireHttps: false } }, 'widening transport.requireHttps API8'],
    ['HSTS off', { transport: { hsts: false } }, 'widening transport.hsts API8'],
    ['a header removed', { headers: { frameOptions: false } }, 'widening headers.frameOptions API8'],
    ['a trusted proxy added', { clientIp: { trustedProxies: ['10.0.0.0/8'] } }, 'widening clientIp.trustedProxies API8'],
    ['report mode', { mode: 'report' }, 'widening mode API8'],
    ['a host allowlist', { hosts: ['api.example.com'] }, 'narrowing hosts -'],
    ['CORS with credentials', { cors: { origins: ['https://app.example.com'], credentials: true } }, 'widening cors API8'],
    ['a bigger JSON depth', { limits: { maxJsonDepth: 64 } }, 'widening limits.maxJsonDepth API4'],
    ['allowed requests logged', { logging: { allowed: { sample: 0.1 } } }, 'neutral logging -'],
  ] as const)('%s', (_name, extra, expected) => {
    expect(classes(base(route), base(route, extra as Partial<Policy>))).toEqual([expected]);
  });

  it('a route made public is widening (API2); removed, narrowing', () => {
    expect(classes(base(route), base({ 'GET /x': { authn: 'anonymous' } }))).toEqual(['widening routes["GET /x"].authn API2']);
    expect(classes(base({ ...route, 'GET /y': { authn: 'anonymous' } }), base(route))).toEqual(['narrowing routes["GET /y"] -']);
  });

  it('a bucket with a higher rate, or failures only, is widening (API4)', () => {
    const limited = { 'GET /x': { authn: ['user'], allow: 'authenticated', rateLimit: ['api'] } } as const;
    const before = base(limited, { rateLimits: { api: { limit: 10, window: '1m' } } });
    expect(classes(before, base(limited, { rateLimits: { api: { limit: 1, window: '1s' } } }))).toEqual(['widening rateLimits.api API4']);
    expect(classes(before, base(limited, { rateLimits: { api: { limit: 10, window: '1h' } } }))).toEqual(['narrowing rateLimits.api -']);
    expect(classes(before, base(limited, { rateLimits: { api: { limit: 10, window: '1m', count: 'failures' } } }))).toEqual(['widening rateLimits.api.count API4']);
  });

  it('a JWT audience added or an algorithm allowed is widening (API2)', () => {
    const wider = jwt({ jwksUrl: 'https://id.example.com/jwks.json', algorithms: ['ES256', 'RS256'], issuer: 'https://id.example.com', audience: ['api', 'other'] });
    expect(classes(base(route), base(route, { authn: { user: wider } }))).toEqual(['widening authn.user.algorithms API2', 'widening authn.user.audience API2']);
  });
});
