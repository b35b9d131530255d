/**
 * The policy object: what a team writes, reviews and tests.
 * @module
 */

import type { Client, ClientIpOptions } from '../client.ts';
import type { StandardSchemaV1 } from '../schema.ts';
import type { AuthnEnv, AuthnMethod, Principal, QuotaSpec } from '../authn/contract.ts';
import type { ClientCertificateOptions } from '../authn/certificate-source.ts';

/** `"GET /v1/users/:id"`: an HTTP method, a space, a path pattern with `:param` segments. */
export type RoutePattern = `${string} /${string}`;

/** One route's rules. */
export interface RoutePolicy {
  /**
   * The authentication methods this route accepts, by name from `policy.authn`, tried in order;
   * or `'anonymous'` for a public route. Required: there is no default.
   */
  authn: 'anonymous' | readonly string[];
  /**
   * Who may call: alternatives, the first that holds admits. Required on authenticated routes;
   * `'authenticated'` admits every principal the route's authn accepts, and must be said explicitly.
   */
  allow?: 'authenticated' | readonly AllowRule[];
  /** Names of `policy.rateLimits` buckets this route takes from (several: e.g. per IP and per principal). */
  rateLimit?: readonly string[];
  /**
   * The name of the `policy.quotas` entry whose allowance each allowed call of this route uses up.
   * Only on authenticated routes: a quota counts per principal or per API key.
   */
  quota?: string;
  /** Client address rules for this route, checked after the policy-wide ones (both must pass). */
  ip?: IpRulesPolicy;
  /** Client country rules for this route, checked after the policy-wide ones (both must pass). */
  country?: CountryRulesPolicy;
  /** Schema of the path params (strings in; the output replaces them). */
  params?: StandardSchemaV1;
  /** Schema of the query: an object of strings (a repeated key gives an array). */
  query?: StandardSchemaV1;
  /** Schema of the request headers, lowercase names. Unlisted headers are not an error. */
  headers?: StandardSchemaV1;
  /** Schema of the body. A route without `body` (and without `contentTypes`) accepts no body. */
  body?: StandardSchemaV1;
  /** Accepted body media types. @default ['application/json'] when `body` is set */
  contentTypes?: readonly string[];
  /** Largest body, in bytes, enforced while reading. @default policy.limits.maxBodyBytes */
  maxBodyBytes?: number;
  /**
   * Keys the schema did not declare, in `body` and `query`: refused with 422, or stripped (the
   * origin gets the schema's output either way).
   * @default 'reject'
   */
  unknownKeys?: 'reject' | 'strip';
  /**
   * Fields only some roles may set (mass assignment): body field → roles allowed to write it,
   * e.g. `{ role: ['admin'], isAdmin: ['admin'] }`. Dotted paths reach nested fields.
   */
  fieldRoles?: Readonly<Record<string, readonly string[]>>;
  /**
   * `report`: this route's denials are logged as `portcullis.report` and the request is let
   * through — roll a rule out on live traffic before enforcing it. @default the policy's mode
   */
  mode?: 'enforce' | 'report';
  /**
   * `Cache-Control` of this route's allowed answers, replacing the handler's. Authenticated
   * routes default to `no-store`, so that no shared cache hands one caller's answer to another;
   * `false` leaves the header to the handler. Report-only mode keeps it on the requests it lets through.
   * @default 'no-store' on authenticated routes, none on anonymous ones
   */
  cacheControl?: string | false;
  /**
   * What callers may read of this route's JSON answers (the read side of mass assignment): fields
   * only some roles see, a schema the answer must match. Answers of routes without it stream through
   * untouched.
   */
  response?: ResponsePolicy;
  /** A human description, shown by `explain` and the OpenAPI export. */
  description?: string;
}

/**
 * `ip`: which client addresses may call. Entries are CIDR ranges (`203.0.113.0/24`, `2001:db8::/32`)
 * or single addresses; IPv4-mapped IPv6 clients (`::ffff:203.0.113.7`) count as their IPv4 address.
 */
export interface IpRulesPolicy {
  /** Only clients inside one of these ranges may call. @default every address */
  allow?: readonly string[];
  /** Clients inside one of these ranges are refused, whatever `allow` says (deny wins). @default none */
  deny?: readonly string[];
}

/**
 * `country`: which client countries may call, as ISO 3166-1 alpha-2 codes (`DE`, `US`, `GB`). The
 * country comes from the platform (`request.cf.country` on Workers) or from the header a trusted
 * proxy sets (`clientIp.countryHeader`).
 */
