/**
 * `portcullis lint`: every problem seeded in test/fixtures/bad-policy.ts is found at its path, the
 * example policies are clean, and the exit codes and JSON / SARIF shapes hold for CI.
 */
import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { oauth2Introspection } from '../../src/index.ts';
import { ALL_RULES, lintPolicy, OWASP_API_TOP_10, RULES, type LintFinding } from '../../tools/lint/index.ts';
import { policySourceOf, resolvePolicy } from '../../tools/testing/explain.ts';
import { createTestKit } from '../../tools/testing/index.ts';
import type { StandardSchemaV1 } from '../../src/schema.ts';
import badPolicy from '../fixtures/bad-policy.ts';
import { portcullis } from './run.ts';

/** The day these tests live in: the fixture's /v0 sunset (2025-01-01) is past, public-read's (2027-12-31) is not. */
const NOW = '2026-11-24T00:00:00Z';
const findings = lintPolicy(badPolicy, { now: NOW, target: 'workers' });

describe('the bad fixture', () => {
  test.each([
    ['policy.invalid', 'cors.origins[1]', 'error'],
    ['policy.invalid', 'cors.origins[2]', 'error'],
    ['policy.dev_mode', 'dev', 'error'],
    ['policy.report_only', 'mode', 'warning'],
    ['policy.report_only', 'routes["PATCH /v1/things/:id"].mode', 'warning'],
    ['policy.report_only', 'rateLimits.shadow.mode', 'warning'],
    ['transport.https_not_required', 'transport.requireHttps', 'error'],
    ['transport.hsts_disabled', 'transport.hsts', 'warning'],
    ['headers.csp_disabled', 'headers.contentSecurityPolicy', 'warning'],
    ['clientip.trust_everyone', 'clientIp.trustedProxies[0]', 'error'],
    ['mtls.certificate_unavailable', 'clientCertificate.from', 'error'],
    ['cors.wildcard_origin', 'cors.origins[0]', 'error'],
    ['cors.null_origin', 'cors.origins[1]', 'error'],
    ['cors.wildcard_subdomain', 'cors.origins[2]', 'error'],
    ['cors.insecure_origin', 'cors.origins[3]', 'warning'],
    ['authn.unchecked_method', 'authn.legacy', 'warning'],
    ['authn.jwt_no_audience', 'authn.user.audience', 'error'],
    ['authn.jwt_no_issuer', 'authn.user.issuer', 'error'],
    ['authn.jwt_no_exp', 'authn.user', 'warning'],
    ['authn.jwt_key_unusable', 'authn.user.jwks.keys[0]', 'error'],
    ['authn.dpop_allowed_on_write', 'routes["DELETE /v1/things/:id"].authn', 'warning'],
    ['authn.dpop_replay_per_isolate', 'authn.user', 'warning'],
    ['authn.dpop_long_proof_age', 'authn.user.dpop.maxAge', 'warning'],
    ['cors.dpop_headers_blocked', 'cors.allowHeaders', 'warning'],
    ['authn.hmac_secret_short', 'authn.user.secret', 'error'],
    ['authn.api_key_in_url', 'authn.partner.queryParam', 'error'],
    ['authn.introspection_no_audience', 'authn.opaque.audience', 'error'],
    ['authn.signature_window_long', 'authn.webhooks.tolerance', 'warning'],
    ['authn.signature_window_long', 'authn.signed.maxAge', 'warning'],
    ['authn.signature_replay_allowed', 'authn.webhooks.replay', 'error'],
    ['authn.signature_query_unsigned', 'authn.signed.components', 'warning'],
    ['ratelimit.missing', 'routes["GET /v1/public"].rateLimit', 'error'],
    ['ratelimit.missing', 'routes["GET /v1/things/:id"].rateLimit', 'warning'],
    ['ratelimit.auth_flow_unprotected', 'routes["POST /v1/auth/login"].rateLimit', 'error'],
    ['ratelimit.memory_store_workers', 'rateLimits', 'warning'],
    ['authn.anonymous_write', 'routes["POST /v1/comments"].authn', 'warning'],
    ['authz.admin_open', 'routes["DELETE /v1/things/:id"].allow[0]', 'error'],
    ['authz.admin_open', 'routes["GET /v1/admin/users"].allow', 'error'],
    ['authz.object_unchecked', 'routes["GET /v1/things/:id"].allow', 'warning'],
    ['validate.body_without_schema', 'routes["POST /v1/uploads"].contentTypes', 'error'],
    ['validate.string_unbounded', 'routes["PATCH /v1/things/:id"].body', 'warning'],
    ['validate.string_unbounded', 'routes["POST /v1/auth/login"].body', 'warning'],
    ['validate.body_size_default', 'routes["PATCH /v1/things/:id"].maxBodyBytes', 'warning'],
    ['validate.body_size_large', 'routes["POST /v1/uploads"].maxBodyBytes', 'warning'],
    ['validate.unknown_keys_stripped', 'routes["PATCH /v1/things/:id"].unknownKeys', 'warning'],
    ['version.past_sunset', 'routes["GET /v0/things"]', 'warning'],
    ['network.allow_everything', 'ip.allow[0]', 'warning'],
    ['network.overlap', 'ip.allow[2]', 'warning'],
    ['network.overlap', 'country.allow[1]', 'warning'],
    ['network.contradiction', 'ip.allow[1]', 'warning'],
    ['network.contradiction', 'ip.allow[2]', 'warning'],
    ['network.empty_list', 'country.deny', 'warning'],
    ['network.empty_list', 'routes["GET /v1/admin/stats"].ip.allow', 'error'],
    ['quota.never_counted', 'routes["GET /v0/things"].quota', 'warning'],
  ])('%s at %s (%s)', (rule, path, severity) => {
    expect(findings).toContainEqual(expect.objectContaining({ rule, path, severity }));
  });

  it('seeds every rule lint has', () => {
    const found = new Set(findings.map((finding) => finding.rule));
    expect(ALL_RULES.map((rule) => rule.id).filter((id) => !found.has(id))).toEqual([]);
  });

  it('gives every finding a fix and its OWASP API Security Top 10 (2023) item', () => {
    const items = Object.values(OWASP_API_TOP_10).map((item) => item.id);
    for (const finding of findings) {
      expect(finding.fix.length).toBeGreaterThan(10);
      expect(items).toContain(finding.owasp.id);
      expect(finding.owasp.id).toMatch(/^API(10|[1-9]):2023$/);
    }
  });

  it('flags per-isolate memory limits only when the target is Workers', () => {
    expect(lintPolicy(badPolicy, { now: NOW }).map((finding) => finding.rule)).not.toContain('ratelimit.memory_store_workers');
  });

  it('flags a version past its sunset only once the sunset has passed', () => {
    expect(lintPolicy(badPolicy, { now: '2024-06-01T00:00:00Z' }).map((finding) => finding.rule)).not.toContain('version.past_sunset');
  });
});

