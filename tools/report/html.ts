/**
 * The report as one self-contained HTML page: the numbers as tables, the charts drawn by the inlined
 * chart library from a JSON data block. Every value from the log is escaped (paths, addresses and
 * principals are attacker-controlled), and the page's Content-Security-Policy runs only its own two
 * scripts (by hash) and loads nothing from anywhere.
 * @module
 */

import type { ReportData, Series, TopList } from './aggregate.ts';
import { CLIENT_SCRIPT, type ChartSpec } from './client.ts';
import { formatStep } from './timeline.ts';

/** The chart library's browser build and stylesheet, inlined into the page. */
export interface ChartLibrary {
  /** Script text that defines the global `uPlot`. */
  script: string;
  css: string;
}

/** What the page says about where its data came from. */
export interface RenderOptions {
  library: ChartLibrary;
  /** The log's name as the user gave it. */
  source: string;
  /** Generation time (epoch ms). @default Date.now() */
  now?: number;
  /** A line on how deprecated traffic was recognised (the CLI names the policy file). */
  deprecatedNote?: string;
}

const COLORS = { deny: '#c62828', report: '#ef8f00', error: '#6a1b9a', allow: '#2e7d32', login: '#c62828', authn: '#1565c0', ratelimit: '#ef8f00', alert: '#6a1b9a', bar: '#455a64' };
const OUTCOME_LABELS = { deny: 'denied', report: 'report-only', error: 'error', allow: 'allowed (sampled)' } as const;

/** Text as HTML content or a quoted attribute value. */
export const escapeHtml = (value: unknown): string =>
  String(value).replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);

/** JSON that stays JSON inside a `<script>` element: no `</script>`, no `<!--`. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);

const utc = (time: number | undefined) => (time === undefined ? '—' : new Date(time).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
const number = (value: number) => value.toLocaleString('en-US');

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function table(headers: string[], rows: (string | number)[][], attributes = ''): string {
  const head = headers.map((header, i) => `<th${i ? ' class="n"' : ''}>${escapeHtml(header)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell, i) => (i ? `<td class="n">${escapeHtml(typeof cell === 'number' ? number(cell) : cell)}</td>` : `<td>${escapeHtml(cell)}</td>`)).join('')}</tr>`).join('\n');
  return `<table${attributes}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A long table of buckets folds away under its summary (still in the page, for search and copy). */
const FOLD_ROWS = 24;
const foldable = (rows: unknown[], html: string) => (rows.length > FOLD_ROWS ? `<details><summary>The numbers: ${rows.length} rows</summary>${html}</details>` : html);

const empty = (what: string) => `<p class="empty">${escapeHtml(what)}</p>`;
const chart = (id: string, label: string) => `<div class="chart" data-chart="${id}" role="img" aria-label="${escapeHtml(label)}"></div>`;

