import { describe, expect, it } from 'vitest';
import { aggregate } from './aggregate.ts';
import { readEvents, type EventLog } from './events.ts';
import { bucketsFor, formatStep } from './timeline.ts';

const T0 = Date.parse('2026-12-03T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

type Line = Record<string, unknown>;
const deny = (seconds: number, fields: Line = {}): Line => ({
  time: at(seconds),
  requestId: `r${seconds}`,
  method: 'GET',
  path: '/v1/users/u_alice',
  route: 'GET /v1/users/:id',
  clientIp: '203.0.113.7',
  event: 'portcullis.deny',
  reason: 'authn.required',
  status: 401,
  ...fields,
});
const log = (...lines: Line[]): EventLog => readEvents(lines.map((line) => JSON.stringify(line)).join('\n'));

describe('time buckets', () => {
  it('takes the smallest readable step that needs at most 120 buckets, and keeps the empty ones', () => {
    expect(bucketsFor(T0, T0 + 10_000)).toEqual({ step: 1000, starts: Array.from({ length: 11 }, (_, i) => T0 + i * 1000) });
    expect(bucketsFor(T0, T0 + 6 * 3_600_000).step).toBe(5 * 60_000);
    // 30 days in 6 h steps would be 121 buckets (both ends included).
    expect(bucketsFor(T0, T0 + 30 * 86_400_000).step).toBe(12 * 3_600_000);
    expect(bucketsFor(T0 + 500, T0 + 500).starts).toEqual([T0]);
  });

  it('names steps as people say them', () => {
    expect([1000, 30_000, 300_000, 3_600_000, 86_400_000].map(formatStep)).toEqual(['1 s', '30 s', '5 min', '1 h', '1 d']);
  });
});

describe('aggregate', () => {
  it('counts every event by kind, and the decisions per bucket by outcome', () => {
    const data = aggregate(
      log(
        deny(0),
        deny(0.5),
        deny(2, { event: 'portcullis.report', reason: 'authz.denied', status: 403 }),
        deny(2, { event: 'portcullis.allow', reason: 'allow', status: 200 }),
        deny(3, { event: 'portcullis.error', reason: 'ratelimit.store_error', status: undefined }),
        { time: at(3), event: 'portcullis.notice', reason: 'authn.jwks_key_skipped', requestId: '-', method: '-', path: '-', route: null, clientIp: '-' },
        { event: 'portcullis.alert', alert: 'failed_logins', key: 'k', count: 10, window: '5m', time: at(1) },
      ),
    );
    expect(data.totals).toEqual({ deny: 2, report: 1, allow: 1, error: 1, notice: 1, alert: 1 });
    expect(data.input).toMatchObject({ lines: 7, events: 7, withoutTime: 0 });
    expect(data.span).toEqual({ from: T0, to: T0 + 3000 });
    expect(data.buckets).toEqual({ step: 1000, starts: [T0, T0 + 1000, T0 + 2000, T0 + 3000] });
    expect(data.decisions.deny).toMatchObject({ counts: [2, 0, 0, 0], total: 2, peak: 0 });
    expect(data.decisions.report.counts).toEqual([0, 0, 1, 0]);
    expect(data.decisions.allow.counts).toEqual([0, 0, 1, 0]);
    expect(data.decisions.error.counts).toEqual([0, 0, 0, 1]);
    expect(data.alertsSeries.counts).toEqual([0, 1, 0, 0]);
  });

  it('keeps events without a time in the totals and off the timelines', () => {
    const data = aggregate(log(deny(0), deny(1, { time: 'not a time' })));
    expect(data.totals.deny).toBe(2);
    expect(data.input.withoutTime).toBe(1);
    expect(data.decisions.deny.total).toBe(2);
    expect(data.decisions.deny.counts.reduce((a, b) => a + b)).toBe(1);
    expect(data.reasons.rows).toEqual([{ reason: 'authn.required', deny: 2, report: 0 }]);
  });

  it('ranks denial reasons with their report-only share, and sums the rest', () => {
    const lines = [
      ...Array.from({ length: 3 }, (_, i) => deny(i, { reason: 'authz.denied', status: 403 })),
      deny(4, { event: 'portcullis.report', reason: 'authz.denied', status: 403 }),
      deny(5),
      deny(6),
      deny(7, { reason: 'route.not_found', status: 404 }),
      deny(8, { reason: 'cors.origin_denied', status: 403 }),
    ];
    const data = aggregate(log(...lines), { top: 2 });
    expect(data.reasons.rows).toEqual([
      { reason: 'authz.denied', deny: 3, report: 1 },
      { reason: 'authn.required', deny: 2, report: 0 },
    ]);
    expect(data.reasons.others).toEqual({ deny: 2, report: 0 });
  });

  it('ranks the addresses, principals and paths of refused requests only (not report-only, not sampled allows; no anonymous principal)', () => {
    const data = aggregate(
      log(
        deny(0, { clientIp: '198.51.100.1' }),
        deny(1, { clientIp: '198.51.100.1', principal: 'user:u_mallory', reason: 'authz.denied', status: 403 }),
        deny(2, { clientIp: '198.51.100.2', path: '/v1/admin/events' }),
        deny(3, { clientIp: '198.51.100.3', event: 'portcullis.report', principal: 'user:u_bob' }),
        deny(4, { clientIp: '198.51.100.4', event: 'portcullis.allow', principal: 'user:u_bob', status: 200 }),
        deny(5, { clientIp: '198.51.100.2', principal: 'anonymous:anonymous', reason: 'ratelimit.exceeded', status: 429 }),
      ),
    );
    expect(data.refusedIps).toEqual({ rows: [{ key: '198.51.100.1', count: 2 }, { key: '198.51.100.2', count: 2 }], others: 0, total: 4 });
    expect(data.refusedPrincipals).toEqual({ rows: [{ key: 'user:u_mallory', count: 1 }], others: 0, total: 1 });
    expect(data.refusedPaths.rows).toEqual([{ key: '/v1/users/u_alice', count: 3 }, { key: '/v1/admin/events', count: 1 }]);
  });

  it('tells failed logins (401 on credential-flow routes) from other 401s, counts 429s, and finds the spikes', () => {
    const login = { method: 'POST', path: '/v1/auth/login', route: 'POST /v1/auth/login' };
    const lines = [
      // A quiet background of one refusal a second for ten seconds …
      ...Array.from({ length: 10 }, (_, i) => deny(i)),
      // … and a burst of failed logins (sampled 401 answers of the origin and authn denials) at second 5,
      ...Array.from({ length: 4 }, () => deny(5.2, { ...login, event: 'portcullis.allow', reason: 'allow', status: 401 })),
      deny(5.5, { ...login, reason: 'authn.invalid', status: 401 }),
      // one on a route-less refusal to a token path,
      deny(6, { route: null, method: 'POST', path: '/oauth/token', status: 401 }),
      // then the login bucket refusing.
      ...Array.from({ length: 3 }, () => deny(7, { ...login, reason: 'ratelimit.exceeded', status: 429 })),
      deny(8, { ...login, event: 'portcullis.report', reason: 'ratelimit.exceeded', status: 429 }),
      deny(9, { reason: 'ratelimit.unavailable', status: 503 }),
    ];
    const data = aggregate(log(...lines));
    expect(data.failedLogins).toEqual({ counts: [0, 0, 0, 0, 0, 5, 1, 0, 0, 0], total: 6, peak: 5, spikes: [5] });
    expect(data.otherAuthnFailures.total).toBe(10);
    expect(data.otherAuthnFailures.spikes).toEqual([]);
    expect(data.rateLimited).toEqual({ counts: [0, 0, 0, 0, 0, 0, 0, 3, 1, 0], total: 4, peak: 7, spikes: [7] });
  });

  it('calls a bucket a spike only with at least 3 events and 3 times the median bucket', () => {
    const steady = Array.from({ length: 6 }, (_, i) => [deny(i), deny(i + 0.1)]).flat();
    const data = aggregate(log(...steady, deny(6), deny(6.1), deny(6.2), deny(6.3), deny(6.4), deny(6.5)));
    // Median 2: six in a second is a spike, five would not be.
    expect(data.otherAuthnFailures.spikes).toEqual([6]);
    expect(aggregate(log(...steady, deny(6), deny(6.1), deny(6.2), deny(6.3), deny(6.4))).otherAuthnFailures.spikes).toEqual([]);
  });

  it('counts requests under a version the policy deprecates, segment by segment, from its deprecation date on', () => {
    const v0 = { prefix: '/v0', deprecation: T0 + 5000, sunset: T0 + 86_400_000 };
    const data = aggregate(
      log(
        deny(1, { path: '/v0/users/u_bob', route: 'GET /v0/users/:id' }),
        deny(6, { path: '/v0/users/u_bob', route: 'GET /v0/users/:id', reason: 'authz.denied', status: 403 }),
        deny(7, { path: '/v0/users/u_alice', route: 'GET /v0/users/:id', event: 'portcullis.allow', status: 200 }),
        deny(8, { path: '/v0/nothing', route: null, reason: 'route.not_found', status: 404 }),
        deny(9, { path: '/v01/users/u_bob', route: null, reason: 'route.not_found', status: 404 }),
        deny(9, { path: '/v1/users/u_bob' }),
      ),
      { deprecatedVersions: [v0] },
    );
    expect(data.deprecated.sources).toEqual(['policy']);
    expect(data.deprecated.rows).toEqual([
      { version: '/v0', route: 'GET /v0/users/:id', counts: { deny: 1, report: 0, error: 0, allow: 1 }, total: 2 },
      { version: '/v0', route: 'GET /v0/nothing', counts: { deny: 1, report: 0, error: 0, allow: 0 }, total: 1 },
    ]);
    expect(data.deprecated.total).toBe(3);
  });

  it('counts requests whose event says deprecated, without a policy', () => {
    const data = aggregate(log(deny(0, { path: '/v0/users/u_bob', route: 'GET /v0/users/:id', deprecated: true }), deny(1, { path: '/legacy/x', route: 'GET /legacy/x', deprecated: '2024-01' }), deny(2)));
    expect(data.deprecated.sources).toEqual(['events']);
    expect(data.deprecated.rows.map((row) => [row.version, row.route, row.total])).toEqual([
      ['2024-01', 'GET /legacy/x', 1],
      ['/v0', 'GET /v0/users/:id', 1],
    ]);
  });

  it('says nothing about deprecation when neither the events nor a policy do', () => {
    const data = aggregate(log(deny(0, { path: '/v0/users/u_bob', route: 'GET /v0/users/:id' })));
    expect(data.deprecated).toMatchObject({ sources: [], rows: [], total: 0 });
  });

  it('lists alerts in time order and counts them by name', () => {
    const alert = (seconds: number, name: string, key: string) => ({ event: 'portcullis.alert', alert: name, key, count: 10, window: '5m', firstRequestId: 'a', lastRequestId: 'b', time: at(seconds) });
    const data = aggregate(log(alert(9, 'failed_logins', 'u2'), alert(1, 'failed_logins', 'u1'), alert(5, 'password_spraying', '198.51.100.9')));
    expect(data.alerts.byName.rows).toEqual([{ key: 'failed_logins', count: 2 }, { key: 'password_spraying', count: 1 }]);
    expect(data.alerts.rows.map((row) => [row.time, row.name, row.key])).toEqual([
      [T0 + 1000, 'failed_logins', 'u1'],
      [T0 + 5000, 'password_spraying', '198.51.100.9'],
      [T0 + 9000, 'failed_logins', 'u2'],
    ]);
  });

  it('makes an empty report of an empty log', () => {
    const data = aggregate(readEvents(''));
    expect(data).toMatchObject({ totals: {}, span: undefined, buckets: undefined, input: { lines: 0, events: 0 } });
    expect(data.failedLogins).toEqual({ counts: [], total: 0, peak: undefined, spikes: [] });
  });
});
