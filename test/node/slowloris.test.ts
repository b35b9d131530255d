/**
 * The Node adapter's connection limits, attacked over real sockets on 127.0.0.1: slow heads, slow
 * bodies, oversized heads, clients that leave mid-body, too many connections. Timeouts are set small
 * through `serve`'s options so the suite is fast; a well-behaved client is served meanwhile.
 */
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePolicy, type SecurityEvent } from '../../src/index.ts';
import { serve, type Running, type ServeOptions } from '../../adapters/node.ts';

const policy = definePolicy({
  transport: { requireHttps: true, allowLoopbackHttp: true },
  routes: {
    'GET /v1/health': { authn: 'anonymous' },
    'POST /v1/login': { authn: 'anonymous', body: { '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) } } },
  },
});

const LIMITS: ServeOptions = { headersTimeoutMs: 300, requestTimeoutMs: 1_500, bodyIdleTimeoutMs: 300, keepAliveTimeoutMs: 300, handleSignals: false };

async function start(options: ServeOptions = {}) {
  const events: SecurityEvent[] = [];
  const gateway = await serve(policy, () => Response.json({ ok: true }), { port: 0, ...LIMITS, ...options, env: { log: (event) => void events.push(event) } });
  return { gateway, events, port: Number(new URL(gateway.url).port) };
}

/** A raw connection: what it received, and when it closed. */
function open(port: number) {
  const socket = connect(port, '127.0.0.1');
  const state = { received: '', closed: false, reset: false, socket };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (state.received += chunk));
  socket.on('error', () => (state.reset = true));
  const closed = new Promise<void>((resolve) => socket.on('close', () => ((state.closed = true), resolve())));
  return Object.assign(state, { closedAt: closed.then(() => performance.now()) });
}

/** Writes one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, text: string, everyMs: number) {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++]!);
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
const bodyOf = (raw: string) => raw.slice(raw.indexOf('\r\n\r\n') + 4);

describe('serve under a slowloris attack', () => {
  let server: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => (server = await start()));
  afterAll(() => server.gateway.close());

  it('answers a head trickled byte by byte with a problem+json 408 and closes it, serving others meanwhile', async () => {
    const slow = Array.from({ length: 5 }, () => open(server.port));
    const started = performance.now();
    for (const client of slow) trickle(client.socket, 'GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n', 50);

    await sleep(100);
    const t0 = performance.now();
    const normal = await fetch(`${server.gateway.url}/v1/health`);
    expect(normal.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(250);

    const closedAt = await Promise.all(slow.map((client) => client.closedAt));
    for (const at of closedAt) expect(at - started).toBeLessThan(1_000);
    for (const client of slow) {
      expect(statusOf(client.received)).toBe(408);
      expect(client.received).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/);
      expect(client.received).toMatch(/\r\nx-content-type-options: nosniff\r\n/);
      expect(JSON.parse(bodyOf(client.received))).toMatchObject({ status: 408, code: 'client.timeout' });
    }
    expect(server.events.filter((event) => event.reason === 'client.timeout')).toHaveLength(5);
  });

  it('answers a body trickled byte by byte with a 408 once it stalls, and logs it as a denial, not an error', async () => {
    server.events.length = 0;
    const started = performance.now();
    const client = open(server.port);
    client.socket.write('POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user":');
    // A byte now and then, slower than the idle limit.
    trickle(client.socket, '"alice", "password": "hunter2"', 500);

    const normal = await fetch(`${server.gateway.url}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(normal.status).toBe(200);

    expect((await client.closedAt) - started).toBeLessThan(1_000);
    expect(statusOf(client.received)).toBe(408);
    expect(JSON.parse(bodyOf(client.received))).toMatchObject({ status: 408, code: 'client.timeout' });
    await sleep(50);
    expect(server.events.map((event) => event.event)).not.toContain('portcullis.error');
    expect(server.events.filter((event) => event.reason === 'client.timeout' && event.event === 'portcullis.deny').length).toBeGreaterThanOrEqual(1);
  });

  it('closes a body trickled just fast enough to beat the idle limit once the whole request took too long', async () => {
    server.events.length = 0;
    const started = performance.now();
    const client = open(server.port);
    client.socket.write('POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
    trickle(client.socket, ' '.repeat(1000), 100);

    const elapsed = (await client.closedAt) - started;
    expect(elapsed).toBeGreaterThan(1_000);
    expect(elapsed).toBeLessThan(2_500);
    expect(statusOf(client.received)).toBe(408);
    await sleep(50);
    expect(server.events.map((event) => event.event)).not.toContain('portcullis.error');
  });

  it('logs a client that leaves mid-body as client.aborted, a denial, not an internal error', async () => {
    server.events.length = 0;
    const client = open(server.port);
    client.socket.write('POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user":');
    await sleep(50);
    client.socket.destroy();
    await sleep(100);
    expect(server.events).toEqual([expect.objectContaining({ event: 'portcullis.deny', reason: 'client.aborted', status: 400, route: 'POST /v1/login' })]);
  });

  it('answers a 96 KiB header with a problem+json 431, not a reset, even while the client is still sending', async () => {
    server.events.length = 0;
    const client = open(server.port);
    client.socket.write('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const line = `X-Big: ${'a'.repeat(1024)}\r\n`;
    for (let i = 0; i < 96; i++) {
      if (client.socket.destroyed) break;
      client.socket.write(line);
      await sleep(1);
    }
    await client.closedAt;
    expect(client.reset).toBe(false);
    expect(statusOf(client.received)).toBe(431);
    expect(client.received).toMatch(/\r\nconnection: close\r\n/);
    expect(JSON.parse(bodyOf(client.received))).toMatchObject({ status: 431, code: 'request.header_too_large' });
    expect(server.events).toEqual([expect.objectContaining({ event: 'portcullis.deny', reason: 'request.header_too_large', status: 431 })]);
  });

  it('lets curl read its 431 for a 96 KiB header without a connection reset', async () => {
    // curl sends the whole head at once and reads until the connection closes: closing with its
    // bytes unread made the kernel reset the connection ("Recv failure: Connection reset by peer").
    const header = `X-Big: ${'a'.repeat(96 * 1024)}`;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      const child = execFile('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', '@-', `${server.gateway.url}/v1/health`], (_error, stdout, stderr) =>
        resolve({ stdout, stderr }),
      );
      child.stdin!.end(`${header}\n`);
    });
    expect(stdout).toBe('431');
    expect(stderr).toBe('');
  });

  it('answers a malformed chunked body with a 400 and logs no error', async () => {
    server.events.length = 0;
    const client = open(server.port);
    client.socket.write('POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n');
    await client.closedAt;
    expect(statusOf(client.received)).toBe(400);
    await sleep(50);
    expect(server.events.length).toBeGreaterThan(0);
    expect(server.events.map((event) => event.event)).not.toContain('portcullis.error');
  });

  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async () => {
    const client = open(server.port);
    client.socket.write('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const started = performance.now();
    await client.closedAt;
    expect(statusOf(client.received)).toBe(200);
    // node:http adds a second to the advertised keep-alive timeout.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('serve connection limits', () => {
  it('closes a keep-alive connection after maxRequestsPerSocket requests', async () => {
    const { gateway, port } = await start({ maxRequestsPerSocket: 2 });
    try {
      const client = open(port);
      for (let i = 0; i < 3 && !client.closed; i++) {
        client.socket.write('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await sleep(50);
      }
      await client.closedAt;
      expect(client.received.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
      expect(client.received).toMatch(/\r\nConnection: close\r\n/i);
    } finally {
      await gateway.close();
    }
  });

  it('closes connections beyond maxConnections as they arrive, and serves again once one closes', async () => {
    const { gateway, port } = await start({ maxConnections: 2, headersTimeoutMs: 1_000 });
    try {
      const held = [open(port), open(port)];
      await sleep(50);
      const third = open(port);
      await third.closedAt;
      expect(third.received).toBe('');
      held[0]!.socket.destroy();
      await sleep(50);
      expect((await fetch(`${gateway.url}/v1/health`)).status).toBe(200);
      held[1]!.socket.destroy();
    } finally {
      await gateway.close();
    }
  });

  it.each([
    [{ headersTimeoutMs: -1 }, 'serve: headersTimeoutMs must be a whole number ≥ 0, got -1'],
    [{ maxConnections: 1.5 }, 'serve: maxConnections must be a whole number ≥ 0, got 1.5'],
    [{ maxHeaderSize: 0 }, 'serve: maxHeaderSize must be a whole number ≥ 1, got 0'],
    [{ headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 }, 'serve: headersTimeoutMs (5000) must not exceed requestTimeoutMs (1000)'],
  ])('refuses %o with a TypeError naming the option', async (options, message) => {
    await expect(serve(policy, () => new Response(), { port: 0, handleSignals: false, ...options })).rejects.toThrow(message);
  });
});
