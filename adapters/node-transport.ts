/**
 * `nodeTransport()`: `forwardTo`'s way to the origin on Node without WHATWG `fetch` — a keep-alive
 * `node:http`/`node:https` agent, the request body streamed out, the answer's body streamed back.
 * On Node, `fetch` (undici) builds a Request, a Response, their Headers and an AbortSignal per
 * request; that, not the policy, was most of a forwarding gateway's CPU.
 * @module
 */

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ForwardTransport, OriginAnswer } from '../src/index.ts';

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

/**
 * A `forwardTo` transport on Node's own HTTP client with keep-alive connections to the origin.
 *
 * @example
 * ```ts
 * import { forwardTo } from 'portcullis';
 * import { nodeTransport, serve } from 'portcullis/node';
 * await serve(policy, forwardTo('http://127.0.0.1:9000', { transport: nodeTransport() }));
 * ```
 */
export function nodeTransport(options: NodeTransportOptions = {}): ForwardTransport {
  const pool = { keepAlive: true, maxSockets: options.maxSockets ?? 256, maxFreeSockets: options.maxFreeSockets ?? 256, scheduling: 'lifo' as const };
  const http = new HttpAgent(pool);
  const https = new HttpsAgent({ ...pool, ...(options.ca && { ca: options.ca as string | string[] }) });
  const timeout = options.timeoutMs ?? 30_000;

  return function viaNodeHttp(target, { method, headers, body, signal }) {
    return new Promise<OriginAnswer>((resolve, reject) => {
      const secure = target.protocol === 'https:';
      const outgoing = (secure ? httpsRequest : httpRequest)(
        target,
        { method, headers: Object.fromEntries(headers), agent: secure ? https : http, signal, timeout },
        // The parser goes on with the rest of the packet after this callback: on the next tick, a
        // small answer is all there, and goes out in one write instead of through a stream.
        (answer) => process.nextTick(() => resolve(answerOf(answer, method))),
      );
      outgoing.once('error', reject);
      outgoing.once('timeout', () => outgoing.destroy(new Error(`the origin did not answer within ${timeout} ms`)));
      if (!body) return void outgoing.end();
      pipeline(Readable.fromWeb(body as unknown as import('node:stream/web').ReadableStream<Uint8Array>), outgoing).catch((error: unknown) => outgoing.destroy(error as Error));
    });
  };
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
  return { status, statusText: answer.statusMessage, headers, body: streamOf(answer) };
}

/**
 * The answer's body as a ReadableStream that pauses the socket when the client reads slowly, and
 * fails (so the client's answer is cut, not ended as if complete) when the origin closes mid-body.
 */
function streamOf(answer: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
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
      },
      pull() {
        answer.resume();
      },
      cancel() {
        answer.destroy();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk?.byteLength ?? 0 },
  );
}
