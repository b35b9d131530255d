/**
 * `serve(policy, forwardTo(origin))` with no transport named, against a real origin on 127.0.0.1:
 * the adapter's keep-alive client carries the request, the origin's answer is written to
 * the client under the same rules as any other answer (leaking headers dropped, the policy's headers
 * and CORS, Vary merged, 5xx masked, response fields protected), bodies stream both ways, and either
 * side going away ends the other.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { definePolicy, forwardTo, type ForwardOptions, type Handler } from '../src/index.ts';
import { listenOrigin } from '../test/node/origin.ts';
import { nodeTransport, serve, type Running } from './node.ts';

const APP = 'https://app.example';
const policy = definePolicy({
  transport: { requireHttps: true, allowLoopbackHttp: true },
  cors: { origins: [APP] },
  routes: {
    'GET /v1/things': { authn: 'anonymous' },
    'HEAD /v1/things': { authn: 'anonymous' },
    'GET /v1/users/:id': { authn: 'anonymous', response: { fields: { secret: ['admin'] } } },
    'POST /v1/upload': { authn: 'anonymous', contentTypes: ['application/octet-stream'], maxBodyBytes: 8 * 1024 * 1024 },
  },
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** An origin on 127.0.0.1 that remembers what it was sent, and a gateway in front of it. */
async function gatewayTo(listener: RequestListener, handler: (origin: string) => Handler = (origin) => forwardTo(origin)) {
  const seen: IncomingHttpHeaders[] = [];
  const origin = await listenOrigin((req, res) => {
    seen.push(req.headers);
    listener(req, res);
  }, closers);
  const gateway = await serve(policy, handler(origin.url), { port: 0, handleSignals: false, env: { log: () => {} } });
  closers.push(() => gateway.close());
  return { gateway, seen, connections: origin.connections };
}

/** A request to the gateway over node:http (the client sees the wire: trailers, framing). */
function send(gateway: Running, method: string, path: string, headers: Record<string, string> = {}) {
  const outgoing = request(`${gateway.url}${path}`, { method, headers });
  const answer = once(outgoing, 'response').then(([response]) => response as IncomingMessage);
  return { outgoing, answer };
}

async function exchange(gateway: Running, method: string, path: string, headers: Record<string, string> = {}) {
  const { outgoing, answer } = send(gateway, method, path, headers);
  outgoing.end();
  const response = await answer;
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return { status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks), trailers: response.trailers, complete: response.complete };
}

/** An origin answer whose body comes later than its head: the gateway relays it as a stream. */
function later(res: import('node:http').ServerResponse, body: string, ms = 30): void {
  res.flushHeaders();
  setTimeout(() => res.end(body), ms);
}

