/**
 * Sampled logging of allowed requests (`policy.logging.allowed`): what a later replay needs to
 * decide the request again — route, path, query keys, who the principal was — and nothing secret.
 * @module
 */

import type { Allow } from './decision.ts';
import type { SecurityEvent } from './log.ts';
import type { LoggingPolicy } from './policy/types.ts';

/** The fields an allowed request adds to its `portcullis.allow` event. */
export type AllowedFields = Pick<SecurityEvent, 'query' | 'principalKind' | 'roles' | 'scopes' | 'rule'>;

/** A compiled `logging.allowed`: whether to log this request, and what. */
export interface AllowedLog {
  sampled(): boolean;
  fields(decision: Allow, search: string): AllowedFields;
}

/**
 * Compiles `logging.allowed`; undefined when allowed requests are not logged.
 *
 * @example
 * ```ts
 * const log = compileAllowedLog({ sample: 0.1, queryValues: ['page'] });
 * if (log?.sampled()) console.log(log.fields(decision, '?page=2&q=secret')); // { query: 'page=2&q', … }
 * ```
 */
export function compileAllowedLog(options: LoggingPolicy['allowed'], random: () => number = Math.random): AllowedLog | undefined {
  if (!options || options.sample <= 0) return undefined;
  const { sample } = options;
  const keep = new Set(options.queryValues ?? []);
  return {
    sampled: () => sample >= 1 || random() < sample,
    fields(decision, search) {
      const { principal } = decision;
      const query = loggedQuery(search, keep);
      return {
        ...(query === undefined ? {} : { query }),
        principalKind: principal.method === 'anonymous' ? 'anonymous' : (principal.kind ?? 'user'),
        roles: principal.roles,
        scopes: principal.scopes,
        rule: decision.trace.find((entry) => entry.stage === 'authz')?.detail ?? 'anonymous',
      };
    },
  };
}

/**
 * A query string for the log: every key, in order, and only the values of `keep` (`page=2&q`).
 * Values can be credentials (`?token=`), personal data or search terms nobody meant to store.
 */
export function loggedQuery(search: string, keep: ReadonlySet<string>): string | undefined {
  const params = new URLSearchParams(search);
  const parts: string[] = [];
  for (const [key, value] of params) parts.push(keep.has(key) ? `${encodeURIComponent(key)}=${encodeURIComponent(value)}` : encodeURIComponent(key));
  return parts.length ? parts.join('&') : undefined;
}
