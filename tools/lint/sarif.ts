/**
 * Lint findings as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
 * @see https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
 * @module
 */

import type { FindingSource } from './format.ts';
import type { LintFinding } from './lint.ts';
import { locate } from './locate.ts';
import { OWASP_API_TOP_10, type OwaspKey } from './owasp.ts';
import { ALL_RULES } from './rules.ts';

/** GitHub ranks security alerts by this number (critical ≥ 9, high ≥ 7, medium ≥ 4). */
export const SECURITY_SEVERITY = { error: '8.0', warning: '5.0' } as const;

/** A SARIF log of one run by `driver` (lint and probe share this envelope). */
export function sarifLog(driver: { name: string; toolVersion?: string; rules: object[] }, run: Record<string, unknown>) {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: driver.name, ...(driver.toolVersion ? { version: driver.toolVersion } : {}), rules: driver.rules } },
        ...run,
      },
    ],
  };
}

/** A rule's display name from its id: `cors.null_origin` → `CorsNullOrigin`. */
export const sarifRuleName = (id: string) => id.replace(/(^|[._])([a-z])/g, (_, _sep: string, char: string) => char.toUpperCase());

/** `help` and `helpUri` of a rule: its advice, then its OWASP API Top 10 item. */
export function owaspHelp(key: OwaspKey, text: string, markdownLead: string) {
  const owasp = OWASP_API_TOP_10[key];
  return {
    help: { text: `${text}\nOWASP ${owasp.id} ${owasp.name}: ${owasp.url}`, markdown: `${markdownLead}\n\nOWASP [${owasp.id} ${owasp.name}](${owasp.url})` },
    helpUri: owasp.url,
  };
}

/** A result's location: a line of the policy file, and the place in the policy object. */
export function sarifLocation(uri: string, line: number | undefined, fullyQualifiedName: string) {
  return {
    physicalLocation: { artifactLocation: { uri }, region: { startLine: line ?? 1 } },
    logicalLocations: [{ fullyQualifiedName, kind: 'member' }],
  };
}

/**
 * One SARIF run: every rule in `tool.driver.rules` (with its fix as help), one result per finding,
 * located in the policy file (physical, by best-effort line) and in the policy object (logical).
 */
export function toSarif(findings: readonly LintFinding[], source: FindingSource & { toolVersion?: string }) {
  const index = new Map(ALL_RULES.map((rule, i) => [rule.id, i]));
  const uri = source.file.replaceAll('\\', '/');
  return sarifLog(
    {
      name: 'portcullis',
      toolVersion: source.toolVersion,
      rules: ALL_RULES.map((rule) => ({
        id: rule.id,
        name: sarifRuleName(rule.id),
        shortDescription: { text: rule.title },
        fullDescription: { text: rule.description },
        ...owaspHelp(rule.owasp, rule.fix, `${rule.description}\n\n**Fix:** ${rule.fix}`),
        defaultConfiguration: { level: rule.severity },
        properties: { tags: ['security', 'owasp-api-top-10', OWASP_API_TOP_10[rule.owasp].id], precision: 'high', 'security-severity': SECURITY_SEVERITY[rule.severity] },
      })),
    },
    {
      results: findings.map((finding) => {
        const line = source.text === undefined ? undefined : locate(source.text, finding.keys);
        return {
          ruleId: finding.rule,
          ruleIndex: index.get(finding.rule) ?? -1,
          level: finding.severity,
          message: { text: `${finding.message}. Fix: ${finding.fix}` },
          locations: [sarifLocation(uri, line, finding.path)],
          partialFingerprints: { 'portcullisFinding/v1': `${finding.rule}|${finding.path}` },
        };
      }),
    },
  );
}