export interface CountryRulesPolicy {
  /** Only clients from these countries may call. @default every country */
  allow?: readonly string[];
  /** Clients from these countries are refused, whatever `allow` says (deny wins). @default none */
  deny?: readonly string[];
  /**
   * A request whose country is not known (no platform country, no trusted proxy header, `XX`):
   * refused (fail closed), or let through — only sensible for a list of denied countries.
   * @default 'deny'
   */
  unknown?: 'deny' | 'allow';
}

/**
 * One named quota of `policy.quotas`: a number of calls per calendar period (UTC), for billing
 * plans and fair use rather than for bursts (rate limits do that). The allowance refills to `limit`
 * when a period starts: midnight UTC for `day`, the first of the month 00:00 UTC for `month`.
 * A principal with a plan of its own (an API key record's `quota`) uses that limit and period.
 */
export interface QuotaPolicy extends QuotaSpec {
  /**
   * Whose calls one count is for. `principal`: every authenticated caller has its own. `apiKey`:
   * one count per API key, and calls authenticated otherwise (a user's token) use no quota.
   * @default 'principal'
   */
  by?: 'principal' | 'apiKey';
}

/** `routes[…].response`: the gateway reads the handler's or origin's JSON answer before the caller does. */
export interface ResponsePolicy {
  /**
   * Field path → who may read it: role names (after the role hierarchy), and `'owner'` for the
   * caller who owns the record by the route's `allow` owner rule. A field the caller may not read is
   * removed (or, in strict mode, the answer refused). Paths: `email`, `address.street`,
   * `items[].secret` (every element of an array), `[].email` (an answer that is an array). Fields
   * not listed are readable by every caller the route admits.
   * @example { email: ['owner', 'admin'], lastLoginIp: ['admin'], 'items[].secret': ['admin'] }
   */
  fields?: Readonly<Record<string, readonly string[]>>;
  /**
   * Standard Schema a 2xx answer must match; its output is what the caller gets, so a schema that
   * drops undeclared keys makes the answer an allowlist. A mismatch is a 502 `response.invalid`.
   */
  schema?: StandardSchemaV1;
  /**
   * `strip`: fields the caller may not read are removed. `strict`: their presence refuses the whole
   * answer with 502 `response.forbidden_field` and a log event (the origin should not have sent them).
   * @default 'strip'
   */
  mode?: 'strip' | 'strict';
  /**
   * Largest answer read, in bytes; a larger one is refused with 502 `response.too_large` (the
   * gateway must hold the whole answer to filter it).
   * @default 1048576 (1 MiB)
   */
  maxBytes?: number;
}

/** `policy.limits`. */
export interface LimitsPolicy {
  /** Default body cap for routes that take a body. @default 102400 (100 KiB) */
  maxBodyBytes?: number;
  /** Deepest JSON nesting accepted. @default 32 */
  maxJsonDepth?: number;
}

/** `policy.transport`. */
export interface TransportPolicy {
  /**
   * Plain-HTTP requests are redirected (308, GET/HEAD) or refused (403, other methods).
   * @default true
   */
  requireHttps?: boolean;
  /**
   * Accept plain HTTP on a direct connection from a loopback address (local development, the demo).
   * A request a proxy forwarded is never exempt.
   * @default false
   */
  allowLoopbackHttp?: boolean;
  /**
   * `Strict-Transport-Security`; `false` to omit it.
   * @default { maxAge: 31536000, includeSubDomains: true }
   */
  hsts?: false | { maxAge: number; includeSubDomains?: boolean; preload?: boolean };
}

/** `policy.cors`: an exact-origin allowlist. */
export interface CorsPolicy {
  /** Exact origins (`https://app.example.com`), or `['*']` for a public API without credentials. */
  origins: readonly string[];
  /**
   * Send `Access-Control-Allow-Credentials: true` (cookies, `Authorization` from browsers).
   * @default false
   */
  credentials?: boolean;
  /**
   * Preflight cache lifetime in seconds.
   * @default 600
   */
  maxAge?: number;
  /**
   * Request headers a cross-origin caller may send (beyond the CORS-safelisted ones).
   * @default ['authorization', 'content-type']
   */
  allowHeaders?: readonly string[];
  /** Response headers cross-origin scripts may read. RateLimit headers are added when routes are limited. */
  exposeHeaders?: readonly string[];
}

