/**
 * What the pipeline's stages share: the adapter's side of a request (`EvaluateContext`), the
 * per-request state the stages fill in as they pass (`Exchange`), the shape every stage has
 * (`Stage`) and what a stage may use (`StageEnv`).
 * @module
 */

import type { AuthnEnv, Principal } from './authn/contract.ts';
import type { Client, Peer } from './client.ts';
import type { QuotaInfo, TraceEntry, ValidatedInput } from './decision.ts';
import type { HeaderList } from './header-list.ts';
import type { SecurityEvent } from './log.ts';
import type { EngineObserver } from './telemetry/observer.ts';
import type { FieldError } from './schema.ts';
import type { ForwardTransport } from './proxy-transport.ts';
import type { CompiledBucket } from './stages/bucket.ts';

import type { RateLimitResult, RateLimitStore } from './stores/types.ts';
import type { Target } from './target.ts';

/**
 * The adapter contract: what a runtime supplies beyond the `Request` itself. Every adapter fills
 * in what its runtime knows; a field left out means the runtime cannot tell.
 */
export interface EvaluateContext {
  /** The connection: remote address and scheme. */
  peer?: Peer;
  /**
   * The request target exactly as received (`incoming.url` on Node). `Request.url` has already
   * been through a URL parser that resolves `..` and `%2e%2e`, hiding them, and is built from
   * `Host`; the raw target lets the engine refuse the first and check the path the client sent.
   * @default the path and query of `request.url`
   */
  rawTarget?: string;
  /**
   * Keeps the runtime alive for work after the response (store writes, failure counting):
   * `ctx.waitUntil` on Workers. Without it, `handle` awaits that work before returning.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * The runtime's cheapest way to reach an origin, for a `forwardTo` given neither `transport` nor
   * `fetch` (the Node adapter offers its keep-alive client, `nodeTransport()`). The engine hands it to the
   * handler; the core never imports a runtime's client itself.
   * @default none: `forwardTo` uses `fetch`
   */
  transport?: ForwardTransport;
}

/** What the engine hands a handler besides the request and the decision: the adapter's offers. */
export type HandlerContext = Pick<EvaluateContext, 'transport'>;

/** Per-request state: set up by the engine, filled in by the stages in pipeline order. */
export interface Exchange {
  /** The request; authentication replaces it with one carrying the body it read (a signature covers it). */
  request: Request;
  readonly context: EvaluateContext;
  readonly requestId: string;
  readonly method: string;
  readonly trace: TraceEntry[];
  /** The headers every answer to this request carries (security headers, CORS, RateLimit, …). */
  readonly headers: HeaderList;
  /** Report-only (policy or route): denials are logged as `portcullis.report` and let through. */
  report: boolean;

  // normalize
  client: Client;
  target?: Target;
  /** The checked target as a URL: what the handler's `request.url` will be. */
  href?: string;
  /** The normalized path's segments (`undefined`: malformed), spelled out only when logged. */
  segments?: readonly string[];
  // route
  /** The matched route's pattern. */
  route?: string;
  params?: Readonly<Record<string, string>>;
  /** The matched route's `Cache-Control` for allowed answers (`null`: none). */
  cacheControl?: string | null;
  // authn
  principal?: Principal;
  /** Undoes what authentication recorded (a replay cache entry) when the request is then not served. */
  release?: () => Promise<void>;
  // authz, validate
  query?: URLSearchParams;
  /** The login's username, read from the validated body for failed-login alerts. */
  username?: string;
  input?: ValidatedInput;
  /** The request the handler gets, once validation has made it (a new Request when it read the body). */
  forward?: Request;
  /** An unread copy of the request, kept when report-only mode may let a failed validation through. */
  unread?: Request;
  // quota
  /** The quota this call used, for the Allow. */
  quota?: QuotaInfo;
  // ratelimit
  /** Buckets this request took from (or, for failure buckets, checked). */
  readonly touched: { bucket: CompiledBucket; key: string; result: RateLimitResult }[];
}

/** Why a stage stops a request. The engine turns it into a `Deny` (and a log line). */
export interface Refusal {
  /** The stage's name, for the trace. */
  stage: string;
  reason: string;
  /** The rules behind the reason, for the trace and the log (`allow[0]: authz.role_missing`). */
  reasons?: string[];
  /** Said to the caller in the problem's `detail` (never for `authz.*`). */
  detail?: string;
  errors?: FieldError[];
  /** An unexpected error: logged as `portcullis.error`, never sent. */
  error?: unknown;
  /** A bodiless answer that is not a denial (a preflight's 204). */
  answer?: 204;
}

/** What a stage returns: nothing when the request goes on. */
export type StageResult = Refusal | undefined;

/**
 * One step of the pipeline, compiled from the policy once: `(exchange) → refusal | nothing`. A
 * stage that needs no I/O answers synchronously, so a request does not wait a microtask for it.
 */
export type Stage = (x: Exchange) => StageResult | Promise<StageResult>;

/** What the stages may use from the engine's environment. */
export interface StageEnv {
  now(): number;
  /** What authentication methods and custom checks may use. */
  authn: AuthnEnv;
  store: RateLimitStore;
  /** Logs an event about this exchange (a report-only bucket that ran out, a store error, an alert). */
  emit(x: Exchange, event: Omit<SecurityEvent, 'time' | 'requestId' | 'method' | 'path' | 'route' | 'clientIp' | 'principal'>): void;
  /** Told what the stages see (guarded: it cannot throw); absent when nobody observes. */
  observer?: EngineObserver;
}

/** A refusal from `stage`. */
export function refuse(stage: string, reason: string, options: Omit<Refusal, 'stage' | 'reason'> = {}): Refusal {
  return { stage, reason, ...options };
}

/** `method:id` of the exchange's principal, as logged. */
export function principalLabel(x: Exchange): string | undefined {
  return x.principal && `${x.principal.method}:${x.principal.id}`;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
