/**
 * Who is allowed, compared: two `allow` lists as sets of alternatives. The new list widens when one
 * of its rules admits a principal that no old rule admitted, and narrows when an old rule's
 * principals are no longer all admitted by some new rule.
 * @module
 */

import type { AllowRule, RoutePolicy } from '../../src/policy/types.ts';
import type { OwaspKey } from '../lint/owasp.ts';
import { added, quoted, type ChangeClass } from './change.ts';

/** One finding about a route's `allow`. */
export interface AllowChange {
  class: ChangeClass;
  message: string;
  owasp?: OwaspKey;
}

/** `'authenticated'` is one rule without conditions; a public route has no list at all. */
function rulesOf(allow: RoutePolicy['allow']): readonly AllowRule[] {
  return allow === undefined || allow === 'authenticated' ? [{}] : allow;
}

/** A custom check is the same check when its name and its source are. */
const checkId = (rule: AllowRule) => (rule.check ? `${rule.name ?? ''}\u0000${rule.check.toString()}` : undefined);

/** Role → every role it has the rights of, itself included. */
type Closure = (role: string) => readonly string[];

function closureOf(hierarchy: Readonly<Record<string, readonly string[]>> = {}): Closure {
  return (role) => {
    const seen = new Set([role]);
    for (const current of seen) for (const implied of hierarchy[current] ?? []) seen.add(implied);
    return [...seen];
  };
}

/** Whether every principal `narrow` admits is admitted by `wide` (sufficient, not necessary). */
function implies(narrow: AllowRule, wide: AllowRule, closure: Closure): boolean {
  // roles: any-of. Each role `narrow` admits must carry (itself, or through the hierarchy) one `wide` admits.
  if (wide.roles && (!narrow.roles || !narrow.roles.every((role) => closure(role).some((implied) => wide.roles!.includes(implied))))) return false;
  // scopes: all-of — more required scopes admit fewer.
  if (wide.scopes && (!narrow.scopes || added(narrow.scopes, wide.scopes).length)) return false;
  if (wide.owner && (!narrow.owner || narrow.owner.param !== wide.owner.param || (narrow.owner.claim ?? 'sub') !== (wide.owner.claim ?? 'sub'))) return false;
  if (wide.check && checkId(narrow) !== checkId(wide)) return false;
  return true;
}

/** A rule in words, for a message. */
export function describeRule(rule: AllowRule, index: number): string {
  const parts: string[] = [];
  if (rule.roles) parts.push(`roles ${quoted(rule.roles)}`);
  if (rule.scopes) parts.push(`scopes ${quoted(rule.scopes)}`);
  if (rule.owner) parts.push(`owner of :${rule.owner.param} (claim ${rule.owner.claim ?? 'sub'})`);
  if (rule.check) parts.push(`check ${rule.name ?? `allow[${index}]`}`);
  const label = rule.name && !rule.check ? `${rule.name}: ` : '';
  return parts.length ? `${label}${parts.join(' + ')}` : 'every authenticated principal';
}

/** What a widening rule drops, for the OWASP item: ownership (BOLA) or a function-level condition. */
function owaspOf(rule: AllowRule, others: readonly AllowRule[]): OwaspKey {
  const ownershipDropped = !rule.owner && others.some((other) => other.owner);
  return ownershipDropped ? 'API1' : 'API5';
}

/** How a route's `allow` changed, roles read through the new policy's hierarchy (its own change is reported apart). */
export function diffAllow(before: RoutePolicy['allow'], after: RoutePolicy['allow'], hierarchy?: Readonly<Record<string, readonly string[]>>): AllowChange[] {
  const oldRules = rulesOf(before);
  const newRules = rulesOf(after);
  const closure = closureOf(hierarchy);
  const out: AllowChange[] = [];
  newRules.forEach((rule, i) => {
    if (oldRules.some((old) => implies(rule, old, closure))) return;
    const owasp = owaspOf(rule, oldRules);
    const unowned = owasp === 'API1' ? ', with no ownership condition' : '';
    out.push({ class: 'widening', message: `now also admits ${describeRule(rule, i)}${unowned}`, owasp });
  });
  oldRules.forEach((rule, i) => {
    if (newRules.some((now) => implies(rule, now, closure))) return;
    out.push({ class: 'narrowing', message: `no longer admits ${describeRule(rule, i)}` });
  });
  return out;
}

/** How a route's `fieldRoles` changed: who may set which field. */
export function diffFieldRoles(before: RoutePolicy['fieldRoles'] = {}, after: RoutePolicy['fieldRoles'] = {}): AllowChange[] {
  const out: AllowChange[] = [];
  for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = before[field];
    const now = after[field];
    if (was && !now) out.push({ class: 'widening', message: `any caller may now set ${JSON.stringify(field)} (was ${quoted(was)} only)`, owasp: 'API3' });
    else if (!was && now) out.push({ class: 'narrowing', message: `only ${quoted(now)} may set ${JSON.stringify(field)}` });
    else if (was && now) {
      if (added(was, now).length) out.push({ class: 'widening', message: `${quoted(added(was, now))} may now set ${JSON.stringify(field)}`, owasp: 'API3' });
      if (added(now, was).length) out.push({ class: 'narrowing', message: `${quoted(added(now, was))} may no longer set ${JSON.stringify(field)}` });
    }
  }
  return out;
}

/** How `roleHierarchy` changed: a new implication gives a role every right of another. */
export function diffHierarchy(before: Readonly<Record<string, readonly string[]>> = {}, after: Readonly<Record<string, readonly string[]>> = {}): AllowChange[] {
  const closure = (hierarchy: Readonly<Record<string, readonly string[]>>) => {
    const pairs = new Set<string>();
    const walk = (from: string, role: string, seen: Set<string>) => {
      for (const implied of hierarchy[role] ?? []) {
        if (seen.has(implied)) continue;
        seen.add(implied);
        pairs.add(`${from} → ${implied}`);
        walk(from, implied, seen);
      }
    };
    for (const role of Object.keys(hierarchy)) walk(role, role, new Set([role]));
    return [...pairs];
  };
  const was = closure(before);
  const now = closure(after);
  const out: AllowChange[] = [];
  const more = added(was, now);
  const fewer = added(now, was);
  if (more.length) out.push({ class: 'widening', message: `roles gain rights: ${more.join(', ')}`, owasp: 'API5' });
  if (fewer.length) out.push({ class: 'narrowing', message: `roles lose rights: ${fewer.join(', ')}` });
  return out;
}
