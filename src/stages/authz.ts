/**
 * Authorization: a route's `allow` alternatives, each a set of conditions that must all hold.
 * @module
 */

import { readClaim } from '../authn/claims.ts';
import type { Principal } from '../authn/contract.ts';
import { refuse, type Stage, type StageEnv } from '../exchange.ts';
import { hiddenSlot } from '../hidden-slot.ts';
import type { AllowRule, CheckContext, Policy } from '../policy/types.ts';

export type { AllowRule, CheckContext } from '../policy/types.ts';

/** Expands a role hierarchy (`{ admin: ['user'] }`) into role → every role it implies, itself included. */
export function compileHierarchy(hierarchy: Readonly<Record<string, readonly string[]>> = {}): (roles: readonly string[]) => ReadonlySet<string> {
  const closure = new Map<string, Set<string>>();
  const expand = (role: string, seen: Set<string>) => {
    if (seen.has(role)) return;
    seen.add(role);
    for (const implied of hierarchy[role] ?? []) expand(implied, seen);
  };
  for (const role of Object.keys(hierarchy)) {
    const seen = new Set<string>();
    expand(role, seen);
    closure.set(role, seen);
  }
  // Principals of cached credentials share one roles array: expand each array once, in a slot of
  // this hierarchy's own.
  const expanded = hiddenSlot<Set<string>>('portcullis.roles');
  return (roles) => {
    let out = expanded.get(roles);
    if (out) return out;
    out = new Set<string>();
    for (const role of roles) for (const implied of closure.get(role) ?? [role]) out.add(implied);
    expanded.set(roles, out);
    return out;
  };
}

export type AuthzResult = { ok: true; rule: string } | { ok: false; failures: string[]; error?: unknown };

/** Compiles a route's `allow` list. `'authenticated'` admits every principal the route's authn accepted. */
export function compileAuthz(allow: 'authenticated' | readonly AllowRule[], expandRoles: (roles: readonly string[]) => ReadonlySet<string>) {
  if (allow === 'authenticated') return async (): Promise<AuthzResult> => ({ ok: true, rule: 'authenticated' });
  const rules = allow.map((rule, i) => ({ ...rule, name: rule.name ?? `allow[${i}]` }));
  return async function authorize(context: CheckContext): Promise<AuthzResult> {
    const roles = expandRoles(context.principal.roles);
    let failures: string[] | undefined;
    for (const rule of rules) {
      // Only a custom check is awaited: the declarative part of a rule is decided on the spot.
      let why = claimFailure(rule, context, roles);
      if (why === undefined && rule.check) why = await checkFailure(rule.check, context);
      if (why === undefined) return { ok: true, rule: rule.name };
      (failures ??= []).push(`${rule.name}: ${why}`);
    }
    return { ok: false, failures: failures ?? [] };
  };
}

/** Why the roles, scopes or ownership of a rule do not hold, or undefined when they do. */
function claimFailure(rule: AllowRule, context: CheckContext, roles: ReadonlySet<string>): string | undefined {
  if (rule.roles && !rule.roles.some((role) => roles.has(role))) return 'authz.role_missing';
  if (rule.scopes && !rule.scopes.every((scope) => context.principal.scopes.includes(scope))) return 'authz.scope_missing';
  if (rule.owner && !owns(rule.owner, context.principal, context.params)) return 'authz.not_owner';
  return undefined;
}

/**
 * Ownership (BOLA): the path param equals the principal's claim (`sub`: its id). Shared by `allow`
 * rules and the response rule's `owner` readers, so both mean the same thing by "owner".
 */
export function owns(owner: NonNullable<AllowRule['owner']>, principal: Principal, params: Readonly<Record<string, string>>): boolean {
  const claim = owner.claim ?? 'sub';
  const value = claim === 'sub' ? principal.id : readClaim(principal.claims, claim);
  // Anonymous principals and clients own nothing; the comparison is exact (no case folding, no trimming).
  return principal.id !== 'anonymous' && principal.kind !== 'client' && typeof value === 'string' && value === params[owner.param];
}

async function checkFailure(check: NonNullable<AllowRule['check']>, context: CheckContext): Promise<string | undefined> {
  try {
    return (await check(context)) === true ? undefined : 'authz.check_failed';
  } catch {
    return 'authz.check_error';
  }
}

/** The authorization stage: the matched route's `allow` rules against the principal (403 when none holds). */
export function authzStage(policy: Policy, env: Pick<StageEnv, 'authn'>): Stage {
  const expandRoles = compileHierarchy(policy.roleHierarchy);
  // Anonymous routes without rules admit everyone; authenticated ones must say (definePolicy checks).
  const byRoute = new Map(Object.entries(policy.routes).map(([pattern, route]) => [pattern, compileAuthz(route.allow ?? 'authenticated', expandRoles)]));
  return async function authorize(x) {
    const query = new URLSearchParams(x.target!.search);
    x.query = query;
    const result = await byRoute.get(x.route!)!({ principal: x.principal!, params: x.params!, query, request: x.request, env: env.authn });
    if (!result.ok) return refuse('authz', 'authz.denied', { reasons: result.failures });
    x.trace.push({ stage: 'authz', outcome: 'pass', detail: result.rule });
    return undefined;
  };
}
