/**
 * `portcullis probe`, run as a user runs it (node bin/portcullis.mjs probe …), against the demo
 * gateway on Node and the Worker on workerd — where it must find nothing — and against broken
 * deployments, where every attack family must find what was broken, and only that.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmDemoDatabase } from '../../policies/demo-db.ts';
import { startDemo } from '../../policies/demo-gateway.ts';
import type { ProbeFinding, ProbeReport } from '../../tools/probe/index.ts';
import { ROOT } from '../cli/run.ts';
import { startOpenGateway, startWeakenedDemo, type WeakGateway } from './weak-gateways.ts';
import { startProbeWorker, type ProbeWorker } from './worker.ts';

const API_KEY = 'pk_demo_probe_0123456789abcdef';
const ALICE = ['--login', 'POST /v1/auth/login', '--username', 'alice', '--password', 'correct horse battery staple'];

let dir: string;
let signingKey: JWK;
let signingKeyFile: string;

beforeAll(async () => {
  // The tests start demos (and demo origins): the first would pay for creating the database within its time.
  await warmDemoDatabase();
  dir = mkdtempSync(join(tmpdir(), 'portcullis-probe-test-'));
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  signingKey = { ...(await exportJWK(privateKey)), kid: 'demo-probe-test' };
  signingKeyFile = join(dir, 'demo-signing-key.json');
  writeFileSync(signingKeyFile, JSON.stringify(signingKey));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI in a child process (async: the servers under test live in this process). */
function portcullis(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/portcullis.mjs', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function probeJson(args: string[], env?: Record<string, string>): Promise<{ code: number | null; report: ProbeReport; stderr: string }> {
  const run = await portcullis(['probe', ...args, '--format', 'json'], env);
  if (!run.stdout.trim()) throw new Error(`no report (exit ${run.code}): ${run.stderr}`);
  return { code: run.code, report: JSON.parse(run.stdout) as ProbeReport, stderr: run.stderr };
}

const families = (report: ProbeReport) => Object.fromEntries(report.families.map((f) => [f.family, f]));
const checks = (findings: ProbeFinding[], severity?: string) => new Set(findings.filter((f) => !severity || f.severity === severity).map((f) => f.check));

/** The demo as `npm start` runs it, with small limits so that the rate-limit probes stay short. */
async function demo(env: Record<string, string>) {
  return startDemo({
    env: { DEMO_SIGNING_KEY: JSON.stringify(signingKey), DEMO_API_KEY: API_KEY, RATE_LIMIT: '60', LOGIN_RATE_LIMIT: '3', ...env },
    port: 0,
    log: () => {},
  });
}

describe('the demo gateway (Node)', () => {
  it('holds against every family, with loopback as its trusted proxy and the probe standing there', async () => {
    const gateway = await demo({ TRUSTED_PROXIES: 'loopback' });
    try {
      const { code, report } = await probeJson([gateway.url, '--policy', 'policies/demo.ts', ...ALICE, '--signing-key', signingKeyFile, '--api-key', API_KEY, '--webhook-secret', gateway.webhookSecret, '--other-id', 'u_bob', '--trusted-proxy', '--aggressive']);
      expect(report.findings).toEqual([]);
      expect(report.inconclusive).toEqual([]);
      expect(code).toBe(0);
      expect(report.identity).toBe('u_alice (login as alice)');
      for (const family of report.families) expect(family.passed, family.family).toBeGreaterThan(0);
      // Through a trusted proxy: X-Forwarded-Proto: http is redirected (GET) and refused (PATCH…);
      // each bucket met its 429 behind a fixed right-most hop.
      expect(families(report).transport).toMatchObject({ passed: 2 });
      expect(families(report).ratelimit).toMatchObject({ passed: 2 });
      // A token bound to the probe's key, on the three GET routes of `user`: as Bearer, without a proof,
      // with proofs for POST and for another URL, and a proof sent twice are each a 401.
      expect(families(report).dpop).toMatchObject({ passed: 15 });
      // The webhook: forged, stale, and delivered twice (the first time as the route's sample body).
      expect(families(report).signatures).toMatchObject({ passed: 3 });
      // The key the demo serves at /.well-known/jwks.json keyed the HS256 confusion tokens.
      expect(report.notes).toContain("jwt: key confusion uses 1 public key from the target's GET /.well-known/jwks.json");
    } finally {
      await gateway.close();
    }
  });

  it('holds with no trusted proxy: rotating X-Forwarded-For buys nothing, X-Forwarded-Proto changes nothing', async () => {
    const gateway = await demo({ TRUSTED_PROXIES: '' });
    try {
      const run = await portcullis(['probe', gateway.url, '--policy', 'policies/demo.ts', ...ALICE, '--other-id', 'u_bob', '--aggressive']);
      expect(run.stdout).toContain(`✓ no findings against ${gateway.url}`);
      expect(run.stdout).toMatch(/^ratelimit\s+2\s+2\s+0\s+0$/m);
      // Without --signing-key the claim attacks prove nothing, and the report says so.
      expect(run.stdout).toMatch(/expired, not-yet-valid, wrong-audience, wrong-issuer and missing-exp tokens skipped/);
      expect(run.code).toBe(0);
    } finally {
      await gateway.close();
    }
  });
});

