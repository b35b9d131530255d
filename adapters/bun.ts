/**
 * Bun adapter: wraps a fetch handler for `Bun.serve`, with the client address from
 * `server.requestIP(request)`.
 *
 * Bun parses the request target into `request.url` before any handler runs, resolving `.`, `..`
 * and `%2e%2e` segments and turning `\` into `/`; the engine checks the path Bun resolved, which is
 * also the path the handler sees. Encoded slashes, `//`, `;` and NUL still reach the engine and are
 * refused with 400.
 * @module
 */

import type { Server } from 'bun';
import { engineFor } from '../src/engine.ts';
import type { Engine, EngineEnv, Handler, Policy } from '../src/index.ts';
import { adapterCrypto } from './node-crypto.ts';

export { nodeCrypto, type NodeCryptoOptions } from './node-crypto.ts';

/** Options of `guard`. */
export interface GuardOptions {
  /**
   * Clock, ids, fetch, log sink, rate-limit store and crypto for the engine (ignored when an Engine
   * is passed). `crypto` is `node:crypto` for SHA-256 and HMAC unless set: `crypto: nodeCrypto()`
   * checks every signature with it, `crypto: undefined` keeps WebCrypto alone.
   */
  env?: EngineEnv;
}

/** The part of Bun's `Server` the adapter uses. */
export type BunServer = Pick<Server<unknown>, 'requestIP' | 'url'>;

/** A `Bun.serve` fetch handler. */
export type BunFetch = (request: Request, server: BunServer) => Promise<Response>;

/**
 * Guards `handler` with the policy: `Bun.serve({ fetch: guard(policy, handler) })`. Allowed
 * requests reach `handler` with the decision; the policy's headers are set on its response.
 *
 * Connection limits are `Bun.serve`'s, not the handler's. Keep `idleTimeout` at its 10 s default
 * or lower: measured on Bun 1.4, it closes a connection whose head or body trickles in a byte every
 * 3 s after about 12 s (a body cut off that way is logged as `client.aborted`, a denial). Set
 * `maxRequestBodySize` to the policy's largest body (`limits.maxBodyBytes`, 100 KiB by default)
 * instead of Bun's 128 MiB, so Bun refuses a larger body with 413 before the handler runs. Bun
 * answers a head over its fixed limit with 431 and broken chunked framing with 400 itself.
 *
 * @example
 * ```ts
 * import { guard } from 'portcullis/bun';
 * const server = Bun.serve({
 *   hostname: '127.0.0.1',
 *   port: 8787,
 *   idleTimeout: 10, // seconds
 *   maxRequestBodySize: 1024 * 1024,
 *   fetch: guard(policy, (request, decision) => Response.json({ hello: decision.principal.id })),
 * });
 * ```
 * @see https://bun.sh/docs/api/http#server-requestip-request
 */
export function guard(policy: Policy | Engine, handler: Handler, options: GuardOptions = {}): BunFetch {
  const engine = engineFor(policy, { crypto: adapterCrypto(), ...options.env });
  const schemes = new WeakMap<BunServer, 'http' | 'https'>();
  return function portcullisFetch(request, server) {
    // null for a Unix socket or a closed connection: the client address is then unknown.
    const address = server.requestIP(request)?.address;
    // The server's own scheme, never the request's: an absolute-form target can name https on a
    // plain-HTTP socket.
    let scheme = schemes.get(server);
    if (scheme === undefined) schemes.set(server, (scheme = server.url.protocol === 'https:' ? 'https' : 'http'));
    return engine.handle(request, { peer: { address, scheme } }, handler);
  };
}
