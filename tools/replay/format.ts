/**
 * The text report of `portcullis replay`: the counts, then each group of changed decisions (route,
 * from → to, count, examples), then what could not be decided and why.
 * @module
 */

import type { RecordedDecision } from './input.ts';
import type { ReplayExample, ReplayReport } from './replay.ts';

const decision = (d: RecordedDecision) => (d.outcome === 'allow' ? `allow${d.status ? ` ${d.status}` : ''}` : `${d.status ?? ''} ${d.reason}`.trim());

function exampleLine(example: ReplayExample): string {
  const who = example.principal ? ` as ${example.principal}` : '';
  const after = example.after ? ` → ${decision(example.after)}` : '';
  return `      ${example.at}  ${example.method} ${example.path}${who} from ${example.clientIp}: ${decision(example.before)}${after}`;
}

/** The report as text. */
export function formatReplay(report: ReplayReport, files: { log: string; policy: string }): string {
  const lines = [
    `${files.log} under ${files.policy}`,
    `${report.replayed} replayed: ${report.changed} changed, ${report.unchanged} unchanged, ${report.undecidable} undecidable${report.skipped ? ` (${report.skipped} lines without a request skipped)` : ''}`,
  ];
  if (report.changes.length) lines.push('', 'Changed decisions:');
  for (const group of report.changes) {
    lines.push(`  ${group.route}  ${group.change === 'reason' ? 'reason' : group.change}: ${group.before} → ${group.after}  ×${group.count}`);
    lines.push(...group.examples.map(exampleLine));
  }
  if (report.undecidableBecause.length) lines.push('', 'Undecidable (not guessed):');
  for (const group of report.undecidableBecause) {
    lines.push(`  ${group.route}  ×${group.count}: ${group.why}`);
    lines.push(...group.examples.map(exampleLine));
  }
  if (!report.changes.length) lines.push('', 'No decision changes.');
  return lines.join('\n');
}
