import { describe, expect, it } from 'vitest';
import { createEngine, definePolicy } from './index.ts';
import { jsonSchema } from './json-schema.ts';

const Query = jsonSchema(
  { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100 }, tag: { type: 'array', items: { type: 'string' } }, draft: { type: 'boolean' } } },
  { coerce: 'strings' },
);
const Body = jsonSchema({
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', maxLength: 5 }, address: { type: 'object', properties: { zip: { type: 'string', pattern: '^[0-9]{5}$' } } } },
});

const engine = createEngine(
  definePolicy({
    transport: { requireHttps: false },
    routes: {
      'GET /items': { authn: 'anonymous', query: Query },
      'POST /items': { authn: 'anonymous', body: Body },
    },
  }),
  { log: () => {} },
);
const post = (body: unknown) => engine.evaluate(new Request('http://api.test/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));

describe('jsonSchema()', () => {
  it('validates query strings as the numbers, booleans and arrays the schema names, and hands on the converted values', async () => {
    const decision = await engine.evaluate(new Request('http://api.test/items?limit=20&tag=a&draft=true'));
    expect(decision.kind === 'allow' && decision.input.query).toEqual({ limit: 20, tag: ['a'], draft: true });
    const tooMany = await engine.evaluate(new Request('http://api.test/items?limit=101'));
    expect(tooMany.kind === 'deny' && [tooMany.status, tooMany.problem?.errors]).toEqual([422, [{ in: 'query', pointer: '/limit', detail: expect.stringContaining('100') }]]);
    const notANumber = await engine.evaluate(new Request('http://api.test/items?limit=ten'));
    expect(notANumber.kind === 'deny' && notANumber.status).toBe(422);
  });

  it('refuses keys the schema does not declare (unknownKeys), in the query and, nested, in the body', async () => {
    const query = await engine.evaluate(new Request('http://api.test/items?limit=1&admin=true'));
    expect(query.kind === 'deny' && query.problem?.errors).toEqual([{ in: 'query', pointer: '/admin', detail: 'unknown key' }]);
    const nested = await post({ name: 'x', address: { zip: '12345', isAdmin: true } });
    expect(nested.kind === 'deny' && nested.problem?.errors).toEqual([{ in: 'body', pointer: '/address/isAdmin', detail: 'unknown key' }]);
  });

  it('points at the field that fails, with the validator\'s message', async () => {
    const decision = await post({ name: 'too long', address: { zip: 'abc' } });
    expect(decision.kind === 'deny' && decision.problem?.errors?.map((error) => error.pointer).sort()).toEqual(['/address/zip', '/name']);
    expect(await post({ name: 'Rex', address: { zip: '12345' } })).toMatchObject({ kind: 'allow', input: { body: { name: 'Rex', address: { zip: '12345' } } } });
  });

  it('hands its JSON Schema back for the OpenAPI export', () => {
    expect(Body['~standard'].jsonSchema.input({ target: 'draft-2020-12' })).toMatchObject({ type: 'object', required: ['name'] });
  });

  it('does not coerce a body (JSON has its own types)', async () => {
    const decision = await engine.evaluate(new Request('http://api.test/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": 5}' }));
    expect(decision.kind === 'deny' && decision.status).toBe(422);
  });
});
