/**
 * Node adapter: a policy-guarded `fetch` handler on `node:http`.
 *
 * The Request/Response bridge is `@hono/node-server`'s request listener; this file adds the client
 * address from the socket, the raw request target (before URL parsing hid `..`), the policy's
 * headers written in the `ServerResponse`'s head directly, and graceful shutdown.
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { getRequestListener } from '@hono/node-server';
import { createEngine, denialResponse, type Engine, type EngineEnv, type Handler, type HandleOptions, type HeaderList, type Policy } from '../src/index.ts';
import { parseHost } from '../src/target.ts';
import { guardResponse } from './node-response.ts';

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
  const listener = getRequestListener(
    (request, { incoming, outgoing }) =>
      engine.handle(request, { peer: peerOf(incoming as IncomingMessage), rawTarget: incoming.url }, handler, new ToServerResponse(outgoing as ServerResponse)),
    {
      // The runtime could not build a Request (backslash in the path, no Host): still a problem+json
      // 400 with the policy's headers, and a log line.
      errorHandler: () => denialResponse(engine.reject()),
    },
  ) as (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  return async function portcullisListener(incoming, outgoing) {
    // The Request's URL is built from Host: a Host that is not one plain host[:port] (`a/v1/x?`,
    // `a#`, two Host lines, of which node:http keeps the first) is refused before that happens.
    if (!hasOneValidHost(incoming)) {
      await writeResponse(outgoing, denialResponse(engine.reject({ peer: peerOf(incoming), method: incoming.method, reason: 'request.malformed_host' })));
      return;
    }
    return listener(incoming, outgoing);
  };
}

/** Exactly one Host header, and a valid one (none at all is node-server's 400). */
function hasOneValidHost(incoming: IncomingMessage): boolean {
  let value: string | undefined;
  const raw = incoming.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 4 || raw[i]!.toLowerCase() !== 'host') continue;
    if (value !== undefined) return false;
    value = raw[i + 1]!;
  }
  return value === undefined || parseHost(value) !== undefined;
}

async function writeResponse(outgoing: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  outgoing.writeHead(response.status, [...response.headers].flat()).end(body);
}

/** The policy's headers go into the ServerResponse's head (a class, not a closure per request). */
class ToServerResponse implements HandleOptions {
  readonly #outgoing: ServerResponse;
  constructor(outgoing: ServerResponse) {
    this.#outgoing = outgoing;
  }
  setHeaders(headers: HeaderList): void {
    guardResponse(this.#outgoing, headers);
  }
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
