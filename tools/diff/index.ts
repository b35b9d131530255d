/**
 * `portcullis diff`, as a library: what changed in access between two policies — routes,
 * authentication, who is allowed, schemas, buckets, CORS, headers, transport, hosts — each change
 * classed widening, narrowing or neutral, with the OWASP API Security Top 10 (2023) item.
 *
 * @example
 * ```ts
 * import { diffPolicies, diffToMarkdown } from 'portcullis/diff';
 * const changes = diffPolicies(before, after);
 * console.log(diffToMarkdown(changes, { old: 'main', new: 'this branch' }));
 * ```
 * @module
 */

export { diffPolicies } from './diff.ts';
export type { ChangeArea, ChangeClass, PolicyChange } from './change.ts';
export { diffToMarkdown, formatDiff, summarizeChanges, toDiffJson, type DiffReport, type DiffSummary } from './format.ts';