describe('rule details', () => {
  const rulesOf = (found: LintFinding[]) => found.map((finding) => finding.rule);
  const base = { authn: {}, rateLimits: { ip: { limit: 5, window: '15m', by: 'ip' as const } } };

  test.each([
    ['a failures-only bucket', { limit: 5, window: '15m', by: 'principal' as const, count: 'failures' as const }, true],
    ['5 per 15 minutes by ip', { limit: 5, window: '15m', by: 'ip' as const }, true],
    ['30 per 15 minutes by ip', { limit: 2, window: '1m', by: 'ip' as const }, true],
    ['100 per minute by ip', { limit: 100, window: '1m', by: 'ip' as const }, false],
    ['5 per 15 minutes per principal', { limit: 5, window: '15m', by: 'principal' as const }, false],
    ['a strict bucket in report-only mode', { limit: 5, window: '15m', by: 'ip' as const, mode: 'report' as const }, false],
  ])('a login route with %s is strict: %s', (_, bucket, strict) => {
    const found = lintPolicy({ ...base, rateLimits: { login: bucket }, routes: { 'POST /v1/auth/login': { authn: 'anonymous', rateLimit: ['login'] } } }, { now: NOW });
    expect(rulesOf(found).includes('ratelimit.auth_flow_unprotected')).toBe(!strict);
  });

  test.each(['POST /v1/password-reset', 'POST /oauth/token', 'POST /v1/sessions/signin', 'PUT /v1/me/password'])('%s is a credential flow', (pattern) => {
    const found = lintPolicy({ ...base, routes: { [pattern]: { authn: 'anonymous', rateLimit: ['ip'] } } as never }, { now: NOW });
    expect(rulesOf(found)).not.toContain('ratelimit.auth_flow_unprotected');
    const loose = lintPolicy({ rateLimits: { api: { limit: 1000, window: '1m' } }, routes: { [pattern]: { authn: 'anonymous', rateLimit: ['api'] } } as never }, { now: NOW });
    expect(rulesOf(loose)).toContain('ratelimit.auth_flow_unprotected');
  });

  it('accepts scopes alone on routes only API keys reach, not on user-token routes', () => {
    const methods = {
      key: { kind: 'apiKey', challenge: 'ApiKey', meta: { header: 'x-api-key' }, authenticate: async () => ({ kind: 'absent' as const }) },
      user: { kind: 'jwt', challenge: 'Bearer', meta: { issuer: 'https://id.test', audience: 'api' }, authenticate: async () => ({ kind: 'absent' as const }) },
    };
    const route = (authn: string[]) => ({ authn, allow: [{ scopes: ['things:delete'] }], rateLimit: ['ip'] });
    expect(rulesOf(lintPolicy({ ...base, authn: methods, routes: { 'DELETE /v1/things/:id': route(['key']) } }, { now: NOW }))).toEqual([]);
    expect(rulesOf(lintPolicy({ ...base, authn: methods, routes: { 'DELETE /v1/things/:id': route(['user']) } }, { now: NOW }))).toEqual(['authz.admin_open']);
  });

  it('flags each valibot body string with neither a maximum length nor a pattern, and says nothing about other schemas', () => {
    const strings = (body: StandardSchemaV1) =>
      lintPolicy({ ...base, limits: { maxBodyBytes: 1024 }, routes: { 'POST /v1/notes': { authn: 'anonymous', rateLimit: ['ip'], body } } } as never, { now: NOW })
        .filter((finding) => finding.rule === 'validate.string_unbounded')
        .map((finding) => [finding.path, finding.severity, finding.message]);
    const note = v.strictObject({
      title: v.string(),
      body: v.optional(v.nullable(v.pipe(v.string(), v.minLength(1)))),
      tags: v.array(v.string()),
      meta: v.record(v.string(), v.string()),
      short: v.pipe(v.string(), v.maxLength(80)),
      slug: v.pipe(v.string(), v.regex(/^[a-z-]+$/)),
      email: v.pipe(v.string(), v.email()),
      kind: v.picklist(['a', 'b']),
    });
    const at = 'routes["POST /v1/notes"].body';
    expect(strings(note)).toEqual(
      ['/title', '/body', '/tags/items', '/meta/additionalProperties'].map((pointer) => [at, 'warning', `POST /v1/notes: the body string ${pointer} has no maximum length and no pattern`]),
    );
    const foreign: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'zod', validate: (value) => ({ value }) } };
    expect(strings(foreign)).toEqual([]);
  });

  it('flags oauth2Introspection() with audience: false', () => {
    const opaque = oauth2Introspection({ endpoint: 'https://id.example/introspect', clientId: 'gw', clientSecret: 's', audience: false });
    const found = lintPolicy({ ...base, authn: { opaque }, routes: { 'GET /v1/me': { authn: ['opaque'], allow: 'authenticated', rateLimit: ['ip'] } } }, { now: NOW });
    expect(found.filter((finding) => finding.rule === 'authn.introspection_no_audience').map((finding) => [finding.path, finding.severity])).toEqual([['authn.opaque.audience', 'error']]);
  });

  it('flags a jwt method whose meta publishes a key that cannot verify', () => {
    const user = { kind: 'jwt', challenge: 'Bearer', meta: { issuer: 'https://id.test', audience: 'api', algorithms: ['ES256'], jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'k1', key_ops: ['sign'] }] } }, authenticate: async () => ({ kind: 'absent' as const }) };
    const found = lintPolicy({ ...base, authn: { user }, routes: { 'GET /v1/me': { authn: ['user'], allow: 'authenticated', rateLimit: ['ip'] } } }, { now: NOW });
    expect(found.filter((finding) => finding.rule === 'authn.jwt_key_unusable').map((finding) => [finding.path, finding.message])).toEqual([
      ['authn.user.jwks.keys[0]', '"user": key "k1" (keys[0]) has key_ops ["sign"] without "verify"'],
    ]);
  });

  it('catalogues each rule once, with an id, a title, a description and a fix', () => {
    expect(new Set(RULES.map((rule) => rule.id)).size).toBe(RULES.length);
    for (const rule of ALL_RULES) {
      expect(rule.id).toMatch(/^[a-z]+\.[a-z_]+$/);
      expect(rule.title && rule.description && rule.fix).toBeTruthy();
    }
  });
});

