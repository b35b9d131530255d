/**
 * `portcullis openapi`: the documents of the demo and example policies validate against the
 * OpenAPI 3.1 schema (@seriousme/openapi-schema-validator), every $ref resolves, and the document
 * says what the policy enforces.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { apiKey, definePolicy, oauth2Introspection } from '../../src/index.ts';
import { toOpenApi } from '../../tools/openapi/index.ts';
import type { StandardSchemaV1 } from '../../src/schema.ts';
import { policySourceOf, resolvePolicy } from '../../tools/testing/explain.ts';
import { createTestKit } from '../../tools/testing/index.ts';
import { portcullis } from './run.ts';

type Json = Record<string, any>;

const POLICIES = {
  'policies/demo.ts': () => import('../../policies/demo.ts'),
  'policies/saas.ts': () => import('../../policies/saas.ts'),
  'policies/internal.ts': () => import('../../policies/internal.ts'),
  'policies/public-read.ts': () => import('../../policies/public-read.ts'),
};
type PolicyFile = keyof typeof POLICIES;

async function policyOf(file: PolicyFile) {
  const source = policySourceOf((await POLICIES[file]()) as Record<string, unknown>, file);
  return resolvePolicy(source, await createTestKit());
}

async function documentOf(file: PolicyFile): Promise<Json> {
  return toOpenApi(await policyOf(file), { title: file, version: '1.0.0', now: '2026-11-24T00:00:00Z' });
}

async function validate(document: Json) {
  const validator = new Validator();
  const result = await validator.validate(document);
  return { version: validator.version, ...result };
}

/** Every `$ref` in the document, with whether it points at something. */
function refs(document: Json): { ref: string; resolves: boolean }[] {
  const out: { ref: string; resolves: boolean }[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    for (const [key, sub] of Object.entries(value)) {
      if (key === '$ref' && typeof sub === 'string') {
        const target = sub.replace(/^#\//, '').split('/').reduce<unknown>((node, part) => (node as Json | undefined)?.[part], document);
        out.push({ ref: sub, resolves: target !== undefined });
      } else walk(sub);
    }
  };
  walk(document);
  return out;
}

describe.each(Object.keys(POLICIES) as PolicyFile[])('%s', (file) => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const document = await documentOf(file);
    expect(document.openapi).toBe('3.1.0');
    expect(await validate(document)).toEqual({ version: '3.1', valid: true });
  });

  it('has an operation for every route, and every $ref resolves', async () => {
    const document = await documentOf(file);
    const policy = await policyOf(file);
    const operations = Object.values(document.paths as Record<string, Json>).flatMap((item) => Object.values(item).map((operation: Json) => operation['x-portcullis-route']));
    expect(operations.sort()).toEqual(Object.keys(policy.routes).sort());
    expect(refs(document).filter((ref) => !ref.resolves)).toEqual([]);
  });
});

it('the validator refuses what OpenAPI 3.1 does not allow (so a pass means something)', async () => {
  const document = await documentOf('policies/demo.ts');
  document.components.securitySchemes.user = { type: 'bearer-token' };
  expect(await validate(document)).toMatchObject({ valid: false });
});

