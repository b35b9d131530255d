/**
 * A probe report as text (a table, for people) and JSON (for scripts).
 * @module
 */

import type { ProbeReport } from './probe.ts';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/**
 * The report as a person reads it:
 * ```
 * PROBE-001  error  authz.bola  GET /v1/users/:id  expected 403  actual 200
 *   PATCH /v1/users/u_bob  authorization: Bearer eyJhbGciOiJF…(512 chars)
 *   u_alice asking for u_bob's object was answered 200
 *   OWASP API1:2023 Broken Object Level Authorization
 * ```
 */
export function formatProbeReport(report: ProbeReport, source?: { file: string }): string {
  const lines = [`portcullis probe ${report.target}${source ? ` — ${source.file}` : ''}`];
  if (report.identity) lines.push(`as ${report.identity}`);
  const { summary } = report;
  lines.push(`${plural(report.requests, 'request')}, ${plural(summary.attempts, 'check')}: ${summary.passed} passed, ${summary.errors + summary.warnings} failed, ${summary.inconclusive} inconclusive`, '');

  if (report.findings.length) {
    lines.push(...table([['id', 'severity', 'check', 'route', 'expected', 'actual'], ...report.findings.map((f) => [f.id, f.severity, f.check, f.route, f.expected, f.actual])]), '');
    for (const finding of report.findings) {
      const { request } = finding;
      const headers = Object.entries(request.headers ?? {}).map(([name, value]) => `${name}: ${value}`);
      lines.push(`${finding.id}  ${finding.severity}  ${finding.check}  ${finding.route}`);
      lines.push(`  ${request.method} ${request.target}${headers.length ? `  ${headers.join('; ')}` : ''}${request.body ? `  body: ${request.body}` : ''}`);
      lines.push(`  ${finding.message}`);
      lines.push(`  OWASP ${finding.owasp.id} ${finding.owasp.name}`);
    }
    lines.push('');
  }

  lines.push(...table([['family', 'checks', 'passed', 'failed', 'inconclusive'], ...report.families.filter((f) => f.attempts).map((f) => [f.family, String(f.attempts), String(f.passed), String(f.failed), String(f.inconclusive)])]));
  if (report.inconclusive.length) {
    lines.push('', 'inconclusive:');
    const seen = new Map<string, number>();
    for (const record of report.inconclusive) {
      const key = `${record.check}  ${record.route}: ${record.why}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    for (const [key, n] of seen) lines.push(`  ${key}${n > 1 ? ` (×${n})` : ''}`);
  }
  if (report.notes.length) {
    lines.push('', 'notes:');
    for (const note of report.notes) lines.push(`  - ${note}`);
  }
  lines.push('');
  lines.push(
    report.findings.length
      ? `${summary.errors ? '✗' : '!'} ${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')} against ${report.target}`
      : `✓ no findings against ${report.target}`,
  );
  return lines.join('\n');
}

/** The JSON output of `portcullis probe --format json`: the report as it is. */
export function toProbeJson(report: ProbeReport, source?: { file: string }) {
  return { ...(source ? { policy: source.file } : {}), ...report };
}
