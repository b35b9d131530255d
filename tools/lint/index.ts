/**
 * `portcullis lint`, as a library: flags insecure or suspicious policies. Each finding names its
 * rule, severity, the path in the policy object, the fix, and the OWASP API Security Top 10 (2023)
 * item it maps to.
 *
 * @example
 * ```ts
 * import { lintPolicy } from 'portcullis/lint';
 * const findings = lintPolicy(policy, { target: 'workers' });
 * if (findings.some((finding) => finding.severity === 'error')) process.exitCode = 1;
 * ```
 * @module
 */

export { lintPolicy, type LintFinding, type LintOptions } from './lint.ts';
export { OWASP_API_TOP_10, type OwaspItem, type OwaspKey } from './owasp.ts';
export { ALL_RULES, INVALID_POLICY_RULE, RULES, type LintRule, type LintTarget, type Severity } from './rules.ts';
export { locate, parsePath } from './locate.ts';
export { formatFindings, summarize, toJsonReport, type JsonReport } from './format.ts';
export { toSarif } from './sarif.ts';
