/**
 * Response rule mistakes fail at definition, with the path in the policy: a malformed field path,
 * a field nobody may read, `owner` on a route without an ownership rule.
 */
import * as v from 'valibot';
import { expect, it, test } from 'vitest';
import { PolicyError } from '../errors.ts';
import type { AuthnMethod } from '../stages/authn.ts';
import { definePolicy } from './define.ts';
import type { Policy } from './types.ts';

const user: AuthnMethod = { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'absent' }) };

/** One authenticated route (admins, or the owner of `:id`) with this response rule. */
const withResponse = (response: unknown, allow: unknown = [{ roles: ['admin'] }, { owner: { param: 'id' } }]) =>
  ({ authn: { user }, routes: { 'GET /v1/users/:id': { authn: ['user'], allow, response } } }) as unknown as Policy;

function rejection(policy: Policy): PolicyError {
  try {
    definePolicy(policy);
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  return expect.unreachable('definePolicy accepted the policy');
}

const AT = 'routes["GET /v1/users/:id"].response';

test.each<[string, unknown, string, string]>([
  ['an empty key in a path', { fields: { 'a..b': ['admin'] } }, `${AT}.fields["a..b"]`, 'empty key'],
  ['a path ending in []', { fields: { 'items[]': ['admin'] } }, `${AT}.fields["items[]"]`, 'name the array itself ("items")'],
  ['an index in a path', { fields: { 'items[0].secret': ['admin'] } }, `${AT}.fields["items[0].secret"]`, 'is not a key'],
  ['a field nobody may read', { fields: { email: [] } }, `${AT}.fields.email`, 'at least one reader'],
  ['an unknown mode', { mode: 'loose' }, `${AT}.mode`, '"strip" | "strict"'],
  ['a cap of 0 bytes', { maxBytes: 0 }, `${AT}.maxBytes`, '>=1'],
  ['a schema that is not a Standard Schema', { schema: { type: 'object' } }, `${AT}.schema`, 'Standard Schema'],
  ['an unknown key', { field: { email: ['admin'] } }, `${AT}.field`, 'unknown key'],
])('refuses %s', (_name, response, path, message) => {
  const error = rejection(withResponse(response));
  expect(error.path).toBe(path);
  expect(error.message).toContain(message);
});

it('refuses "owner" as a reader on a route whose allow rules have no owner condition', () => {
  const error = rejection(withResponse({ fields: { email: ['owner'] } }, [{ roles: ['admin'] }]));
  expect(error.path).toBe(`${AT}.fields.email`);
  expect(error.message).toContain('needs an allow rule with owner');
});

it('accepts roles, owner, a schema, strict mode and a cap', () => {
  const response = { fields: { email: ['owner', 'admin'], 'items[].secret': ['admin'], '[].x': ['admin'] }, schema: v.object({}), mode: 'strict', maxBytes: 4096 };
  expect(() => definePolicy(withResponse(response))).not.toThrow();
});
