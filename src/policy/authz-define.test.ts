/**
 * Authorization and validation mistakes fail at definition, with the path in the policy: a route
 * that would admit everyone, an ownership rule on a param the path lacks, a body on GET …
 */
import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { createEngine } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import type { AuthnMethod } from '../stages/authn.ts';
import { definePolicy } from './define.ts';
import type { Policy } from './types.ts';

const user: AuthnMethod = { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'absent' }) };

/** A policy with the `user` method and these routes (plus any other top-level keys). */
const policyOf = (routes: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ authn: { user }, ...extra, routes }) as unknown as Policy;

/** The PolicyError that definePolicy throws (the test fails if it accepts the policy). */
function rejection(policy: Policy): PolicyError {
  try {
    definePolicy(policy);
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  return expect.unreachable('definePolicy accepted the policy');
}

describe('definePolicy: authorization rules', () => {
  test.each<[string, Record<string, unknown>, string, string]>([
    [
      'an owner param the path does not have',
      { 'GET /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'userId' } }] } },
      'routes["GET /v1/users/:id"].allow[1].owner.param',
      'no such path param',
    ],
    [
      'an owner rule on an anonymous route',
      { 'GET /v1/users/:id': { authn: 'anonymous', allow: [{ owner: { param: 'id' } }] } },
      'routes["GET /v1/users/:id"].allow[0].owner',
      'an anonymous route has no principal to own anything',
    ],
    ['an owner without a param', { 'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: {} }] } }, 'routes["GET /v1/users/:id"].allow[0].owner.param', ''],
    ['an owner with an empty claim', { 'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'id', claim: '' } }] } }, 'routes["GET /v1/users/:id"].allow[0].owner.claim', ''],
    ['an owner with an unknown option', { 'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'id', claims: 'sub' } }] } }, 'routes["GET /v1/users/:id"].allow[0].owner.claims', 'unknown key'],
    [
      'an authenticated route without allow (deny by default)',
      { 'GET /v1/things': { authn: ['user'] } },
      'routes["GET /v1/things"].allow',
      'is required on an authenticated route (deny by default)',
    ],
    [
      'a route with optional authentication without allow',
      { 'GET /v1/feed': { authn: ['user', 'anonymous'] } },
      'routes["GET /v1/feed"].allow',
      'is required on an authenticated route',
    ],
    ['an empty rule', { 'GET /v1/things': { authn: ['user'], allow: [{}] } }, 'routes["GET /v1/things"].allow[0]', 'an empty rule would admit everyone'],
    ['a rule with only a name', { 'GET /v1/things': { authn: ['user'], allow: [{ roles: ['a'] }, { name: 'everyone' }] } }, 'routes["GET /v1/things"].allow[1]', 'an empty rule would admit everyone'],
    ['an empty allow list', { 'GET /v1/things': { authn: ['user'], allow: [] } }, 'routes["GET /v1/things"].allow', 'must list at least one rule'],
    ['allow as an unknown word', { 'GET /v1/things': { authn: ['user'], allow: 'everyone' } }, 'routes["GET /v1/things"].allow', ''],
    ['an empty roles list', { 'GET /v1/things': { authn: ['user'], allow: [{ roles: [] }] } }, 'routes["GET /v1/things"].allow[0].roles', 'must list at least one role'],
    ['an empty role name', { 'GET /v1/things': { authn: ['user'], allow: [{ roles: ['admin', ''] }] } }, 'routes["GET /v1/things"].allow[0].roles[1]', ''],
    ['an empty scopes list', { 'GET /v1/things': { authn: ['user'], allow: [{ scopes: [] }] } }, 'routes["GET /v1/things"].allow[0].scopes', 'must list at least one scope'],
    ['roles as a string, not a list', { 'GET /v1/things': { authn: ['user'], allow: [{ roles: 'admin' }] } }, 'routes["GET /v1/things"].allow[0].roles', ''],
    ['a misspelt condition (role for roles)', { 'GET /v1/things': { authn: ['user'], allow: [{ role: ['admin'] }] } }, 'routes["GET /v1/things"].allow[0].role', 'unknown key'],
    ['a check that is not a function', { 'GET /v1/things': { authn: ['user'], allow: [{ check: 'isOwner' }] } }, 'routes["GET /v1/things"].allow[0].check', 'must be a function'],
  ])('refuses %s', (_, routes, path, message) => {
    const error = rejection(policyOf(routes));
    expect(error.code).toBe('ERR_POLICY_INVALID');
    expect(error.issues.map((issue) => issue.path)).toContain(path);
    expect(error.message).toContain(`${path}: ${message}`);
  });

  it('names the exact path of an owner param mistake in the message', () => {
    const error = rejection(policyOf({ 'GET /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'userId' } }] } }));
    expect(error.message).toBe('routes["GET /v1/users/:id"].allow[1].owner.param: no such path param');
    expect(error.path).toBe('routes["GET /v1/users/:id"].allow[1].owner.param');
  });

  test.each<[string, Record<string, unknown>]>([
    ['an anonymous route without allow', { 'GET /v1/health': { authn: 'anonymous' } }],
    ['"authenticated", said explicitly', { 'GET /v1/things': { authn: ['user'], allow: 'authenticated' } }],
    ['every condition kind in one rule', { 'GET /v1/users/:id': { authn: ['user'], allow: [{ name: 'all', roles: ['a'], scopes: ['s'], owner: { param: 'id', claim: 'org.id' }, check: () => true }] } }],
    ['an owner with the default claim', { 'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'id' } }] } }],
    ['a check alone', { 'GET /v1/things': { authn: ['user'], allow: [{ check: async () => true }] } }],
  ])('accepts %s', (_, routes) => {
    const policy = policyOf(routes);
    expect(definePolicy(policy)).toBe(policy);
  });
});

describe('definePolicy: role hierarchy and limits', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['implied roles as a string, not a list', { roleHierarchy: { admin: 'user' } }, 'roleHierarchy.admin'],
    ['an implied role that is not a string', { roleHierarchy: { admin: [1] } }, 'roleHierarchy.admin[0]'],
    ['a JSON depth of 0', { limits: { maxJsonDepth: 0 } }, 'limits.maxJsonDepth'],
    ['a fractional body limit', { limits: { maxBodyBytes: 1.5 } }, 'limits.maxBodyBytes'],
    ['a negative body limit', { limits: { maxBodyBytes: -1 } }, 'limits.maxBodyBytes'],
    ['an unknown limit', { limits: { maxKeys: 10 } }, 'limits.maxKeys'],
  ])('refuses %s', (_, extra, path) => {
    expect(rejection(policyOf({ 'GET /v1/health': { authn: 'anonymous' } }, extra)).issues.map((issue) => issue.path)).toContain(path);
  });

  it('accepts a cyclic hierarchy (expanding it terminates)', () => {
    const policy = policyOf({ 'GET /v1/things': { authn: ['user'], allow: [{ roles: ['a'] }] } }, { roleHierarchy: { a: ['b'], b: ['a'], c: ['c'] } });
    expect(() => createEngine(policy, { log: () => {} })).not.toThrow();
  });
});

describe('definePolicy: input validation settings', () => {
  const body = v.object({ name: v.string() });

  test.each<[string, Record<string, unknown>, string, string]>([
    ['a body schema on GET', { 'GET /v1/things': { authn: 'anonymous', body } }, 'routes["GET /v1/things"].body', 'a GET request has no body'],
    ['content types on HEAD', { 'HEAD /v1/things': { authn: 'anonymous', contentTypes: ['application/json'] } }, 'routes["HEAD /v1/things"].contentTypes', 'a HEAD request has no body'],
    ['fieldRoles without a body schema', { 'PATCH /v1/users/:id': { authn: ['user'], allow: 'authenticated', fieldRoles: { role: ['admin'] } } }, 'routes["PATCH /v1/users/:id"].fieldRoles', 'needs a body schema'],
    ['fieldRoles with no role for a field', { 'PATCH /v1/users/:id': { authn: ['user'], allow: 'authenticated', body, fieldRoles: { role: [] } } }, 'routes["PATCH /v1/users/:id"].fieldRoles.role', 'must list at least one role'],
    ['a body that is not a schema', { 'POST /v1/things': { authn: 'anonymous', body: { name: 'string' } } }, 'routes["POST /v1/things"].body', 'must be a Standard Schema'],
    ['a query that is a bare validator function', { 'GET /v1/things': { authn: 'anonymous', query: (value: unknown) => value } }, 'routes["GET /v1/things"].query', 'must be a Standard Schema'],
    ['params that are a plain object', { 'GET /v1/things/:id': { authn: 'anonymous', params: { id: 'number' } } }, 'routes["GET /v1/things/:id"].params', 'must be a Standard Schema'],
    ['an upper-case content type', { 'POST /v1/things': { authn: 'anonymous', body, contentTypes: ['Application/JSON'] } }, 'routes["POST /v1/things"].contentTypes[0]', 'must be a lowercase media type'],
    ['a content type with parameters', { 'POST /v1/things': { authn: 'anonymous', body, contentTypes: ['application/json; charset=utf-8'] } }, 'routes["POST /v1/things"].contentTypes[0]', ''],
    ['a wildcard content type', { 'POST /v1/things': { authn: 'anonymous', body, contentTypes: ['*/*'] } }, 'routes["POST /v1/things"].contentTypes[0]', ''],
    ['an empty content type list', { 'POST /v1/things': { authn: 'anonymous', body, contentTypes: [] } }, 'routes["POST /v1/things"].contentTypes', ''],
    ['a negative body limit', { 'POST /v1/things': { authn: 'anonymous', body, maxBodyBytes: -1 } }, 'routes["POST /v1/things"].maxBodyBytes', ''],
    ['a body limit as a string', { 'POST /v1/things': { authn: 'anonymous', body, maxBodyBytes: '1mb' } }, 'routes["POST /v1/things"].maxBodyBytes', ''],
    ['an unknown unknownKeys mode', { 'POST /v1/things': { authn: 'anonymous', body, unknownKeys: 'allow' } }, 'routes["POST /v1/things"].unknownKeys', ''],
  ])('refuses %s', (_, routes, path, message) => {
    const error = rejection(policyOf(routes));
    expect(error.issues.map((issue) => issue.path)).toContain(path);
    expect(error.message).toContain(`${path}: ${message}`);
  });

  it('accepts every validation setting used together', () => {
    const policy = policyOf({
      'PATCH /v1/users/:id': {
        authn: ['user'],
        allow: [{ owner: { param: 'id' } }],
        params: v.object({ id: v.string() }),
        query: v.object({ dryRun: v.optional(v.string()) }),
        headers: v.object({ 'if-match': v.optional(v.string()) }),
        body: v.object({ name: v.optional(v.string()), role: v.optional(v.string()), profile: v.optional(v.object({ verified: v.optional(v.boolean()) })) }),
        contentTypes: ['application/json', 'application/merge-patch+json', 'application/x-www-form-urlencoded', 'multipart/form-data'],
        maxBodyBytes: 0,
        unknownKeys: 'strip',
        fieldRoles: { role: ['admin'], 'profile.verified': ['admin'] },
      },
    });
    expect(definePolicy(policy)).toBe(policy);
  });
});

describe('definePolicy: rate-limit names on routes', () => {
  const rateLimits = { perIp: { limit: 10, window: '1m' } };

  test.each<[string, Record<string, unknown>, Record<string, unknown>, string, string]>([
    ['a bucket that does not exist', { rateLimits }, { 'GET /v1/things': { authn: 'anonymous', rateLimit: ['perUser'] } }, 'routes["GET /v1/things"].rateLimit[0]', 'no bucket named "perUser" in policy.rateLimits'],
    ['a bucket when the policy has none', {}, { 'GET /v1/things': { authn: 'anonymous', rateLimit: ['perIp'] } }, 'routes["GET /v1/things"].rateLimit[0]', 'no bucket named "perIp"'],
    ['the second of two, misspelt', { rateLimits }, { 'GET /v1/things': { authn: 'anonymous', rateLimit: ['perIp', 'perip'] } }, 'routes["GET /v1/things"].rateLimit[1]', 'no bucket named "perip"'],
    ['an empty list', { rateLimits }, { 'GET /v1/things': { authn: 'anonymous', rateLimit: [] } }, 'routes["GET /v1/things"].rateLimit', 'must list at least one bucket'],
  ])('refuses %s', (_, extra, routes, path, message) => {
    const error = rejection(policyOf(routes, extra));
    expect(error.message).toContain(`${path}: ${message}`);
  });
});

describe('definePolicy: several mistakes at once', () => {
  it('reports every one, each at its path, and createEngine throws the same', () => {
    const policy = policyOf({
      'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'uid' } }] },
      'GET /v1/things': { authn: ['user'] },
      'PATCH /v1/things/:id': { authn: ['user'], allow: 'authenticated', fieldRoles: { role: ['admin'] } },
    });
    const paths = rejection(policy).issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining(['routes["GET /v1/users/:id"].allow[0].owner.param', 'routes["GET /v1/things"].allow', 'routes["PATCH /v1/things/:id"].fieldRoles']),
    );
    expect(() => createEngine(policy, { log: () => {} })).toThrow(PolicyError);
  });
});
