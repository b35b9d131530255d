/**
 * `nodeTransport()`: `forwardTo`'s way to the origin on Node without WHATWG `fetch` — a keep-alive
 * `node:http`/`node:https` agent, the request body streamed out, the answer's body streamed back.
 * On Node, `fetch` (undici) builds a Request, a Response, their Headers and an AbortSignal per
 * request; that, not the policy, was most of a forwarding gateway's CPU.
 * @module
 */

import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ForwardTransport, OriginAnswer, OriginRequest } from '../src/index.ts';

/** Options of `nodeTransport`. */
export interface NodeTransportOptions {
  /** Connections to the origin at most (node:http's `maxSockets`); more requests wait for one. @default 256 */
  maxSockets?: number;
  /** Idle connections kept open for the next request (node:http's `maxFreeSockets`). @default 256 */
  maxFreeSockets?: number;
  /** Longest wait for the origin's connection or answer to go on, in ms; then the request fails (502). @default 30000 */
  timeoutMs?: number;
  /** Certificates to trust for an https origin (a private CA), PEM. @default Node's bundled CAs */
  ca?: string | readonly string[];
}

/** Statuses whose answer never has a body (RFC 9110 §6.4.1). */
const NO_BODY = new Set([204, 205, 304]);

/** The connection to the client, as far as the transport watches it: a ServerResponse. */
export interface ClientConnection {
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** Sends one origin request; stops it when `client` closes (else when the request's signal aborts). */
export type NodeOriginClient = (target: URL, request: OriginRequest, client?: ClientConnection) => Promise<OriginAnswer>;

/**
 * The bodies of answers still streaming from the origin, by the stream `forwardTo` put in its
 * Response: the Node adapter pipes the origin's message into the ServerResponse instead of reading
 * the stream (see `takeOriginSource`).
 */
const sources = new WeakMap<ReadableStream<Uint8Array>, IncomingMessage>();

/**
 * A `forwardTo` transport on Node's own HTTP client with keep-alive connections to the origin.
 * `serve()` uses one by itself for a `forwardTo` given no transport; name one to set its options.
 *
 * @example
 * ```ts
 * import { forwardTo } from 'portcullis';
 * import { nodeTransport, serve } from 'portcullis/node';
 * await serve(policy, forwardTo('http://127.0.0.1:9000', { transport: nodeTransport({ maxSockets: 64 }) }));
 * ```
 */
export function nodeTransport(options: NodeTransportOptions = {}): ForwardTransport {
  const send = nodeOriginClient(options);
  return function viaNodeHttp(target, request) {
    return send(target, request);
  };
}

/**
 * The client behind `nodeTransport()`. Given the client's connection (the adapter's case) it watches
 * that for the client leaving, instead of the request's AbortSignal, which Node's adapter would
 * build for each request only for this.
 */
export function nodeOriginClient(options: NodeTransportOptions = {}): NodeOriginClient {
  const pool = { keepAlive: true, maxSockets: options.maxSockets ?? 256, maxFreeSockets: options.maxFreeSockets ?? 256, scheduling: 'lifo' as const };
  const http = new HttpAgent(pool);
  const https = new HttpsAgent({ ...pool, ...(options.ca && { ca: options.ca as string | string[] }) });
  const timeout = options.timeoutMs ?? 30_000;

  return function sendToOrigin(target, request, client) {
    return new Promise<OriginAnswer>((resolve, reject) => {
      const secure = target.protocol === 'https:';
      const { method, body } = request;
      const outgoing = (secure ? httpsRequest : httpRequest)(
        {
          protocol: target.protocol,
          // node:http wants an IPv6 literal without its brackets.
          hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method,
          headers: plainHeaders(request.headers),
          agent: secure ? https : http,
          timeout,
          ...(client ? {} : { signal: request.signal }),
        },
        // The parser goes on with the rest of the packet after this callback: on the next tick, a
        // small answer is all there, and goes out in one write instead of through a stream.
        (answer) => process.nextTick(() => resolve(answerOf(answer, method))),
      );
      if (client) stopWhenGone(client, outgoing);
      outgoing.once('error', reject);
      outgoing.once('timeout', () => outgoing.destroy(new Error(`the origin did not answer within ${timeout} ms`)));
      if (!body) return void outgoing.end();
      pipeline(Readable.fromWeb(body as unknown as import('node:stream/web').ReadableStream<Uint8Array>), outgoing).catch((error: unknown) => outgoing.destroy(error as Error));
    });
  };
}

/**
 * The origin's message whose body `stream` is, once: the caller writes it to the client itself.
 * `undefined` when `stream` is not one of ours, or someone has begun to read it.
 */
export function takeOriginSource(stream: ReadableStream<Uint8Array>): IncomingMessage | undefined {
  const source = sources.get(stream);
  if (!source || stream.locked) return undefined;
  sources.delete(stream);
  return source;
}

/** The filtered headers as node:http takes them (`Headers` joins repeated fields already, save Set-Cookie, which requests do not carry). */
function plainHeaders(headers: Headers): Record<string, string> {
  const plain: Record<string, string> = {};
  headers.forEach((value, name) => (plain[name] = value));
  return plain;
}

/** Ends the origin request when the client leaves before the origin's answer has been relayed. */
function stopWhenGone(client: ClientConnection, outgoing: ClientRequest): void {
  const gone = () => outgoing.destroy(new Error('the client went away'));
  client.once('close', gone);
  outgoing.once('close', () => client.off('close', gone));
}

/**
 * The origin's head as a fresh `Headers`; its body as the bytes when all of it has arrived already,
 * else as a stream (none for HEAD, 204, 304).
 */
function answerOf(answer: IncomingMessage, method: string): OriginAnswer {
  const headers = new Headers();
  const raw = answer.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const status = answer.statusCode!;
  if (method === 'HEAD' || NO_BODY.has(status)) {
    answer.resume();
    return { status, statusText: answer.statusMessage, headers, body: null };
  }
  if (answer.complete) {
    const bytes = (answer.read() as Uint8Array<ArrayBuffer> | null) ?? new Uint8Array(0);
    answer.resume(); // to its end, which hands the connection back to the agent
    return { status, statusText: answer.statusMessage, headers, body: bytes };
  }
  const body = streamOf(answer);
  sources.set(body, answer);
  return { status, statusText: answer.statusMessage, headers, body };
}

/**
 * The answer's body as a ReadableStream that pauses the socket when the client reads slowly, and
 * fails (so the client's answer is cut, not ended as if complete) when the origin closes mid-body.
 * It takes nothing from the message until it is first read: until then the message can still be
 * piped to the client directly.
 */
function streamOf(answer: IncomingMessage): ReadableStream<Uint8Array> {
  let listening = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (!listening) {
          listening = true;
          listen(answer, controller);
        }
        answer.resume();
      },
      cancel() {
        answer.destroy();
      },
    },
    // Nothing is pulled before a reader asks: a high-water mark of 0.
    { highWaterMark: 0 },
  );
}

function listen(answer: IncomingMessage, controller: ReadableStreamDefaultController<Uint8Array>): void {
  let settled = false;
  answer.on('data', (chunk: Buffer) => {
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((controller.desiredSize ?? 1) <= 0) answer.pause();
  });
  answer.once('end', () => {
    if (settled) return;
    settled = true;
    controller.close();
  });
  const fail = () => {
    if (settled) return;
    settled = true;
    controller.error(new Error('the origin closed the connection before the end of its answer'));
  };
  answer.once('error', fail);
  answer.once('close', fail);
}