describe('the Worker (policies/worker.ts on workerd)', () => {
  let worker: ProbeWorker;
  beforeAll(async () => {
    worker = await startProbeWorker();
  }, 30_000);
  afterAll(() => worker?.stop());

  it('holds against every family its policy has', async () => {
    const { code, report } = await probeJson(
      // Miniflare's front answers a malformed Host with its own 500 before any Worker runs; on
      // Cloudflare the edge routes by Host and never hands such a request to a Worker. The Worker
      // itself refuses them (the conformance table's Host cases, and src/target.test.ts).
      [worker.url, '--policy', worker.policyFile, '--signing-key', worker.signingKeyFile, '--jwks', worker.jwksFile, '--api-key', worker.apiKey, '--other-id', 'u_bob', '--aggressive', '--skip', 'hosts'],
      worker.env,
    );
    expect(report.findings).toEqual([]);
    expect(report.inconclusive).toEqual([]);
    expect(code).toBe(0);
    const byFamily = families(report);
    for (const family of ['authn', 'jwt', 'bola', 'methods', 'paths', 'cors', 'transport', 'ratelimit', 'headers']) expect(byFamily[family]!.passed, family).toBeGreaterThan(0);
    // The Worker's policy takes no body; its JWKS is remote, so the key came from --jwks.
    expect(report.notes).toContain('bodies: no route takes a body');
    expect(report.notes).toContain('hosts: skipped (--skip)');
    expect(report.notes).toContain('jwt: key confusion uses 1 public key from the given JWKS');
  });
});

describe('a deployment with no policy in front of the demo origin', () => {
  let gateway: WeakGateway;
  beforeAll(async () => {
    gateway = await startOpenGateway(signingKey);
  });
  afterAll(() => gateway?.close());

  it('fails every family, exit 1', async () => {
    const { code, report } = await probeJson([gateway.url, '--policy', 'policies/demo.ts', ...ALICE, '--signing-key', signingKeyFile, '--api-key', API_KEY, '--other-id', 'u_bob', '--trusted-proxy']);
    expect(code).toBe(1);
    for (const family of report.families.filter((f) => f.family !== 'headers')) {
      expect(report.findings.filter((f) => f.family === family.family && f.severity === 'error').length, family.family).toBeGreaterThan(0);
    }
    const errors = checks(report.findings, 'error');
    for (const check of ['authn.missing_credentials', 'authn.bad_api_key', 'jwt.alg_none', 'jwt.key_confusion', 'jwt.jku', 'jwt.expired', 'jwt.wrong_audience', 'authz.bola', 'method.override', 'path.confusion', 'host.confusion', 'cors.lookalike_origin', 'cors.null_origin', 'body.oversized', 'body.malformed', 'body.content_type', 'body.unknown_keys', 'body.prototype_pollution', 'transport.forwarded_proto', 'ratelimit.xff_rotation']) {
      expect(errors, check).toContain(check);
    }
    expect(checks(report.findings, 'warning')).toEqual(new Set(['authz.bola_case', 'cors.allowed_origin', 'headers.missing', 'headers.leaky', 'response.stack_trace', 'transport.forwarded_proto', 'host.confusion', 'path.confusion']));
    // A whole probe run (some 500 requests) against a deployment that answers them all.
  }, 60_000);

  it('shows each finding with the request sent, the token truncated, expected and actual, and its OWASP item', async () => {
    const run = await portcullis(['probe', gateway.url, '--policy', 'policies/demo.ts', ...ALICE, '--other-id', 'u_bob']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^PROBE-\d+\s+error\s+authz\.bola\s+GET \/v1\/users\/:id\s+403\s+200$/m);
    expect(run.stdout).toMatch(/^ {2}GET \/v1\/users\/u_bob {2}authorization: Bearer eyJ[A-Za-z0-9_-]{9}…\(\d+ chars\)$/m);
    expect(run.stdout).toContain('OWASP API1:2023 Broken Object Level Authorization');
    expect(run.stdout).toMatch(/✗ \d+ errors, \d+ warnings against/);
    // The password never appears, and no token appears whole.
    expect(run.stdout).not.toContain('correct horse battery staple');
    expect(run.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\./);
    // A whole probe run (some 500 requests) against a deployment that answers them all.
  }, 60_000);

  it('writes SARIF with one result per finding, located at the route in the policy file', async () => {
    const run = await portcullis(['probe', gateway.url, '--policy', 'policies/demo.ts', '--format', 'sarif', '--max-requests', '40']);
    expect(run.code).toBe(1);
    const sarif = JSON.parse(run.stdout) as { runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } }; logicalLocations: { fullyQualifiedName: string }[] }[] }[] }[] };
    const [sarifRun] = sarif.runs;
    expect(sarifRun!.results.length).toBeGreaterThan(0);
    const result = sarifRun!.results.find((r) => r.ruleId === 'authn.missing_credentials')!;
    expect(result.level).toBe('error');
    expect(result.locations[0]!.physicalLocation.artifactLocation.uri).toBe('policies/demo.ts');
    expect(result.locations[0]!.physicalLocation.region.startLine).toBeGreaterThan(1);
    expect(sarifRun!.tool.driver.rules.map((r) => r.id)).toContain(result.ruleId);
  });
});

