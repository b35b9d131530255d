/**
 * The authentication contract: what a method (`jwt()`, `apiKey()`, `introspection()` or your own)
 * implements, what it may use while authenticating, and the principal it yields. The methods in
 * this folder implement it; the policy names methods by it; the authn stage runs them.
 * @module
 */

/** Who made the request. */
export interface Principal {
  /** Stable id (`sub` of a token, the key's principal), or `anonymous`. */
  readonly id: string;
  /** The name of the `policy.authn` method that authenticated it, or `anonymous`. */
  readonly method: string;
  /**
   * `client`: an application acting for itself (an OAuth client-credentials token), which owns no
   * user's resources: `owner` rules never match it. Absent: a user (or the anonymous caller).
   */
  readonly kind?: 'user' | 'client';
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  /** Verified claims / key metadata. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * The request header the method reads its credential from (`authorization`, an API key's
   * header); absent when anonymous. `forwardTo` hands exactly this header on, and only when asked.
   */
  readonly credentialHeader?: string;
  /**
   * The caller's own quota (a plan), set by the method that knows it — `apiKey()` from the key's
   * record. It replaces the limit and period of the route's `quota` for this caller.
   */
  readonly quota?: QuotaSpec;
}

/** A number of calls per calendar period (UTC). */
export interface QuotaSpec {
  /** Calls per period. */
  readonly limit: number;
  /** `day` (refills at 00:00 UTC) or `month` (refills on the 1st, 00:00 UTC). */
  readonly period: 'day' | 'month';
}

/** What one method concluded. */
export type AuthnOutcome =
  /** Credentials of this kind were valid. */
  | { kind: 'success'; principal: Omit<Principal, 'method'> }
  /** No credentials of this kind: the next method is tried. */
  | { kind: 'absent' }
  /** Credentials were present and wrong: 401 with this reason code (e.g. `authn.token_expired`). */
  | { kind: 'failure'; reason: string };

/** A fetch function. Narrower than `typeof fetch`, so runtimes whose fetch has extras (Bun's `preconnect`) and plain functions both fit. */
export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** What a method may use while authenticating (clock, fetch, log) — the engine's environment. */
export interface AuthnEnv {
  now(): number;
  fetch: FetchLike;
  /**
   * Reports a problem the operator should fix that refuses no request by itself (a JWKS key that
   * cannot verify was skipped). The engine logs it as a `portcullis.notice` event.
   */
  log?(notice: { reason: string; detail: string }): void;
}

/** An authentication method, made by a factory such as `jwt()` or `apiKey()`. */
export interface AuthnMethod {
  readonly kind: string;
  /** The `WWW-Authenticate` challenge, e.g. `Bearer realm="api"`. */
  readonly challenge: string;
  /** The method's settings, without secrets: for lint, explain, OpenAPI and the test kit. */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** The request header that carries this method's credential, lower case, when it is a header. */
  readonly credentialHeader?: string;
  authenticate(request: Request, env: AuthnEnv): Promise<AuthnOutcome>;
}

/** The principal of a public route. */
export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  method: 'anonymous',
  roles: Object.freeze([]),
  scopes: Object.freeze([]),
  claims: Object.freeze({}),
});

/** Whether a value implements AuthnMethod: `definePolicy` checks each `policy.authn` entry with it. */
export function isAuthnMethod(value: unknown): value is AuthnMethod {
  const method = value as AuthnMethod | null;
  return typeof method === 'object' && method !== null && typeof method.kind === 'string' &&
    typeof method.challenge === 'string' && typeof method.authenticate === 'function';
}
