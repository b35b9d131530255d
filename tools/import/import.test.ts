/**
 * `portcullis import`: OpenAPI → policy skeleton. The generated module is written, loaded and run
 * like a user's file: it passes lint with only the findings about who may call, it validates what
 * the document says, and exporting it again gives the document back for the parts both express.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, test } from 'vitest';
import { createEngine } from '../../src/index.ts';
import type { Policy } from '../../src/policy/types.ts';
import { lintPolicy } from '../lint/index.ts';
import { toOpenApi } from '../openapi/index.ts';
import { policySourceOf, resolvePolicy } from '../testing/explain.ts';
import { createTestKit } from '../testing/index.ts';
import { importOpenApi, openApiDocument, parseOpenApiText } from './index.ts';

type Json = Record<string, any>;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
mkdirSync(join(ROOT, '.scratch'), { recursive: true });
// Inside the repository, so that the generated `import … from 'portcullis'` resolves to the sources.
const dir = mkdtempSync(join(ROOT, '.scratch', 'import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function load(source: string): Promise<Policy> {
  const file = join(dir, `policy-${++n}.ts`);
  writeFileSync(file, source);
  return (await import(file)).default as Policy;
}

async function exported(file: string): Promise<Json> {
  const source = policySourceOf((await import(join(ROOT, file))) as Record<string, unknown>, file);
  return toOpenApi(await resolvePolicy(source, await createTestKit()), { now: '2026-11-24T00:00:00Z' });
}

/** What a document and its round trip must share: operations, parameters, bodies, security. */
function expressed(document: Json) {
  const operations: Json = {};
  for (const [path, item] of Object.entries(document.paths as Json)) {
    for (const [method, operation] of Object.entries(item as Json)) {
      operations[`${method} ${path}`] = { parameters: operation.parameters ?? [], requestBody: operation.requestBody ?? null, security: operation.security };
    }
  }
  const schemes = Object.fromEntries(Object.entries(document.components.securitySchemes as Json).map(([name, { type, scheme, in: where, name: key }]) => [name, { type, scheme, in: where, name: key }]));
  return { operations, schemes };
}

const WHO_MAY_CALL = ['authz.object_unchecked', 'authn.anonymous_write'];

describe('round trip on the repository\'s own documents', () => {
  test.each(['policies/demo.ts', 'policies/saas.ts', 'policies/internal.ts', 'policies/public-read.ts'])('%s: export → import → export gives the same operations, parameters, bodies and security', async (file) => {
    const original = await exported(file);
    const result = importOpenApi(openApiDocument(original), { file });
    const policy = await load(result.source);
    expect(expressed(toOpenApi(policy, { now: '2026-11-24T00:00:00Z' }))).toEqual(expressed(original));
    // Only what a person must decide: who may call each route.
    const findings = lintPolicy(policy, { now: '2026-11-24T00:00:00Z' });
    expect(findings.filter((finding) => finding.severity === 'error')).toEqual([]);
    expect(new Set(findings.map((finding) => finding.rule))).toEqual(new Set(findings.length ? ['authz.object_unchecked'] : []));
  });
});

