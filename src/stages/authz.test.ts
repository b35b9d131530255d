/**
 * Authorization through the real engine: every rule kind, their combinations, the role hierarchy,
 * ownership (BOLA) and what a refused caller is told.
 */
import { describe, expect, it, test, vi } from 'vitest';
import { denialResponse, type Allow, type Decision, type Deny } from '../decision.ts';
import { createEngine, type EngineEnv } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import type { SecurityEvent } from '../log.ts';
import { definePolicy } from '../policy/define.ts';
import type { Policy, RoutePolicy } from '../policy/types.ts';
import type { AuthnMethod } from './authn.ts';
import type { AllowRule, CheckContext } from './authz.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const API = 'https://api.example.com';

/** Who the test says is calling; the fake method below turns it into a principal. */
interface Who {
  id: string;
  kind?: 'user' | 'client';
  roles?: string[];
  scopes?: string[];
  claims?: Record<string, unknown>;
}

/** Authenticates whoever the `x-test-user` header names (JSON); absent without it. */
const testUser: AuthnMethod = {
  kind: 'test',
  challenge: 'Bearer',
  authenticate: async (request) => {
    const header = request.headers.get('x-test-user');
    if (header === null) return { kind: 'absent' };
    const who = JSON.parse(header) as Who;
    return { kind: 'success', principal: { roles: [], scopes: [], claims: { sub: who.id }, ...who } };
  },
};

const ALICE: Who = { id: 'u_alice', roles: ['user'] };
const BOB: Who = { id: 'u_bob', roles: ['user'] };

function setup(routes: Record<string, RoutePolicy>, extra: Partial<Policy> = {}, env: EngineEnv = {}) {
  const events: SecurityEvent[] = [];
  const policy = definePolicy({ authn: { test: testUser }, ...extra, routes: routes as Policy['routes'] });
  const engine = createEngine(policy, { now: () => FIXED, randomId: () => 'req-1', log: (event) => events.push(event), ...env });
  const evaluate = (method: string, path: string, who?: Who) =>
    engine.evaluate(new Request(`${API}${path}`, { method, headers: who ? { 'x-test-user': JSON.stringify(who) } : {} }), {
      rawTarget: path,
      peer: { address: '192.0.2.10' },
    });
  return { engine, events, evaluate };
}

/** One authenticated route with these rules, called as `who`. */
async function decide(pattern: string, allow: RoutePolicy['allow'], path: string, who: Who | undefined, extra: Partial<Policy> = {}) {
  const { evaluate } = setup({ [pattern]: { authn: ['test'], allow } }, extra);
  return evaluate(pattern.slice(0, pattern.indexOf(' ')), path, who);
}

function expectAllow(decision: Decision): Allow {
  if (decision.kind !== 'allow') return expect.unreachable(`denied: ${decision.reason} (${decision.reasons.join('; ')})`);
  return decision;
}

function expectDeny(decision: Decision): Deny {
  if (decision.kind !== 'deny') return expect.unreachable('allowed');
  return decision;
}

/** The rule that admitted the request, as the trace records it. */
const admittedBy = (decision: Decision) => expectAllow(decision).trace.find((entry) => entry.stage === 'authz')?.detail;

/** The per-rule failures of a 403. */
function refusedWith(decision: Decision): readonly string[] {
  const denied = expectDeny(decision);
  expect(denied).toMatchObject({ status: 403, reason: 'authz.denied' });
  return denied.reasons;
}

const yes = () => true;
const no = () => false;

