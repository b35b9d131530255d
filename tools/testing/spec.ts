/**
 * Policy specs: table-driven cases (`{ request, as, expect, reason }`) run against a policy on a
 * test kit's pinned clock, with no server.
 * @module
 */

import { reasonInfo, type Decision } from '../../src/decision.ts';
import { createEngine, type Engine } from '../../src/engine.ts';
import type { SecurityEvent } from '../../src/log.ts';
import type { Policy } from '../../src/policy/types.ts';
import { createTestKit, type TestKit, type TestKitOptions } from './kit.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import type { RateLimitStore } from '../../src/stores/types.ts';

/** Who the request is from. */
export type CaseIdentity =
  /**
   * JWT claims, signed by the kit. `iss` and `aud` default to the first `issuer` and `audience` of
   * the policy's first jwt method (in `policy.authn` order); give them to test another method.
   */
  | Record<string, unknown>
  | { apiKey: string; header?: string }
  | 'anonymous';

/** One table row: a request, who sends it, and the expected outcome. */
export interface PolicyCase {
  /** Shown in the report. @default the request line */
  name?: string;
  /** `'GET /v1/users/u_bob'`, or the parts. */
  request: string | { method?: string; path: string; headers?: Record<string, string>; body?: string | object };
  as?: CaseIdentity;
  /** The client address. @default '203.0.113.10' */
  clientIp?: string;
  /**
   * Send the request this many times; the expectation is checked on the last. Each case starts with
   * empty rate-limit counters, so this is how a case reaches a limit (`repeat: 6` on a bucket of 5
   * expects 429). An allowed request counts as a 200 for buckets that count only failures.
   * @default 1
   */
  repeat?: number;
  /** Expected status: 200 means allowed (the handler would run). */
  expect: number;
  /** Expected reason code of a denial (`authz.denied`), or `'allow'`. A 2xx with a denial reason is refused as contradictory. */
  reason?: string;
  /** Expected response headers (`null`: must be absent). */
  headers?: Readonly<Record<string, string | null>>;
}

/** A policy with its cases, as a spec file default-exports it. */
export interface PolicySpec {
  name: string;
  /** The policy, or a function of the kit (so it can trust the kit's key and API keys). */
  policy: Policy | ((kit: TestKit) => Policy | Promise<Policy>);
  kit?: TestKitOptions;
  /** The cases, or a function of the kit (to mint API keys first). */
  cases: readonly PolicyCase[] | ((kit: TestKit) => readonly PolicyCase[] | Promise<readonly PolicyCase[]>);
}

/**
 * Types a spec file's default export, and refuses a case table that cannot pass: a 2xx expected
 * together with a denial reason such as `authz.denied` (or `reason: 'allow'` with another status), or a
 * bad `repeat`.
 * Throws a `TypeError` naming the case.
 */
export function defineSpec(spec: PolicySpec): PolicySpec {
  if (typeof spec.cases !== 'function') checkCases(spec.name, spec.cases);
  return spec;
}

function caseName(testCase: PolicyCase): string {
  return testCase.name ?? `${requestLine(testCase.request)}${testCase.as ? ` as ${describeIdentity(testCase.as)}` : ''} → ${testCase.expect}`;
}

const isSuccess = (status: number) => status >= 200 && status < 300;

/** Throws on the first case whose expectations contradict each other. */
function checkCases(specName: string, cases: readonly PolicyCase[]): void {
  for (const [i, testCase] of cases.entries()) {
    const at = `spec "${specName}": cases[${i}] (${caseName(testCase)})`;
    const allowed = isSuccess(testCase.expect);
    // A preflight is a denial answered with 204; every other denial reason has an error status.
    const denialStatus = testCase.reason === undefined || testCase.reason === 'allow' ? undefined : reasonInfo(testCase.reason).status;
    if (allowed && denialStatus !== undefined && !isSuccess(denialStatus)) {
      throw new TypeError(`${at}: expects ${testCase.expect} together with the denial reason "${testCase.reason}" (a ${denialStatus}); a 2xx is an allow (reason "allow" or none)`);
    }
    if (!allowed && testCase.reason === 'allow') throw new TypeError(`${at}: expects ${testCase.expect} together with reason "allow"; an allow is a 2xx`);
    const repeat = testCase.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1) throw new TypeError(`${at}: repeat must be a whole number ≥ 1, got ${String(testCase.repeat)}`);
  }
}

