/**
 * The reports of `portcullis diff`: text for a terminal, JSON for scripts, Markdown for a
 * pull-request comment.
 * @module
 */

import type { ChangeClass, PolicyChange } from './change.ts';

/** How many changes of each class. */
export interface DiffSummary {
  widening: number;
  narrowing: number;
  neutral: number;
}

/** What `--format json` prints. */
export interface DiffReport {
  old: string;
  new: string;
  summary: DiffSummary;
  changes: PolicyChange[];
}

const ORDER: ChangeClass[] = ['widening', 'narrowing', 'neutral'];
const SIGN: Record<ChangeClass, string> = { widening: '+', narrowing: '-', neutral: '~' };

/** Counts the changes by class. */
export function summarizeChanges(changes: readonly PolicyChange[]): DiffSummary {
  const summary: DiffSummary = { widening: 0, narrowing: 0, neutral: 0 };
  for (const c of changes) summary[c.class]++;
  return summary;
}

const sorted = (changes: readonly PolicyChange[]) => [...changes].sort((a, b) => ORDER.indexOf(a.class) - ORDER.indexOf(b.class));

function summaryLine({ widening, narrowing, neutral }: DiffSummary): string {
  return `${widening} widening, ${narrowing} narrowing, ${neutral} neutral`;
}

/** The JSON report. */
export function toDiffJson(changes: readonly PolicyChange[], files: { old: string; new: string }): DiffReport {
  return { old: files.old, new: files.new, summary: summarizeChanges(changes), changes: [...changes] };
}

/** One line per change, widening first: `+ widening  routes["GET /x"].allow  now also admits … (API5:2023 …)`. */
export function formatDiff(changes: readonly PolicyChange[], files: { old: string; new: string }): string {
  const lines = [`${files.old} → ${files.new}`];
  if (!changes.length) return [...lines, 'no change in access'].join('\n');
  for (const c of sorted(changes)) {
    lines.push(`${SIGN[c.class]} ${c.class.padEnd(9)} ${c.path}: ${c.message}${c.owasp ? `  [${c.owasp.id} ${c.owasp.name}]` : ''}`);
  }
  lines.push('', summaryLine(summarizeChanges(changes)));
  return lines.join('\n');
}

/** Markdown cells hold no pipe and no newline. */
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** A Markdown comment for a pull request: a verdict line, then one table per class. */
export function diffToMarkdown(changes: readonly PolicyChange[], files: { old: string; new: string }): string {
  const summary = summarizeChanges(changes);
  const verdict = summary.widening
    ? `⚠️ **Access widens**: ${summaryLine(summary)}.`
    : changes.length
      ? `✅ Access does not widen: ${summaryLine(summary)}.`
      : '✅ No change in access.';
  const lines = ['### portcullis policy diff', '', `\`${files.old}\` → \`${files.new}\``, '', verdict];
  const titles: Record<ChangeClass, string> = { widening: 'Widening', narrowing: 'Narrowing', neutral: 'Neutral' };
  for (const cls of ORDER) {
    const group = changes.filter((c) => c.class === cls);
    if (!group.length) continue;
    lines.push('', `#### ${titles[cls]} (${group.length})`, '', '| where | change | OWASP API Top 10 |', '| --- | --- | --- |');
    for (const c of group) lines.push(`| \`${cell(c.path)}\` | ${cell(c.message)} | ${c.owasp ? `[${c.owasp.id}](${c.owasp.url}) ${c.owasp.name}` : ''} |`);
  }
  return lines.join('\n');
}