describe('rule kinds', () => {
  test.each<[string, string, AllowRule, string, Who]>([
    ['roles: the only role listed', 'GET /v1/things', { roles: ['editor'] }, '/v1/things', { id: 'u_1', roles: ['editor'] }],
    ['roles: any one of those listed', 'GET /v1/things', { roles: ['editor', 'admin'] }, '/v1/things', { id: 'u_1', roles: ['admin'] }],
    ['roles: one among several the principal has', 'GET /v1/things', { roles: ['editor'] }, '/v1/things', { id: 'u_1', roles: ['user', 'editor'] }],
    ['scopes: every one listed', 'GET /v1/things', { scopes: ['things:read', 'things:write'] }, '/v1/things', { id: 'u_1', scopes: ['things:write', 'things:read'] }],
    ['scopes: more than listed', 'GET /v1/things', { scopes: ['things:read'] }, '/v1/things', { id: 'u_1', scopes: ['things:read', 'profile'] }],
    ['owner: the path id is the principal id (sub by default)', 'GET /v1/users/:id', { owner: { param: 'id' } }, '/v1/users/u_alice', ALICE],
    ['owner: the explicit sub claim', 'GET /v1/users/:id', { owner: { param: 'id', claim: 'sub' } }, '/v1/users/u_alice', ALICE],
    ['owner: a custom claim', 'GET /v1/tenants/:tenant/invoices', { owner: { param: 'tenant', claim: 'tenant_id' } }, '/v1/tenants/t_1/invoices', { id: 'u_1', claims: { tenant_id: 't_1' } }],
    ['owner: a nested dotted claim', 'GET /v1/orgs/:org', { owner: { param: 'org', claim: 'org.id' } }, '/v1/orgs/o_7', { id: 'u_1', claims: { org: { id: 'o_7' } } }],
    ['check: sync true', 'GET /v1/things', { check: yes }, '/v1/things', ALICE],
    ['check: async true', 'GET /v1/things', { check: async () => true }, '/v1/things', ALICE],
  ])('admits %s', async (_, pattern, rule, path, who) => {
    expect(admittedBy(await decide(pattern, [rule], path, who))).toBe('allow[0]');
  });

  test.each<[string, string, AllowRule, string, Who, string]>([
    ['roles: none of those listed', 'GET /v1/things', { roles: ['editor', 'admin'] }, '/v1/things', ALICE, 'authz.role_missing'],
    ['roles: a principal with no roles', 'GET /v1/things', { roles: ['user'] }, '/v1/things', { id: 'u_1' }, 'authz.role_missing'],
    ['roles: a role that differs by case', 'GET /v1/things', { roles: ['admin'] }, '/v1/things', { id: 'u_1', roles: ['Admin'] }, 'authz.role_missing'],
    ['roles: a role named in a claim, not in roles', 'GET /v1/things', { roles: ['admin'] }, '/v1/things', { id: 'u_1', claims: { roles: ['admin'] } }, 'authz.role_missing'],
    ['scopes: one of two', 'GET /v1/things', { scopes: ['things:read', 'things:write'] }, '/v1/things', { id: 'u_1', scopes: ['things:read'] }, 'authz.scope_missing'],
    ['scopes: none', 'GET /v1/things', { scopes: ['things:read'] }, '/v1/things', { id: 'u_1' }, 'authz.scope_missing'],
    ['scopes: a prefix of the scope', 'GET /v1/things', { scopes: ['things:write'] }, '/v1/things', { id: 'u_1', scopes: ['things'] }, 'authz.scope_missing'],
    ['owner: another user', 'GET /v1/users/:id', { owner: { param: 'id' } }, '/v1/users/u_bob', ALICE, 'authz.not_owner'],
    ['owner: a custom claim of another tenant', 'GET /v1/tenants/:tenant/invoices', { owner: { param: 'tenant', claim: 'tenant_id' } }, '/v1/tenants/t_2/invoices', { id: 'u_1', claims: { tenant_id: 't_1' } }, 'authz.not_owner'],
    ['owner: a principal without the claim', 'GET /v1/tenants/:tenant/invoices', { owner: { param: 'tenant', claim: 'tenant_id' } }, '/v1/tenants/t_1/invoices', { id: 'u_1' }, 'authz.not_owner'],
    ['owner: a claim that is a number, not the string in the path', 'GET /v1/tenants/:tenant/invoices', { owner: { param: 'tenant', claim: 'tenant_id' } }, '/v1/tenants/42/invoices', { id: 'u_1', claims: { tenant_id: 42 } }, 'authz.not_owner'],
    ['owner: a claim that is a list holding the id', 'GET /v1/tenants/:tenant/invoices', { owner: { param: 'tenant', claim: 'tenant_id' } }, '/v1/tenants/t_1/invoices', { id: 'u_1', claims: { tenant_id: ['t_1'] } }, 'authz.not_owner'],
    ['owner: a nested claim of another org', 'GET /v1/orgs/:org', { owner: { param: 'org', claim: 'org.id' } }, '/v1/orgs/o_8', { id: 'u_1', claims: { org: { id: 'o_7' } } }, 'authz.not_owner'],
    ['owner: a flat claim whose name has a dot is not the nested path', 'GET /v1/orgs/:org', { owner: { param: 'org', claim: 'org.id' } }, '/v1/orgs/o_7', { id: 'u_1', claims: { 'org.id': 'o_7' } }, 'authz.not_owner'],
    ['owner: the sub claim when the principal id differs', 'GET /v1/users/:id', { owner: { param: 'id' } }, '/v1/users/u_bob', { id: 'u_alice', claims: { sub: 'u_bob' } }, 'authz.not_owner'],
    ['owner: a client whose id is the path id', 'GET /v1/users/:id', { owner: { param: 'id' } }, '/v1/users/u_alice', { ...ALICE, kind: 'client' }, 'authz.not_owner'],
    ['owner: a client whose claim is the path id', 'GET /v1/tenants/:tenant/invoices', { owner: { param: 'tenant', claim: 'tenant_id' } }, '/v1/tenants/t_1/invoices', { id: 'svc', kind: 'client', claims: { tenant_id: 't_1' } }, 'authz.not_owner'],
    ['check: sync false', 'GET /v1/things', { check: no }, '/v1/things', ALICE, 'authz.check_failed'],
    ['check: async false', 'GET /v1/things', { check: async () => false }, '/v1/things', ALICE, 'authz.check_failed'],
    ['check: a truthy string, not true', 'GET /v1/things', { check: (() => 'yes') as never }, '/v1/things', ALICE, 'authz.check_failed'],
    ['check: 1, not true', 'GET /v1/things', { check: (async () => 1) as never }, '/v1/things', ALICE, 'authz.check_failed'],
    ['check: an object, not true', 'GET /v1/things', { check: (() => ({ allowed: true })) as never }, '/v1/things', ALICE, 'authz.check_failed'],
    ['check: undefined', 'GET /v1/things', { check: (() => undefined) as never }, '/v1/things', ALICE, 'authz.check_failed'],
    ['check: a throw', 'GET /v1/things', { check: () => { throw new Error('db down'); } }, '/v1/things', ALICE, 'authz.check_error'],
    ['check: a rejection', 'GET /v1/things', { check: async () => Promise.reject(new Error('db down')) }, '/v1/things', ALICE, 'authz.check_error'],
  ])('refuses %s', async (_, pattern, rule, path, who, failure) => {
    expect(refusedWith(await decide(pattern, [rule], path, who))).toEqual([`allow[0]: ${failure}`]);
  });

  it('hands the check the principal, the decoded params, the query, the request and the engine env', async () => {
    const seen: CheckContext[] = [];
    const { evaluate } = setup({
      'GET /v1/things/:id': { authn: ['test'], allow: [{ check: (context) => (seen.push(context), true) }] },
    });
    expectAllow(await evaluate('GET', '/v1/things/caf%C3%A9?include=owner&tag=a&tag=b', { id: 'u_alice', roles: ['user'], scopes: ['s'], claims: { tenant_id: 't_1' } }));
    expect(seen).toHaveLength(1);
    const [context] = seen;
    expect(context!.principal).toEqual({ id: 'u_alice', method: 'test', roles: ['user'], scopes: ['s'], claims: { tenant_id: 't_1' } });
    expect({ ...context!.params }).toEqual({ id: 'café' });
    expect(context!.query.get('include')).toBe('owner');
    expect(context!.query.getAll('tag')).toEqual(['a', 'b']);
    expect(context!.request.url).toBe(`${API}/v1/things/caf%C3%A9?include=owner&tag=a&tag=b`);
    expect(context!.env.now()).toBe(FIXED);
  });

  it('lets the check look the owner up through the engine fetch (a resource owner from a service)', async () => {
    const owners: Record<string, string> = { t_1: 'u_alice', t_2: 'u_bob' };
    const fetch = vi.fn(async (input: RequestInfo | URL) => {
      const id = String(input).split('/').pop()!;
      return Response.json({ owner: owners[id] ?? null });
    });
    const ownsThing = async ({ principal, params, env }: CheckContext) => {
      const response = await env.fetch(`https://owners.internal/things/${encodeURIComponent(params.id!)}`);
      return ((await response.json()) as { owner: string | null }).owner === principal.id;
    };
    const { evaluate } = setup({ 'PUT /v1/things/:id': { authn: ['test'], allow: [{ check: ownsThing }] } }, {}, { fetch });

    expectAllow(await evaluate('PUT', '/v1/things/t_1', ALICE));
    expect(refusedWith(await evaluate('PUT', '/v1/things/t_2', ALICE))).toEqual(['allow[0]: authz.check_failed']);
    expect(refusedWith(await evaluate('PUT', '/v1/things/t_9', ALICE))).toEqual(['allow[0]: authz.check_failed']);
    expect(fetch.mock.calls.map(([input]) => String(input))).toEqual([
      'https://owners.internal/things/t_1',
      'https://owners.internal/things/t_2',
      'https://owners.internal/things/t_9',
    ]);
  });

  it('refuses when the engine fetch a check relies on fails (fail closed)', async () => {
    const fetch = vi.fn(async () => Promise.reject(new TypeError('fetch failed')));
    const { evaluate } = setup(
      { 'GET /v1/things/:id': { authn: ['test'], allow: [{ check: async ({ env }) => (await env.fetch('https://owners.internal/')).ok }] } },
      {},
      { fetch },
    );
    expect(refusedWith(await evaluate('GET', '/v1/things/t_1', ALICE))).toEqual(['allow[0]: authz.check_error']);
  });
});

