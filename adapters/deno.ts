/**
 * Deno adapter: wraps a fetch handler for `Deno.serve`, with the client address from
 * `info.remoteAddr`.
 *
 * The types below are the part of `Deno.ServeHandlerInfo` the adapter reads, declared here so this
 * file needs no Deno globals; `deno check` of a server that passes `guard(…)` to `Deno.serve`
 * (test/conformance/servers/deno.ts, run by `npm run typecheck`) proves they match Deno's own.
 *
 * Deno parses the request target into `request.url` before any handler runs, resolving `.`, `..`
 * and `%2e%2e` segments; the engine checks the path Deno resolved, which is also the path the
 * handler sees. Encoded slashes, `//`, `;` and NUL still reach the engine and are refused with 400.
 * @module
 */

import { withBodyTimeouts } from '../src/body.ts';
import { engineFor } from '../src/engine.ts';
import type { Engine, EngineEnv, Handler, Policy } from '../src/index.ts';
import { adapterCrypto } from './node-crypto.ts';

export { nodeCrypto, type NodeCryptoOptions } from './node-crypto.ts';

/**
 * Options of `guard`.
 *
 * `Deno.serve` has no header, body or idle timeouts of its own (measured on Deno 2.9: a connection
 * that sends a byte every 3 s, or nothing after its request line, is still open after 40 s). The
 * two body limits below are what a fetch handler can enforce; a client that is slow with its head
 * never reaches it, so run Deno behind a proxy that times out slow heads and caps connections.
 */
export interface GuardOptions {
  /**
   * Clock, ids, fetch, log sink, rate-limit store and crypto for the engine (ignored when an Engine
   * is passed). `crypto` is `node:crypto` for SHA-256 and HMAC unless set (`crypto: undefined`
   * keeps WebCrypto alone). Deno's `node:crypto` measured faster for those, and for EdDSA; slower
   * (twice WebCrypto's time) for ECDSA.
   */
  env?: EngineEnv;
  /**
   * The scheme `Deno.serve` listens with: `https` when it is given a certificate. A handler cannot
   * ask Deno, and the scheme of `request.url` comes from the request line, where an absolute-form
   * target can claim `https` on a plain-HTTP socket.
   * @default 'http'
   */
  scheme?: 'http' | 'https';
  /** Longest pause between two pieces of a request body, in ms (0: none) → 408 `client.timeout`. @default 10000 */
  bodyIdleTimeoutMs?: number;
  /** Longest time for a whole request body, however steadily it trickles, in ms (0: none) → 408. @default 30000 */
  bodyTimeoutMs?: number;
}

/** `Deno.NetAddr` (TCP/UDP) or `Deno.UnixAddr`, as far as the adapter reads them. */
export type DenoAddr = { transport: 'tcp' | 'udp'; hostname: string; port: number } | { transport: 'unix' | 'unixpacket'; path: string } | { transport: 'vsock' };

/** The part of `Deno.ServeHandlerInfo` the adapter reads. */
export interface DenoServeInfo {
  remoteAddr: DenoAddr;
}

/** A `Deno.serve` handler. */
export type DenoFetch = (request: Request, info: DenoServeInfo) => Promise<Response>;

/**
 * Guards `handler` with the policy: `Deno.serve(guard(policy, handler))`. Allowed requests reach
 * `handler` with the decision; the policy's headers are set on its response. A request body that
 * stalls (`bodyIdleTimeoutMs`) or takes too long (`bodyTimeoutMs`) is answered with 408.
 *
 * @example
 * ```ts
 * import { guard } from 'portcullis/deno';
 * Deno.serve({ hostname: '127.0.0.1', port: 8787 }, guard(policy, (request, decision) => Response.json({ hello: decision.principal.id })));
 * ```
 * @see https://docs.deno.com/api/deno/~/Deno.ServeHandlerInfo
 */
export function guard(policy: Policy | Engine, handler: Handler, options: GuardOptions = {}): DenoFetch {
  const engine = engineFor(policy, { crypto: adapterCrypto(), ...options.env });
  const scheme = options.scheme ?? 'http';
  const timeouts = { idleMs: options.bodyIdleTimeoutMs ?? 10_000, totalMs: options.bodyTimeoutMs ?? 30_000 };
  return function portcullisFetch(request, info) {
    // A Unix socket has no client address: it is then unknown.
    const address = 'hostname' in info.remoteAddr ? info.remoteAddr.hostname : undefined;
    return engine.handle(withBodyTimeouts(request, timeouts), { peer: { address, scheme } }, handler);
  };
}
