/**
 * `nodeTransport()`: `forwardTo`'s way to the origin on Node without WHATWG `fetch`. It dispatches
 * on undici's `Agent` — the client under Node's own `fetch`, without the Request, Response, Headers,
 * web streams and AbortSignal that `fetch` builds per request: keep-alive connections, the request
 * body streamed out, the answer's body streamed back. That, not the policy, was most of a
 * forwarding gateway's CPU; undici's dispatcher also costs less per request than a `node:http`
 * client (see docs/performance.md).
 * @module
 */

import { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { hiddenSlot } from '../src/hidden-slot.ts';
import type { ForwardTransport, OriginAnswer, OriginRequest } from '../src/index.ts';

/** Options of `nodeTransport`. */
export interface NodeTransportOptions {
  /** Connections to one origin at most; more requests wait for one. @default 256 */
  maxSockets?: number;
  /**
   * Longest wait, in ms, for a connection to the origin, for the head of its answer, and between two
   * pieces of its body; then the request fails (502 before the head, a cut answer after it).
   * @default 30000
   */
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

/** Where an answer's body goes as it arrives: a ServerResponse, as far as the relay writes to it. */
export interface RelayTarget {
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/** Sends one origin request; stops it when `client` closes (else when the request's signal aborts). */
export type NodeOriginClient = (target: URL, request: OriginRequest, client?: ClientConnection) => Promise<OriginAnswer>;

/**
 * The call whose answer is still streaming from the origin, on the stream `forwardTo` put in its
 * Response: the Node adapter writes the origin's chunks into the ServerResponse itself instead of
 * reading the stream (see `takeOriginRelay`).
 */
const streaming = hiddenSlot<OriginCall>('portcullis.streaming');

/**
 * A `forwardTo` transport on undici's dispatcher with keep-alive connections to the origin.
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
  return function viaUndici(target, request) {
    return send(target, request);
  };
}

/**
 * The client behind `nodeTransport()`. Given the client's connection (the adapter's case) it watches
 * that for the client leaving, instead of the request's AbortSignal, which Node's adapter would
 * build for each request only for this.
 */
export function nodeOriginClient(options: NodeTransportOptions = {}): NodeOriginClient {
  const timeout = options.timeoutMs ?? 30_000;
  const agent = new Agent({
    connections: options.maxSockets ?? 256,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    connect: { timeout, ...(options.ca && { ca: options.ca as string | string[] }) },
  });

  return function sendToOrigin(target, request, client) {
    return new Promise<OriginAnswer>((resolve, reject) => {
      const call = new OriginCall(request.method, resolve, reject);
      if (client) call.stopWhenGone(client);
      else call.stopOnAbort(request.signal);
      agent.dispatch(
        {
          origin: target.origin,
          path: target.pathname + target.search,
          method: request.method,
          headers: flatHeaders(request.headers),
          body: request.body && Readable.fromWeb(request.body as unknown as import('node:stream/web').ReadableStream<Uint8Array>),
        },
        call,
      );
    });
  };
}

/**
 * Hands the origin's answer whose body `stream` is, once, to `target`: its chunks are written to
 * `target` as they arrive (the origin paused while `target` is full), `target` is ended with the
 * answer and destroyed when the origin cuts it. `undefined` when `stream` is not one of ours, or
 * someone has begun to read it.
 */
export function takeOriginRelay(stream: ReadableStream<Uint8Array>): ((target: RelayTarget) => void) | undefined {
  const call = streaming.get(stream);
  if (!call || stream.locked) return undefined;
  streaming.set(stream, undefined);
  return (target) => call.relayTo(target);
}

/** The filtered headers as undici takes them: names and values alternating. */
function flatHeaders(headers: Headers): string[] {
  const flat: string[] = [];
  headers.forEach((value, name) => flat.push(name, value));
  return flat;
}

/** Where the body of an answer already handed out goes. */
interface BodySink {
  /** `false`: full, pause the origin until `resume`. */
  write(chunk: Uint8Array): boolean;
  end(): void;
  fail(error: Error): void;
}

/** What the promise's functions become once used: the call holds nothing through them. */
const settled = () => {};

/**
 * One dispatched request, as undici's handler: it resolves with the answer once the head has
 * arrived, and keeps the body's chunks until something takes them (a stream reader, or the
 * adapter relaying them to the client). Once done it lets go of all of them, the client's response
 * included: under load that took what a forwarded request leaves in V8's old generation from about
 * 5 to about 3 KB (`--trace-gc`), and with it the time spent in scavenges.
 */
class OriginCall implements Dispatcher.DispatchHandler {
  readonly #method: string;
  #resolve: (answer: OriginAnswer) => void;
  #reject: (error: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** Why the call was stopped before undici started it. */
  #stopped: Error | undefined;
  #head: { status: number; statusText: string | undefined; headers: Record<string, string | string[]> } | undefined;
  /** The head has arrived: from here on a failure cuts the body instead of failing the call. */
  #headed = false;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #sink: BodySink | undefined;
  #release: (() => void) | undefined;

  constructor(method: string, resolve: (answer: OriginAnswer) => void, reject: (error: Error) => void) {
    this.#method = method;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Ends the origin request when the client leaves before the answer has been relayed. */
  stopWhenGone(client: ClientConnection): void {
    const gone = () => this.stop(new Error('the client went away'));
    client.once('close', gone);
    this.#release = () => client.off('close', gone);
  }

  stopOnAbort(signal: AbortSignal): void {
    if (signal.aborted) return this.stop(new Error('the request was aborted'));
    const abort = () => this.stop(new Error('the request was aborted'));
    signal.addEventListener('abort', abort, { once: true });
    this.#release = () => signal.removeEventListener('abort', abort);
  }

  stop(error: Error): void {
    if (this.#controller) this.#controller.abort(error);
    else this.#stopped = error;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#stopped) controller.abort(this.#stopped);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[]>, statusText?: string): void {
    // 1xx heads are interim; the answer's head comes after them.
    if (status < 200) return;
    this.#head = { status, statusText, headers };
    this.#headed = true;
    // The parser goes on with the rest of the packet after this call: on the next tick, a small
    // answer is all there, and goes out as bytes in one write instead of through a stream.
    process.nextTick(() => this.#resolve(this.#answer()));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!this.#sink) this.#chunks.push(bytes);
    else if (!this.#sink.write(bytes)) controller.pause();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#sink?.end();
    this.#done();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (!this.#headed) this.#reject(error);
    else if (this.#sink) this.#sink.fail(error);
    else this.#error = error;
    this.#done();
  }

  /** Lets go of the client, the sink and the promise's functions (the chunks go when taken). */
  #done(): void {
    this.#release?.();
    this.#release = undefined;
    this.#sink = undefined;
    this.#controller = undefined;
    this.#reject = settled;
  }

  /** Writes the body to `target` from here on (see `takeOriginRelay`). */
  relayTo(target: RelayTarget): void {
    let waiting = false;
    this.#attach({
      write: (chunk) => {
        if (target.write(chunk)) return true;
        if (!waiting) {
          waiting = true;
          target.once('drain', () => {
            waiting = false;
            this.#controller?.resume();
          });
        }
        return false;
      },
      end: () => void target.end(),
      // The client's answer ends short rather than as if complete.
      fail: (error) => void target.destroy(error),
    });
  }

  /** The head as a fresh `Headers`; the body as bytes when all of it has arrived, else as a stream. */
  #answer(): OriginAnswer {
    const { status, statusText, headers: fields } = this.#head!;
    this.#head = undefined;
    this.#resolve = settled;
    const headers = new Headers();
    for (const name of Object.keys(fields)) {
      const value = fields[name]!;
      if (typeof value === 'string') headers.append(name, value);
      else for (const one of value) headers.append(name, one);
    }
    if (this.#method === 'HEAD' || NO_BODY.has(status)) return { status, statusText, headers, body: null };
    if (this.#ended) {
      const body = joined(this.#chunks);
      this.#chunks = [];
      return { status, statusText, headers, body };
    }
    const body = this.#stream();
    streaming.set(body, this);
    return { status, statusText, headers, body };
  }

  /**
   * The body as a ReadableStream that pauses the origin when the reader is slow, and fails (so the
   * client's answer is cut, not ended as if complete) when the origin cuts it. It takes nothing
   * until first read: until then the adapter can still relay the body itself.
   */
  #stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          if (!this.#sink) {
            this.#attach({
              write: (chunk) => {
                controller.enqueue(chunk);
                return (controller.desiredSize ?? 1) > 0;
              },
              end: () => controller.close(),
              fail: (error) => controller.error(error),
            });
          }
          this.#controller?.resume();
        },
        cancel: () => this.stop(new Error('the answer was cancelled')),
      },
      // Nothing is pulled before a reader asks: a high-water mark of 0.
      { highWaterMark: 0 },
    );
  }

  /** Sends what has arrived to `sink`, then what arrives after. */
  #attach(sink: BodySink): void {
    this.#sink = sink;
    const chunks = this.#chunks;
    this.#chunks = [];
    let room = true;
    for (const chunk of chunks) room = sink.write(chunk);
    if (this.#ended) sink.end();
    else if (this.#error) sink.fail(this.#error);
    else if (!room) this.#controller?.pause();
    if (this.#ended || this.#error) this.#sink = undefined;
  }
}

/** The chunks as one array of bytes. */
function joined(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (chunks.length === 1) return chunks[0] as Uint8Array<ArrayBuffer>;
  return Buffer.concat(chunks) as Uint8Array<ArrayBuffer>;
}