describe('combinations: conditions of a rule are AND, rules are OR', () => {
  const editorWithScope: AllowRule = { roles: ['editor'], scopes: ['things:write'] };

  test.each<[string, AllowRule[], string, Who, string]>([
    ['a rule whose every condition holds', [editorWithScope], '/v1/users/u_1', { id: 'u_1', roles: ['editor'], scopes: ['things:write'] }, 'allow[0]'],
    ['role and owner together', [{ roles: ['user'], owner: { param: 'id' } }], '/v1/users/u_alice', ALICE, 'allow[0]'],
    ['role, scope, owner and check together', [{ roles: ['user'], scopes: ['w'], owner: { param: 'id' }, check: yes }], '/v1/users/u_1', { id: 'u_1', roles: ['user'], scopes: ['w'] }, 'allow[0]'],
    ['the first rule when both hold', [{ roles: ['admin'] }, { owner: { param: 'id' } }], '/v1/users/u_1', { id: 'u_1', roles: ['admin'] }, 'allow[0]'],
    ['the second rule when the first fails (admin or owner: the owner)', [{ roles: ['admin'] }, { owner: { param: 'id' } }], '/v1/users/u_alice', ALICE, 'allow[1]'],
    ['the second rule when the first fails (admin or owner: an admin)', [{ owner: { param: 'id' } }, { roles: ['admin'] }], '/v1/users/u_alice', { id: 'u_bob', roles: ['admin'] }, 'allow[1]'],
    ['the third of three', [{ roles: ['admin'] }, { scopes: ['x'] }, { check: yes }], '/v1/users/u_1', ALICE, 'allow[2]'],
    ['a named rule, by its name', [{ name: 'admins', roles: ['admin'] }, { name: 'self', owner: { param: 'id' } }], '/v1/users/u_alice', ALICE, 'self'],
  ])('admits through %s', async (_, allow, path, who, rule) => {
    expect(admittedBy(await decide('PATCH /v1/users/:id', allow, path, who))).toBe(rule);
  });

  test.each<[string, AllowRule[], string, Who, string[]]>([
    ['the role without the scope', [editorWithScope], '/v1/users/u_1', { id: 'u_1', roles: ['editor'] }, ['allow[0]: authz.scope_missing']],
    ['the scope without the role', [editorWithScope], '/v1/users/u_1', { id: 'u_1', scopes: ['things:write'] }, ['allow[0]: authz.role_missing']],
    ['the role of an owner of another id', [{ roles: ['user'], owner: { param: 'id' } }], '/v1/users/u_bob', ALICE, ['allow[0]: authz.not_owner']],
    ['the owner whose check says no', [{ owner: { param: 'id' }, check: no }], '/v1/users/u_alice', ALICE, ['allow[0]: authz.check_failed']],
    ['the owner without the role', [{ roles: ['editor'], owner: { param: 'id' } }], '/v1/users/u_alice', ALICE, ['allow[0]: authz.role_missing']],
    ['neither alternative', [{ roles: ['admin'] }, { owner: { param: 'id' } }], '/v1/users/u_bob', ALICE, ['allow[0]: authz.role_missing', 'allow[1]: authz.not_owner']],
    ['none of three', [{ roles: ['admin'] }, { scopes: ['x'] }, { check: no }], '/v1/users/u_1', ALICE, ['allow[0]: authz.role_missing', 'allow[1]: authz.scope_missing', 'allow[2]: authz.check_failed']],
    ['named rules, by their names', [{ name: 'admins', roles: ['admin'] }, { name: 'self', owner: { param: 'id' } }], '/v1/users/u_bob', ALICE, ['admins: authz.role_missing', 'self: authz.not_owner']],
  ])('refuses %s, naming every rule that failed', async (_, allow, path, who, reasons) => {
    expect(refusedWith(await decide('PATCH /v1/users/:id', allow, path, who))).toEqual(reasons);
  });

  it('does not run a rule’s check when an earlier condition of that rule already failed', async () => {
    const check = vi.fn(yes);
    expect(refusedWith(await decide('GET /v1/things', [{ roles: ['admin'], check }], '/v1/things', ALICE))).toEqual(['allow[0]: authz.role_missing']);
    expect(check).not.toHaveBeenCalled();
  });

  it('stops at the first rule that admits: later checks (lookups) do not run', async () => {
    const later = vi.fn(yes);
    expect(admittedBy(await decide('GET /v1/things', [{ roles: ['user'] }, { check: later }], '/v1/things', ALICE))).toBe('allow[0]');
    expect(later).not.toHaveBeenCalled();
  });
});

