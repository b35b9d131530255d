/**
 * The report in a few lines for the terminal: what was read, what was refused and why, and where
 * the spikes and alerts are.
 * @module
 */

import type { ReportData, Series, TopList } from './aggregate.ts';

const utc = (time: number) => new Date(time).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
const plural = (count: number, word: string) => `${count.toLocaleString('en-US')} ${word}${count === 1 ? '' : 's'}`;
const top = (list: TopList, count = 3) => list.rows.slice(0, count).map((row) => `${row.key} (${row.count})`).join(', ') || 'none';

function peak(series: Series, data: ReportData): string {
  if (!series.total) return '0';
  const at = series.peak === undefined || !data.buckets ? '' : `, peak ${series.counts[series.peak]} at ${utc(data.buckets.starts[series.peak]!)}`;
  return `${series.total}${at}${series.spikes.length ? `, ${plural(series.spikes.length, 'spike')}` : ''}`;
}

/**
 * The terminal summary of a report.
 * @example
 * console.log(formatSummary(aggregate(readEvents(text))));
 */
export function formatSummary(data: ReportData): string {
  const { input, totals } = data;
  const lines = [
    `${plural(input.lines, 'line')} read: ${plural(input.events, 'event')}` + (data.span ? `, ${utc(data.span.from)} to ${utc(data.span.to)}` : ''),
  ];
  if (input.notJson.count) lines.push(`  skipped ${plural(input.notJson.count, 'line')} that ${input.notJson.count === 1 ? 'is' : 'are'} not JSON (first at line ${input.notJson.firstLines[0]}): banner or other output in the log`);
  if (input.unrecognised.count) lines.push(`  skipped ${plural(input.unrecognised.count, 'JSON line')} that ${input.unrecognised.count === 1 ? 'is' : 'are'} not a portcullis event (first at line ${input.unrecognised.firstLines[0]})`);
  const kinds = Object.entries(totals).sort((a, b) => b[1] - a[1]).map(([kind, count]) => `${kind} ${count}`).join(', ');
  lines.push(`events: ${kinds || 'none'}`);
  lines.push(`top denial reasons: ${data.reasons.rows.slice(0, 5).map((row) => `${row.reason} (${row.deny + row.report})`).join(', ') || 'none'}`);
  lines.push(`top refused addresses: ${top(data.refusedIps)}`);
  lines.push(`top refused principals: ${top(data.refusedPrincipals)}`);
  lines.push(`failed logins: ${peak(data.failedLogins, data)}; other 401s: ${peak(data.otherAuthnFailures, data)}; rate limited: ${peak(data.rateLimited, data)}`);
  lines.push(`alerts: ${data.alerts.rows.length ? `${data.alerts.rows.length} (${top(data.alerts.byName, 5)})` : 'none'}`);
  const deprecated = data.deprecated;
  lines.push(
    `deprecated-version traffic: ${
      deprecated.sources.length ? `${deprecated.total}${deprecated.rows.length ? ` (${deprecated.rows.slice(0, 3).map((row) => `${row.route}: ${row.total}`).join(', ')})` : ''}` : 'unknown (no deprecated field in the events; pass --policy)'
    }`,
  );
  return lines.join('\n');
}
