/**
 * What a lint rule is: the context it sees, the hits it reports, its id, severity and OWASP item.
 * @module
 */

import type { Policy, RoutePolicy } from '../../src/policy/types.ts';
import type { ParsedPattern } from '../../src/router.ts';
import type { OwaspKey } from './owasp.ts';

export type Severity = 'error' | 'warning';

/** Where lint assumes the policy runs. `workers`: per-isolate memory, see `ratelimit.memory_store_workers`. */
export type LintTarget = 'node' | 'workers' | 'deno' | 'bun';

/** What a rule sees. */
export interface RuleContext {
  readonly policy: Policy;
  /** Epoch ms: "now" for sunset dates. */
  readonly now: number;
  readonly target: LintTarget;
  readonly routes: readonly RouteInfo[];
}

/** A route with its pattern parsed (routes whose pattern does not parse are left out). */
export interface RouteInfo {
  readonly pattern: string;
  readonly route: RoutePolicy;
  readonly parsed: ParsedPattern;
}

/** One problem a rule found. */
export interface Hit {
  /** Keys of the place in the policy object (`['routes', 'GET /v1/x', 'rateLimit']`). */
  keys: (string | number)[];
  message: string;
  /** A fix specific to this hit. @default the rule's fix */
  fix?: string;
  /** @default the rule's severity */
  severity?: Severity;
}

/** A lint rule. */
export interface LintRule {
  /** Stable id, shared by the text, JSON and SARIF output: `ratelimit.missing`. */
  readonly id: string;
  /** The severity of most hits; a hit may raise or lower it. */
  readonly severity: Severity;
  readonly owasp: OwaspKey;
  /** One line: what the rule flags. */
  readonly title: string;
  /** Why it matters. */
  readonly description: string;
  /** How to fix it, in general. */
  readonly fix: string;
  check(context: RuleContext): Hit[];
}