describe('role hierarchy', () => {
  const roleHierarchy = { admin: ['editor'], editor: ['user'], a: ['b'], b: ['a'], root: ['root', 'admin'] };

  test.each<[string[], string[], boolean]>([
    [['admin'], ['editor'], true],
    [['admin'], ['user'], true], // transitive: admin → editor → user
    [['editor'], ['user'], true],
    [['root'], ['user'], true], // through a self-loop
    [['editor'], ['admin'], false], // implication runs one way
    [['user'], ['editor'], false],
    [['user'], ['admin', 'editor'], false],
    [['a'], ['b'], true], // a cycle is harmless
    [['b'], ['a'], true],
    [['a'], ['user'], false],
    [['guest'], ['guest'], true], // a role outside the hierarchy is itself
    [['guest'], ['user'], false],
    [[], ['user'], false],
  ])('a principal with %j against roles %j: %s', async (has, needs, admitted) => {
    const decision = await decide('GET /v1/things', [{ roles: needs }], '/v1/things', { id: 'u_1', roles: has }, { roleHierarchy });
    if (admitted) expectAllow(decision);
    else expect(refusedWith(decision)).toEqual(['allow[0]: authz.role_missing']);
  });

  it('applies to every route of the policy, declared once', async () => {
    const { evaluate } = setup(
      {
        'GET /v1/things': { authn: ['test'], allow: [{ roles: ['user'] }] },
        'DELETE /v1/things/:id': { authn: ['test'], allow: [{ roles: ['editor'] }] },
      },
      { roleHierarchy },
    );
    const admin: Who = { id: 'u_root', roles: ['admin'] };
    expectAllow(await evaluate('GET', '/v1/things', admin));
    expectAllow(await evaluate('DELETE', '/v1/things/t_1', admin));
    expectDeny(await evaluate('DELETE', '/v1/things/t_1', ALICE));
  });

  it('does not grant scopes: a role implies roles only', async () => {
    const decision = await decide('GET /v1/things', [{ scopes: ['user'] }], '/v1/things', { id: 'u_1', roles: ['admin'] }, { roleHierarchy });
    expect(refusedWith(decision)).toEqual(['allow[0]: authz.scope_missing']);
  });
});