function topSection(id: string, title: string, column: string, list: TopList, charts: ChartSpec[], note: string): string {
  if (!list.total) return `<section id="${id}"><h2>${escapeHtml(title)}</h2>${empty(`None. ${note}`)}</section>`;
  charts.push({ id, kind: 'bars', title, labels: list.rows.map((row) => row.key), series: [{ label: 'refused', color: COLORS.bar, values: list.rows.map((row) => row.count) }] });
  const rows: (string | number)[][] = list.rows.map((row) => [row.key, row.count]);
  if (list.others) rows.push(['(all others)', list.others]);
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2><p>${escapeHtml(note)}</p>${chart(id, title)}${table([column, 'refused'], rows, ` data-table="${id}"`)}</section>`;
}

/** Rows of the buckets where any of the series has events (a table of every empty minute helps nobody). */
function bucketRows(data: ReportData, series: Series[]): (string | number)[][] {
  const starts = data.buckets?.starts ?? [];
  return starts.flatMap((start, i) => (series.some((s) => s.counts[i]) ? [[utc(start), ...series.map((s) => s.counts[i]!)]] : []));
}

function totalsSection(data: ReportData): string {
  const kinds = ['deny', 'report', 'error', 'allow', 'notice', 'alert'];
  const extra = Object.keys(data.totals).filter((kind) => !kinds.includes(kind)).sort();
  const rows = [...kinds, ...extra].map((kind) => `<tr><td>portcullis.${escapeHtml(kind)}</td><td class="n" data-total="${escapeHtml(kind)}">${number(data.totals[kind] ?? 0)}</td></tr>`);
  const { input } = data;
  const skipped: string[] = [];
  if (input.notJson.count) skipped.push(`${number(input.notJson.count)} line(s) that are not JSON were skipped (line ${input.notJson.firstLines.join(', ')}${input.notJson.count > input.notJson.firstLines.length ? ', …' : ''}): a start-up banner or other output mixed into the log.`);
  if (input.unrecognised.count) skipped.push(`${number(input.unrecognised.count)} JSON line(s) are not portcullis events and were skipped (line ${input.unrecognised.firstLines.join(', ')}${input.unrecognised.count > input.unrecognised.firstLines.length ? ', …' : ''}).`);
  if (input.withoutTime) skipped.push(`${number(input.withoutTime)} event(s) have no readable time: they count in the totals, not on the timelines.`);
  return `<section id="totals"><h2>Totals</h2>
<table data-table="totals"><thead><tr><th>event</th><th class="n">count</th></tr></thead><tbody>
${rows.join('\n')}
<tr class="sum"><td>all events</td><td class="n" data-total="events">${number(input.events)}</td></tr>
<tr><td>lines read</td><td class="n" data-total="lines">${number(input.lines)}</td></tr>
<tr><td>lines skipped: not JSON</td><td class="n" data-total="not-json">${number(input.notJson.count)}</td></tr>
<tr><td>lines skipped: not a portcullis event</td><td class="n" data-total="unrecognised">${number(input.unrecognised.count)}</td></tr>
</tbody></table>
${skipped.map((line) => `<p class="note">${escapeHtml(line)}</p>`).join('\n')}</section>`;
}

function decisionsSection(data: ReportData, charts: ChartSpec[]): string {
  const outcomes = ['deny', 'report', 'error', 'allow'] as const;
  const title = 'Decisions over time';
  if (!data.buckets) return `<section id="decisions"><h2>${title}</h2>${empty('No event with a time.')}</section>`;
  const x = data.buckets.starts.map((start) => start / 1000);
  charts.push({ id: 'decisions', kind: 'time', title, x, step: data.buckets.step / 1000, series: outcomes.map((outcome) => ({ label: OUTCOME_LABELS[outcome], color: COLORS[outcome], values: data.decisions[outcome].counts })) });
  const rows = bucketRows(data, outcomes.map((outcome) => data.decisions[outcome]));
  rows.push(['total', ...outcomes.map((outcome) => data.decisions[outcome].total)]);
  return `<section id="decisions"><h2>${title}</h2>
<p>Events per ${escapeHtml(formatStep(data.buckets.step))} (UTC). Allowed requests appear only when the gateway samples them (<code>portcullis.allow</code>); without sampling the log holds refusals only.</p>
${chart('decisions', title)}
${foldable(rows, table([`time (UTC), per ${formatStep(data.buckets.step)}`, ...outcomes.map((outcome) => OUTCOME_LABELS[outcome])], rows, ' data-table="decisions"'))}</section>`;
}

function reasonsSection(data: ReportData, charts: ChartSpec[]): string {
  const title = 'Top denial reasons';
  const { rows, others } = data.reasons;
  if (!rows.length) return `<section id="reasons"><h2>${title}</h2>${empty('No refusal in the log.')}</section>`;
  charts.push({ id: 'reasons', kind: 'bars', title, labels: rows.map((row) => row.reason), series: [{ label: 'denied + report-only', color: COLORS.deny, values: rows.map((row) => row.deny + row.report) }] });
  const cells: (string | number)[][] = rows.map((row) => [row.reason, row.deny, row.report]);
  if (others.deny + others.report) cells.push(['(all others)', others.deny, others.report]);
  return `<section id="reasons"><h2>${title}</h2><p>Reason codes of refusals, and of the refusals report-only mode let through.</p>${chart('reasons', title)}${table(['reason', 'denied', 'report-only'], cells, ' data-table="reasons"')}</section>`;
}

function authSection(data: ReportData, charts: ChartSpec[]): string {
  const title = 'Failed logins and rate limits';
  const series = [
    { label: 'failed logins (401 on login routes)', color: COLORS.login, s: data.failedLogins },
    { label: 'other 401s', color: COLORS.authn, s: data.otherAuthnFailures },
    { label: 'rate limited (429)', color: COLORS.ratelimit, s: data.rateLimited },
    { label: 'alerts', color: COLORS.alert, s: data.alertsSeries },
  ];
  if (!data.buckets) return `<section id="auth"><h2>${title}</h2>${empty('No event with a time.')}</section>`;
  charts.push({ id: 'auth', kind: 'time', title, x: data.buckets.starts.map((start) => start / 1000), step: data.buckets.step / 1000, series: series.map(({ label, color, s }) => ({ label, color, values: s.counts })) });
  const starts = data.buckets.starts;
  const peaks = series.map(({ label, s }) => [
    label,
    s.total,
    s.peak === undefined ? 0 : s.counts[s.peak]!,
    s.peak === undefined ? '—' : utc(starts[s.peak]),
    s.spikes.length ? s.spikes.map((i) => `${utc(starts[i])} (${s.counts[i]})`).join('; ') : 'none',
  ]);
  const rows = bucketRows(data, series.map(({ s }) => s));
  return `<section id="auth"><h2>${title}</h2>
<p>Login routes are those whose route (or path) names a credential flow: login, sign-in, token, password, reset, OTP, MFA. A spike is a ${escapeHtml(formatStep(data.buckets.step))} bucket with at least 3 events and at least three times the median.</p>
${chart('auth', title)}
${table(['series', 'total', 'peak', 'peak at (UTC)', 'spikes'], peaks, ' data-table="auth-peaks"')}
${rows.length ? foldable(rows, table([`time (UTC), per ${formatStep(data.buckets.step)}`, ...series.map(({ label }) => label)], rows, ' data-table="auth"')) : ''}</section>`;
}

function alertsSection(data: ReportData, charts: ChartSpec[]): string {
  const title = 'Alerts';
  const { byName, rows } = data.alerts;
  if (!rows.length) return `<section id="alerts"><h2>${title}</h2>${empty('No portcullis.alert event in the log.')}</section>`;
  charts.push({ id: 'alerts', kind: 'bars', title, labels: byName.rows.map((row) => row.key), series: [{ label: 'alerts', color: COLORS.alert, values: byName.rows.map((row) => row.count) }] });
  const shown = rows.slice(0, 500);
  const cells = shown.map((row) => [utc(row.time), row.name, row.type ?? '—', row.key ?? '—', row.count ?? '—', row.window ?? '—', row.firstRequestId ?? '—', row.lastRequestId ?? '—']);
  return `<section id="alerts"><h2>${title}</h2>${chart('alerts', title)}
${table(['alert', 'count'], byName.rows.map((row) => [row.key, row.count]), ' data-table="alerts-by-name"')}
${foldable(cells, table(['time (UTC)', 'alert', 'kind', 'key', 'count', 'window', 'first request', 'last request'], cells, ' data-table="alerts"'))}
${rows.length > shown.length ? `<p class="note">The first ${shown.length} of ${number(rows.length)} alerts.</p>` : ''}</section>`;
}

function deprecatedSection(data: ReportData, charts: ChartSpec[], note: string | undefined): string {
  const title = 'Deprecated-version traffic';
  const { deprecated } = data;
  const how = deprecated.sources.length
    ? [
        deprecated.sources.includes('events') ? 'events that carry a deprecated field' : '',
        deprecated.sources.includes('policy')
          ? `requests under ${deprecated.versions.map((version) => `${version.prefix} (deprecated ${utc(version.deprecation)}${version.sunset !== undefined ? `, sunset ${utc(version.sunset)}` : ''})`).join(', ')}, made after the deprecation date`
          : '',
      ]
        .filter(Boolean)
        .join('; and ')
    : '';
  const intro = how ? `<p>Counted: ${escapeHtml(how)}.${note ? ` ${escapeHtml(note)}` : ''} Only logged requests count: refusals always, allowed ones when sampled.</p>` : `<p>The log does not say which versions are deprecated. Run the report with <code>--policy &lt;policy-file&gt;</code> to count requests under the versions its <code>versions</code> deprecates.</p>`;
  if (!deprecated.rows.length) return `<section id="deprecated"><h2>${title}</h2>${intro}${how ? empty('No logged request to a deprecated version.') : ''}</section>`;
  charts.push({ id: 'deprecated', kind: 'bars', title, labels: deprecated.rows.map((row) => row.route), series: [{ label: 'requests', color: COLORS.report, values: deprecated.rows.map((row) => row.total) }] });
  const outcomes = ['deny', 'report', 'error', 'allow'] as const;
  const cells: (string | number)[][] = deprecated.rows.map((row) => [row.route, row.version, ...outcomes.map((outcome) => row.counts[outcome]), row.total]);
  cells.push(['total', '', ...outcomes.map((outcome) => deprecated.counts[outcome]), deprecated.total]);
  return `<section id="deprecated"><h2>${title}</h2>${intro}${chart('deprecated', title)}${table(['route', 'version', ...outcomes.map((outcome) => OUTCOME_LABELS[outcome]), 'total'], cells, ' data-table="deprecated"')}</section>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; padding: 0 16px; color: #1d1d1d; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
header p, .note, .empty { color: #555; } .empty { font-style: italic; }
table { border-collapse: collapse; margin: 12px 0; min-width: 360px; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; max-width: 520px; } .n { text-align: right; font-variant-numeric: tabular-nums; } tr.sum td { font-weight: 600; }
.chart { margin: 12px 0; } summary { cursor: pointer; color: #333; margin: 8px 0; } code { background: #f3f3f3; padding: 0 3px; }
`;

/**
 * Renders the report page.
 * @example
 * const html = await renderReport(aggregate(readEvents(text)), { library: { script, css }, source: 'events.jsonl' });
 */
export async function renderReport(data: ReportData, options: RenderOptions): Promise<string> {
  // The library is inlined as it is: text that closed its element would end the script early.
  if (/<\/(script|style)/i.test(options.library.script + options.library.css)) throw new Error('the chart library contains </script> or </style> and cannot be inlined');
  const charts: ChartSpec[] = [];
  const sections = [
    totalsSection(data),
    decisionsSection(data, charts),
    reasonsSection(data, charts),
    topSection('ips', 'Top client addresses refused', 'client address', data.refusedIps, charts, 'Client addresses of denied requests, as the gateway resolved them (forwarding headers only from trusted proxies).'),
    topSection('principals', 'Top principals refused', 'principal', data.refusedPrincipals, charts, 'Authenticated callers whose requests were denied (method:id); refusals before or without authentication name no one and are left out.'),
    topSection('paths', 'Top paths refused', 'path', data.refusedPaths, charts, 'Normalized paths of denied requests, without query strings.'),
    authSection(data, charts),
    alertsSection(data, charts),
    deprecatedSection(data, charts, options.deprecatedNote),
  ];
  const dataScript = scriptJson({ charts });
  const styles = `${options.library.css}\n${STYLE}`;
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${await sha256(options.library.script)}' 'sha256-${await sha256(CLIENT_SCRIPT)}'`,
    // uPlot positions its legend and overlays with style attributes; styles cannot run code, and img-src/font-src stay closed.
    "style-src 'unsafe-inline'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const span = data.span ? `${utc(data.span.from)} to ${utc(data.span.to)}` : 'no timed events';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>portcullis report: ${escapeHtml(options.source)}</title>
<style>${styles}</style>
</head>
<body>
<header>
<h1>portcullis security report</h1>
<p>From <code>${escapeHtml(options.source)}</code>: ${number(data.input.events)} events, ${escapeHtml(span)}. Generated ${escapeHtml(utc(options.now ?? Date.now()))}.</p>
</header>
${sections.join('\n')}
<script type="application/json" id="report-data">${dataScript}</script>
<script>${options.library.script}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