const POLICIES = {
  'policies/demo.ts': () => import('../../policies/demo.ts'),
  'policies/saas.ts': () => import('../../policies/saas.ts'),
  'policies/internal.ts': () => import('../../policies/internal.ts'),
  'policies/public-read.ts': () => import('../../policies/public-read.ts'),
};

/**
 * What an example policy is known to be flagged for, on purpose. The demo's contract gives bearer
 * tokens to logins without a DPoP proof, and those tokens may still write: DPoP is only allowed there.
 */
const KNOWN: Partial<Record<keyof typeof POLICIES, string[]>> = {
  'policies/demo.ts': [
    `warning authn.dpop_allowed_on_write routes["PATCH /v1/users/:id"].authn: PATCH /v1/users/:id takes "user" bearer tokens as well as DPoP-bound ones (dpop: 'allowed')`,
    `warning authn.dpop_allowed_on_write routes["DELETE /v1/users/:id"].authn: DELETE /v1/users/:id takes "user" bearer tokens as well as DPoP-bound ones (dpop: 'allowed')`,
  ],
};

describe('the example policies', () => {
  test.each(Object.keys(POLICIES) as (keyof typeof POLICIES)[])('%s is lint-clean but for what it does on purpose', async (file) => {
    const source = policySourceOf((await POLICIES[file]()) as Record<string, unknown>, file);
    const policy = await resolvePolicy(source, await createTestKit());
    expect(lintPolicy(policy, { now: NOW }).map((finding) => `${finding.severity} ${finding.rule} ${finding.path}: ${finding.message}`)).toEqual(KNOWN[file] ?? []);
  });
});