describe('deny by default', () => {
  it('refuses to build an engine for an authenticated route that says nothing about who may call', () => {
    expect(() => createEngine({ authn: { test: testUser }, routes: { 'GET /v1/things': { authn: ['test'] } } })).toThrow(PolicyError);
  });

  it('admits every authenticated caller only when the route says "authenticated"', async () => {
    expectAllow(await decide('GET /v1/things', 'authenticated', '/v1/things', { id: 'u_nobody' }));
  });

  it('answers a caller without credentials with 401 before any rule runs', async () => {
    const check = vi.fn(yes);
    const decision = expectDeny(await decide('GET /v1/things', [{ check }], '/v1/things', undefined));
    expect(decision).toMatchObject({ status: 401, reason: 'authn.required' });
    expect(check).not.toHaveBeenCalled();
  });
});

describe('ownership (BOLA): the path id must equal the claim exactly', () => {
  const owner: AllowRule[] = [{ owner: { param: 'id' } }];

  test.each<[string, 200 | 403 | 400, Who, string]>([
    ['her own id', 200, ALICE, '/v1/users/u_alice'],
    ['her own id, an unreserved character percent-encoded', 200, ALICE, '/v1/users/u%5Falice'],
    ['her own id, every letter percent-encoded', 200, ALICE, '/v1/users/%75%5F%61%6C%69%63%65'],
    ['another user', 403, ALICE, '/v1/users/u_bob'],
    ['another user, the other way round', 403, BOB, '/v1/users/u_alice'],
    ['her id in upper case', 403, ALICE, '/v1/users/U_ALICE'],
    ['her id with one capital', 403, ALICE, '/v1/users/u_Alice'],
    ['her id double-encoded', 403, ALICE, '/v1/users/u%255Falice'],
    ['her id with a trailing encoded space', 403, ALICE, '/v1/users/u_alice%20'],
    ['her id with a leading encoded space', 403, ALICE, '/v1/users/%20u_alice'],
    ['her id with a trailing dot', 403, ALICE, '/v1/users/u_alice.'],
    ['her id with a trailing tilde', 403, ALICE, '/v1/users/u_alice~'],
    ['her id with a trailing letter', 403, ALICE, '/v1/users/u_alicex'],
    ['a prefix of her id', 403, ALICE, '/v1/users/u_alic'],
    ['her id with a trailing combining accent', 403, ALICE, '/v1/users/u_alice%CC%81'],
    ['her id with a dotless i', 403, ALICE, '/v1/users/u_al%C4%B1ce'],
    ['her id with a fullwidth u', 403, ALICE, '/v1/users/%EF%BD%95_alice'],
    ['her id followed by a zero-width space', 403, ALICE, '/v1/users/u_alice%E2%80%8B'],
    ['an id in NFD against a principal in NFC', 403, { id: 'u_jos\u00e9' }, '/v1/users/u_jose%CC%81'],
    ['a numeric id with a leading zero', 403, { id: '42' }, '/v1/users/042'],
    ['a numeric id with a plus sign', 403, { id: '42' }, '/v1/users/+42'],
    ['her id with an encoded NUL (refused as a path first)', 400, ALICE, '/v1/users/u_alice%00'],
    ['her id with an encoded slash and a walk to another user (refused as a path first)', 400, ALICE, '/v1/users/u_alice%2F..%2Fu_bob'],
    ['her id with a ; parameter (refused as a path first)', 400, ALICE, '/v1/users/u_alice;u_bob'],
  ])('%s → %i', async (_, status, who, path) => {
    const decision = await decide('GET /v1/users/:id', owner, path, who);
    if (status === 200) expectAllow(decision);
    else if (status === 403) expect(refusedWith(decision)).toEqual(['allow[0]: authz.not_owner']);
    else expect(expectDeny(decision)).toMatchObject({ status: 400, reason: 'request.malformed_path' });
  });

  test.each<[string, 200 | 403, string]>([
    ['her tenant', 200, '/v1/tenants/t_1/invoices'],
    ['another tenant', 403, '/v1/tenants/t_2/invoices'],
    ['her tenant in upper case', 403, '/v1/tenants/T_1/invoices'],
    ['her tenant with a trailing encoded space', 403, '/v1/tenants/t_1%20/invoices'],
  ])('a tenant claim: %s → %i', async (_, status, path) => {
    const decision = await decide('GET /v1/tenants/:tenant/invoices', [{ owner: { param: 'tenant', claim: 'tenant_id' } }], path, { id: 'u_1', claims: { tenant_id: 't_1' } });
    expect(decision.kind).toBe(status === 200 ? 'allow' : 'deny');
  });

  it('compares the param the rule names, not another param of the path', async () => {
    const decision = await decide('GET /v1/users/:userId/notes/:noteId', [{ owner: { param: 'userId' } }], '/v1/users/u_bob/notes/u_alice', ALICE);
    expect(refusedWith(decision)).toEqual(['allow[0]: authz.not_owner']);
  });

  it('never lets the anonymous principal own anything, not even a path that says "anonymous"', async () => {
    const { evaluate } = setup({ 'GET /v1/users/:id': { authn: ['test', 'anonymous'], allow: [{ owner: { param: 'id' } }] } });
    expect(refusedWith(await evaluate('GET', '/v1/users/anonymous'))).toEqual(['allow[0]: authz.not_owner']);
  });

  it('never lets the anonymous principal own through a custom claim', async () => {
    const { evaluate } = setup({ 'GET /v1/tenants/:tenant': { authn: ['test', 'anonymous'], allow: [{ owner: { param: 'tenant', claim: 'tenant_id' } }] } });
    expect(refusedWith(await evaluate('GET', '/v1/tenants/undefined'))).toEqual(['allow[0]: authz.not_owner']);
  });
});

