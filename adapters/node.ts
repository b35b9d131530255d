/**
 * Node adapter: a policy-guarded `fetch` handler on `node:http`.
 *
 * The Request/Response bridge is `@hono/node-server`'s request listener; this file adds the client
 * address from the socket, the raw request target (before URL parsing hid `..`), the policy's
 * headers written in the `ServerResponse`'s head directly, a keep-alive client (undici's dispatcher)
 * for `forwardTo` whose answers are written to the client without a web stream, graceful shutdown, and
 * connection limits (timeouts, head size, connection cap) whose refusals are problem+json like
 * every other denial.
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import {
  denialResponse,
  type Engine,
  type EngineEnv,
  type EvaluateContext,
  type ForwardTransport,
  type Handler,
  type HandleOptions,
  type HeaderList,
  type Peer,
  type Policy,
  type PresentedCertificate,
} from '../src/index.ts';
import { engineFor } from '../src/engine.ts';
import { relayedAnswer } from '../src/proxy-transport.ts';
import { parseHost } from '../src/target.ts';
import { guardConnections } from './node-connections.ts';
import { adapterCrypto } from './node-crypto.ts';
import { guardResponse } from './node-response.ts';
import { nodeOriginClient, takeOriginRelay, type NodeOriginClient } from './node-transport.ts';

export { nodeCrypto, type NodeCryptoOptions } from './node-crypto.ts';
export { nodeTransport, type NodeTransportOptions } from './node-transport.ts';

/** Options of `serve`. */
export interface ServeOptions {
  /** @default 8787 (0 picks a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  hostname?: string;
  /**
   * Clock, ids, fetch, log sink and crypto for the engine (ignored when an Engine is passed).
   * `crypto` is `node:crypto` for SHA-256 and HMAC unless set: `crypto: nodeCrypto()` checks every
   * signature with it, `crypto: undefined` keeps WebCrypto alone.
   */
  env?: EngineEnv;
  /**
   * Serve HTTPS (`node:https`) with these TLS options: `key` and `cert`, and for client
   * certificates (`mtls()`, certificate-bound tokens) `ca` and `requestCert: true`. Node verifies
   * the client's certificate against `ca`; one it could not verify never authenticates anyone.
   * With `rejectUnauthorized: false` clients without a (valid) certificate still connect, for
   * routes that accept other credentials.
   * @default plain HTTP
   */
  tls?: ServeTlsOptions;
  /**
   * Close gracefully on SIGTERM/SIGINT: stop accepting, finish in-flight requests, then exit.
   * @default true
   */
  handleSignals?: boolean;
  /** Longest wait for in-flight requests at shutdown, in ms. @default 10000 */
  shutdownTimeoutMs?: number;
  /**
   * Longest wait for a request's headers, in ms (node:http's `headersTimeout`, 60 s by default
   * there). A client that trickles its headers gets a 408 `client.timeout` and is closed. 0: none.
   * @default 10000
   */
  headersTimeoutMs?: number;
  /**
   * Longest wait for a whole request, headers and body, in ms (node:http's `requestTimeout`, 300 s
   * there). This is the most a client that trickles its body just fast enough to beat
   * `bodyIdleTimeoutMs` holds a connection — and a failure-counting rate-limit unit. Must be at
   * least `headersTimeoutMs`. 0: none.
   * @default 30000
   */
  requestTimeoutMs?: number;
  /**
   * Longest pause between two pieces of a request body, in ms: a stalled upload gets a 408
   * `client.timeout` and is closed. Once the whole request has arrived, the handler's time is its own.
   * 0: none.
   * @default 10000
   */
  bodyIdleTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms (node:http's `keepAliveTimeout`). @default 5000 */
  keepAliveTimeoutMs?: number;
  /**
   * Largest request head (request line and headers), in bytes: a larger one gets a problem+json
   * 431 `request.header_too_large`.
   * @default 16384
   */
  maxHeaderSize?: number;
  /** Requests served on one keep-alive connection before it is closed (0: no limit). @default 1000 */
  maxRequestsPerSocket?: number;
  /**
   * Open connections at most; more are closed as they arrive. Keep it below the process's file
   * limit (`ulimit -n`) less what the handler needs for its own connections (an origin, Redis). 0: no cap.
   * @default 4096
   */
  maxConnections?: number;
}

/** The TLS options of `serve`: node:tls's, without those that would replace the server's own handlers. */
export type ServeTlsOptions = SecureContextOptions & Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized' | 'ALPNProtocols' | 'sessionTimeout' | 'ticketKeys'>;

/** The connection limits `serve` sets when its options leave them out. */
export const SERVE_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16_384,
  maxRequestsPerSocket: 1_000,
  maxConnections: 4_096,
} as const satisfies Partial<Record<keyof ServeOptions, number>>;

