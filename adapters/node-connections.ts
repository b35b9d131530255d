/**
 * The Node adapter's connection guard: failures node:http meets before (or while) a request
 * reaches the engine — a head too large or too slow, a parse error, a stalled body — answered as
 * the policy answers everything else.
 * @module
 */

import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { denialResponse, type Engine, type Peer, type ReasonCode } from '../src/index.ts';

/** What node:http reports on a connection it gave up on, as the reason code the client is answered with. */
const CLIENT_ERRORS: Readonly<Record<string, ReasonCode>> = {
  HPE_HEADER_OVERFLOW: 'request.header_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'client.timeout',
};

/** Errors of a connection the client closed or reset. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'HPE_INVALID_EOF_STATE']);

/** How long a refused connection may go on sending before it is closed (see `answerAndClose`). */
const LINGER_MS = 2_000;

/**
 * Connection-level failures answered as the policy answers everything else — problem+json with the
 * policy's headers, logged as a denial — where node:http would write a bare status line or nothing:
 * a head that is too large (431) or too slow (408), a parse error (400), a stalled body (408).
 */
export function guardConnections(server: Server, engine: Engine, bodyIdleTimeoutMs: number, peerOf: (socket: Socket) => Peer): void {
  // The request each connection is in the middle of, for errors that arrive on the socket.
  const inFlight = new WeakMap<Duplex, { incoming: IncomingMessage; outgoing: ServerResponse }>();
  const answered = new WeakSet<Duplex>();

  server.on('request', (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const socket = incoming.socket;
    // A finished answer's entry is passed over where it is read (a pipelined request may have
    // taken the socket's entry already): no listener per request.
    inFlight.set(socket, { incoming, outgoing });
    // The response's timeout is the socket's idle timeout while this request owns the socket. A
    // request without a body has all arrived with its head: no timer for it.
    if (bodyIdleTimeoutMs > 0 && mayHaveBody(incoming)) {
      outgoing.setTimeout(bodyIdleTimeoutMs, () => {
        // The whole request arrived: waiting on the handler is not the client's doing.
        if (incoming.complete) return;
        failInFlight(socket, incoming, outgoing, 'client.timeout');
      });
    }
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (answered.has(socket)) return; // more bytes of a connection already refused
    answered.add(socket);
    // The client is gone (reset, or closed mid-request): nobody to answer. A handler reading the
    // body sees the abort itself (`client.aborted`).
    if (!socket.writable || CLIENT_GONE.has(error.code ?? '')) return socket.destroy();
    const exchange = inFlight.get(socket);
    const reason = CLIENT_ERRORS[error.code ?? ''] ?? 'request.malformed';
    if (exchange && !exchange.outgoing.writableFinished) return failInFlight(socket, exchange.incoming, exchange.outgoing, reason === 'client.timeout' ? reason : 'request.malformed_framing');
    void answerAndClose(socket, denialResponse(engine.reject({ peer: peerOf(socket as Socket), reason })));
  });

  /**
   * A request the handler is already reading: the client is answered here (the engine's own answer
   * would find the connection closed), then the body stream fails with an error the engine names
   * (`TimeoutError` → `client.timeout`), so the engine logs the request it was evaluating as a
   * denial too, with its route, instead of an internal error.
   */
  function failInFlight(socket: Duplex, incoming: IncomingMessage, outgoing: ServerResponse, reason: ReasonCode): void {
    answered.add(socket);
    const error = reason === 'client.timeout' ? new DOMException('the request body did not arrive in time', 'TimeoutError') : new Error('malformed request framing');
    const fail = () => void incoming.destroy(error);
    if (outgoing.headersSent || !socket.writable) return fail();
    const answer = denialResponse(engine.reject({ peer: peerOf(incoming.socket), method: incoming.method, reason }));
    void answerAndClose(socket, answer).then(fail, fail);
  }
}

/**
 * Whether a body may follow the request's head: RFC 9112 §6.3, a request has one only with
 * `Transfer-Encoding` or a `Content-Length` other than 0. (node:http has parsed the head already,
 * and node-server reads these same parsed headers.)
 */
function mayHaveBody(incoming: IncomingMessage): boolean {
  const { headers } = incoming;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/**
 * Writes `response` straight to the socket (there is no ServerResponse for a head node:http could
 * not parse), then closes the connection gently: the write side is shut, and what the client is
 * still sending is read and dropped for a short while. Closing with its bytes unread would make
 * the kernel send a reset, which can reach the client before the answer does.
 */
async function answerAndClose(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}\r\n`;
  response.headers.forEach((value, name) => (head += `${name}: ${value}\r\n`));
  head += `content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`;
  await new Promise<void>((resolve) => {
    if (!socket.writable) return resolve();
    socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]), () => resolve());
  });
  socket.on('data', () => {}).resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
}