/** One case's outcome. */
export interface CaseResult {
  name: string;
  ok: boolean;
  /** What differed, with the decision trace. */
  message?: string;
  decision: Decision;
}

/** A spec's outcome. A spec that ran no case has failed: an empty table proves nothing. */
export interface SpecReport {
  name: string;
  ok: boolean;
  results: CaseResult[];
  failed: CaseResult[];
  /**
   * Per route of the policy: how many cases it allowed and denied. A route with no allowed or no
   * denied case is not fully specified.
   */
  coverage: RouteCoverage[];
}

/** How well a spec exercises one route. */
export interface RouteCoverage {
  route: string;
  allowed: number;
  denied: number;
}

function requestLine(request: PolicyCase['request']): string {
  return typeof request === 'string' ? request : `${request.method ?? 'GET'} ${request.path}`;
}

/**
 * Builds the Request a case describes: `as` claims become a bearer token signed by the kit (with the
 * `iss`/`aud` of the policy's first jwt method unless given), `{ apiKey }` goes in the key header.
 */
export async function buildCaseRequest(engine: Engine, kit: TestKit, testCase: Pick<PolicyCase, 'request' | 'as'>): Promise<Request> {
  const parts = typeof testCase.request === 'string' ? parseLine(testCase.request) : testCase.request;
  const headers = new Headers(parts.headers);
  const identity = testCase.as;
  if (identity && identity !== 'anonymous') {
    if ('apiKey' in identity && typeof identity.apiKey === 'string') {
      headers.set((identity.header as string | undefined) ?? apiKeyHeader(engine) ?? 'x-api-key', identity.apiKey);
    } else {
      const defaults = jwtDefaults(engine);
      headers.set('authorization', `Bearer ${await kit.sign({ ...defaults, ...identity })}`);
    }
  }
  let body: string | undefined;
  if (parts.body !== undefined) {
    body = typeof parts.body === 'string' ? parts.body : JSON.stringify(parts.body);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  const method = parts.method ?? 'GET';
  return new Request(new URL(parts.path, `https://${caseHost(engine.policy)}`), { method, headers, body });
}

/** The host cases are sent to: the policy's first listed host (a wildcard's with a label), or `api.test`. */
function caseHost(policy: Policy): string {
  const first = policy.hosts?.[0];
  if (first === undefined) return 'api.test';
  return first.startsWith('*.') ? `test${first.slice(1)}` : first;
}

function parseLine(line: string): Exclude<PolicyCase['request'], string> {
  const match = /^([A-Z]+) (\/\S*)$/.exec(line.trim());
  if (!match) throw new TypeError(`a case request is "METHOD /path", got "${line}"`);
  return { method: match[1]!, path: match[2]! };
}

/** `iss`/`aud` of the policy's first jwt method, so `as: { sub, roles }` is enough. */
function jwtDefaults(engine: Engine): Record<string, unknown> {
  for (const method of Object.values(engine.policy.authn ?? {})) {
    if (method.kind === 'jwt' && method.meta) {
      const first = (value: unknown) => (Array.isArray(value) ? value[0] : value);
      return { iss: first(method.meta.issuer), aud: first(method.meta.audience) };
    }
  }
  return {};
}

function apiKeyHeader(engine: Engine): string | undefined {
  const method = Object.values(engine.policy.authn ?? {}).find((m) => m.kind === 'apiKey');
  return method?.meta?.header as string | undefined;
}

/** Compares a decision with a case's expectation; returns what differs. */
function compare(testCase: PolicyCase, decision: Decision): string[] {
  const problems: string[] = [];
  const status = decision.kind === 'allow' ? 200 : decision.status;
  if (status !== testCase.expect) problems.push(`expected status ${testCase.expect}, got ${status}`);
  const reason = decision.kind === 'allow' ? 'allow' : decision.reason;
  if (testCase.reason !== undefined && reason !== testCase.reason) problems.push(`expected reason ${testCase.reason}, got ${reason}`);
  for (const [name, value] of Object.entries(testCase.headers ?? {})) {
    const actual = decision.headers.get(name);
    if (actual !== value) problems.push(`expected header ${name}: ${value ?? '(absent)'}, got ${actual ?? '(absent)'}`);
  }
  return problems;
}

/** Formats a decision's trace for a failure message. */
export function formatTrace(decision: Decision): string {
  return decision.trace.map((entry) => `    ${entry.stage.padEnd(9)} ${entry.outcome.padEnd(6)} ${entry.detail ?? ''}`.trimEnd()).join('\n');
}

/**
 * An engine for a policy on the kit's pinned clock: the kit's fetch serves its JWKS for every
 * jwksUrl of the policy, request ids are `test-1`, `test-2` …, rate limits live in a fresh memory
 * store (or in `rateLimitStore`).
 */
export function createTestEngine(policy: Policy, kit: TestKit, log: (event: SecurityEvent) => void = () => {}, rateLimitStore: RateLimitStore = memoryStore()): Engine {
  for (const method of Object.values(policy.authn ?? {})) {
    if (typeof method.meta?.jwksUrl === 'string') kit.jwksUrls.add(method.meta.jwksUrl);
  }
  let n = 0;
  return createEngine(policy, { now: kit.now, fetch: kit.fetch, randomId: () => `test-${++n}`, log, rateLimitStore });
}

/** A memory store that `clear()` empties, so that each spec case starts with full buckets and quotas. */
function clearableStore(): RateLimitStore & { clear(): void } {
  let store = memoryStore();
  return {
    inProcess: true,
    consume: (bucket, key, now) => store.consume(bucket, key, now),
    peek: (bucket, key, now) => store.peek(bucket, key, now),
    refund: (bucket, key, now) => store.refund!(bucket, key, now),
    firstUse: (key, expiresAt, now) => store.firstUse!(key, expiresAt, now),
    forget: (key) => store.forget!(key),
    takeQuota: (quota, key, period, now) => store.takeQuota!(quota, key, period, now),
    clear: () => void (store = memoryStore()),
  };
}

/**
 * Runs every case of a spec against a fresh engine on the kit's pinned clock. Cases are independent:
 * each starts with empty rate-limit counters (`repeat` sends one request several times).
 */
export async function runSpec(spec: PolicySpec): Promise<SpecReport> {
  const kit = await createTestKit(spec.kit);
  const policy = typeof spec.policy === 'function' ? await spec.policy(kit) : spec.policy;
  const events: SecurityEvent[] = [];
  const counters = clearableStore();
  const engine = createTestEngine(policy, kit, (event) => void events.push(event), counters);
  const cases = typeof spec.cases === 'function' ? await spec.cases(kit) : spec.cases;
  checkCases(spec.name, cases);
  const results: CaseResult[] = [];
  for (const testCase of cases) {
    const name = caseName(testCase);
    counters.clear();
    const send = async () => {
      const request = await buildCaseRequest(engine, kit, testCase);
      const sent = await engine.evaluate(request, { peer: { address: testCase.clientIp ?? '203.0.113.10', scheme: 'https' } });
      await sent.settle(sent.kind === 'allow' ? 200 : sent.status);
      return sent;
    };
    let decision = await send();
    for (let i = 1; i < (testCase.repeat ?? 1); i++) decision = await send();
    const problems = compare(testCase, decision);
    results.push({
      name,
      ok: problems.length === 0,
      decision,
      message: problems.length ? `${problems.join('; ')}\n  trace:\n${formatTrace(decision)}` : undefined,
    });
  }
  const failed = results.filter((result) => !result.ok);
  const coverage = Object.keys(policy.routes).map((route) => ({
    route,
    allowed: results.filter((result) => result.decision.route === route && result.decision.kind === 'allow').length,
    denied: results.filter((result) => result.decision.route === route && result.decision.kind === 'deny').length,
  }));
  return { name: spec.name, ok: results.length > 0 && failed.length === 0, results, failed, coverage };
}

function describeIdentity(identity: CaseIdentity): string {
  if (identity === 'anonymous') return 'anonymous';
  if ('apiKey' in identity) return 'API key';
  return String(identity.sub ?? 'a token');
}

/**
 * Throws one error listing every failed case with its trace (for test runners that want a throw).
 * @example
 * ```ts
 * it('demo policy', async () => assertSpec(await runSpec(spec)));
 * ```
 */
export function assertSpec(report: SpecReport): void {
  if (report.results.length === 0) throw new Error(`${report.name}: no case ran — a spec without cases proves nothing`);
  if (report.failed.length) {
    throw new Error(`${report.name}: ${report.failed.length} of ${report.results.length} cases failed\n` + report.failed.map((r) => `✗ ${r.name}\n  ${r.message}`).join('\n'));
  }
}
