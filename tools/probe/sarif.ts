/**
 * Probe findings as SARIF 2.1.0, in the shape of `portcullis lint`'s: every check in
 * `tool.driver.rules`, one result per finding, located at the route in the policy file.
 * @see https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
 * @module
 */

import { locate } from '../lint/locate.ts';
import { OWASP_API_TOP_10 } from '../lint/owasp.ts';
import { owaspHelp, sarifLocation, sarifLog, sarifRuleName, SECURITY_SEVERITY } from '../lint/sarif.ts';
import { ALL_CHECKS } from './checks.ts';
import type { ProbeReport } from './probe.ts';

/** One SARIF run of a probe report; `source` is the policy file (its text locates each route). */
export function probeToSarif(report: ProbeReport, source: { file: string; text?: string; toolVersion?: string }) {
  const index = new Map(ALL_CHECKS.map((check, i) => [check.id, i]));
  const uri = source.file.replaceAll('\\', '/');
  return sarifLog(
    {
      name: 'portcullis probe',
      toolVersion: source.toolVersion,
      rules: ALL_CHECKS.map((check) => ({
        id: check.id,
        name: sarifRuleName(check.id),
        shortDescription: { text: check.title },
        ...owaspHelp(check.owasp, check.help, check.help),
        properties: { tags: ['security', 'dast', 'owasp-api-top-10', OWASP_API_TOP_10[check.owasp].id], precision: 'high' },
      })),
    },
    {
      // Where the probe ran: SARIF's invocation, so one file can hold runs against several targets.
      invocations: [{ executionSuccessful: true, properties: { target: report.target, requests: report.requests } }],
      results: report.findings.map((finding) => {
        const keys = finding.route === '*' ? ['routes'] : ['routes', finding.route];
        const line = source.text === undefined ? undefined : locate(source.text, keys);
        const { request } = finding;
        return {
          ruleId: finding.check,
          ruleIndex: index.get(finding.check) ?? -1,
          level: finding.severity,
          message: { text: `${finding.message}. ${request.method} ${request.target}: expected ${finding.expected}, got ${finding.actual}.` },
          locations: [sarifLocation(uri, line, finding.route === '*' ? 'routes' : `routes["${finding.route}"]`)],
          partialFingerprints: { 'portcullisProbe/v1': `${finding.check}|${finding.route}|${request.method} ${request.target}` },
          properties: { 'security-severity': SECURITY_SEVERITY[finding.severity], request, expected: finding.expected, actual: finding.actual, owasp: finding.owasp.id },
        };
      }),
    },
  );
}
