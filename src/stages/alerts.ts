/**
 * Security alerts (`policy.alerts`): counted with sliding windows in the rate-limit store, so that
 * every gateway sharing a store counts together and an alert is raised once per window and key,
 * fleet-wide. Counting never delays or changes a decision: the engine runs it beside the request.
 * @module
 */

import { ANONYMOUS } from '../authn/contract.ts';
import { describeError, principalLabel, type Exchange, type Stage, type StageEnv } from '../exchange.ts';
import { hexOf } from '../hex.ts';
import { parseDuration } from '../policy/duration.ts';
import type { AlertPolicy, FailedLoginsAlert, Policy, SpikeAlert } from '../policy/types.ts';
import type { BucketSpec, RateLimitStore } from '../stores/types.ts';

/** A counter's `limit`: never reached, so the store counts every event and `limit - remaining` is the count. */
const UNCAPPED = 1_000_000_000;
/** The one key of a spike's counters: they count the whole API. */
const SPIKE_KEY = 'all';

/** An alert to log: the `portcullis.alert` event's own fields. */
export interface RaisedAlert {
  /** The alert's name in `policy.alerts`. */
  alert: string;
  kind: AlertPolicy['kind'];
  /** What was counted: a hash when it names a person (a username, a principal), the address for `per: 'ip'`. */
  key?: string;
  /** Events within `window` (distinct addresses or usernames for those kinds). */
  count: number;
  threshold: number;
  window: string;
  /** The first request counted in this window, as far as the store remembers it, and the one that raised the alert. */
  firstRequestId: string;
  lastRequestId: string;
  /** Spikes: the count `baseline` predicted for one window. */
  expected?: number;
}

/** What the engine knows of a request when it asks the alerts to count. */
export interface AlertRequest {
  requestId: string;
  clientIp: string;
  /** The matched route pattern. */
  route: string | undefined;
  /** `method:id` of the authenticated principal (not anonymous). */
  principal?: string;
  /** The login's username, read from the validated body of a `failed-logins` route. */
  username?: string;
}

interface Counter {
  name: string;
  alert: AlertPolicy;
  /** Events within the window, per key. */
  count: BucketSpec;
  /** Distinct kinds: a (key, member) pair seen once per window. */
  seen: BucketSpec;
  /** One alert per window and key: a token bucket of one token that refills once per window. */
  raised: BucketSpec;
  /** Spikes: events within the baseline. */
  baseline?: BucketSpec;
}

/** The compiled alerts of a policy: which routes feed which alert, and the counting. */
export interface CompiledAlerts {
  /** The body field to read the username from on this route, if a `failed-logins` alert watches it. */
  usernameField(route: string): string | undefined;
  /** A `spike` of denials watches every denial; a `principal-ips` alert every authenticated request. */
  readonly watchesDenials: boolean;
  readonly watchesPrincipals: boolean;
  /** Whether the answer's status of a request on this route must be counted (failed logins, 5xx). */
  watchesAnswers(route: string | undefined): boolean;
  /** An authenticated request (`principal-ips`). */
  authenticated(store: RateLimitStore, request: AlertRequest, now: number): Promise<RaisedAlert[]>;
  /** A denial the engine gave with a status of 400 or above (`spike` of denials). */
  denied(store: RateLimitStore, request: AlertRequest, now: number): Promise<RaisedAlert[]>;
  /** The answer's status is known (failed logins, `spike` of 5xx). */
  answered(store: RateLimitStore, request: AlertRequest, status: number, now: number): Promise<RaisedAlert[]>;
}

/** The field at a dotted path of a validated body, when it is a non-empty string. */
export function fieldAt(body: unknown, path: string): string | undefined {
  let value = body;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A short, stable hash of a name: 16 hex digits of SHA-256. Usernames are folded (NFKC, lower case)
 * first, so `Alice` and `alice` count together: an attacker cannot spread one account's attempts
 * over spellings the login treats alike.
 */
export async function nameHash(name: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(name.normalize('NFKC').toLowerCase()));
  return hexOf(new Uint8Array(digest).subarray(0, 8));
}

function spec(name: string, windowMs: number, algorithm: BucketSpec['algorithm'], limit: number): BucketSpec {
  return { name, windowMs, algorithm, limit };
}