describe('the demo gateway with the owner rule, JWT verification and proxy trust broken', () => {
  let gateway: WeakGateway;
  beforeAll(async () => {
    gateway = await startWeakenedDemo(signingKey, API_KEY);
  });
  afterAll(() => gateway?.close());

  it('finds exactly those three weaknesses, exit 1', async () => {
    const { code, report } = await probeJson([gateway.url, '--policy', 'policies/demo.ts', ...ALICE, '--signing-key', signingKeyFile, '--api-key', API_KEY, '--other-id', 'u_bob']);
    expect(code).toBe(1);
    const jwtChecks = ['jwt.alg_none', 'jwt.key_confusion', 'jwt.foreign_key', 'jwt.embedded_jwk', 'jwt.jku', 'jwt.x5u', 'jwt.tampered', 'jwt.expired', 'jwt.not_yet_valid', 'jwt.wrong_audience', 'jwt.wrong_issuer', 'jwt.missing_exp'];
    // A verifier that believes any bearer token believes a DPoP-bound one without its proof too, and a
    // certificate-bound one without its certificate.
    expect(checks(report.findings, 'error')).toEqual(new Set([...jwtChecks, 'dpop.bound_as_bearer', 'certificates.bound_token_without_certificate', 'authz.bola', 'ratelimit.xff_rotation', 'transport.forwarded_proto']));
    // Ownership is gone from GET /v1/users/:id only; PATCH and /v0 still refuse u_bob's object.
    expect(report.findings.filter((f) => f.check.startsWith('authz.')).map((f) => f.route)).toEqual(['GET /v1/users/:id', 'GET /v1/users/:id']);
    // Every route that accepts the `user` method believes any token; the API-key route does not.
    expect(new Set(report.findings.filter((f) => f.family === 'jwt').map((f) => f.route))).toEqual(
      new Set(['GET /v1/users/:id', 'PATCH /v1/users/:id', 'DELETE /v1/users/:id', 'GET /v1/reports', 'GET /v0/users/:id', 'GET /v1/admin/events']),
    );
    expect(report.findings.find((f) => f.check === 'ratelimit.xff_rotation')).toMatchObject({ route: 'POST /v1/auth/login', expected: '429 within 6 requests', owasp: { id: 'API4:2023' } });
  });
});

describe('usage', () => {
  it.each([
    [['probe', 'http://127.0.0.1:9'], /probe needs --policy/],
    [['probe', '--policy', 'policies/demo.ts'], /probe takes one base URL/],
    [['probe', 'ftp://example.com', '--policy', 'policies/demo.ts'], /must be http:\/\/ or https:\/\//],
    [['probe', 'http://127.0.0.1:9', '--policy', 'policies/demo.ts', '--format', 'xml'], /--format is text, json or sarif/],
    [['probe', 'http://127.0.0.1:9', '--policy', 'policies/demo.ts', '--max-requests', '0'], /--max-requests takes a positive whole number/],
    [['probe', 'http://127.0.0.1:9', '--policy', 'policies/demo.ts', '--login', 'POST /v1/auth/login', '--username', 'alice'], /--login needs --username and a password/],
    [['probe', 'http://127.0.0.1:9', '--policy', 'policies/nope.ts'], /policies\/nope\.ts: no such file/],
  ])('%j → exit 2', async (args, message) => {
    const run = await portcullis(args);
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
  });

  it('exit 2 when the target does not answer', async () => {
    const run = await portcullis(['probe', 'http://127.0.0.1:9', '--policy', 'policies/demo.ts', '--timeout', '2000']);
    expect(run.stderr).toMatch(/cannot reach the target/);
    expect(run.code).toBe(2);
  });

  it('exit 2 when the login fails', async () => {
    const gateway = await demo({});
    try {
      const run = await portcullis(['probe', gateway.url, '--policy', 'policies/demo.ts', '--login', 'POST /v1/auth/login', '--username', 'alice'], { PORTCULLIS_PROBE_PASSWORD: 'wrong' });
      expect(run.stderr).toMatch(/login as alice failed: 401/);
      expect(run.code).toBe(2);
    } finally {
      await gateway.close();
    }
  });
});