describe('what a refused caller is told', () => {
  const routes = { 'PATCH /v1/users/:id': { authn: ['test'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }] } } satisfies Record<string, RoutePolicy>;

  it('answers 403 problem+json that says only authz.denied / Forbidden', async () => {
    const { evaluate } = setup(routes);
    const decision = expectDeny(await evaluate('PATCH', '/v1/users/u_bob', ALICE));
    expect(decision.problem).toEqual({
      type: 'https://portcullis.dev/problems/authz.denied',
      title: 'Forbidden',
      status: 403,
      code: 'authz.denied',
      requestId: 'req-1',
    });
    const response = denialResponse(decision);
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const body = await response.text();
    for (const leak of ['allow[', 'role_missing', 'not_owner', 'admin', 'u_bob', 'u_alice']) expect(body).not.toContain(leak);
  });

  it('names each failed rule in decision.reasons and the trace', async () => {
    const { evaluate } = setup(routes);
    const decision = expectDeny(await evaluate('PATCH', '/v1/users/u_bob', ALICE));
    expect(decision.reasons).toEqual(['allow[0]: authz.role_missing', 'allow[1]: authz.not_owner']);
    expect(decision.trace.at(-1)).toEqual({ stage: 'authz', outcome: 'deny', detail: 'allow[0]: authz.role_missing; allow[1]: authz.not_owner' });
  });

  it('logs one deny event for the principal, with reason authz.denied', async () => {
    const { evaluate, events } = setup(routes);
    await evaluate('PATCH', '/v1/users/u_bob', ALICE);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'portcullis.deny', reason: 'authz.denied', status: 403, principal: 'test:u_alice', route: 'PATCH /v1/users/:id' });
  });

  it('names each failed rule in the log event', async () => {
    const { evaluate, events } = setup(routes);
    await evaluate('PATCH', '/v1/users/u_bob', ALICE);
    const line = JSON.stringify(events[0]);
    expect(line).toContain('allow[0]: authz.role_missing');
    expect(line).toContain('allow[1]: authz.not_owner');
  });

  it('tells the caller nothing of a check that threw, and logs no stack', async () => {
    const { evaluate, events } = setup({
      'GET /v1/things': { authn: ['test'], allow: [{ check: () => { throw new Error('connection to db-7.internal refused'); } }] },
    });
    const decision = expectDeny(await evaluate('GET', '/v1/things', ALICE));
    expect(decision).toMatchObject({ status: 403, reason: 'authz.denied', reasons: ['allow[0]: authz.check_error'] });
    expect(await denialResponse(decision).text()).not.toContain('db-7');
    expect(events).toHaveLength(1);
  });

  it('logs nothing for an admitted request', async () => {
    const { evaluate, events } = setup(routes);
    expectAllow(await evaluate('PATCH', '/v1/users/u_alice', ALICE));
    expect(events).toEqual([]);
  });
});
