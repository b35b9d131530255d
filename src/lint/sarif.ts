/**
 * Lint findings as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
 * @see https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
 * @module
 */

import type { FindingSource } from './format.ts';
import type { LintFinding } from './index.ts';
import { locate } from './locate.ts';
import { OWASP_API_TOP_10 } from './owasp.ts';
import { ALL_RULES } from './rules.ts';

/** GitHub ranks security alerts by this number (critical ≥ 9, high ≥ 7, medium ≥ 4). */
const SECURITY_SEVERITY = { error: '8.0', warning: '5.0' } as const;

/**
 * One SARIF run: every rule in `tool.driver.rules` (with its fix as help), one result per finding,
 * located in the policy file (physical, by best-effort line) and in the policy object (logical).
 */
export function toSarif(findings: readonly LintFinding[], source: FindingSource & { toolVersion?: string }) {
  const index = new Map(ALL_RULES.map((rule, i) => [rule.id, i]));
  const uri = source.file.replaceAll('\\', '/');
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'portcullis',
            ...(source.toolVersion ? { version: source.toolVersion } : {}),
            rules: ALL_RULES.map((rule) => {
              const owasp = OWASP_API_TOP_10[rule.owasp];
              return {
                id: rule.id,
                name: rule.id.replace(/(^|[._])([a-z])/g, (_, _sep: string, char: string) => char.toUpperCase()),
                shortDescription: { text: rule.title },
                fullDescription: { text: rule.description },
                help: {
                  text: `${rule.fix}\nOWASP ${owasp.id} ${owasp.name}: ${owasp.url}`,
                  markdown: `${rule.description}\n\n**Fix:** ${rule.fix}\n\nOWASP [${owasp.id} ${owasp.name}](${owasp.url})`,
                },
                helpUri: owasp.url,
                defaultConfiguration: { level: rule.severity },
                properties: { tags: ['security', 'owasp-api-top-10', owasp.id], precision: 'high', 'security-severity': SECURITY_SEVERITY[rule.severity] },
              };
            }),
          },
        },
        results: findings.map((finding) => {
          const line = source.text === undefined ? undefined : locate(source.text, finding.keys);
          return {
            ruleId: finding.rule,
            ruleIndex: index.get(finding.rule) ?? -1,
            level: finding.severity,
            message: { text: `${finding.message}. Fix: ${finding.fix}` },
            locations: [
              {
                physicalLocation: { artifactLocation: { uri }, region: { startLine: line ?? 1 } },
                logicalLocations: [{ fullyQualifiedName: finding.path, kind: 'member' }],
              },
            ],
            partialFingerprints: { 'portcullisFinding/v1': `${finding.rule}|${finding.path}` },
          };
        }),
      },
    ],
  };
}