/** Compiles `policy.alerts` (validated by definePolicy); `undefined` when there are none. */
export function compileAlerts(alerts: Readonly<Record<string, AlertPolicy>> | undefined): CompiledAlerts | undefined {
  const entries = Object.entries(alerts ?? {});
  if (!entries.length) return undefined;
  const counters: Counter[] = entries.map(([name, alert]) => {
    const windowMs = parseDuration(alert.window)!;
    // Bucket names of alerts start with `alert:`, which a rate-limit bucket's name cannot.
    const base = `alert:${name}`;
    return {
      name,
      alert,
      count: spec(`${base}:count`, windowMs, 'sliding-window', UNCAPPED),
      seen: spec(`${base}:seen`, windowMs, 'fixed-window', 1),
      raised: spec(`${base}:raised`, windowMs, 'token-bucket', 1),
      baseline: alert.kind === 'spike' ? spec(`${base}:baseline`, parseDuration(alert.baseline)!, 'sliding-window', UNCAPPED) : undefined,
    };
  });
  const logins = counters.filter((counter): counter is Counter & { alert: FailedLoginsAlert } => counter.alert.kind === 'failed-logins');
  const usernameFields = new Map<string, string>();
  for (const { alert } of logins) for (const route of alert.routes) usernameFields.set(route, alert.usernameField ?? 'username');
  const principalWatchers = counters.filter((counter) => counter.alert.kind === 'principal-ips');
  const spikesOf = (of: SpikeAlert['of']) => counters.filter(({ alert }) => alert.kind === 'spike' && alert.of === of);
  const denialSpikes = spikesOf('denials');
  const errorSpikes = spikesOf('5xx');

  /** Counts one event; returns the count within the window. */
  async function count(store: RateLimitStore, bucket: BucketSpec, key: string, now: number) {
    const result = await store.consume(bucket, key, now);
    return bucket.limit - result.remaining;
  }

  /**
   * Raises the alert when `firing`, unless it was raised for this key within the window. The window's
   * first request id is noted when an event opens the window and read back when the alert is raised.
   */
  async function raise(store: RateLimitStore, counter: Counter, key: string, request: AlertRequest, counted: number, firing: boolean, now: number) {
    if (counted !== 1 && !firing) return undefined;
    const first = (await store.remember?.(counter.count, key, request.requestId, now)) ?? request.requestId;
    if (!firing || !(await store.consume(counter.raised, key, now)).success) return undefined;
    const alert: RaisedAlert = {
      alert: counter.name,
      kind: counter.alert.kind,
      count: counted,
      threshold: thresholdOf(counter.alert),
      window: counter.alert.window,
      firstRequestId: first,
      lastRequestId: request.requestId,
    };
    if (key !== SPIKE_KEY) alert.key = key;
    return alert;
  }

  /** Counts an event for `key` and raises the alert at the threshold. */
  async function countEvent(store: RateLimitStore, counter: Counter, key: string, request: AlertRequest, now: number) {
    const counted = await count(store, counter.count, key, now);
    return raise(store, counter, key, request, counted, counted >= thresholdOf(counter.alert), now);
  }

  /** A distinct kind: counts `member` for `key` only the first time the pair is seen within the window. */
  async function countDistinct(store: RateLimitStore, counter: Counter, key: string, member: string, request: AlertRequest, now: number) {
    const fresh = await store.consume(counter.seen, `${key}\u0000${member}`, now);
    return fresh.success ? countEvent(store, counter, key, request, now) : undefined;
  }

  async function spike(store: RateLimitStore, counter: Counter, request: AlertRequest, now: number) {
    const alert = counter.alert as SpikeAlert;
    const [recent, overall] = await Promise.all([count(store, counter.count, SPIKE_KEY, now), count(store, counter.baseline!, SPIKE_KEY, now)]);
    // The rate before this window, over the rest of the baseline (which also counts this window's events).
    const windowMs = counter.count.windowMs;
    const expected = (Math.max(0, overall - recent) * windowMs) / (counter.baseline!.windowMs - windowMs);
    const firing = recent >= thresholdOf(alert) && recent >= (alert.factor ?? 5) * expected;
    const raisedAlert = await raise(store, counter, SPIKE_KEY, request, recent, firing, now);
    if (raisedAlert) raisedAlert.expected = Math.round(expected * 100) / 100;
    return raisedAlert;
  }

  const raised = (list: (RaisedAlert | undefined)[]) => list.filter((alert): alert is RaisedAlert => alert !== undefined);

  return {
    watchesDenials: denialSpikes.length > 0,
    watchesPrincipals: principalWatchers.length > 0,
    usernameField: (route) => usernameFields.get(route),
    watchesAnswers: (route) => errorSpikes.length > 0 || (route !== undefined && usernameFields.has(route)),
    async authenticated(store, request, now) {
      if (!request.principal || !principalWatchers.length) return [];
      const key = await nameHash(request.principal);
      return raised(
        await Promise.all(
          principalWatchers
            .filter(({ alert }) => alert.kind === 'principal-ips' && (!alert.routes || (request.route !== undefined && alert.routes.includes(request.route as never))))
            .map((counter) => countDistinct(store, counter, key, request.clientIp, request, now)),
        ),
      );
    },
    async denied(store, request, now) {
      return raised(await Promise.all(denialSpikes.map((counter) => spike(store, counter, request, now))));
    },
    async answered(store, request, status, now) {
      const work: Promise<RaisedAlert | undefined>[] = status >= 500 ? errorSpikes.map((counter) => spike(store, counter, request, now)) : [];
      if (request.username !== undefined && request.route !== undefined) {
        const username = request.username;
        for (const counter of logins) {
          const { alert } = counter;
          if (!alert.routes.includes(request.route as never) || !(alert.failureStatuses ?? [401, 403]).includes(status)) continue;
          work.push(
            nameHash(username).then((user) =>
              alert.per === 'username'
                ? countEvent(store, counter, user, request, now)
                : countDistinct(store, counter, request.clientIp, user, request, now),
            ),
          );
        }
      }
      return raised(await Promise.all(work));
    },
  };
}