describe('serve() + forwardTo(origin) with no transport', () => {
  it('reaches the origin over its keep-alive client, not fetch', async () => {
    const { gateway, seen, connections } = await gatewayTo((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    for (let i = 0; i < 10; i++) expect((await exchange(gateway, 'GET', '/v1/things')).body.toString()).toBe('{"ok":true}');
    expect(connections()).toBe(1);
    // Node's fetch (undici) says `sec-fetch-mode: cors` on every request and never `connection: keep-alive`.
    expect(seen.every((headers) => headers['sec-fetch-mode'] === undefined && headers.connection === 'keep-alive')).toBe(true);
  });

  it('an explicit transport or fetch wins over the adapter’s', async () => {
    let viaOwn = 0;
    const own = nodeTransport();
    const withTransport = await gatewayTo(
      (_req, res) => res.end('ok'),
      (origin) => forwardTo(origin, { transport: (target, request) => (viaOwn++, own(target, request)) }),
    );
    await exchange(withTransport.gateway, 'GET', '/v1/things');
    expect(viaOwn).toBe(1);

    const withFetch = await gatewayTo(
      (_req, res) => res.end('ok'),
      (origin) => forwardTo(origin, { fetch: (input, init) => fetch(input, init) } satisfies ForwardOptions),
    );
    expect((await exchange(withFetch.gateway, 'GET', '/v1/things')).body.toString()).toBe('ok');
    expect(withFetch.seen[0]!['sec-fetch-mode']).toBe('cors');
  });

  for (const [kind, answer] of [
    ['whole', (res: import('node:http').ServerResponse, body: string) => res.end(body)],
    ['streamed', later],
  ] as const) {
    it(`relays a ${kind} answer under the response rules: leaks dropped, the policy's headers and CORS win, Vary merges`, async () => {
      const { gateway } = await gatewayTo((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-powered-by', 'Express');
        res.setHeader('server', 'nginx/1.2.3');
        res.setHeader('access-control-allow-origin', '*');
        res.setHeader('vary', 'accept-encoding');
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
        res.setHeader('x-content-type-options', 'sniff-me');
        res.setHeader('etag', '"v1"');
        answer(res, '{"id":"t1"}');
      });
      const response = await exchange(gateway, 'GET', '/v1/things', { origin: APP });
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe('{"id":"t1"}');
      expect(response.headers['x-powered-by']).toBeUndefined();
      expect(response.headers.server).toBeUndefined();
      expect(response.headers['access-control-allow-origin']).toBe(APP);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers.vary?.toLowerCase().split(/,\s*/).sort()).toEqual(['accept-encoding', 'origin']);
      expect(response.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
      expect(response.headers.etag).toBe('"v1"');
      expect(response.headers['content-type']).toBe('application/json');
    });

    it(`protects response fields of a ${kind} answer`, async () => {
      const { gateway } = await gatewayTo((_req, res) => {
        res.setHeader('content-type', 'application/json');
        answer(res, '{"id":"u1","secret":"s3cr3t"}');
      });
      const response = await exchange(gateway, 'GET', '/v1/users/u1');
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body.toString())).toEqual({ id: 'u1' });
    });

    it(`keeps what a handler changed on the relayed Response (${kind})`, async () => {
      const { gateway } = await gatewayTo(
        (_req, res) => answer(res, 'hello'),
        (origin) => {
          const forward = forwardTo(origin);
          return async (request, decision, context) => {
            const response = await forward(request, decision, context);
            response.headers.set('x-added', 'by-the-handler');
            return response;
          };
        },
      );
      const response = await exchange(gateway, 'GET', '/v1/things');
      expect(response.headers['x-added']).toBe('by-the-handler');
      expect(response.body.toString()).toBe('hello');
    });
  }

  it('relays a whole binary answer byte for byte', async () => {
    const bytes = randomBytes(12 * 1024);
    const { gateway } = await gatewayTo((_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes));
    const response = await exchange(gateway, 'GET', '/v1/things');
    expect(response.headers['content-length']).toBe(String(bytes.byteLength));
    expect(response.body.equals(bytes)).toBe(true);
  });

  it('streams large bodies both ways intact (8 MiB up, 8 MiB down)', async () => {
    const down = randomBytes(8 * 1024 * 1024);
    const { gateway } = await gatewayTo((req, res) => {
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-upload-sha256': hash.digest('hex') });
        for (let at = 0; at < down.byteLength; at += 256 * 1024) res.write(down.subarray(at, at + 256 * 1024));
        res.end();
      });
    });
    const up = randomBytes(8 * 1024 * 1024 - 1);
    const { outgoing, answer } = send(gateway, 'POST', '/v1/upload', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    for (let at = 0; at < up.byteLength; at += 100_000) outgoing.write(up.subarray(at, at + 100_000));
    outgoing.end();
    const response = await answer;
    const hash = createHash('sha256');
    for await (const chunk of response) hash.update(chunk as Buffer);
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-upload-sha256']).toBe(createHash('sha256').update(up).digest('hex'));
    expect(hash.digest('hex')).toBe(createHash('sha256').update(down).digest('hex'));
  });

  it('pauses the origin while the client does not read, and relays the whole answer once it does', async () => {
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(256 * 1024, 7);
    let written = 0;
    const { gateway } = await gatewayTo(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      while (written < total) {
        written += piece.byteLength;
        if (!res.write(piece)) await once(res, 'drain');
      }
      res.end();
    });
    const { outgoing, answer } = send(gateway, 'GET', '/v1/things');
    outgoing.end();
    const response = await answer;
    response.pause();
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Without backpressure the gateway would take all 64 MiB into memory at once; socket buffers hold a few MiB.
    expect(written).toBeLessThan(40 * 1024 * 1024);
    let received = 0;
    for await (const chunk of response) received += (chunk as Buffer).byteLength;
    expect([received, response.complete]).toEqual([total, true]);
  });

  it('waits out interim 1xx answers (103 Early Hints) and relays the final one', async () => {
    const { gateway } = await gatewayTo((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    const response = await exchange(gateway, 'GET', '/v1/things');
    expect([response.status, response.body.toString()]).toEqual([200, '{"ok":true}']);
  });

  it('HEAD, 204 and 304 answers go out without a body, with their headers', async () => {
    const { gateway } = await gatewayTo((req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1234' }).end();
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
      res.writeHead(204, { 'x-empty': 'yes' }).end();
    });
    const head = await exchange(gateway, 'HEAD', '/v1/things');
    expect([head.status, head.headers['content-length'], head.body.byteLength]).toEqual([200, '1234', 0]);
    const notModified = await exchange(gateway, 'GET', '/v1/things', { 'if-none-match': '"v1"' });
    expect([notModified.status, notModified.headers.etag, notModified.body.byteLength]).toEqual([304, '"v1"', 0]);
    const empty = await exchange(gateway, 'GET', '/v1/things');
    expect([empty.status, empty.headers['x-empty'], empty.body.byteLength]).toEqual([204, 'yes', 0]);
  });

  it('masks an origin 5xx (whole or streamed) and answers 502 when the origin is unreachable', async () => {
    let calls = 0;
    const { gateway } = await gatewayTo((_req, res) => {
      calls++;
      if (calls === 1) return void res.writeHead(500, { 'content-type': 'text/plain' }).end('Error: at Db.connect (postgres://admin:pw@db/prod)');
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'text/plain' });
      later(res, 'stack trace here');
    });
    const internal = await exchange(gateway, 'GET', '/v1/things');
    expect(internal.status).toBe(500);
    expect(JSON.parse(internal.body.toString()).code).toBe('internal.error');
    expect(internal.body.toString()).not.toContain('postgres');
    const unavailable = await exchange(gateway, 'GET', '/v1/things');
    expect([unavailable.status, unavailable.headers['retry-after']]).toEqual([502, '7']);
    expect(unavailable.body.toString()).not.toContain('stack');

    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const down = await serve(policy, forwardTo(`http://127.0.0.1:${port}`), { port: 0, handleSignals: false, env: { log: () => {} } });
    closers.push(() => down.close());
    const response = await exchange(down, 'GET', '/v1/things');
    expect([response.status, JSON.parse(response.body.toString()).code]).toEqual([502, 'origin.unavailable']);
  });

  it('relays a chunked answer whole, without the origin’s trailers', async () => {
    const { gateway } = await gatewayTo((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('one,');
      setTimeout(() => {
        res.write('two,');
        res.addTrailers({ 'x-checksum': 'abc' });
        res.end('three');
      }, 20);
    });
    const response = await exchange(gateway, 'GET', '/v1/things');
    expect(response.complete).toBe(true);
    expect(response.body.toString()).toBe('one,two,three');
    expect(response.headers.trailer).toBeUndefined();
    expect(response.trailers).toEqual({});
  });

  it('a client that leaves mid-answer closes the origin’s request', async () => {
    let originClosed!: (finished: boolean) => void;
    const closedAt = new Promise<boolean>((resolve) => (originClosed = resolve));
    const { gateway } = await gatewayTo((_req, res) => {
      res.on('close', () => originClosed(res.writableFinished));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part,');
      // The rest never comes unless the origin is told the client left.
    });
    const { outgoing, answer } = send(gateway, 'GET', '/v1/things');
    outgoing.end();
    const response = await answer;
    await once(response, 'data');
    outgoing.destroy();
    expect(await closedAt).toBe(false);
  });

  it('a client that leaves before the origin answers closes the origin’s request', async () => {
    let arrived!: () => void;
    const originHasIt = new Promise<void>((resolve) => (arrived = resolve));
    let originClosed!: () => void;
    const closed = new Promise<void>((resolve) => (originClosed = resolve));
    const { gateway } = await gatewayTo((req) => {
      req.socket.on('close', () => originClosed());
      arrived(); // and never answers
    });
    const { outgoing, answer } = send(gateway, 'GET', '/v1/things');
    answer.catch(() => {}); // there is none: the client leaves first
    outgoing.end();
    await originHasIt;
    outgoing.destroy();
    await closed;
  });
});