/** A running gateway. */
export interface Running {
  server: Server;
  engine: Engine;
  /** `http://127.0.0.1:<port>` (`https://` with `tls`) */
  url: string;
  /** Stops accepting connections and resolves when in-flight requests are done. */
  close(): Promise<void>;
}

/**
 * Tells node-server that the answer is written already. Built while `Response` may already be
 * node-server's own class: reading `statusText` makes it a platform Response, the kind whose
 * `x-hono-already-sent` header node-server honours.
 */
const ALREADY_SENT = RESPONSE_ALREADY_SENT;
void ALREADY_SENT.statusText;

/**
 * A `node:http` request listener that guards `handler` with the engine. A `forwardTo` given no
 * transport reaches its origin through this listener's keep-alive client (see
 * `nodeTransport`).
 */
export function createListener(engine: Engine, handler: Handler): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const origins = nodeOriginClient();
  const listener = getRequestListener(
    async (request, { incoming, outgoing }) => {
      const exchange = new NodeExchange(incoming as IncomingMessage, outgoing as ServerResponse, origins);
      const response = await engine.handle(request, exchange, handler, exchange);
      return writeRelayed(response, outgoing as ServerResponse) ? ALREADY_SENT : response;
    },
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

/**
 * Exactly one Host header, and a valid one. HTTP/1.1 requires it (RFC 9112 §3.2), and `serve` asks
 * node:http not to refuse its absence itself, so that the 400 is the policy's; an HTTP/1.0 request
 * without one is node-server's 400.
 */
function hasOneValidHost(incoming: IncomingMessage): boolean {
  let value: string | undefined;
  const raw = incoming.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 4 || raw[i]!.toLowerCase() !== 'host') continue;
    if (value !== undefined) return false;
    value = raw[i + 1]!;
  }
  if (value === undefined) return incoming.httpVersion === '1.0';
  return parseHost(value) !== undefined;
}

async function writeResponse(outgoing: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  outgoing.writeHead(response.status, [...response.headers].flat()).end(body);
}

/**
 * One request's side of the adapter contract (a class, not closures per request): the connection,
 * the raw target, the transport offered to `forwardTo`, and the policy's headers going into the
 * ServerResponse's head.
 */
