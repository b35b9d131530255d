/**
 * The numbers of the report: what the gateway decided over time, who and what it refused, failed
 * logins and rate limits, alerts, and traffic to deprecated versions. Pure: events in, numbers out.
 * @module
 */

import { AUTH_FLOW } from '../lint/rules.ts';
import type { AlertFields, EventLog, ReportEvent } from './events.ts';
import { bucketIndex, bucketsFor, type Buckets } from './timeline.ts';

/** A version the policy deprecates (`policy.versions`), as the report matches it. */
export interface DeprecatedVersion {
  /** The path prefix, `/v0`. */
  prefix: string;
  /** Epoch ms from which requests to it count as deprecated traffic. */
  deprecation: number;
  /** Epoch ms from which it answers 410. */
  sunset?: number;
}

/** Options of {@link aggregate}. */
export interface AggregateOptions {
  /** Versions to count as deprecated (from `--policy`), besides events that say `deprecated` themselves. */
  deprecatedVersions?: readonly DeprecatedVersion[];
  /** Rows of each top list. @default 10 */
  top?: number;
}

/** The decisions a timeline shows, in the order of its series. */
export const OUTCOMES = ['deny', 'report', 'error', 'allow'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The most frequent keys, and how many events the rest hold. */
export interface TopList {
  rows: { key: string; count: number }[];
  others: number;
  total: number;
}

/** Per-bucket counts, and the buckets that stand out. */
export interface Series {
  counts: number[];
  total: number;
  /** The fullest bucket (its index), or undefined when the series is empty. */
  peak: number | undefined;
  /** Buckets with at least SPIKE_MIN events and at least SPIKE_FACTOR times the median bucket. */
  spikes: number[];
}

/** One alert, with when it was raised. */
export type AlertRow = AlertFields & { time: number | undefined };

export interface DeprecatedRow {
  version: string;
  route: string;
  counts: Record<Outcome, number>;
  total: number;
}

export interface ReportData {
  input: {
    lines: number;
    events: number;
    notJson: EventLog['notJson'];
    unrecognised: EventLog['unrecognised'];
    /** Events without a parseable `time`: in the totals, not on the timelines. */
    withoutTime: number;
  };
  /** Events per kind (`deny`, `report`, `error`, `notice`, `allow`, `alert`, …). */
  totals: Record<string, number>;
  span: { from: number; to: number } | undefined;
  buckets: Buckets | undefined;
  decisions: Record<Outcome, Series>;
  /** Reasons of refusals (`deny`) and would-be refusals (`report`). */
  reasons: { rows: { reason: string; deny: number; report: number }[]; others: { deny: number; report: number } };
  /** Keys of `deny` events. */
  refusedIps: TopList;
  /** Authenticated principals only (not `anonymous:…`). */
  refusedPrincipals: TopList;
  refusedPaths: TopList;
  /** 401s on credential-flow routes (login, token, password reset). */
  failedLogins: Series;
  /** 401s everywhere else. */
  otherAuthnFailures: Series;
  /** 429s. */
  rateLimited: Series;
  alerts: { byName: TopList; rows: AlertRow[] };
  alertsSeries: Series;
  deprecated: {
    /** Where the report learnt which versions are deprecated. */
    sources: ('events' | 'policy')[];
    versions: readonly DeprecatedVersion[];
    rows: DeprecatedRow[];
    counts: Record<Outcome, number>;
    total: number;
  };
}

export const SPIKE_MIN = 3;
export const SPIKE_FACTOR = 3;
const UNKNOWN = '(none)';

const isOutcome = (kind: string): kind is Outcome => (OUTCOMES as readonly string[]).includes(kind);
const emptyCounts = (): Record<Outcome, number> => ({ deny: 0, report: 0, error: 0, allow: 0 });

function topList(counts: Map<string, number>, top: number): TopList {
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const rows = sorted.slice(0, top).map(([key, count]) => ({ key, count }));
  const total = sorted.reduce((sum, [, count]) => sum + count, 0);
  return { rows, others: total - rows.reduce((sum, row) => sum + row.count, 0), total };
}

const increment = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A series over the buckets from the times of the events that belong to it. */
function series(times: readonly number[], buckets: Buckets | undefined, total: number): Series {
  const counts = buckets ? buckets.starts.map(() => 0) : [];
  if (buckets) for (const time of times) counts[bucketIndex(buckets, time)]!++;
  let peak: number | undefined;
  counts.forEach((count, i) => {
    if (count > 0 && (peak === undefined || count > counts[peak]!)) peak = i;
  });
  const baseline = counts.length ? median(counts) : 0;
  const spikes = counts.flatMap((count, i) => (count >= SPIKE_MIN && count >= SPIKE_FACTOR * baseline ? [i] : []));
  return { counts, total, peak, spikes };
}

/** The path part of a route pattern (`POST /v1/auth/login` → `/v1/auth/login`), params left out. */
const literalPathOf = (event: ReportEvent) => (event.route?.replace(/^\S+\s+/, '') ?? event.path ?? '').replace(/\/:[^/]+/g, '/');

/** The deprecated version a request went to, if the event or the policy says so. */
function deprecatedVersionOf(event: ReportEvent, versions: readonly DeprecatedVersion[]): string | undefined {
  const path = event.path ?? event.route?.replace(/^\S+\s+/, '');
  if (event.deprecated !== undefined) {
    return typeof event.deprecated === 'string' ? event.deprecated : (path?.match(/^\/[^/]+/)?.[0] ?? '(deprecated)');
  }
  if (!path) return undefined;
  const segments = path.split('/').filter(Boolean);
  // Longest prefix first, segment by segment, as the engine matches them.
  const version = [...versions]
    .sort((a, b) => b.prefix.split('/').length - a.prefix.split('/').length)
    .find((candidate) => candidate.prefix.split('/').filter(Boolean).every((part, i) => segments[i] === part));
  if (!version) return undefined;
  // A request made before the deprecation date was not deprecated traffic yet.
  return event.time === undefined || event.time >= version.deprecation ? version.prefix : undefined;
}

/**
 * Aggregates a log into the report's numbers.
 * @example
 * const data = aggregate(readEvents(text), { deprecatedVersions: [{ prefix: '/v0', deprecation: Date.parse('2026-06-01') }] });
 * data.totals.deny; // refusals
 */
export function aggregate(log: EventLog, options: AggregateOptions = {}): ReportData {
  const top = options.top ?? 10;
  const versions = options.deprecatedVersions ?? [];
  const totals: Record<string, number> = {};
  const timed = log.events.filter((event): event is ReportEvent & { time: number } => event.time !== undefined);
  const from = timed.reduce((min, event) => Math.min(min, event.time), Infinity);
  const to = timed.reduce((max, event) => Math.max(max, event.time), -Infinity);
  const buckets = timed.length ? bucketsFor(from, to) : undefined;

  const outcomeTimes: Record<Outcome, number[]> = { deny: [], report: [], error: [], allow: [] };
  const outcomeTotals = emptyCounts();
  const reasons = new Map<string, { deny: number; report: number }>();
  const ips = new Map<string, number>();
  const principals = new Map<string, number>();
  const paths = new Map<string, number>();
  const failedLogins: number[] = [];
  const otherAuthn: number[] = [];
  const rateLimited: number[] = [];
  const authTotals = { failedLogins: 0, otherAuthn: 0, rateLimited: 0 };
  const alertNames = new Map<string, number>();
  const alertRows: AlertRow[] = [];
  const alertTimes: number[] = [];
  const deprecatedRows = new Map<string, DeprecatedRow>();
  const deprecatedCounts = emptyCounts();
  let deprecatedFromEvents = false;

  for (const event of log.events) {
    totals[event.kind] = (totals[event.kind] ?? 0) + 1;
    const at = (list: number[]) => event.time !== undefined && list.push(event.time);
    if (event.kind === 'alert' && event.alert) {
      increment(alertNames, event.alert.name);
      alertRows.push({ time: event.time, ...event.alert });
      at(alertTimes);
      continue;
    }
    if (!isOutcome(event.kind)) continue;
    outcomeTotals[event.kind]++;
    at(outcomeTimes[event.kind]);

    if ((event.kind === 'deny' || event.kind === 'report') && event.reason) {
      const row = reasons.get(event.reason) ?? { deny: 0, report: 0 };
      row[event.kind]++;
      reasons.set(event.reason, row);
    }
    if (event.kind === 'deny') {
      increment(ips, event.clientIp ?? UNKNOWN);
      // `anonymous:…` names no one: a refusal before or without authentication.
      if (event.principal && !event.principal.startsWith('anonymous:')) increment(principals, event.principal);
      increment(paths, event.path ?? UNKNOWN);
    }
    if (event.status === 401) {
      const onLogin = AUTH_FLOW.test(literalPathOf(event));
      at(onLogin ? failedLogins : otherAuthn);
      authTotals[onLogin ? 'failedLogins' : 'otherAuthn']++;
    }
    if (event.status === 429) {
      at(rateLimited);
      authTotals.rateLimited++;
    }
    deprecatedFromEvents ||= event.deprecated !== undefined;
    const version = deprecatedVersionOf(event, versions);
    if (version !== undefined) {
      const route = event.route ?? `${event.method ?? '?'} ${event.path ?? UNKNOWN}`;
      const key = `${version}\u0000${route}`;
      const row = deprecatedRows.get(key) ?? { version, route, counts: emptyCounts(), total: 0 };
      row.counts[event.kind]++;
      row.total++;
      deprecatedRows.set(key, row);
      deprecatedCounts[event.kind]++;
    }
  }

  const sortedReasons = [...reasons]
    .map(([reason, counts]) => ({ reason, ...counts }))
    .sort((a, b) => b.deny + b.report - (a.deny + a.report) || (a.reason < b.reason ? -1 : 1));
  const reasonOthers = sortedReasons.slice(top).reduce((sum, row) => ({ deny: sum.deny + row.deny, report: sum.report + row.report }), { deny: 0, report: 0 });
  const sources: ('events' | 'policy')[] = [];
  if (deprecatedFromEvents) sources.push('events');
  if (versions.length) sources.push('policy');

  return {
    input: { lines: log.lines, events: log.events.length, notJson: log.notJson, unrecognised: log.unrecognised, withoutTime: log.events.length - timed.length },
    totals,
    span: timed.length ? { from, to } : undefined,
    buckets,
    decisions: Object.fromEntries(OUTCOMES.map((outcome) => [outcome, series(outcomeTimes[outcome], buckets, outcomeTotals[outcome])])) as Record<Outcome, Series>,
    reasons: { rows: sortedReasons.slice(0, top), others: reasonOthers },
    refusedIps: topList(ips, top),
    refusedPrincipals: topList(principals, top),
    refusedPaths: topList(paths, top),
    failedLogins: series(failedLogins, buckets, authTotals.failedLogins),
    otherAuthnFailures: series(otherAuthn, buckets, authTotals.otherAuthn),
    rateLimited: series(rateLimited, buckets, authTotals.rateLimited),
    alerts: { byName: topList(alertNames, top), rows: alertRows.sort((a, b) => (a.time ?? 0) - (b.time ?? 0)) },
    alertsSeries: series(alertTimes, buckets, alertRows.length),
    deprecated: {
      sources,
      versions,
      rows: [...deprecatedRows.values()].sort((a, b) => b.total - a.total || (a.route < b.route ? -1 : 1)),
      counts: deprecatedCounts,
      total: Object.values(deprecatedCounts).reduce((sum, count) => sum + count, 0),
    },
  };
}
