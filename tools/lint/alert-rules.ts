/**
 * Lint rules for `policy.alerts`: a login nobody watches for credential stuffing, an alert the
 * rate limits keep from ever firing, a spike measured against a baseline too short to be one.
 * @module
 */

import { parseDuration } from '../../src/policy/duration.ts';
import type { FailedLoginsAlert, Policy, SpikeAlert } from '../../src/policy/types.ts';
import type { LintRule, RouteInfo } from './rule-types.ts';

const WRITE_METHODS = ['POST', 'PUT', 'PATCH'];
/** Paths of password logins: where stuffing and spraying aim. */
const LOGIN_PATH = /log-?in|sign-?in|password|passwd|session/i;
/** A baseline shorter than this many windows moves with the spike it should expose. */
export const MIN_BASELINE_WINDOWS = 10;

const literalPath = (route: RouteInfo) => `/${route.parsed.segments.map((s) => ('literal' in s ? s.literal : ':')).join('/')}`;

function alertsOf<K extends 'failed-logins' | 'spike'>(policy: Policy, kind: K) {
  return Object.entries(policy.alerts ?? {}).filter((entry): entry is [string, K extends 'spike' ? SpikeAlert : FailedLoginsAlert] => entry[1]?.kind === kind);
}

export const ALERT_RULES: readonly LintRule[] = [
  {
    id: 'alerts.login_unwatched',
    severity: 'warning',
    owasp: 'API2',
    title: 'Login without a credential-stuffing alert',
    description:
      'A per-address limit on a login does not see credential stuffing: one username tried from thousands of addresses, a few attempts each. Only counting failures per username, from any address, shows it.',
    fix: "Add an alert such as { kind: 'failed-logins', per: 'username', routes: ['POST /v1/auth/login'], threshold: 10, window: '5m' } to policy.alerts.",
    check: ({ policy, routes }) => {
      const watched = new Set(alertsOf(policy, 'failed-logins').flatMap(([, alert]) => (alert.per === 'username' ? (alert.routes ?? []) : [])));
      return routes
        .filter((route) => WRITE_METHODS.includes(route.parsed.method) && route.route.authn === 'anonymous' && route.route.body && LOGIN_PATH.test(literalPath(route)))
        .filter((route) => !watched.has(route.pattern as never))
        .map((route) => ({ keys: ['routes', route.pattern], message: `${route.pattern} takes credentials, and no failed-logins alert per username watches it` }));
    },
  },
  {
    id: 'alerts.threshold_unreachable',
    severity: 'warning',
    owasp: 'API8',
    title: 'Alert threshold above what the rate limit lets through',
    description:
      "A failed-logins alert per address counts distinct usernames failing from one address. When the route's per-address bucket refuses sooner, and for at least the alert's window, that count never reaches the threshold and the alert never fires.",
    fix: 'Lower the threshold below the bucket limit, or watch the username (per: username) instead.',
    check: ({ policy }) =>
      alertsOf(policy, 'failed-logins').flatMap(([name, alert]) => {
        if (alert.per !== 'ip') return [];
        const windowMs = parseDuration(alert.window);
        return (alert.routes ?? []).flatMap((pattern) => {
          const route = policy.routes[pattern];
          const capping = (route?.rateLimit ?? [])
            .map((bucket) => ({ bucket, spec: policy.rateLimits?.[bucket] }))
            .find(({ spec }) => spec && spec.by === 'ip' && spec.mode !== 'report' && spec.limit < alert.threshold && windowMs !== undefined && (parseDuration(spec.window) ?? 0) >= windowMs);
          return capping
            ? [{ keys: ['alerts', name, 'threshold'], message: `bucket "${capping.bucket}" refuses an address after ${capping.spec!.limit} attempts on ${pattern}: ${alert.threshold} usernames from one address are never counted` }]
            : [];
        });
      }),
  },
  {
    id: 'alerts.spike_baseline_short',
    severity: 'warning',
    owasp: 'API8',
    title: 'Spike baseline too short',
    description: `A spike is measured against the rate of its baseline. A baseline shorter than ${MIN_BASELINE_WINDOWS} windows rises with the spike itself, so a sustained attack soon looks normal.`,
    fix: `Make baseline at least ${MIN_BASELINE_WINDOWS} times window, e.g. window: '1m', baseline: '1h'.`,
    check: ({ policy }) =>
      alertsOf(policy, 'spike').flatMap(([name, alert]) => {
        const window = parseDuration(alert.window);
        const baseline = parseDuration(alert.baseline);
        return window !== undefined && baseline !== undefined && baseline < MIN_BASELINE_WINDOWS * window
          ? [{ keys: ['alerts', name, 'baseline'], message: `${alert.baseline} is only ${Math.round((baseline / window) * 10) / 10} windows of ${alert.window}` }]
          : [];
      }),
  },
];
