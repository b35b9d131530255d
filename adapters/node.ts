/**
 * Node adapter: a policy-guarded `fetch` handler on `node:http`.
 *
 * The Request/Response bridge is `@hono/node-server`'s request listener; this file adds the client
 * address from the socket, the raw request target (before URL parsing hid `..`), the policy's
 * headers set on the `ServerResponse` directly, and graceful shutdown.
 * @module
 */

import { createServer, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { getRequestListener } from '@hono/node-server';
import { createEngine, denialResponse, leaks, type Engine, type EngineEnv, type Handler, type HeaderList, type Policy } from '../src/index.ts';

/** Options of `serve`. */
export interface ServeOptions {
  /** @default 8787 (0 picks a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  hostname?: string;
  /** Clock, ids, fetch and log sink for the engine (ignored when an Engine is passed). */
  env?: EngineEnv;
  /**
   * Close gracefully on SIGTERM/SIGINT: stop accepting, finish in-flight requests, then exit.
   * @default true
   */
  handleSignals?: boolean;
  /** Longest wait for in-flight requests at shutdown, in ms. @default 10000 */
  shutdownTimeoutMs?: number;
}

/** A running gateway. */
export interface Running {
  server: Server;
  engine: Engine;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Stops accepting connections and resolves when in-flight requests are done. */
  close(): Promise<void>;
}

/** A `node:http` request listener that guards `handler` with the engine. */
export function createListener(engine: Engine, handler: Handler): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return getRequestListener(
    (request, { incoming, outgoing }) =>
      engine.handle(request, { peer: peerOf(incoming as IncomingMessage), rawTarget: incoming.url }, handler, {
        setHeaders: (headers) => guard(outgoing as ServerResponse, headers),
      }),
    {
      // The runtime could not build a Request (backslash in the path, bad Host): still a problem+json
      // 400 with the policy's headers, and a log line.
      errorHandler: () => denialResponse(engine.reject()),
    },
  ) as (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/**
 * The policy's headers, straight onto the ServerResponse, and a watch where the handler's Response
 * meets it: `@hono/node-server` writes every Response through `writeHead(status, headers)`, whose
 * headers would win over these. There, the ones that leak or that the policy sets are dropped and a
 * `Vary` is merged — what `engine.finalize` does to a Response, without the cost of its `Headers`.
 */
function guard(outgoing: ServerResponse, headers: HeaderList): void {
  headers.forEach((value, name) => outgoing.setHeader(name, value));
  const writeHead = outgoing.writeHead;
  const keep = (name: string, value: OutgoingHttpHeader | undefined): boolean => {
    const lower = name.toLowerCase();
    if (lower !== 'vary') return !leaks(lower) && !headers.has(lower);
    const vary = headers.get('vary');
    if (vary !== null && value !== undefined) outgoing.setHeader('vary', `${vary}, ${String(value)}`);
    return vary === null;
  };
  outgoing.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    // `writeHead(status, headers)` or `writeHead(status, message, headers)`: node-server gives an object.
    const last = rest.length - 1;
    const given = rest[last];
    if (typeof given === 'object' && given !== null) {
      const kept: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(given as OutgoingHttpHeaders)) if (keep(name, value)) kept[name] = value;
      rest[last] = kept;
    }
    return writeHead.call(this, status, ...(rest as []));
  } as ServerResponse['writeHead'];
}

function peerOf(incoming: IncomingMessage) {
  const socket = incoming.socket;
  return { address: socket.remoteAddress, scheme: (socket as TLSSocket).encrypted ? ('https' as const) : ('http' as const) };
}

/**
 * Serves `handler` behind `policy` on 127.0.0.1.
 *
 * @example
 * ```ts
 * import { serve } from 'portcullis/node';
 * import { forwardTo } from 'portcullis';
 * const gateway = await serve(policy, forwardTo('http://127.0.0.1:9000'), { port: 8787 });
 * console.log(`listening on ${gateway.url}`);
 * ```
 */
export async function serve(policy: Policy | Engine, handler: Handler, options: ServeOptions = {}): Promise<Running> {
  const engine = 'evaluate' in policy ? policy : createEngine(policy, options.env);
  const server = createServer(createListener(engine, handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, options.hostname ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.hostname ?? '127.0.0.1';

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    }));

  if (options.handleSignals ?? true) {
    const onSignal = () => {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      void close().then(() => process.exit(0));
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  }

  return { server, engine, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, close };
}
