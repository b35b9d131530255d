/**
 * `nodeTransport()` behind `serve()` (named, and as serve()'s own default), against a real origin on 127.0.0.1: a request body arrives
 * whole, the answer streams (it is not buffered whole), an answer the origin cuts short stays cut short for the client,
 * connections to the origin are kept alive, an origin that is down is a 502, and an https origin is trusted by the CA given (`ca`)
 * and by no other.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { definePolicy, forwardTo, type ForwardOptions } from '../src/index.ts';
import { makeTestPki } from '../test/fixtures/certificates.ts';
import { listenOrigin } from '../test/node/origin.ts';
import { nodeTransport, serve, type Running } from './node.ts';

const policy = definePolicy({
  transport: { requireHttps: true, allowLoopbackHttp: true },
  routes: {
    'GET /v1/stream': { authn: 'anonymous' },
    'GET /v1/cut': { authn: 'anonymous' },
    'GET /v1/things': { authn: 'anonymous' },
    // The engine reads a body whole (up to maxBodyBytes) before the handler runs.
    'POST /v1/upload': { authn: 'anonymous', contentTypes: ['application/octet-stream'], maxBodyBytes: 2 * 1024 * 1024 },
  },
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** How the gateway reaches the origin: a named nodeTransport(), or what serve() offers by itself. */
const transports: [string, () => ForwardOptions][] = [
  ['nodeTransport()', () => ({ transport: nodeTransport() })],
  ["serve()'s own", () => ({})],
];
let forwardOptions: () => ForwardOptions = transports[0]![1];

/** An origin on 127.0.0.1 and a gateway in front of it through nodeTransport(). */
async function gatewayTo(listener: RequestListener) {
  const origin = await listenOrigin(listener, closers);
  const gateway = await serve(policy, forwardTo(origin.url, forwardOptions()), { port: 0, handleSignals: false, env: { log: () => {} } });
  closers.push(() => gateway.close());
  return { gateway, connections: origin.connections };
}

/** A request to the gateway; resolves with the response as soon as its head arrives. */
function send(gateway: Running, method: string, path: string): { outgoing: ReturnType<typeof request>; answer: Promise<IncomingMessage> } {
  const outgoing = request(`${gateway.url}${path}`, { method, headers: method === 'POST' ? { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } : {} });
  const answer = once(outgoing, 'response').then(([response]) => response as IncomingMessage);
  return { outgoing, answer };
}

async function text(answer: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of answer) body += chunk;
  return body;
}

describe.each(transports)('nodeTransport: %s', (_name, options) => {
  beforeEach(() => {
    forwardOptions = options;
  });

  it('forwards a request body whole and unchanged (1 MiB, sent in pieces)', async () => {
    const { gateway } = await gatewayTo((req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.byteLength;
      });
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
    });
    const body = randomBytes(1024 * 1024);
    const { outgoing, answer } = send(gateway, 'POST', '/v1/upload');
    for (let at = 0; at < body.byteLength; at += 64 * 1024) outgoing.write(body.subarray(at, at + 64 * 1024));
    outgoing.end();
    const response = await answer;
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(await text(response))).toEqual({ bytes: body.byteLength, sha256: createHash('sha256').update(body).digest('hex') });
  });

  it('streams the answer: the client reads the first part before the origin has sent the rest', async () => {
    let clientHasFirstPart!: () => void;
    const clientReadIt = new Promise<void>((resolve) => (clientHasFirstPart = resolve));
    const { gateway } = await gatewayTo((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      void clientReadIt.then(() => res.end('second'));
    });
    const { outgoing, answer } = send(gateway, 'GET', '/v1/stream');
    outgoing.end();
    const response = await answer;
    const [first] = (await once(response, 'data')) as [Buffer];
    expect(first.toString()).toBe('first,');
    clientHasFirstPart();
    expect(await text(response)).toBe('second');
  });

  it('an answer the origin cuts short is cut short for the client, not ended as if complete', async () => {
    const { gateway } = await gatewayTo((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('ten bytes!');
      setTimeout(() => res.destroy(), 50);
    });
    const { outgoing, answer } = send(gateway, 'GET', '/v1/cut');
    outgoing.end();
    const response = await answer;
    const ended = text(response).then(
      () => response.complete,
      () => false,
    );
    expect(await ended).toBe(false);
  });

  it('keeps connections to the origin alive across requests', async () => {
    const { gateway, connections } = await gatewayTo((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${gateway.url}/v1/things`);
      expect(await response.json()).toEqual({ ok: true });
    }
    expect(connections()).toBe(1);
  });

  it('answers 502 origin.unavailable when the origin is down', async () => {
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const gateway = await serve(policy, forwardTo(`http://127.0.0.1:${port}`, options()), { port: 0, handleSignals: false, env: { log: () => {} } });
    closers.push(() => gateway.close());
    const response = await fetch(`${gateway.url}/v1/things`);
    expect(response.status).toBe(502);
    expect((await response.json()).code).toBe('origin.unavailable');
  });
});

describe('nodeTransport({ ca })', () => {
  it('reaches an https origin whose certificate a private CA signed, and refuses it without that CA (502)', async () => {
    const pki = makeTestPki();
    closers.push(async () => pki.remove());
    const origin = createHttpsServer({ key: pki.server.key, cert: pki.server.cert }, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"tls":true}'));
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    closers.push(() => new Promise((resolve) => origin.close(resolve)), async () => origin.closeAllConnections());
    const url = `https://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const trusting = await serve(policy, forwardTo(url, { transport: nodeTransport({ ca: pki.ca.cert }) }), { port: 0, handleSignals: false, env: { log: () => {} } });
    const untrusting = await serve(policy, forwardTo(url, { transport: nodeTransport() }), { port: 0, handleSignals: false, env: { log: () => {} } });
    closers.push(() => trusting.close(), () => untrusting.close());
    const trusted = await fetch(`${trusting.url}/v1/things`);
    expect([trusted.status, await trusted.json()]).toEqual([200, { tls: true }]);
    const refused = await fetch(`${untrusting.url}/v1/things`);
    expect([refused.status, (await refused.json()).code]).toEqual([502, 'origin.unavailable']);
  });
});
