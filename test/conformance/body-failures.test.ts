/**
 * A body the client never finishes, or frames wrongly, is the client's doing: on every runtime that
 * serves real HTTP it is answered with a 4xx (where anyone is left to answer) and logged as a
 * denial, never as `portcullis.error internal.error` — else anyone can flood error alerting.
 * Raw sockets against the real `node`, `bun` and `deno` servers of the conformance suite.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeBinary, spawnServer, SOURCE_CONDITION } from './runtime.ts';

type Server = Awaited<ReturnType<typeof spawnServer>>;

const servers: Record<string, () => Promise<Server>> = {
  node: () => spawnServer(process.execPath, [SOURCE_CONDITION, '--import', 'tsx', 'test/conformance/servers/node.ts']),
  bun: () => spawnServer(runtimeBinary('bun'), [SOURCE_CONDITION, 'test/conformance/servers/bun.ts']),
  deno: () =>
    spawnServer(runtimeBinary('deno'), ['run', SOURCE_CONDITION, '--no-prompt', '--allow-net=127.0.0.1', '--allow-read', 'test/conformance/servers/deno.ts'], {
      DENO_NO_UPDATE_CHECK: '1',
    }),
};

/**
 * Sends the head, then the body a moment later (so the handler is already reading it, as it is when
 * a body trickles in), then either closes the connection or waits for the server to.
 */
function exchange(base: string, [head, body]: [string, string], { leave = false } = {}): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(received));
    socket.write(head);
    setTimeout(() => {
      socket.write(body, () => {
        if (leave) setTimeout(() => socket.destroy(), 100);
      });
    }, 50);
    setTimeout(() => socket.destroy(), 5_000);
  });
}

const LOGIN = 'POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n';

/** The JSON log lines printed since `from`. */
function eventsSince(server: Server, from: number): { event: string; reason: string; status: number }[] {
  return server
    .output()
    .slice(from)
    .split('\n')
    .filter((line) => line.startsWith('{"time":'))
    .map((line) => JSON.parse(line) as { event: string; reason: string; status: number });
}

describe.each(Object.keys(servers))('body failures on %s', (name) => {
  let server: Server;
  beforeAll(async () => (server = await servers[name]!()), 40_000);
  afterAll(() => server?.stop());

  /** Runs one exchange and returns the status line's code (NaN when nothing came) and the new log events. */
  async function attempt(head: string, body: string, options?: { leave?: boolean }) {
    const from = server.output().length;
    const received = await exchange(server.base, [head, body], options);
    // The log line is written after the engine's read fails; give the server a moment.
    for (let i = 0; i < 20 && eventsSince(server, from).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]), events: eventsSince(server, from) };
  }

  it('logs a client that leaves mid-body as a client.aborted denial', async () => {
    const { events } = await attempt(`${LOGIN}Content-Length: 100\r\n\r\n`, '{"user":', { leave: true });
    expect(events).toEqual([expect.objectContaining({ event: 'portcullis.deny', reason: 'client.aborted', status: 400 })]);
  });

  it('logs a client that leaves mid-chunk as a client.aborted denial', async () => {
    const { events } = await attempt(`${LOGIN}Transfer-Encoding: chunked\r\n\r\n`, '5\r\n{"use', { leave: true });
    expect(events).toEqual([expect.objectContaining({ event: 'portcullis.deny', reason: 'client.aborted', status: 400 })]);
  });

  it.each([
    ['a chunk size that is not hex', 'zz\r\n{}\r\n0\r\n\r\n'],
    ['a chunk without its CRLF', '2\r\n{}XX0\r\n\r\n'],
    ['an oversized chunk extension', `2;${'a'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`],
  ])('answers %s with a 4xx and logs no error', async (_case, chunks) => {
    const { status, events } = await attempt(`${LOGIN}Transfer-Encoding: chunked\r\n\r\n`, chunks);
    // Deno hands the broken stream to the engine, which answers 400; Node and Bun answer themselves
    // (400, or 413 for the extension) before the engine's read fails. (Deno closes the connection
    // without an answer when the broken framing arrives with the head, before any handler runs.)
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    if (name === 'deno') expect(status).toBe(400);
    expect(events.map((event) => event.event)).not.toContain('portcullis.error');
  });
});

describe('Deno body timeouts (Deno.serve sets none of its own)', () => {
  let server: Server;
  beforeAll(async () => {
    server = await spawnServer(runtimeBinary('deno'), ['run', SOURCE_CONDITION, '--no-prompt', '--allow-net=127.0.0.1', '--allow-read', 'test/conformance/servers/deno-limits.ts'], {
      DENO_NO_UPDATE_CHECK: '1',
    });
  }, 40_000);
  afterAll(() => server?.stop());

  /** Sends the head and part of a body, then one more byte every `everyMs`; resolves with what came back and when. */
  function trickle(everyMs: number): Promise<{ received: string; ms: number }> {
    const url = new URL(server.base);
    return new Promise((resolve) => {
      const started = performance.now();
      const socket = connect(Number(url.port), url.hostname);
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        received += chunk;
        // The answer is complete once its JSON body closes; Deno may keep the connection open.
        if (/\r\n\r\n\{.*\}$/s.test(received)) socket.destroy();
      });
      socket.on('error', () => {});
      socket.write(`${LOGIN}Content-Length: 1000\r\n\r\n{"user":`);
      const timer = setInterval(() => socket.write(' '), everyMs);
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ received, ms: performance.now() - started });
      });
      setTimeout(() => socket.destroy(), 5_000);
    });
  }

  it.each([
    ['pauses longer than bodyIdleTimeoutMs', 1_000, 1_000],
    ['trickles steadily past bodyTimeoutMs', 100, 2_000],
  ])('answers a body that %s with a problem+json 408 client.timeout, logged as a denial', async (_case, everyMs, within) => {
    const from = server.output().length;
    const { received, ms } = await trickle(everyMs);
    expect(ms).toBeLessThan(within);
    expect(Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1])).toBe(408);
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 408, code: 'client.timeout' });
    expect(eventsSince(server, from)).toEqual([expect.objectContaining({ event: 'portcullis.deny', reason: 'client.timeout', status: 408 })]);
  });

  it('still serves a body that arrives in time', async () => {
    const response = await server.send({ method: 'POST', target: '/v1/login', headers: { 'content-type': 'application/json' }, body: '{"username":"alice","password":"wrong"}' });
    expect(response.status).toBe(401);
  });
});
