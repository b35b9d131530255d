/**
 * lintPolicy: runs definePolicy and every lint rule over a policy and collects their findings.
 * @module
 */

import { PolicyError } from '../../src/errors.ts';
import { definePolicy, formatPath } from '../../src/policy/define.ts';
import type { Policy } from '../../src/policy/types.ts';
import { OWASP_API_TOP_10, type OwaspItem } from './owasp.ts';
import { INVALID_POLICY_RULE, routeInfos, RULES, type LintRule, type LintTarget, type Severity } from './rules.ts';
import { parsePath } from './locate.ts';

/** One problem in a policy. */
export interface LintFinding {
  /** Rule id, e.g. `ratelimit.missing`. */
  readonly rule: string;
  readonly severity: Severity;
  /** The place in the policy object: `routes["POST /v1/auth/login"].rateLimit`. */
  readonly path: string;
  /** The same place as keys. */
  readonly keys: readonly (string | number)[];
  readonly message: string;
  readonly fix: string;
  readonly owasp: OwaspItem;
}

/** Options of `lintPolicy`. */
export interface LintOptions {
  /** "Now", for sunset dates. @default the current time */
  now?: number | string | Date;
  /** Where the policy runs. @default 'node' */
  target?: LintTarget;
}

/**
 * Lints a policy. Never throws for a malformed policy: what `definePolicy` refuses comes back as
 * `policy.invalid` findings, next to whatever the other rules find.
 */
export function lintPolicy(policy: Policy, options: LintOptions = {}): LintFinding[] {
  const now = options.now === undefined ? Date.now() : new Date(options.now).getTime();
  if (Number.isNaN(now)) throw new TypeError(`lintPolicy: now "${String(options.now)}" is not a time`);
  const findings: LintFinding[] = [];
  const add = (rule: LintRule, keys: readonly (string | number)[], message: string, fix?: string, severity?: Severity) =>
    findings.push({ rule: rule.id, severity: severity ?? rule.severity, path: formatPath(keys), keys, message, fix: fix ?? rule.fix, owasp: OWASP_API_TOP_10[rule.owasp] });

  try {
    definePolicy(policy);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    for (const issue of error.issues) add(INVALID_POLICY_RULE, parsePath(issue.path), issue.message);
  }
  const context = { policy, now, target: options.target ?? 'node', routes: routeInfos(policy) } as const;
  for (const rule of RULES) {
    let hits: ReturnType<LintRule['check']>;
    try {
      hits = rule.check(context);
    } catch (error) {
      // A rule may trip over a policy malformed enough to fail definePolicy; that is reported already.
      if (findings.some((finding) => finding.rule === INVALID_POLICY_RULE.id)) continue;
      throw error;
    }
    for (const hit of hits) add(rule, hit.keys, hit.message, hit.fix, hit.severity);
  }
  return findings;
}