describe('a public-style OpenAPI 3.0 document in YAML', () => {
  const text = readFileSync(join(ROOT, 'test/fixtures/review/petstore.yaml'), 'utf8');
  const result = importOpenApi(parseOpenApiText(text, 'petstore.yaml'), { file: 'petstore.yaml' });
  const policy = load(result.source);

  it('maps each security scheme to a method stub that refuses every credential until it is filled in', async () => {
    const { authn } = await policy;
    expect(Object.fromEntries(Object.entries(authn!).map(([name, method]) => [name, method.kind]))).toEqual({ oauth: 'oauth2Introspection', staff: 'jwt', oidc: 'jwt', partnerKey: 'apiKey' });
    expect(authn!.oidc!.meta).toMatchObject({ issuer: 'https://id.petstore.example.com', jwksUrl: 'https://id.petstore.example.com/.well-known/jwks.json' });
    expect(result.source).toContain("// TODO: who may call? Admins only until decided.\n      allow: [{\"roles\":[\"admin\"]}],");
  });

  it('says what it left out: the basic-auth route, the cookie parameter', () => {
    expect(result.notes).toEqual([
      'securitySchemes.basic: http basic has no portcullis method; routes that need only it are left out',
      'GET /pets/:petId: cookie parameters (session) are not checked',
      'GET /legacy/export: left out, no security requirement of it maps to a method portcullis has',
    ]);
    expect(result.routes).toBe(6);
  });

  it('passes lint with only the warnings about who may call', async () => {
    const findings = lintPolicy(await policy, { now: '2026-11-24T00:00:00Z' });
    expect(findings.map((finding) => `${finding.severity} ${finding.rule}`)).toEqual(['warning authz.object_unchecked', 'warning authz.object_unchecked']);
    expect(findings.every((finding) => WHO_MAY_CALL.includes(finding.rule))).toBe(true);
  });

  test.each([
    ['GET /pets?limit=5&species=cat', undefined, 200],
    ['GET /pets?limit=0', undefined, 422],
    ['GET /pets?limit=5&owner=me', undefined, 422],
    ['GET /pets?species=lizard', undefined, 422],
    ['POST /auth/login', { username: 'ada', password: 'x' }, 200],
    ['POST /auth/login', { username: 'ada', password: 'x', role: 'admin' }, 422],
    ['POST /auth/login', { username: 'a d a', password: 'x' }, 422],
    ['GET /pets/1', undefined, 401],
    ['DELETE /pets/1', undefined, 401],
    ['GET /legacy/export', undefined, 404],
  ] as const)('%s %j → %i', async (line, body, status) => {
    const [method, path] = line.split(' ') as [string, string];
    const engine = createEngine(await policy, { log: () => {} });
    const init = body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    const decision = await engine.evaluate(new Request(`https://petstore.example.com${path}`, init));
    expect(decision.kind === 'allow' ? 200 : decision.status).toBe(status);
  });

  it('exports back what the document said: operations, parameters (3.0 spellings now 2020-12), bodies and security', async () => {
    const document = toOpenApi(await policy, { now: '2026-11-24T00:00:00Z' });
    expect(Object.keys(document.paths as Json)).toEqual(['/pets', '/pets/{petId}', '/stores/{storeId}/inventory', '/auth/login']);
    const paths = document.paths as Json;
    expect(paths['/pets/{petId}'].get.parameters).toEqual([{ name: 'petId', in: 'path', required: true, schema: { type: 'integer', exclusiveMinimum: 0 } }]);
    expect(paths['/pets'].post.parameters).toEqual([{ name: 'idempotency-key', in: 'header', required: true, schema: { type: 'string', format: 'uuid', maxLength: 36 } }]);
    expect(paths['/pets'].post.requestBody.content['application/json'].schema.properties.nickname).toEqual({ type: ['string', 'null'], maxLength: 40, pattern: '^[^\\x00-\\x1f]*$' });
    expect(paths['/pets'].post.requestBody.content['application/json'].schema.properties.tags.items).toEqual({ type: 'string', maxLength: 20, pattern: '^[a-z-]+$' });
    expect(paths['/pets'].get.security).toEqual([]);
    expect(paths['/stores/{storeId}/inventory'].get.security).toEqual([{ oidc: [] }, { partnerKey: [] }]);
  });
});

describe('documents it refuses', () => {
  test.each([
    ['{"swagger": "2.0", "paths": {}}', 'only OpenAPI 3.0 and 3.1'],
    ['openapi: 3.1.0\ninfo: {title: x, version: "1"}', 'paths: the document has no paths'],
    ['openapi: [', 'not YAML'],
  ])('%s', (text, message) => {
    expect(() => parseOpenApiText(text, text.startsWith('{') ? 'x.json' : 'x.yaml')).toThrow(message);
  });
});