/** `policy.headers`: security headers set on every response. `false` removes one. */
export interface HeadersPolicy {
  /** @default "default-src 'none'; frame-ancestors 'none'" */
  contentSecurityPolicy?: string | false;
  /** @default 'DENY' */
  frameOptions?: 'DENY' | 'SAMEORIGIN' | false;
  /** @default 'no-referrer' */
  referrerPolicy?: string | false;
  /** @default 'accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()' */
  permissionsPolicy?: string | false;
  /** @default 'same-origin' */
  crossOriginOpenerPolicy?: string | false;
  /** @default 'same-origin' */
  crossOriginResourcePolicy?: string | false;
}

/** One entry of `policy.versions`, keyed by path prefix (`/v0`). */
export interface VersionPolicy {
  /** When the version was (or will be) deprecated: an ISO 8601 date (`Deprecation: @<epoch>`). */
  deprecation?: string;
  /** When it stops answering (410 Gone from then on): an ISO 8601 date. */
  sunset?: string;
  /** A document for migrating off this version (`Link: <…>; rel="deprecation"`). */
  link?: string;
}

/** Options of the route table. */
export interface RoutingPolicy {
  /**
   * Answer `HEAD` with the rules of the `GET` route of the same path. Off by default: a HEAD that
   * no route names gets 405.
   * @default false
   */
  headFromGet?: boolean;
  /**
   * Longest accepted request target, in characters.
   * @default 2048
   */
  maxPathLength?: number;
}

/** `policy.logging`: what is logged besides denials. */
export interface LoggingPolicy {
  /**
   * Log a sample of allowed requests as `portcullis.allow` events (method, route, path, query keys,
   * principal kind, roles and scopes, client address, status — never a credential), so that
   * `portcullis replay` can decide them again under a changed policy. Off by default.
   */
  allowed?: {
    /** The share of allowed requests logged, from 0 to 1 (`0.1`: one in ten, at random). */
    sample: number;
    /**
     * Query keys whose values are logged. Other keys are logged by name only: query strings carry
     * tokens, emails and search terms.
     * @default []
     */
    queryValues?: readonly string[];
  };
}

/** A whole policy. */
export interface Policy {
  /** Client address and scheme resolution. */
  clientIp?: ClientIpOptions;
  /**
   * Where a request's client certificate comes from, for `mtls()` and certificate-bound tokens:
   * the runtime's TLS, or a header a trusted proxy sets. @default { from: 'tls' }
   */
  clientCertificate?: ClientCertificateOptions;
  /**
   * The `Host` values this API answers: `api.example.com` (any port), `127.0.0.1:8787` (that port),
   * `*.example.com` (one more label). A request for another host gets 421. Every request's `Host`
   * must be a plain `host[:port]` whether or not this is set.
   * @default every host
   */
  hosts?: readonly string[];
  transport?: TransportPolicy;
  /** Named authentication methods that routes refer to. */
  authn?: Readonly<Record<string, AuthnMethod>>;
  /** Role hierarchy, declared once: `{ admin: ['user'] }` means an admin also has every right of a user. */
  roleHierarchy?: Readonly<Record<string, readonly string[]>>;
  limits?: LimitsPolicy;
  /** Named rate-limit buckets that routes refer to. */
  rateLimits?: Readonly<Record<string, RateLimitPolicy>>;
  /** Named quotas (calls per day or month) that routes refer to with `quota`. */
  quotas?: Readonly<Record<string, QuotaPolicy>>;
  /** Client address rules for every route, checked before anything else but the request's shape. */
  ip?: IpRulesPolicy;
  /** Client country rules for every route, checked with `ip`. */
  country?: CountryRulesPolicy;
  rateLimiting?: RateLimitingPolicy;
  cors?: CorsPolicy;
  headers?: HeadersPolicy;
  versions?: Readonly<Record<string, VersionPolicy>>;
  routing?: RoutingPolicy;
  /**
   * Security alerts by name (`failed_logins`): counted in the rate-limit store, so gateways that
   * share a store raise each alert once. An alert is one `portcullis.alert` event in the log, at
   * most once per window and key.
   */
  alerts?: Readonly<Record<string, AlertPolicy>>;
  /**
   * `report`: nothing is refused; every denial is computed and logged (`portcullis.report`) as it
   * would have been, like CSP's report-only mode. @default 'enforce'
   */
  mode?: 'enforce' | 'report';
  logging?: LoggingPolicy;
  /**
   * Development mode: denials show the decision trace to the caller. Never in production.
   * @default false
   */
  dev?: boolean;
  routes: Readonly<Record<RoutePattern, RoutePolicy>>;
}

/** What a custom check may look at. */
export interface CheckContext {
  readonly principal: Principal;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly request: Request;
  /** The engine's clock and fetch, for lookups (resource owner from a database or service). */
  readonly env: AuthnEnv;
}

