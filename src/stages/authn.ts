/**
 * Authentication: the route's accepted methods, tried in order.
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

export function isAuthnMethod(value: unknown): value is AuthnMethod {
  const method = value as AuthnMethod | null;
  return typeof method === 'object' && method !== null && typeof method.kind === 'string' &&
    typeof method.challenge === 'string' && typeof method.authenticate === 'function';
}

export type AuthnResult = { ok: true; principal: Principal } | { ok: false; reason: string; challenge: string };

/** The RFC 6750 / RFC 9470 `error` of a failure reason, for `WWW-Authenticate`. */
function challengeError(reason: string): string | undefined {
  if (reason === 'authn.invalid_request') return 'invalid_request';
  if (reason === 'authn.mfa_required') return 'insufficient_user_authentication';
  if (reason === 'authn.keys_unavailable' || reason === 'authn.unavailable') return undefined;
  return 'invalid_token';
}

/** Compiles a route's `authn` list into one function. */
export function compileAuthn(accepted: 'anonymous' | readonly string[], methods: Readonly<Record<string, AuthnMethod>>) {
  if (accepted === 'anonymous') return async (): Promise<AuthnResult> => ({ ok: true, principal: ANONYMOUS });
  // `['user', 'anonymous']`: a token is optional, but a bad token is still refused.
  const optional = accepted.includes('anonymous');
  const chain = accepted.filter((name) => name !== 'anonymous').map((name) => ({ name, method: methods[name]! }));
  const plain = [...new Set(chain.map(({ method }) => method.challenge))].join(', ');
  // Methods return the same principal object for a cached credential; so does this route.
  const named = new WeakMap<object, Principal>();
  return async function authenticate(request: Request, env: AuthnEnv): Promise<AuthnResult> {
    let failure: { reason: string; method: AuthnMethod } | undefined;
    for (const { name, method } of chain) {
      const outcome = await method.authenticate(request, env);
      if (outcome.kind === 'success') {
        let principal = named.get(outcome.principal);
        if (principal?.method !== name) {
          const credential = method.credentialHeader === undefined ? {} : { credentialHeader: method.credentialHeader };
          principal = Object.freeze({ ...outcome.principal, method: name, ...credential });
          named.set(outcome.principal, principal);
        }
        return { ok: true, principal };
      }
      // A wrong credential of one kind does not stop a right credential of another kind, but it
      // decides the reason when nothing succeeds.
      if (outcome.kind === 'failure') failure ??= { reason: outcome.reason, method };
    }
    if (!failure) return optional ? { ok: true, principal: ANONYMOUS } : { ok: false, reason: 'authn.required', challenge: plain };
    const error = challengeError(failure.reason);
    const challenge = [
      ...new Set(chain.map(({ method }) => (method === failure.method && error ? `${method.challenge}, error="${error}"` : method.challenge))),
    ].join(', ');
    return { ok: false, reason: failure.reason, challenge };
  };
}