function thresholdOf(alert: AlertPolicy): number {
  return alert.kind === 'spike' ? (alert.minimum ?? 20) : alert.threshold;
}

/** The alert steps of the pipeline: they never refuse; their counting runs beside the request. */
export interface AlertStages {
  /** After authentication: counts the principal's address (`principal-ips`). */
  afterAuthn: Stage;
  /** After validation: notes the login's username (`failed-logins`). */
  afterValidate: Stage;
  /** A denial was logged (`spike` of denials). */
  denied(x: Exchange, status: number): void;
  /** Counts the answer's status (failed logins, `spike` of 5xx); `undefined` when no alert watches this exchange. */
  settler(x: Exchange): ((status: number) => Promise<void>) | undefined;
}

const pass = (): undefined => undefined;

export function alertStages(policy: Policy, env: StageEnv): AlertStages {
  const alerts = compileAlerts(policy.alerts);
  if (!alerts) return { afterAuthn: pass, afterValidate: pass, denied: pass, settler: pass };
  const { store } = env;

  const request = (x: Exchange): AlertRequest => ({ requestId: x.requestId, clientIp: x.client.ip, route: x.route, principal: principalLabel(x), username: x.username });

  /** Logs the alerts raised: `portcullis.alert`, with the request that raised it. A store failure is logged, never thrown. */
  async function watch(x: Exchange, counting: Promise<RaisedAlert[]>): Promise<void> {
    try {
      for (const raised of await counting) {
        env.observer?.alerted?.({ alert: raised.alert, kind: raised.kind });
        env.emit(x, { event: 'portcullis.alert', reason: `alert.${raised.kind}`, ...raised });
      }
    } catch (error) {
      env.observer?.storeFailed?.(store.name ?? 'custom');
      env.emit(x, { event: 'portcullis.error', reason: 'ratelimit.store_error', error: describeError(error) });
    }
  }

  /** Counting the request does not wait for: handed to waitUntil where the runtime has it. */
  function beside(x: Exchange, counting: Promise<RaisedAlert[]>) {
    const work = watch(x, counting);
    x.context.waitUntil?.(work);
  }

  return {
    afterAuthn(x) {
      if (alerts.watchesPrincipals && x.principal && x.principal !== ANONYMOUS) beside(x, alerts.authenticated(store, request(x), env.now()));
      return undefined;
    },
    afterValidate(x) {
      const field = alerts.usernameField(x.route!);
      if (field) x.username = fieldAt(x.input?.body, field);
      return undefined;
    },
    denied(x, status) {
      if (alerts.watchesDenials && status >= 400) beside(x, alerts.denied(store, request(x), env.now()));
    },
    settler(x) {
      if (!alerts.watchesAnswers(x.route)) return undefined;
      let settled = false;
      return async (status) => {
        if (settled) return;
        settled = true;
        await watch(x, alerts.answered(store, request(x), status, env.now()));
      };
    },
  };
}
