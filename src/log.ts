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
   */
  event: 'portcullis.deny' | 'portcullis.report' | 'portcullis.error' | 'portcullis.notice';
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
}

/** Where events go. */
export type SecuritySink = (event: SecurityEvent) => void;

/** The default sink: one JSON line per event on standard output. */
export const jsonLineSink: SecuritySink = (event) => console.log(JSON.stringify(event));
