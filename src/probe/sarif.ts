/**
 * Probe findings as SARIF 2.1.0, in the shape of `portcullis lint`'s: every check in
 * `tool.driver.rules`, one result per finding, located at the route in the policy file.
 * @see https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
 * @module
 */

import { locate } from '../lint/locate.ts';
import { OWASP_API_TOP_10 } from '../lint/owasp.ts';
import { ALL_CHECKS } from './checks.ts';
import type { ProbeReport } from './index.ts';

const SECURITY_SEVERITY = { error: '8.0', warning: '5.0' } as const;

/** One SARIF run of a probe report; `source` is the policy file (its text locates each route). */
export function probeToSarif(report: ProbeReport, source: { file: string; text?: string; toolVersion?: string }) {
  const index = new Map(ALL_CHECKS.map((check, i) => [check.id, i]));
  const uri = source.file.replaceAll('\\', '/');
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'portcullis probe',
            ...(source.toolVersion ? { version: source.toolVersion } : {}),
            rules: ALL_CHECKS.map((check) => {
              const owasp = OWASP_API_TOP_10[check.owasp];
              return {
                id: check.id,
                name: check.id.replace(/(^|[._])([a-z])/g, (_, _sep: string, char: string) => char.toUpperCase()),
                shortDescription: { text: check.title },
                help: {
                  text: `${check.help}\nOWASP ${owasp.id} ${owasp.name}: ${owasp.url}`,
                  markdown: `${check.help}\n\nOWASP [${owasp.id} ${owasp.name}](${owasp.url})`,
                },
                helpUri: owasp.url,
                properties: { tags: ['security', 'dast', 'owasp-api-top-10', owasp.id], precision: 'high' },
              };
            }),
          },
        },
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
            locations: [
              {
                physicalLocation: { artifactLocation: { uri }, region: { startLine: line ?? 1 } },
                logicalLocations: [{ fullyQualifiedName: finding.route === '*' ? 'routes' : `routes["${finding.route}"]`, kind: 'member' }],
              },
            ],
            partialFingerprints: { 'portcullisProbe/v1': `${finding.check}|${finding.route}|${request.method} ${request.target}` },
            properties: { 'security-severity': SECURITY_SEVERITY[finding.severity], request, expected: finding.expected, actual: finding.actual, owasp: finding.owasp.id },
          };
        }),
      },
    ],
  };
}
