/**
 * Structured security events: one JSON object per denial (and, when the policy asks, per sampled
 * allowed request), with nothing secret in it.
 * @module
 */

/**
 * One security event. It never holds a token, password, cookie, API key or query value (an
 * allowed request's `query` keeps only the values `logging.allowed.queryValues` names).
 */
export interface SecurityEvent {
  time: string;
  /**
   * `report`: a denial that report-only mode let through. `notice`: a problem to fix that decided
   * no request by itself (a JWKS key that cannot verify was skipped); its request fields are `-`.
   * `allow`: an allowed request, sampled (`logging.allowed`); its `reason` is `allow`.
   */
  event: 'portcullis.deny' | 'portcullis.report' | 'portcullis.error' | 'portcullis.notice' | 'portcullis.allow';
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
  /**
   * Allowed requests: the query's keys in order, `key=value` for the keys whose values may be
   * logged and a bare `key` for the others (`page=2&q`); absent without a query.
   */
  query?: string;
  /** Allowed requests: `user`, `client` (an application acting for itself) or `anonymous`. */
  principalKind?: 'user' | 'client' | 'anonymous';
  /** Allowed requests: the principal's roles and scopes as its credential stated them. */
  roles?: readonly string[];
  scopes?: readonly string[];
  /** Allowed requests: the `allow` rule that admitted it (`allow[0]`, a rule's name, `authenticated`). */
  rule?: string;
}

/** Where events go. */
export type SecuritySink = (event: SecurityEvent) => void;

/** The default sink: one JSON line per event on standard output. */
export const jsonLineSink: SecuritySink = (event) => console.log(JSON.stringify(event));
