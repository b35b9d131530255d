/**
 * Cloudflare Workers adapter: an edge Worker that guards an origin.
 *
 * Allowed requests go to the origin a binding names (`ORIGIN_URL`, or one binding per path
 * prefix) without the inbound headers a client could forge (`X-Forwarded-*`, `Forwarded`,
 * `X-Real-IP`, identity headers) and with a signed identity assertion the origin can verify
 * (`identityVerifier`). The client address is `CF-Connecting-IP`, which Cloudflare's edge
 * overwrites, so the policy must trust `cloudflare`. Store writes after the response go to
 * `ctx.waitUntil`. Secrets come from env bindings, so a policy may be a factory of `env`, compiled
 * once per isolate.
 *
 * There is no raw request target on Workers: the edge and workerd resolve `.` and `..` segments
 * before the Worker runs. The Worker forwards the path it checked, so the origin sees that path too.
 * @module
 */

import {
  createEngine,
  definePolicy,
  forwardTo,
  jsonLineSink,
  PolicyError,
  problemResponse,
  type Engine,
  type EngineEnv,
  type ForwardOptions,
  type Handler,
  type Policy,
  type SecurityEvent,
} from '../src/index.ts';
import { originRoutes, pickOrigin } from './cloudflare-origins.ts';

/** The part of the Workers `ExecutionContext` the gateway uses. */
export interface WorkerContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** A module Worker's default export (an `ExportedHandler` with `fetch`). */
export interface WorkerGateway<Env> {
  fetch(request: Request, env: Env, ctx: WorkerContext): Promise<Response>;
}

/** Options of `gateway`. Binding names are looked up in the Worker's `env`. */
export interface GatewayOptions<Env> {
  /**
   * Path prefix → name of the binding (a `vars` entry) holding that origin's URL. Prefixes match
   * whole segments (`/v1/billing` covers `/v1/billing/x`, not `/v1/billingx`); the longest wins.
   * @default { '/': 'ORIGIN_URL' }
   */
  origins?: Readonly<Record<string, string>>;
  /** The identity assertion sent to the origin (see `identityVerifier`). */
  identity?: {
    /** The secret binding with the HMAC key, at least 32 bytes. @default 'PORTCULLIS_IDENTITY_KEY' */
    binding?: string;
    /** @default 'x-portcullis-identity' */
    header?: string;
    /** @default 60 */
    ttlSeconds?: number;
  };
  /**
   * Also send a shared secret in a header, for an origin (or a firewall rule in front of it) that
   * cannot verify the assertion. The assertion stays: it is what says who the principal is.
   */
  originSecret?: { binding: string; header: string };
  /** More inbound headers to drop before the origin sees the request, even allowed ones. */
  stripHeaders?: readonly string[];
  /** Inbound headers the origin hears besides the standard ones (see `forwardTo`), e.g. `['cookie']`. @default [] */
  forwardHeaders?: ForwardOptions['forwardHeaders'];
  /** Hand the credential that authenticated the request on to the origin (see `forwardTo`). @default false */
  forwardCredential?: ForwardOptions['forwardCredential'];
  /** What an origin's `Location` may say (see `forwardTo`). @default 'rewrite' */
  redirects?: ForwardOptions['redirects'];
  /** Other origins a `Location` may lead to (see `forwardTo`). @default [] */
  redirectOrigins?: ForwardOptions['redirectOrigins'];
  /** Clock, fetch, log sink and rate-limit store for the engine, built from env (an Upstash store needs its token). */
  engine?: (env: Env) => EngineEnv;
}

/** A policy, or a factory that builds it from the Worker's env (secrets, JWKS URL). */
export type PolicySource<Env> = Policy | ((env: Env) => Policy | Promise<Policy>);

/** A binding the Worker needs is missing or unusable. `binding` names it; the log line does too. */
export class BindingError extends TypeError {
  readonly code = 'ERR_BINDING_MISSING';
  readonly binding: string;
  constructor(binding: string, problem = 'is not set') {
    super(`binding ${binding} ${problem} (wrangler.toml [vars], or \`wrangler secret put ${binding}\`)`);
    this.name = 'BindingError';
    this.binding = binding;
  }
}

/**
 * Reads a string binding, throwing a `BindingError` that names it when it is missing or empty. Use
 * it in a policy factory so that a missing secret fails closed with a clear log line.
 * @example
 * ```ts
 * gateway((env) => definePolicy({ authn: { service: apiKey({ keys: JSON.parse(binding(env, 'API_KEYS')) }) }, … }));
 * ```
 */