class NodeExchange implements EvaluateContext, HandleOptions {
  readonly peer: Peer;
  readonly rawTarget: string | undefined;
  readonly #outgoing: ServerResponse;
  readonly #origins: NodeOriginClient;
  constructor(incoming: IncomingMessage, outgoing: ServerResponse, origins: NodeOriginClient) {
    this.peer = peerOf(incoming);
    this.rawTarget = incoming.url;
    this.#outgoing = outgoing;
    this.#origins = origins;
  }
  /** The listener's origin client, stopping the origin request when this client's connection closes. */
  get transport(): ForwardTransport {
    return (target, request) => this.#origins(target, request, this.#outgoing);
  }
  setHeaders(headers: HeaderList): void {
    guardResponse(this.#outgoing, headers);
  }
}

/**
 * Writes an origin answer `forwardTo` relayed, when its body is still the transport's, straight to
 * the client: the origin's chunks are written into the ServerResponse (no web stream in between, no
 * Response read back). Status and headers are the Response's; the policy's headers and the rules on
 * the Response's headers apply in `writeHead` as for every answer (`guardResponse`). `false` for any
 * other Response, which node-server writes.
 */
function writeRelayed(response: Response, outgoing: ServerResponse): boolean {
  const answer = relayedAnswer(response);
  if (!answer) return false;
  const { body } = answer;
  const relay = body instanceof ReadableStream ? takeOriginRelay(body) : undefined;
  if (body instanceof ReadableStream && !relay) return false;
  const head: string[] = [];
  response.headers.forEach((value, name) => head.push(name, value));
  if (body instanceof Uint8Array && !response.headers.has('content-length')) head.push('content-length', String(body.byteLength));
  outgoing.writeHead(response.status, head);
  // A cut on either side cuts the other: the client's answer ends short, or the origin request stops.
  if (relay) relay(outgoing);
  else if (body instanceof Uint8Array) endWith(outgoing, body);
  else outgoing.end();
  return true;
}

/**
 * Ends the answer with a whole body. A small one goes as a latin1 string (byte for byte): node:http
 * then sends head and body as one string instead of two buffers.
 */
function endWith(outgoing: ServerResponse, body: Uint8Array): void {
  if (body.byteLength > 16 * 1024) outgoing.end(body);
  else outgoing.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1'), 'latin1');
}

function peerOf(incoming: IncomingMessage) {
  return peerOfSocket(incoming.socket);
}

function peerOfSocket(socket: Socket): Peer {
  return (socket as TLSSocket).encrypted ? new TlsPeer(socket as TLSSocket) : { address: socket.remoteAddress, scheme: 'http' };
}

/** An HTTPS connection. Its client certificate is read when authentication asks, not on every request. */
class TlsPeer implements Peer {
  readonly scheme = 'https';
  readonly address: string | undefined;
  readonly #socket: TLSSocket;
  constructor(socket: TLSSocket) {
    this.#socket = socket;
    this.address = socket.remoteAddress;
  }
  /**
   * Read anew each time: a TLS 1.2 client may renegotiate with another certificate on the same
   * connection. `authorized` is Node's verdict against the server's `ca`. Bun's node:https (1.4)
   * has no `getPeerCertificate` on server sockets: no certificate, so none authenticates anyone.
   */
  get certificate(): PresentedCertificate | undefined {
    if (typeof this.#socket.getPeerCertificate !== 'function') return undefined;
    const raw = this.#socket.getPeerCertificate()?.raw;
    if (!raw) return undefined;
    return { verified: this.#socket.authorized, der: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
  }
}

/**
 * Serves `handler` behind `policy` on 127.0.0.1. A `forwardTo(origin)` given neither `transport`
 * nor `fetch` reaches its origin over this server's keep-alive client (as `nodeTransport()` does),
 * and its answers are written to the client as they arrive.
 *
 * @example
 * ```ts
 * import { serve } from 'portcullis/node';
 * import { forwardTo } from 'portcullis';
 * const gateway = await serve(policy, forwardTo('http://127.0.0.1:9000'), { port: 8787, maxConnections: 2048 });
 * console.log(`listening on ${gateway.url}`);
 * ```
 */
export async function serve(policy: Policy | Engine, handler: Handler, options: ServeOptions = {}): Promise<Running> {
  const limits = serveLimits(options);
  const engine = engineFor(policy, { crypto: adapterCrypto(), ...options.env });
  const settings = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderSize,
    // The listener refuses a missing Host with a problem+json 400 and the policy's headers.
    requireHostHeader: false,
    // node:http looks for expired heads and requests on this interval (30 s by default), so a
    // timeout fires at most a quarter of itself late.
    connectionsCheckingInterval: checkingInterval(limits.headersTimeoutMs, limits.requestTimeoutMs),
  };
  const listener = createListener(engine, handler);
  const server: Server = options.tls ? createHttpsServer({ ...options.tls, ...settings }, listener) : createServer(settings, listener);
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.maxConnections = limits.maxConnections;
  guardConnections(server, engine, limits.bodyIdleTimeoutMs, peerOfSocket);
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

  return { server, engine, url: `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`, close };
}

/** The options' limits with the defaults filled in; a limit that is not a whole number ≥ 0 throws a TypeError naming it. */
function serveLimits(options: ServeOptions): { -readonly [K in keyof typeof SERVE_LIMITS]: number } {
  const limits = { ...SERVE_LIMITS } as { -readonly [K in keyof typeof SERVE_LIMITS]: number };
  for (const name of Object.keys(SERVE_LIMITS) as (keyof typeof SERVE_LIMITS)[]) {
    const value = options[name];
    if (value === undefined) continue;
    const least = name === 'maxHeaderSize' ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < least) throw new TypeError(`serve: ${name} must be a whole number ≥ ${least}, got ${String(value)}`);
    limits[name] = value;
  }
  if (limits.requestTimeoutMs > 0 && limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new TypeError(`serve: headersTimeoutMs (${limits.headersTimeoutMs}) must not exceed requestTimeoutMs (${limits.requestTimeoutMs})`);
  }
  return limits;
}

/** A quarter of the shorter timeout that is set (0 turns one off), at least 10 ms; node's 30 s when neither is. */
function checkingInterval(...timeouts: number[]): number {
  const shortest = Math.min(...timeouts.filter((ms) => ms > 0));
  return Number.isFinite(shortest) ? Math.max(10, Math.floor(shortest / 4)) : 30_000;
}
