/**
 * `portcullis diff`, `import` and `replay` as scripts use them: output formats and exit codes
 * (0 fine; 1 a widening under --fail-on-widen; 2 usage or load errors).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, test } from 'vitest';
import { portcullis } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-review-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('portcullis diff', () => {
  test.each([
    ['policies/saas.ts', 'test/fixtures/review/saas-widened.ts'],
    ['policies/public-read.ts', 'test/fixtures/review/public-read-widened.ts'],
    ['policies/internal.ts', 'test/fixtures/review/internal-widened.ts'],
  ])('%s → %s widens: exit 1 with --fail-on-widen, 0 without', async (before, after) => {
    const failing = await portcullis('diff', before, after, '--fail-on-widen');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^\+ widening /m);
    expect((await portcullis('diff', before, after)).code).toBe(0);
  });

  it('a narrowing change passes --fail-on-widen', async () => {
    const result = await portcullis('diff', 'test/fixtures/review/saas-widened.ts', 'policies/saas.ts', '--fail-on-widen');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 widening, 6 narrowing, 0 neutral');
  });

  it('prints JSON with a summary and each change, its class, path and OWASP item', async () => {
    const result = await portcullis('diff', 'policies/saas.ts', 'test/fixtures/review/saas-widened.ts', '--format', 'json');
    const report = JSON.parse(result.stdout);
    expect(report.summary).toEqual({ widening: 6, narrowing: 0, neutral: 0 });
    expect(report.changes).toContainEqual({
      class: 'widening',
      area: 'allow',
      path: 'routes["GET /v1/tenants/:tenantId/admin/audit-log"].allow',
      route: 'GET /v1/tenants/:tenantId/admin/audit-log',
      message: 'now also admits roles "owner", with no ownership condition',
      owasp: { id: 'API1:2023', name: 'Broken Object Level Authorization', url: 'https://owasp.org/API-Security/editions/2023/en/0xa1-broken-object-level-authorization/' },
    });
  });

  it('writes Markdown for a pull-request comment to --out', async () => {
    const out = join(dir, 'diff.md');
    const result = await portcullis('diff', 'policies/public-read.ts', 'test/fixtures/review/public-read-widened.ts', '--format', 'markdown', '--out', out);
    expect(result.code).toBe(0);
    const markdown = readFileSync(out, 'utf8');
    expect(markdown).toMatch(/^### portcullis policy diff\n/);
    expect(markdown).toContain('| `authn.editor.requireMfa` | requireMfa true → false | [API2:2023]');
  });

  test.each([
    [['diff', 'policies/saas.ts'], 'diff takes two policy files'],
    [['diff', 'policies/saas.ts', 'policies/nope.ts'], 'policies/nope.ts: no such file'],
    [['diff', 'policies/saas.ts', 'policies/saas.ts', '--format', 'html'], '--format is text, json or markdown'],
  ])('%j → exit 2', async (args, message) => {
    const result = await portcullis(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('portcullis import', () => {
  it('writes a policy from a YAML document and says what it left out', async () => {
    const out = join(dir, 'petstore.ts');
    const result = await portcullis('import', 'test/fixtures/review/petstore.yaml', '--out', out);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`wrote ${out}: 6 routes, 4 authentication methods`);
    expect(result.stderr).toContain('note: GET /legacy/export: left out, no security requirement of it maps to a method portcullis has');
    expect(readFileSync(out, 'utf8')).toContain("import { jsonSchema } from 'portcullis/json-schema';");
  });

  test.each([
    [['import', 'test/fixtures/review/petstore.yaml'], 'import needs --out'],
    [['import', 'nope.yaml', '--out', 'x.ts'], 'nope.yaml: no such file'],
  ])('%j → exit 2', async (args, message) => {
    const result = await portcullis(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('refuses a Swagger 2.0 document with exit 2, writing nothing', async () => {
    const swagger = join(dir, 'swagger.json');
    writeFileSync(swagger, '{"swagger":"2.0","paths":{}}');
    const result = await portcullis('import', swagger, '--out', join(dir, 'never.ts'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('only OpenAPI 3.0 and 3.1 can be imported');
    expect(existsSync(join(dir, 'never.ts'))).toBe(false);
  });
});

describe('portcullis replay', () => {
  test.each([
    [['replay', 'events.jsonl'], 'replay needs --policy'],
    [['replay', 'nope.jsonl', '--policy', 'policies/saas.ts'], 'nope.jsonl: no such file'],
    [['replay', 'nope.jsonl', '--policy', 'policies/saas.ts', '--format', 'sarif'], '--format is text or json'],
  ])('%j → exit 2', async (args, message) => {
    const result = await portcullis(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('prints the JSON report with replayed, changed, undecidable and changes', async () => {
    const log = join(dir, 'events.jsonl');
    const line = { time: '2026-11-24T12:00:00Z', event: 'portcullis.deny', reason: 'route.not_found', status: 404, requestId: 'r1', method: 'GET', path: '/v1/me', route: null, clientIp: '203.0.113.7' };
    writeFileSync(log, `${JSON.stringify(line)}\n`);
    const result = await portcullis('replay', log, '--policy', 'policies/saas.ts', '--format', 'json');
    expect(result.code).toBe(0);
    // GET /v1/me exists now, and needs a token: whether the request carried one, a 404 does not say.
    expect(JSON.parse(result.stdout)).toMatchObject({ replayed: 1, changed: 0, undecidable: 1, changes: [] });
  });
});
