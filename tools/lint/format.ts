/**
 * Lint findings as text (for people) and JSON (for scripts).
 * @module
 */

import type { LintFinding } from './lint.ts';
import { locate } from './locate.ts';

/** Where the findings came from, to name lines in the output. */
export interface FindingSource {
  /** The policy file, as the user named it. */
  file: string;
  /** Its text, to find the line of each finding. */
  text?: string;
}

/** Counts by severity. */
export function summarize(findings: readonly LintFinding[]): { errors: number; warnings: number } {
  return {
    errors: findings.filter((finding) => finding.severity === 'error').length,
    warnings: findings.filter((finding) => finding.severity === 'warning').length,
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The findings as lines a person reads:
 * ```
 * policies/api.ts:14  error  ratelimit.missing  routes["GET /v1/x"].rateLimit
 *   GET /v1/x is anonymous and unlimited
 *   fix: Add rateLimit: [<bucket>] …
 *   OWASP API4:2023 Unrestricted Resource Consumption
 * ```
 */
export function formatFindings(findings: readonly LintFinding[], source: FindingSource): string {
  const lines: string[] = [];
  for (const finding of findings) {
    const line = source.text === undefined ? undefined : locate(source.text, finding.keys);
    lines.push(`${source.file}${line ? `:${line}` : ''}  ${finding.severity.padEnd(7)}  ${finding.rule}  ${finding.path}`);
    lines.push(`  ${finding.message}`);
    lines.push(`  fix: ${finding.fix}`);
    lines.push(`  OWASP ${finding.owasp.id} ${finding.owasp.name}`);
  }
  const { errors, warnings } = summarize(findings);
  lines.push(findings.length ? `${errors ? '✗' : '!'} ${plural(errors, 'error')}, ${plural(warnings, 'warning')} in ${source.file}` : `✓ no findings in ${source.file}`);
  return lines.join('\n');
}

/** The JSON output of `portcullis lint --format json`. */
export interface JsonReport {
  file: string;
  summary: { errors: number; warnings: number };
  findings: (Omit<LintFinding, 'keys'> & { line?: number })[];
}

export function toJsonReport(findings: readonly LintFinding[], source: FindingSource): JsonReport {
  return {
    file: source.file,
    summary: summarize(findings),
    findings: findings.map(({ keys, ...finding }) => {
      const line = source.text === undefined ? undefined : locate(source.text, keys);
      return line === undefined ? finding : { ...finding, line };
    }),
  };
}