describe('the CLI', () => {
  it('exits 1 on the bad fixture and prints each finding with its line, path, fix and OWASP item', async ({ expect }) => {
    const { code, stdout } = await portcullis('lint', 'test/fixtures/bad-policy.ts', '--now', NOW);
    expect(code).toBe(1);
    expect(stdout).toContain('test/fixtures/bad-policy.ts:62  warning  version.past_sunset  routes["GET /v0/things"]');
    expect(stdout).toContain('fix: Remove dangerouslyAllowQueryParam; send the key in a header.');
    expect(stdout).toContain('OWASP API2:2023 Broken Authentication');
    expect(stdout).toMatch(/✗ 21 errors, 44 warnings in test\/fixtures\/bad-policy.ts\n$/);
  });

  it('exits 0 on a clean policy', async ({ expect }) => {
    const { code, stdout } = await portcullis('lint', 'policies/saas.ts', '--now', NOW);
    expect({ code, stdout }).toEqual({ code: 0, stdout: '✓ no findings in policies/saas.ts\n' });
  });

  it('exits 0 when there are warnings only', async ({ expect }) => {
    const { code, stdout } = await portcullis('lint', 'policies/internal.ts', '--target', 'workers', '--now', NOW);
    expect(code).toBe(0);
    expect(stdout).toContain('ratelimit.memory_store_workers');
    expect(stdout).toContain('! 0 errors, 1 warning in policies/internal.ts');
  });

  it('reports a policy definePolicy refuses while loading as policy.invalid, exit 1', async ({ expect }) => {
    const { code, stdout } = await portcullis('lint', 'test/fixtures/invalid-policy.ts', '--format', 'json');
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.findings.map((finding: LintFinding) => [finding.rule, finding.path])).toEqual([
      ['policy.invalid', 'routes["GET /v1/users/:id"].allow[0].owner.param'],
      ['policy.invalid', 'routes["GET /v1/users/:id"].authn[0]'],
    ]);
  });

  it('prints JSON: the file, a summary, and each finding with rule, severity, path, message, fix, OWASP item and line', async ({ expect }) => {
    const { code, stdout } = await portcullis('lint', 'test/fixtures/bad-policy.ts', '--format', 'json', '--target', 'workers', '--now', NOW);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.file).toBe('test/fixtures/bad-policy.ts');
    expect(report.summary).toEqual({ errors: 22, warnings: 46 });
    expect(report.findings).toHaveLength(68);
    expect(report.findings).toContainEqual({
      rule: 'authn.api_key_in_url',
      severity: 'error',
      path: 'authn.partner.queryParam',
      message: '"partner" reads keys from the query parameter "api_key"',
      fix: 'Remove dangerouslyAllowQueryParam; send the key in a header.',
      owasp: OWASP_API_TOP_10.API2,
      line: 38,
    });
  });

  it('prints SARIF 2.1.0 that code scanning accepts: rules with help, results with level and both locations', async ({ expect }) => {
    const { code, stdout } = await portcullis('lint', 'test/fixtures/bad-policy.ts', '--format', 'sarif', '--now', NOW);
    expect(code).toBe(1);
    const sarif = JSON.parse(stdout);
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toMatch(/sarif-2\.1\.0/);
    expect(sarif.runs).toHaveLength(1);
    const { driver } = sarif.runs[0].tool;
    expect(driver.name).toBe('portcullis');
    expect(driver.rules.map((rule: { id: string }) => rule.id)).toEqual(ALL_RULES.map((rule) => rule.id));
    for (const rule of driver.rules) {
      expect(rule).toMatchObject({
        shortDescription: { text: expect.any(String) },
        fullDescription: { text: expect.any(String) },
        help: { text: expect.stringContaining('OWASP API'), markdown: expect.any(String) },
        helpUri: expect.stringMatching(/^https:\/\/owasp\.org\//),
        defaultConfiguration: { level: expect.stringMatching(/^(error|warning)$/) },
        properties: { tags: expect.arrayContaining(['security']), 'security-severity': expect.stringMatching(/^\d+\.\d$/) },
      });
    }
    const results = sarif.runs[0].results;
    expect(results.length).toBe(65);
    for (const result of results) {
      expect(driver.rules[result.ruleIndex].id).toBe(result.ruleId);
      expect(['error', 'warning']).toContain(result.level);
      expect(result.message.text).toContain('Fix: ');
      const [location] = result.locations;
      expect(location.physicalLocation.artifactLocation.uri).toBe('test/fixtures/bad-policy.ts');
      expect(location.physicalLocation.region.startLine).toBeGreaterThanOrEqual(1);
      expect(location.logicalLocations[0].fullyQualifiedName).toEqual(expect.any(String));
    }
    expect(results).toContainEqual(
      expect.objectContaining({
        ruleId: 'authz.admin_open',
        level: 'error',
        locations: [
          {
            physicalLocation: { artifactLocation: { uri: 'test/fixtures/bad-policy.ts' }, region: { startLine: 58 } },
            logicalLocations: [{ fullyQualifiedName: 'routes["GET /v1/admin/users"].allow', kind: 'member' }],
          },
        ],
      }),
    );
  });

  test.for([
    [['lint'], 'lint takes one policy file'],
    [['lint', 'policies/nope.ts'], 'policies/nope.ts: no such file'],
    [['lint', 'policies/saas.ts', '--format', 'xml'], '--format is text, json or sarif'],
    [['lint', 'policies/saas.ts', '--target', 'lambda'], '--target is node, workers, deno or bun'],
    [['lint', 'policies/saas.ts', '--fix'], "Unknown option '--fix'"],
    [['lint', 'policies/saas.spec.ts', 'policies/demo.ts'], 'lint takes one policy file'],
    [['lint', 'src/router.ts'], 'exports no policy'],
  ] as const)('exits 2 on a usage error: %j', async ([args, message], { expect }) => {
    const { code, stderr } = await portcullis(...args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});
