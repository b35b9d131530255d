/**
 * The authentication contract: what a method (`jwt()`, `apiKey()`, `introspection()` or your own)
 * implements, what it may use while authenticating, and the principal it yields. The methods in
 * this folder implement it; the policy names methods by it; the authn stage runs them.
 * @module
 */

import type { CertificateLookup } from './certificate-source.ts';
import type { NativeCrypto } from './native-crypto.ts';

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
  /**
   * Credentials of this kind were valid. `headers` go on the answer (a fresh `DPoP-Nonce`);
   * `release` undoes what accepting them recorded (a replay cache entry), for a request the gateway
   * or the origin then did not serve (an answer of 400 or more).
   */
  | { kind: 'success'; principal: Omit<Principal, 'method'>; headers?: Readonly<Record<string, string>>; release?: () => Promise<void> }
  /** No credentials of this kind: the next method is tried. */
  | { kind: 'absent' }
  /**
   * Credentials were present and wrong: 401 with this reason code (e.g. `authn.token_expired`).
   * `challenge`, when given, is this method's whole `WWW-Authenticate` challenge for this failure,
   * error included (a method with two schemes names the error on the one the client used);
   * `headers` go on the denial (the `DPoP-Nonce` a client must use next).
   */
  | { kind: 'failure'; reason: string; challenge?: string; headers?: Readonly<Record<string, string>> };

/**
 * The request as the engine checked it, for methods that bind a credential to it (DPoP's `htm` and
 * `htu`). `request.url` is not that: it carries the socket's scheme where TLS ended at a proxy.
 */
export interface AuthnTarget {
  /** The request method. */
  readonly method: string;
  /** The URL the client used: its scheme (as a trusted proxy reports it), the checked host, the path and query. */
  readonly url: string;
}

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
  /**
   * The replay cache (a DPoP proof's `jti`, a webhook id), shared by a fleet when the rate-limit
   * store is: `true` the first time `key` is offered before `expiresAt` (epoch ms), `false` after.
   * Rejects when the store fails or is slow. Present when the engine's store can remember keys;
   * absent, a method that needs it refuses (fails closed).
   */
  firstUse?(key: string, expiresAt: number): Promise<boolean>;
  /** Forgets a key `firstUse` remembered (a request that was then not delivered). */
  forget?(key: string): Promise<void>;
  /** The runtime's own signature checks and SHA-256, faster than WebCrypto where present; absent, WebCrypto does it all. */
  crypto?: NativeCrypto;
}

/** What the engine hands a method about this request beyond the Request itself. */
export interface AuthnContext {
  /** The method and URL the engine checked (DPoP binds a proof to them). */
  target?: AuthnTarget;
  /**
   * The request body, read once within the route's body limit, for a method with `readsBody`:
   * the Request's own body is left for validation and the origin.
   */
  body?: Uint8Array;
  /**
   * The request's client certificate, from the source `policy.clientCertificate` names: looked up
   * when first asked, once per request.
   */
  clientCertificate?(): Promise<CertificateLookup>;
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
  /** The credential covers the body (a request signature): the engine reads the body before authenticating. */
  readonly readsBody?: boolean;
  /** The method refuses replays through `env.firstUse` (DPoP, signatures): an engine whose store cannot remember keys refuses the policy. */
  readonly usesReplayCache?: boolean;
  /**
   * `context`: what the engine knows of the request; absent where no engine runs (a direct call, a unit test): the method reads `request` itself, and there is no certificate.
   * A method that knows the answer at once (a token it verified before) may return it without a promise.
   */
  authenticate(request: Request, env: AuthnEnv, context?: AuthnContext): AuthnOutcome | Promise<AuthnOutcome>;
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
