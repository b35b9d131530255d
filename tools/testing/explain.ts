/**
 * `portcullis explain`, as a library: evaluate one request against a policy on a test kit, and say
 * what was decided and why.
 *
 * @example
 * ```ts
 * const explanation = await explain(policy, { request: 'GET /v1/users/u_bob', as: { sub: 'u_alice' } });
 * console.log(formatExplanation(explanation)); // deny 403 authz.denied … and the trace
 * ```
 * @module
 */

import type { Decision } from '../../src/decision.ts';
import type { SecurityEvent } from '../../src/log.ts';
import type { Policy } from '../../src/policy/types.ts';
import { createTestKit, type TestKit } from './kit.ts';
import { buildCaseRequest, createTestEngine, type CaseIdentity, type PolicySpec } from './spec.ts';

/**
 * What a policy file's default export may be, for the CLI and the helpers here: the policy; a
 * function of a test kit that returns it (policies that take keys trust `kit.jwks` / `kit.publicJwk`);
 * or a spec (`defineSpec`), whose policy is used.
 */
export type PolicySource = Policy | ((kit: TestKit) => Policy | Promise<Policy>) | PolicySpec;

function isSpec(value: unknown): value is PolicySpec {
  return typeof value === 'object' && value !== null && 'cases' in value && 'policy' in value;
}

function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && 'routes' in value;
}

/**
 * The policy source of a loaded module: its default export, or else its `policy` export.
 * Throws a TypeError that says what a policy file must export.
 */
export function policySourceOf(exports: Readonly<Record<string, unknown>>, file = 'the module'): PolicySource {
  for (const name of ['default', 'policy']) {
    const value = exports[name];
    if (typeof value === 'function' || isSpec(value) || isPolicy(value)) return value as PolicySource;
  }
  throw new TypeError(
    `${file} exports no policy: default-export the policy (definePolicy({...})), a function (kit) => policy, or a spec (defineSpec({...}))`,
  );
}

/** The test-kit options a source asks for (a spec's `kit`). */
export function kitOptionsOf(source: PolicySource): PolicySpec['kit'] {
  return isSpec(source) ? source.kit : undefined;
}

/** The policy of a source, made with this kit. */
export async function resolvePolicy(source: PolicySource, kit: TestKit): Promise<Policy> {
  const target = isSpec(source) ? source.policy : source;
  const policy = typeof target === 'function' ? await target(kit) : target;
  if (!isPolicy(policy)) throw new TypeError('the policy function did not return a policy (an object with routes)');
  return policy;
}

/** Options of `explain`. */
export interface ExplainOptions {
  /** `"GET /v1/users/u_bob"` or `"POST https://api.example.com/v1/items?draft=1"`. */
  request: string;
  headers?: readonly (readonly [string, string])[];
  /** JWT claims (signed by the kit), `{ apiKey }`, or `'anonymous'`. */
  as?: CaseIdentity;
  body?: string;
  /** The client address. @default '203.0.113.10' */
  clientIp?: string;
  /** The time of the evaluation (ISO 8601). @default the spec's kit time, else the current time */
  now?: string;
}

/** What `explain` found. */
export interface Explanation {
  method: string;
  url: string;
  clientIp: string;
  decision: Decision;
  /** Security events the engine logged for this request. */
  events: SecurityEvent[];
}

/** Evaluates one request against the policy of `source`, on a fresh test kit. */
export async function explain(source: PolicySource, options: ExplainOptions): Promise<Explanation> {
  const match = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(options.request);
  if (!match) throw new TypeError(`the request is "METHOD /path" or "METHOD https://host/path", got "${options.request}"`);
  const method = match[1]!.toUpperCase();
  const target = match[2]!;
  if (!target.startsWith('/') && !/^https?:\/\//i.test(target)) throw new TypeError(`"${target}" is neither a path (/…) nor an http(s) URL`);
  // "What happens now": the wall clock, unless pinned (--now, or the spec's kit).
  const kit = await createTestKit({ ...kitOptionsOf(source), now: options.now ?? kitOptionsOf(source)?.now ?? Date.now() });
  const policy = await resolvePolicy(source, kit);
  const events: SecurityEvent[] = [];
  const engine = createTestEngine(policy, kit, (event) => void events.push(event));
  const request = await buildCaseRequest(engine, kit, {
    request: { method, path: target, headers: Object.fromEntries(options.headers ?? []), body: options.body },
    as: options.as,
  });
  const url = new URL(request.url);
  const clientIp = options.clientIp ?? '203.0.113.10';
  const decision = await engine.evaluate(request, { peer: { address: clientIp, scheme: url.protocol === 'http:' ? 'http' : 'https' } });
  return { method, url: url.href, clientIp, decision, events };
}

/** An explanation as text: the outcome line, reasons, principal, headers, trace and logged events. */
export function formatExplanation({ method, url, clientIp, decision, events }: Explanation): string {
  const lines = [`${method} ${url}  (client ${clientIp})`];
  if (decision.kind === 'allow') {
    lines.push(`allow  ${decision.route}${decision.reported ? `  (report-only: would be ${decision.reported.status} ${decision.reported.reason})` : ''}`);
    const principal = decision.principal;
    lines.push(`  principal: ${principal.method}:${principal.id}${principal.roles.length ? `  roles ${principal.roles.join(', ')}` : ''}${principal.scopes.length ? `  scopes ${principal.scopes.join(' ')}` : ''}`);
    if (Object.keys(decision.params).length) lines.push(`  params: ${JSON.stringify(decision.params)}`);
    if (decision.reported) lines.push(`  reasons: ${decision.reported.reasons.join('; ')}`);
  } else {
    lines.push(`deny  ${decision.status} ${decision.reason}${decision.route ? `  ${decision.route}` : ''}`);
    lines.push(`  reasons: ${decision.reasons.join('; ')}`);
    if (decision.problem?.detail) lines.push(`  detail: ${decision.problem.detail}`);
    for (const error of decision.problem?.errors ?? []) lines.push(`  error: ${error.in}${error.pointer} ${error.detail}`);
  }
  lines.push('headers:');
  for (const [name, value] of decision.headers) lines.push(`  ${name}: ${value}`);
  lines.push('trace:');
  for (const entry of decision.trace) lines.push(`  ${entry.stage.padEnd(9)} ${entry.outcome.padEnd(6)} ${entry.detail ?? ''}`.trimEnd());
  if (events.length) {
    lines.push('events:');
    for (const event of events) lines.push(`  ${event.event} ${event.reason ?? ''} ${event.status ?? ''}`.trimEnd());
  }
  return lines.join('\n');
}