describe('what the document says', () => {
  it('turns :params into {params} with their schemas', async () => {
    const { paths } = await documentOf('policies/saas.ts');
    const operation = paths['/v1/tenants/{tenantId}/projects/{projectId}'].get;
    expect(operation.parameters).toEqual([
      { name: 'tenantId', in: 'path', required: true, schema: { type: 'string', pattern: '^t_[a-z0-9]{3,32}$' } },
      { name: 'projectId', in: 'path', required: true, schema: { type: 'string', pattern: '^prj_[a-z0-9]{12}$' } },
    ]);
  });

  it('describes security schemes from the authentication methods, and alternatives per operation', async () => {
    const demo = await documentOf('policies/demo.ts');
    expect(demo.components.securitySchemes.user).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(demo.components.securitySchemes.service).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    expect(demo.paths['/v1/reports'].get.security).toEqual([{ service: [] }, { user: [] }]);
    expect(demo.paths['/v1/health'].get.security).toEqual([]);
    const internal = await documentOf('policies/internal.ts');
    expect(internal.components.securitySchemes.service).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-service-key' });
  });

  it('converts valibot body schemas, closing objects the engine closes', async () => {
    const { paths } = await documentOf('policies/public-read.ts');
    const body = paths['/v1/books'].post.requestBody;
    expect(body.required).toBe(true);
    expect(body.content['application/json'].schema).toMatchObject({
      type: 'object',
      required: ['isbn', 'title', 'authors', 'language'],
      additionalProperties: false,
      properties: { isbn: { type: 'string', pattern: '^97[89][0-9]{10}$' }, authors: { type: 'array', minItems: 1, maxItems: 20 } },
    });
    expect(body.content['application/json'].schema.$schema).toBeUndefined();
  });

  it('lists query and header parameters from their schemas', async () => {
    const { paths } = await documentOf('policies/internal.ts');
    expect(paths['/internal/v1/transfers'].post.parameters).toEqual([{ name: 'idempotency-key', in: 'header', required: true, schema: { type: 'string', format: 'uuid' } }]);
    expect(paths['/internal/v1/admin/reconciliation'].get.parameters).toEqual([{ name: 'date', in: 'query', required: true, schema: { type: 'string', format: 'date' } }]);
  });

  it('refers each operation to the problem responses that apply, with one shared Problem schema', async () => {
    const { paths, components } = await documentOf('policies/public-read.ts');
    const statuses = (operation: Json) => Object.keys(operation.responses).filter((status) => status !== '2XX').sort();
    expect(statuses(paths['/v1/books'].get)).toEqual(['400', '422', '429', '503']);
    expect(statuses(paths['/v1/books'].post)).toEqual(['400', '401', '403', '413', '415', '422', '429', '503']);
    expect(statuses(paths['/v0/books/{isbn}'].get)).toEqual(['400', '404', '410', '422', '429', '503']);
    expect(paths['/v0/books/{isbn}'].get.deprecated).toBe(true);
    expect(paths['/v1/books'].post.responses['401']).toEqual({ $ref: '#/components/responses/Unauthorized' });
    expect(components.responses.TooManyRequests.headers).toHaveProperty('Retry-After');
    expect(components.responses.Unauthorized.content).toEqual({ 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } });
    expect(components.schemas.Problem.required).toEqual(['type', 'title', 'status', 'code', 'requestId']);
    expect(Object.keys(components.responses).sort()).toEqual(
      ['BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'MethodNotAllowed', 'Gone', 'ContentTooLarge', 'UnsupportedMediaType', 'UnprocessableContent', 'TooManyRequests', 'ServiceUnavailable'].sort(),
    );
  });

  test.each([
    ['one offering Standard JSON Schema', { jsonSchema: { input: () => ({ $schema: 'x', type: 'object', properties: { a: { type: 'string' } } }) } }, { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }],
    ['one offering none', {}, { description: 'Validated by a acme schema that offers no JSON Schema.' }],
  ])('describes a non-valibot schema: %s', async (_, extra, expected) => {
    const schema: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'acme', validate: (value) => ({ value }), ...extra } };
    const document = toOpenApi(definePolicy({ routes: { 'POST /v1/things': { authn: 'anonymous', body: schema } } }));
    expect(document.paths).toMatchObject({ '/v1/things': { post: { requestBody: { content: { 'application/json': { schema: expected } } } } } });
    expect(await validate(document)).toMatchObject({ valid: true });
  });

  it('describes introspection as HTTP bearer and a key readable from the URL as a second scheme', async () => {
    const document = toOpenApi(
      definePolicy({
        authn: {
          opaque: oauth2Introspection({ endpoint: 'https://id.example.com/introspect', clientId: 'gateway', clientSecret: 'not-a-secret', audience: 'api' }),
          partner: apiKey({ keys: {}, dangerouslyAllowQueryParam: 'api_key' }),
        },
        routes: { 'GET /v1/things': { authn: ['opaque', 'partner', 'anonymous'], allow: 'authenticated' } },
      }),
    ) as Json;
    expect(document.components.securitySchemes).toMatchObject({
      opaque: { type: 'http', scheme: 'bearer' },
      partner: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      partnerQuery: { type: 'apiKey', in: 'query', name: 'api_key' },
    });
    expect(document.paths['/v1/things'].get.security).toEqual([{ opaque: [] }, { partner: [] }, { partnerQuery: [] }, {}]);
    expect(await validate(document)).toMatchObject({ valid: true });
  });

  it('keeps open objects open when unknown keys are stripped', () => {
    const document = toOpenApi(definePolicy({ routes: { 'POST /v1/things': { authn: 'anonymous', body: v.object({ a: v.string() }), unknownKeys: 'strip' } } })) as Json;
    expect(document.paths['/v1/things'].post.requestBody.content['application/json'].schema.additionalProperties).toBeUndefined();
  });
});

describe('the CLI', () => {
  it('writes the document with --out, and it validates', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'portcullis-openapi-')), 'saas.json');
    const { code, stderr } = await portcullis('openapi', 'policies/saas.ts', '--out', out, '--title', 'Acme Projects', '--api-version', '2.3.0', '--server', 'https://api.acme-projects.example');
    expect(code).toBe(0);
    expect(stderr).toContain(`wrote ${out}`);
    const document = JSON.parse(readFileSync(out, 'utf8'));
    expect(document.info).toMatchObject({ title: 'Acme Projects', version: '2.3.0' });
    expect(document.servers).toEqual([{ url: 'https://api.acme-projects.example' }]);
    expect(await validate(document)).toMatchObject({ valid: true });
  });

  it('prints the document on stdout without --out', async () => {
    const { code, stdout } = await portcullis('openapi', 'policies/demo.ts');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).paths['/v1/users/{id}']).toHaveProperty('patch');
  });
});
