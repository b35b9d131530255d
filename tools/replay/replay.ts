/**
 * replay: decides recorded requests again under a (new) policy and reports the decisions that
 * change. Requests from a HAR are replayed in full, credentials and all. Requests from the log are
 * rebuilt from what it kept: the principal stands in for its credential, and where a rule needs
 * what the log left out (a body, headers, query values, a claim, the roles of a denied principal,
 * the request a custom check reads) the record is counted undecidable instead of guessed.
 * @module
 */

import type { AuthnMethod, AuthnOutcome, Principal } from '../../src/authn/contract.ts';
import type { Decision } from '../../src/decision.ts';
import { createEngine, type Engine } from '../../src/engine.ts';
import { definePolicy } from '../../src/policy/define.ts';
import type { AllowRule, Policy, RoutePolicy } from '../../src/policy/types.ts';
import type { RateLimitStore } from '../../src/stores/types.ts';
import type { RecordedDecision, ReplayInput, ReplayRecord } from './input.ts';

/** Options of replay. */
export interface ReplayOptions {
  /** Examples kept per group. @default 3 */
  examples?: number;
  /** Outbound fetch for HAR replays (JWKS, introspection). @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** One replayed request, as an example in a group. */
export interface ReplayExample {
  at: string;
  method: string;
  path: string;
  clientIp: string;
  principal?: string;
  before: RecordedDecision;
  after?: RecordedDecision;
}

/** Requests whose decision changed the same way on the same route. */
export interface ReplayChange {
  route: string;
  change: 'allow→deny' | 'deny→allow' | 'reason';
  /** `allow`, or the reason code. */
  before: string;
  after: string;
  count: number;
  examples: ReplayExample[];
}

/** Requests that could not be decided again, for the same reason on the same route. */
export interface UndecidableGroup {
  route: string;
  why: string;
  count: number;
  examples: ReplayExample[];
}

/** What `portcullis replay --format json` prints. */
export interface ReplayReport {
  replayed: number;
  changed: number;
  unchanged: number;
  undecidable: number;
  /** Lines or entries that held no request. */
  skipped: number;
  changes: ReplayChange[];
  undecidableBecause: UndecidableGroup[];
}

/** A store that never refuses: rate limits depend on the volume of all traffic, not on one request. */
const unlimited: RateLimitStore = {
  inProcess: true,
  consume: async (bucket, _key, now) => ({ success: true, limit: bucket.limit, remaining: bucket.limit, reset: now + bucket.windowMs }),
  peek: async (bucket, _key, now) => ({ success: true, limit: bucket.limit, remaining: bucket.limit, reset: now + bucket.windowMs }),
};

/** What one evaluation of a log record may not see, collected while it runs. */
interface LogContext {
  record: ReplayRecord;
  /** Roles and scopes a denied principal is tried with (the log does not say). */
  variant: { roles: readonly string[]; scopes: readonly string[] };
  missing: Set<string>;
}

/**
 * Decides each record again under `policy`, and groups what changed by route and reason.
 *
 * @example
 * ```ts
 * const report = await replay(newPolicy, readReplayInput(readFileSync('events.jsonl', 'utf8')));
 * console.log(report.changed, report.changes[0]); // 3 { route: 'DELETE /v1/users/:id', change: 'allow→deny', … }
 * ```
 */
export async function replay(policy: Policy, input: ReplayInput, options: ReplayOptions = {}): Promise<ReplayReport> {
  const keep = options.examples ?? 3;
  let clock = 0;
  const contexts = new WeakMap<Request, LogContext>();
  const env = { now: () => clock, log: () => {}, rateLimitStore: unlimited };
  const harEngine = () => createEngine(policy, { ...env, fetch: options.fetch ?? ((...args) => fetch(...args)) });
  const logEngine = () => createEngine(replayPolicy(policy, contexts), env);
  const engine: Engine = input.format === 'har' ? harEngine() : logEngine();
  const named = namedInPolicy(policy);
  const host = replayHost(policy);

  const report: ReplayReport = { replayed: 0, changed: 0, unchanged: 0, undecidable: 0, skipped: input.skipped, changes: [], undecidableBecause: [] };
  const changes = new Map<string, ReplayChange>();
  const undecidable = new Map<string, UndecidableGroup>();
  const example = (record: ReplayRecord, after?: RecordedDecision): ReplayExample => ({
    at: record.at,
    method: record.method,
    path: record.path,
    clientIp: record.clientIp,
    ...(principalOf(record) ? { principal: principalOf(record) } : {}),
    before: record.before,
    ...(after ? { after } : {}),
  });
  const cannot = (record: ReplayRecord, route: string, why: string) => {
    report.undecidable++;
    const key = `${route}\u0000${why}`;
    const group = undecidable.get(key) ?? { route, why, count: 0, examples: [] };
    group.count++;
    if (group.examples.length < keep) group.examples.push(example(record));
    undecidable.set(key, group);
  };

  for (let record of input.records) {
    report.replayed++;
    const shownRoute = record.route ?? `${record.method} ${record.path.split('?')[0]}`;
    if (record.undecidable) {
      cannot(record, shownRoute, record.undecidable);
      continue;
    }
    clock = record.time;
    // A log keeps the path only: the request goes to a host the policy answers.
    if (input.format === 'events') record = { ...record, url: withHost(record.url, host) };
    let outcome: { after: RecordedDecision; route: string | null; missing: string[] };
    if (input.format === 'har') {
      outcome = await decide(engine, record, undefined, contexts);
    } else {
      // A denied principal's roles and scopes are not logged: decided with none and with every one
      // the policy names; when the two disagree, the decision turns on what the log does not hold.
      const none = await decide(engine, record, { roles: [], scopes: [] }, contexts);
      const partial = record.identity?.kind === 'partial';
      const all = partial ? await decide(engine, record, named, contexts) : none;
      outcome = none;
      if (partial && (all.after.outcome !== none.after.outcome || all.after.reason !== none.after.reason)) {
        outcome = { ...none, missing: [...none.missing, 'the roles and scopes of the principal (a denial logs only its id)'] };
      }
      const route = outcome.route === null ? undefined : (policy.routes as Record<string, RoutePolicy>)[outcome.route];
      const lacking = route && reachedValidation(outcome.after) ? lackingInput(route, record) : undefined;
      if (lacking) outcome.missing.push(lacking);
    }
    const route = outcome.route ?? shownRoute;
    if (outcome.missing.length) {
      cannot(record, route, `the log lacks ${outcome.missing[0]}`);
      continue;
    }
    const { before } = record;
    const { after } = outcome;
    if (before.outcome === after.outcome && (before.outcome === 'allow' || before.reason === after.reason)) {
      report.unchanged++;
      continue;
    }
    report.changed++;
    const kind: ReplayChange['change'] = before.outcome === after.outcome ? 'reason' : before.outcome === 'allow' ? 'allow→deny' : 'deny→allow';
    const key = `${route}\u0000${kind}\u0000${before.reason}\u0000${after.reason}`;
    const group = changes.get(key) ?? { route, change: kind, before: before.reason, after: after.reason, count: 0, examples: [] };
    group.count++;
    if (group.examples.length < keep) group.examples.push(example(record, after));
    changes.set(key, group);
  }
  report.changes = [...changes.values()].sort((a, b) => b.count - a.count);
  report.undecidableBecause = [...undecidable.values()].sort((a, b) => b.count - a.count);
  return report;
}

/** A host `policy.hosts` admits (`*.example.com` → `replay.example.com`), or a placeholder. */
function replayHost(policy: Policy): string {
  const first = policy.hosts?.[0];
  return first === undefined ? 'replay.invalid' : first.replace(/^\*\./, 'replay.');
}

function withHost(url: string, host: string): string {
  const parsed = new URL(url);
  parsed.host = host;
  return parsed.href;
}

function principalOf(record: ReplayRecord): string | undefined {
  const identity = record.identity;
  return identity?.kind === 'principal' || identity?.kind === 'partial' ? `${identity.method}:${identity.id}` : undefined;
}

/** Evaluates one record; for log records, with what the log says of the caller. */
async function decide(
  engine: Engine,
  record: ReplayRecord,
  variant: LogContext['variant'] | undefined,
  contexts: WeakMap<Request, LogContext>,
): Promise<{ after: RecordedDecision; route: string | null; missing: string[] }> {
  const hasBody = record.body !== undefined && record.method !== 'GET' && record.method !== 'HEAD';
  const request = new Request(record.url, { method: record.method, headers: record.headers?.map(([name, value]) => [name, value]) ?? [], ...(hasBody ? { body: record.body } : {}) });
  const missing = new Set<string>();
  if (variant) contexts.set(request, { record, variant, missing });
  const decision = await engine.evaluate(request, { peer: { address: record.clientIp, scheme: record.scheme } });
  return { after: recorded(decision), route: decision.kind === 'allow' ? decision.route : decision.route ?? null, missing: [...missing] };
}

function recorded(decision: Decision): RecordedDecision {
  if (decision.kind === 'deny') return { outcome: 'deny', reason: decision.reason, status: decision.status };
  // Report-only mode lets the request through; what replay reports is what the policy decided.
  if (decision.reported) return { outcome: 'deny', reason: decision.reported.reason, status: decision.reported.status };
  return { outcome: 'allow', reason: 'allow' };
}

/** Whether the request got as far as validation (allowed, or refused there). */
function reachedValidation(after: RecordedDecision): boolean {
  return after.outcome === 'allow' || after.reason.startsWith('validate.') || after.reason === 'authz.field_forbidden';
}

/** What a route validates that a log record does not hold; undefined when it holds all of it. */
function lackingInput(route: RoutePolicy, record: ReplayRecord): string | undefined {
  if (record.before.reason.startsWith('validate.') || record.before.reason === 'authz.field_forbidden') return 'the input that failed validation then';
  if (route.body || route.contentTypes || route.fieldRoles) return 'the body the route validates';
  if (route.headers) return 'the headers the route validates';
  if (route.query && record.queryWithoutValues.length) return `the values of the query keys ${record.queryWithoutValues.map((key) => JSON.stringify(key)).join(', ')}`;
  return undefined;
}

/** Every role and scope the policy names: the "all of them" variant of a denied principal. */
function namedInPolicy(policy: Policy): LogContext['variant'] {
  const roles = new Set<string>();
  const scopes = new Set<string>();
  for (const [role, implied] of Object.entries(policy.roleHierarchy ?? {})) [role, ...implied].forEach((name) => roles.add(name));
  for (const route of Object.values(policy.routes) as RoutePolicy[]) {
    if (Array.isArray(route.allow)) for (const rule of route.allow as AllowRule[]) rule.roles?.forEach((role) => roles.add(role)), rule.scopes?.forEach((scope) => scopes.add(scope));
    for (const list of Object.values(route.fieldRoles ?? {})) list.forEach((role) => roles.add(role));
  }
  return { roles: [...roles], scopes: [...scopes] };
}

/**
 * The policy with each authentication method replaced by one that yields the logged principal
 * (by the method's name), and each custom check marked as needing the request the log lacks.
 */
function replayPolicy(policy: Policy, contexts: WeakMap<Request, LogContext>): Policy {
  const authn: Record<string, AuthnMethod> = {};
  for (const [name, method] of Object.entries(policy.authn ?? {})) authn[name] = loggedPrincipalMethod(name, method, contexts);
  const routes: Record<string, RoutePolicy> = {};
  for (const [pattern, route] of Object.entries(policy.routes) as [string, RoutePolicy][]) {
    routes[pattern] = Array.isArray(route.allow) ? { ...route, allow: (route.allow as AllowRule[]).map((rule, i) => (rule.check ? markedCheck(rule, i, contexts) : rule)) } : route;
  }
  return definePolicy({ ...policy, authn, routes });
}

function markedCheck(rule: AllowRule, index: number, contexts: WeakMap<Request, LogContext>): AllowRule {
  const check = rule.check!;
  return {
    ...rule,
    name: rule.name ?? `allow[${index}]`,
    check: (context) => {
      contexts.get(context.request)?.missing.add(`what the check ${rule.name ?? `allow[${index}]`} reads (the request, the claims)`);
      return check(context);
    },
  };
}

function loggedPrincipalMethod(name: string, method: AuthnMethod, contexts: WeakMap<Request, LogContext>): AuthnMethod {
  return {
    kind: 'replay',
    challenge: method.challenge,
    ...(method.credentialHeader ? { credentialHeader: method.credentialHeader } : {}),
    async authenticate(request): Promise<AuthnOutcome> {
      const context = contexts.get(request);
      const identity = context?.record.identity;
      if (!context || !identity) return { kind: 'absent' };
      switch (identity.kind) {
        case 'principal':
          if (identity.method !== name) return { kind: 'absent' };
          return { kind: 'success', principal: loggedPrincipal(identity.id, identity.principalKind === 'client' ? 'client' : undefined, identity.roles, identity.scopes, context) };
        case 'partial':
          if (identity.method !== name) return { kind: 'absent' };
          return { kind: 'success', principal: loggedPrincipal(identity.id, undefined, context.variant.roles, context.variant.scopes, context) };
        case 'failed':
          return { kind: 'failure', reason: identity.reason };
        case 'unknown':
          context.missing.add('whether the request carried credentials (it was refused before authentication)');
          return { kind: 'absent' };
        case 'none':
          return { kind: 'absent' };
      }
    },
  };
}

/** A principal whose claims beyond `sub` are unknown: reading one marks the record undecidable. */
function loggedPrincipal(id: string, kind: 'client' | undefined, roles: readonly string[], scopes: readonly string[], context: LogContext): Omit<Principal, 'method'> {
  const known: Record<string, unknown> = { sub: id };
  const note = (key: string | symbol) => {
    if (typeof key === 'string' && !(key in known)) context.missing.add(`the claim "${key}"`);
  };
  const claims = new Proxy(known, {
    get: (target, key) => (note(key), Reflect.get(target, key)),
    getOwnPropertyDescriptor: (target, key) => (note(key), Reflect.getOwnPropertyDescriptor(target, key)),
    has: (target, key) => (note(key), Reflect.has(target, key)),
  });
  return { id, ...(kind ? { kind } : {}), roles, scopes, claims };
}
