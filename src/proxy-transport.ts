/**
 * How `forwardTo` reaches the origin. The rules (which headers go, what comes back) stay in the
 * core; a transport only moves bytes. The default is the runtime's `fetch` (a service binding's on
 * Workers); an adapter can offer a cheaper one (the Node adapter's `serve()` offers its keep-alive
 * client, `nodeTransport()`, to every `forwardTo` given none).
 * @module
 */

import { hiddenSlot } from './hidden-slot.ts';

/** The request `forwardTo` sends: the checked target, the filtered headers, the body as a stream. */
export interface OriginRequest {
  method: string;
  /** Exactly the headers the origin may hear; a transport adds only what its protocol needs (Host, framing). */
  headers: Headers;
  /** The request body, streamed; `null` for GET, HEAD and a request without one. */
  body: ReadableStream<Uint8Array> | null;
  /**
   * Aborted when the client goes away: the transport stops the origin request. Read it only to use
   * it: a runtime may build the signal on first read (Node's adapter does, at a cost per request).
   */
  readonly signal: AbortSignal;
}

/** The origin's answer, before `forwardTo` checks it: headers a fresh, mutable `Headers` it may change. */
export interface OriginAnswer {
  status: number;
  statusText?: string;
  headers: Headers;
  /** The body: a stream, or its bytes when the transport already holds all of it. */
  body: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | null;
}

/** The origin answer a Response of `forwardTo` relays (a WeakMap entry here cost 1.4 KB promoted a request). */
const relayed = hiddenSlot<OriginAnswer>('portcullis.relayed');

/** Records that `response` is `answer` relayed, headers checked (see `relayedAnswer`). */
export function relayAnswer(response: Response, answer: OriginAnswer): Response {
  relayed.set(response, answer);
  return response;
}

/**
 * The origin answer behind a Response of `forwardTo`, for an adapter that writes the body from its
 * transport's own source instead of through the Response's stream. The Response's status and
 * headers are the ones to send: they are what the rules let through (and what a handler may have
 * changed since). `undefined` for any other Response.
 */
export function relayedAnswer(response: Response): OriginAnswer | undefined {
  return relayed.get(response);
}

/** Lets an answer's body go unread (the origin's connection is freed). */
export async function discardBody(answer: OriginAnswer): Promise<void> {
  if (answer.body instanceof ReadableStream) await answer.body.cancel().catch(() => {});
}

/**
 * Sends one request to the origin and resolves with its answer as soon as the head has arrived (the
 * body streams on). It must not follow redirects, and must not decode the body (`forwardTo` asks for
 * `accept-encoding: identity`). It rejects when the origin cannot be reached.
 *
 * @example
 * ```ts
 * import { nodeTransport } from 'portcullis/node';
 * serve(policy, forwardTo('http://127.0.0.1:9000', { transport: nodeTransport() }));
 * ```
 */
export type ForwardTransport = (target: URL, request: OriginRequest) => Promise<OriginAnswer>;

/** A transport on a `fetch` function: the runtime's, or a service binding's. */
export function fetchTransport(send: (input: URL, init: RequestInit) => Promise<Response>): ForwardTransport {
  return async function viaFetch(target, { method, headers, body, signal }) {
    const response = await send(target, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal,
      // Node's fetch needs this to stream a request body.
      ...(body ? { duplex: 'half' } : {}),
    } as RequestInit);
    // A fetch Response's headers are immutable: the copy is what forwardTo may change.
    return { status: response.status, statusText: response.statusText, headers: new Headers(response.headers), body: response.body };
  };
}
