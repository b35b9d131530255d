/**
 * Structured security events: one JSON object per denial, with nothing secret in it.
 * @module
 */

/** One security event. It never holds a token, password, cookie, API key or query string. */
export interface SecurityEvent {
  time: string;
  /**
   * `report`: a denial that report-only mode let through. `notice`: a problem to fix that decided
   * no request by itself (a JWKS key that cannot verify was skipped); its request fields are `-`.
   * `alert`: an alert of `policy.alerts` was raised; the request fields are the raising request's.
   */
  event: 'portcullis.deny' | 'portcullis.report' | 'portcullis.error' | 'portcullis.notice' | 'portcullis.alert';
  requestId: string;
  reason: string;
  /** The rules behind the reason when there are several or they say more (`allow[0]: authz.role_missing`). */
  reasons?: readonly string[];
  /** The status sent; absent for events that decided no response (a store error let through). */
  status?: number;
  method: string;
  /** The normalized path, without the query string (queries can carry credentials). */
  path: string;
  route: string | null;
  clientIp: string;
  /** `method:id` of the authenticated principal, once known. */
  principal?: string;
  /** Server-side detail of an unexpected error or of a notice. Never sent to the caller. */
  error?: string;
  /** Alerts: the alert's name in `policy.alerts`, and its kind (`failed-logins`). */
  alert?: string;
  kind?: string;
  /** Alerts: what was counted — a hash when it names a person (a username, a principal), else the client address. */
  key?: string;
  /** Alerts: events (or distinct addresses, usernames) within `window`; `threshold` raised it. */
  count?: number;
  threshold?: number;
  window?: string;
  /** Alerts: the first request the window counted (as far as the store remembers) and the one that raised it. */
  firstRequestId?: string;
  lastRequestId?: string;
  /** Spike alerts: the count the baseline predicted for one window. */
  expected?: number;
}

/** Where events go. */
export type SecuritySink = (event: SecurityEvent) => void;

/** The default sink: one JSON line per event on standard output. */
export const jsonLineSink: SecuritySink = (event) => console.log(JSON.stringify(event));