/** One alternative of `allow`: every condition given must hold. */
export interface AllowRule {
  /** The principal has at least one of these roles (after the role hierarchy is applied). */
  roles?: readonly string[];
  /** The principal has every one of these scopes. */
  scopes?: readonly string[];
  /**
   * Ownership (BOLA): the path param equals the principal's claim (`sub`, i.e. the principal id, by
   * default). Never holds for a principal of kind `client`: a client id is not a user id.
   */
  owner?: { param: string; claim?: string };
  /** A custom predicate; a throw or a rejection denies. */
  check?: (context: CheckContext) => boolean | Promise<boolean>;
  /** A name for the trace and the log. @default `allow[<index>]` */
  name?: string;
}

/** What a custom key function sees. */
export interface KeyContext {
  readonly client: Client;
  readonly principal: Principal;
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
  readonly request: Request;
}

/** One named bucket of `policy.rateLimits`. */
export interface RateLimitPolicy {
  /** Requests per window. */
  limit: number;
  /** `"15m"`, `"1h"`, `"30s"`, `"1d"`, `"500ms"`. */
  window: string;
  /**
   * What one counter is for. `ip` and `route` buckets run before authentication (they protect it);
   * the others run after it. `principal` falls back to the client address for anonymous callers.
   * @default 'principal'
   */
  by?: 'ip' | 'principal' | 'apiKey' | 'route' | ((context: KeyContext) => string);
  /** @default 'sliding-window' */
  algorithm?: 'fixed-window' | 'sliding-window' | 'token-bucket';
  /**
   * `failures`: only responses with a status in `failureStatuses` count, settled after the response
   * (brute-force protection for login: successful logins cost nothing).
   * @default 'all'
   */
  count?: 'all' | 'failures';
  /** @default [401, 403] */
  failureStatuses?: readonly number[];
  /** IPv6 clients are grouped by this prefix: one subscriber usually holds a whole /64. @default 64 */
  ipv6Prefix?: number;
  /** `report`: an exceeded bucket is logged (`portcullis.report`) but does not refuse. @default 'enforce' */
  mode?: 'enforce' | 'report';
}

/** `policy.rateLimiting`: what happens when the store fails. */
export interface RateLimitingPolicy {
  /** Store down or slow: refuse with 503 (`deny`), or let requests through (`allow`). Logged either way. @default 'deny' */
  onStoreError?: 'deny' | 'allow';
  /** Longest wait for the store, ms. @default 1000 */
  storeTimeoutMs?: number;
}

/** One entry of `policy.alerts`. */
export type AlertPolicy = FailedLoginsAlert | PrincipalIpsAlert | SpikeAlert;

/**
 * Failed logins, settled on the answer's status as failure-only rate limits are. `per: 'username'`:
 * failures for one username from any number of addresses (credential stuffing, which per-address
 * limits do not see). `per: 'ip'`: distinct usernames failing from one address (password spraying).
 */
export interface FailedLoginsAlert {
  kind: 'failed-logins';
  per: 'username' | 'ip';
  /** The login routes: each needs a `body` schema, which yields the username. */
  routes: readonly RoutePattern[];
  /** Field of the validated body that holds the username; dots reach nested fields. @default 'username' */
  usernameField?: string;
  /** Failures (`per: 'username'`) or distinct usernames (`per: 'ip'`) within `window` that raise the alert. */
  threshold: number;
  /** `"5m"`, `"1h"`: a sliding window. */
  window: string;
  /** Answer statuses that count as a failed login. @default [401, 403] */
  failureStatuses?: readonly number[];
}

/** One principal seen from many client addresses within a window: a shared or stolen credential. */
export interface PrincipalIpsAlert {
  kind: 'principal-ips';
  /** Distinct client addresses within `window` that raise the alert. */
  threshold: number;
  window: string;
  /** Authenticated routes to watch. @default every authenticated route */
  routes?: readonly RoutePattern[];
}

/**
 * Denials (answers of 400 and above the engine gave) or 5xx answers well above their moving
 * baseline: `window`'s count is at least `minimum` and `factor` times what the `baseline` before it
 * predicts.
 */
export interface SpikeAlert {
  kind: 'spike';
  of: 'denials' | '5xx';
  /** The short window whose count is compared, e.g. `"1m"`. */
  window: string;
  /** The long window that sets the expected rate, e.g. `"1h"`: longer than `window`. */
  baseline: string;
  /** How many times the expected count raises the alert. @default 5 */
  factor?: number;
  /** Fewest events in `window` that can raise it (a quiet API's 3 errors are no spike). @default 20 */
  minimum?: number;
}
