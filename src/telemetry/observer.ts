/**
 * The engine's one seam for telemetry: an observer it tells what it decided. The core imports no
 * telemetry library; `portcullis/otel` makes an observer on OpenTelemetry, and any object of this
 * shape will do (a StatsD client, a test's counter).
 * @module
 */

/** One evaluated request, as an observer sees it: never a credential, a query string or a body. */
export interface EvaluationRecord {
  /**
   * `allow`, `deny`, or `report` (a denial that report-only mode let through). A bodiless answer
   * the engine gives itself (a CORS preflight's 204) counts as `allow`.
   */
  readonly outcome: 'allow' | 'deny' | 'report';
  /** The reason code of a denial or a report (`authn.required`); absent on an allow. */
  readonly reason: string | undefined;
  /** The status the engine answers with (denials), or would have (reports). */
  readonly status: number | undefined;
  /** The matched route pattern (`GET /v1/users/:id`), when one matched. */
  readonly route: string | undefined;
  /** The request line's method, as sent: bound it before using it as a label. */
  readonly method: string;
  /** When the evaluation began, epoch milliseconds (fractional). */
  readonly startTime: number;
  /** How long it took, milliseconds (fractional). */
  readonly durationMs: number;
}

/** A raised alert, as an observer sees it. */
export interface AlertRecord {
  /** The alert's name in `policy.alerts`. */
  readonly alert: string;
  readonly kind: string;
}

/**
 * What the engine reports as it works. Every method is optional and must not throw (a throw is
 * swallowed: telemetry never changes a decision). Calls are synchronous and on the request's path:
 * keep them cheap.
 *
 * @example
 * ```ts
 * const denials = new Map<string, number>();
 * const engine = createEngine(policy, {
 *   observer: { evaluated: ({ outcome, reason }) => outcome === 'deny' && denials.set(reason!, (denials.get(reason!) ?? 0) + 1) },
 * });
 * ```
 */
export interface EngineObserver {
  /** Once per evaluated request. */
  evaluated?(record: EvaluationRecord): void;
  /** Authentication refused a request: the name of the method in `policy.authn` that refused it (absent: no credential at all). */
  authnFailed?(method: string | undefined, reason: string): void;
  /** A rate-limit bucket was exceeded (also when the bucket only reports). */
  rateLimited?(bucket: string): void;
  /** A request to a deprecated version: its route and version prefix (`/v0`). */
  deprecated?(route: string, version: string): void;
  /** The rate-limit store failed or timed out; `store` is its name (`memory`, `redis`, `upstash`, …). */
  storeFailed?(store: string): void;
  /** An alert of `policy.alerts` was raised (at most once per window and key). */
  alerted?(record: AlertRecord): void;
}

/**
 * The observer the engine calls: each method wrapped so that a throw is swallowed (telemetry never
 * changes a decision), and absent when the observer lacks it. `undefined` without an observer.
 */
export function guardObserver(observer: EngineObserver | undefined): EngineObserver | undefined {
  if (!observer) return undefined;
  const guarded: EngineObserver = {};
  for (const name of ['evaluated', 'authnFailed', 'rateLimited', 'deprecated', 'storeFailed', 'alerted'] as const) {
    const method = observer[name] as ((...args: unknown[]) => void) | undefined;
    if (!method) continue;
    (guarded as Record<string, (...args: unknown[]) => void>)[name] = (...args) => {
      try {
        method.apply(observer, args);
      } catch {
        // An observer's failure is not the request's.
      }
    };
  }
  return guarded;
}