export function binding(env: unknown, name: string): string {
  const value = (env as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string' || value === '') throw new BindingError(name);
  return value;
}

interface Compiled {
  engine: Engine;
  handler: Handler;
}

/**
 * A module Worker that guards the origin(s) with `policy`. Export it as the Worker's default.
 *
 * @example
 * ```ts
 * import { gateway } from 'portcullis/cloudflare';
 * export default gateway((env: Env) => definePolicy({ clientIp: { trustedProxies: ['cloudflare'] }, … }));
 * ```
 * @see https://developers.cloudflare.com/workers/runtime-apis/handlers/fetch/
 */
export function gateway<Env = unknown>(policy: PolicySource<Env>, options: GatewayOptions<Env> = {}): WorkerGateway<Env> {
  const origins = originRoutes(options.origins ?? { '/': 'ORIGIN_URL' });
  const identityBinding = options.identity?.binding ?? 'PORTCULLIS_IDENTITY_KEY';
  const { stripHeaders, forwardHeaders, forwardCredential, redirects, redirectOrigins } = options;
  const forwarding: ForwardOptions = { stripHeaders, forwardHeaders, forwardCredential, redirects, redirectOrigins };
  // Bad forwarding options fail at deploy, like a static policy, not as a binding error later.
  forwardTo('https://origin.invalid', forwarding);
  // A static policy fails at deploy, not at the first request.
  if (typeof policy !== 'function') requireCloudflare(definePolicy(policy));

  const compiled = new WeakMap<object, Promise<Compiled>>();
  const noEnv = {};

  async function compile(env: Env): Promise<Compiled> {
    // Bindings first: a factory that needs the same secret would fail less clearly.
    const key = binding(env, identityBinding);
    const secret = options.originSecret && binding(env, options.originSecret.binding);
    const engineEnv = options.engine?.(env);
    const forwarders = origins.map(({ segments, name }) => {
      const url = binding(env, name);
      let forward: Handler;
      try {
        forward = forwardTo(url, {
          identity: { key, header: options.identity?.header, ttlSeconds: options.identity?.ttlSeconds },
          headers: secret ? { [options.originSecret!.header]: secret } : undefined,
          ...forwarding,
          log: engineEnv?.log,
        });
      } catch (error) {
        // The two options that come from bindings are named as bindings; any other option's error
        // (a forwarded header that is the identity header) is the gateway's own.
        if (!(error instanceof PolicyError)) throw error;
        if (error.path === 'identity.key') throw new BindingError(identityBinding, `is unusable: ${error.message}`);
        if (error.path === 'forwardTo().origin') throw new BindingError(name, `is not an origin URL (https://host[:port], no path): ${JSON.stringify(url)}`);
        throw error;
      }
      return { segments, forward };
    });
    const resolved = typeof policy === 'function' ? await policy(env) : policy;
    requireCloudflare(definePolicy(resolved));
    const engine = createEngine(resolved, engineEnv);

    return {
      engine,
      handler(request, decision) {
        const target = pickOrigin(forwarders, request);
        if (!target) return problemResponse('route.not_found', decision.requestId);
        return target.forward(request, decision);
      },
    };
  }

  function setup(env: Env): Promise<Compiled> {
    const cacheKey = typeof env === 'object' && env !== null ? env : noEnv;
    let entry = compiled.get(cacheKey);
    if (!entry) {
      entry = compile(env);
      compiled.set(cacheKey, entry);
      // Not cached on failure: the next request tries again (a secret put since, a factory that fetched).
      entry.catch(() => compiled.delete(cacheKey));
    }
    return entry;
  }

  return {
    async fetch(request, env, ctx) {
      let gate: Compiled;
      try {
        gate = await setup(env);
      } catch (error) {
        return misconfigured(request, env, error);
      }
      return gate.engine.handle(request, { peer: { platform: 'cloudflare' }, waitUntil: ctx.waitUntil.bind(ctx) }, gate.handler);
    },
  };

  /** Fail closed: a 500 problem that says nothing inside, and a log line that names the cause. */
  function misconfigured(request: Request, env: Env, error: unknown): Response {
    const requestId = crypto.randomUUID();
    let log = jsonLineSink;
    try {
      log = options.engine?.(env).log ?? jsonLineSink;
    } catch {
      // The engine options are what failed; the default sink still works.
    }
    const event: SecurityEvent = {
      time: new Date().toISOString(),
      event: 'portcullis.error',
      requestId,
      reason: 'gateway.misconfigured',
      status: 500,
      method: request.method,
      path: new URL(request.url).pathname,
      route: null,
      clientIp: 'unknown',
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
    try {
      log(event);
    } catch {
      // A broken sink must not turn the 500 into a crash.
    }
    return problemResponse('gateway.misconfigured', requestId);
  }
}

/**
 * Without `cloudflare` among the trusted proxies every client would be `unknown` and all per-IP
 * buckets one bucket: refuse that policy here rather than rate-limit the world together.
 */
function requireCloudflare(policy: Policy) {
  if (!policy.clientIp?.trustedProxies?.includes('cloudflare')) {
    throw new TypeError('gateway: policy.clientIp.trustedProxies must include "cloudflare" (the client address on Workers is CF-Connecting-IP)');
  }
}
