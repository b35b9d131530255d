/**
 * CORS in a real browser: Debian's Chromium, driven by playwright-core, calls the demo gateway with
 * credentials from a page on an allowed origin, from a page on another origin, and from a sandboxed
 * frame (`Origin: null`). What the page can read is decided by the browser, not by a test client that
 * merely looks at headers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium } from './chromium.ts';

/** A static page server on 127.0.0.1: each one is its own origin (scheme, host and port). */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>portcullis CORS page</title><p>page</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** What a page's script could read from a credentialed, preflighted fetch. */
type Outcome =
  | { read: true; status: number; body: unknown; ratelimit: string | null; requestId: string | null }
  | { read: false; error: string };

/** Runs in the page: the cross-origin call a single-page app would make. */
async function callGateway({ url, token }: { url: string; token: string }): Promise<Outcome> {
  try {
    const response = await fetch(url, { credentials: 'include', headers: { authorization: `Bearer ${token}` } });
    return {
      read: true,
      status: response.status,
      body: await response.json(),
      // Exposed by the policy (Access-Control-Expose-Headers) …
      ratelimit: response.headers.get('ratelimit'),
      // … and not exposed, so hidden from scripts although it is on the response.
      requestId: response.headers.get('x-request-id'),
    };
  } catch (error) {
    return { read: false, error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** One request the browser put on the wire to the gateway, and the gateway's answer. */
interface WireExchange {
  method: string;
  path: string;
  requestHeaders: Record<string, string>;
  status: number | undefined;
  responseHeaders: Record<string, string>;
}

/** HTTP/1.1 messages in one direction of a connection, in order: start line and headers (bodies skipped). */
function messages(text: string): { start: string; headers: Record<string, string> }[] {
  const found: { start: string; headers: Record<string, string> }[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [start = '', ...lines] = text.slice(at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    found.push({ start, headers });
    at = end + 4;
    if (headers['transfer-encoding']?.includes('chunked')) {
      for (;;) {
        const lineEnd = text.indexOf('\r\n', at);
        if (lineEnd < 0) return found;
        const size = parseInt(text.slice(at, lineEnd), 16);
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      at += Number(headers['content-length'] ?? 0);
    }
  }
  return found;
}

/**
 * A byte-for-byte TCP relay in front of the gateway that keeps what crossed it. DevTools reports the
 * requests a page asked for, not what was sent (it lists a GET the CORS check then stopped, and no
 * preflight); the relay shows the wire. The gateway still sees a direct loopback peer with no
 * forwarding headers, as it would from the browser itself.
 */
async function wireRecorder(upstream: URL) {
  const connections: { up: string; down: string }[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    const transcript = { up: '', down: '' };
    connections.push(transcript);
    const origin = connect(Number(upstream.port), upstream.hostname);
    for (const socket of [client, origin]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk) => (transcript.up += chunk.toString('latin1')));
    origin.on('data', (chunk) => (transcript.down += chunk.toString('latin1')));
    client.pipe(origin).pipe(client);
    client.on('error', () => origin.destroy());
    origin.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Every exchange so far (one request at a time per connection: browsers do not pipeline). */
    exchanges(): WireExchange[] {
      return connections.flatMap(({ up, down }) => {
        const responses = messages(down);
        return messages(up).map(({ start, headers }, i) => ({
          method: start.split(' ')[0]!,
          path: start.split(' ')[1]!,
          requestHeaders: headers,
          status: responses[i] && Number(responses[i].start.split(' ')[1]),
          responseHeaders: responses[i]?.headers ?? {},
        }));
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** The exchanges a page with this origin caused. */
const fromOrigin = (origin: string) => wire.exchanges().filter((exchange) => exchange.requestHeaders.origin === origin);
const accessControl = (headers: Record<string, string>) => Object.keys(headers).filter((name) => name.startsWith('access-control-'));

let context: BrowserContext;
let profile: string;
let gateway: Awaited<ReturnType<typeof startDemo>>;
let wire: Awaited<ReturnType<typeof wireRecorder>>;
let allowedPage: Awaited<ReturnType<typeof pageServer>>;
let otherPage: Awaited<ReturnType<typeof pageServer>>;
let token: string;
const events: Record<string, unknown>[] = [];

beforeAll(async () => {
  await ensureChromium();
  allowedPage = await pageServer();
  otherPage = await pageServer();
  // The demo as `npm start` runs it, allowing only the first page's origin. The browser (through the
  // relay) is a direct loopback peer without forwarding headers, so the demo accepts plain HTTP.
  gateway = await startDemo({
    env: { ALLOWED_ORIGINS: allowedPage.origin, TRUSTED_PROXIES: 'loopback' },
    port: 0,
    log: (event) => events.push(event as Record<string, unknown>),
  });
  wire = await wireRecorder(new URL(gateway.url));
  const login = await fetch(`${gateway.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'correct horse battery staple' }),
  });
  expect(login.status).toBe(200);
  token = ((await login.json()) as { token: string }).token;

  profile = await mkdtemp(join(tmpdir(), 'portcullis-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
}, 600_000);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await wire?.close();
  await gateway?.close();
  for (const page of [allowedPage, otherPage]) if (page) await new Promise((resolve) => page.server.close(resolve));
});

describe('CORS in Chromium against the demo gateway', () => {
  const target = () => `${wire.url}/v1/users/u_alice`;

  it('runs a real Chromium', () => {
    expect(context.browser()?.version()).toMatch(/^\d+\./);
  });

  it('lets a page on the allowed origin read the credentialed response after a preflight', async () => {
    const page = await context.newPage();
    await page.goto(`${allowedPage.origin}/`);
    const outcome = await page.evaluate(callGateway, { url: target(), token });

    expect(outcome).toEqual({
      read: true,
      status: 200,
      body: { id: 'u_alice', name: 'Alice Liddell', email: 'alice@example.com' },
      ratelimit: expect.stringMatching(/^"api";r=\d+;t=\d+$/),
      requestId: null,
    });
    // The Authorization header makes the call non-simple: the browser asked first, then sent it.
    const [preflight, call, ...more] = fromOrigin(allowedPage.origin);
    expect(more).toEqual([]);
    expect(preflight).toMatchObject({
      method: 'OPTIONS',
      path: '/v1/users/u_alice',
      requestHeaders: { 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      status: 204,
      responseHeaders: {
        'access-control-allow-origin': allowedPage.origin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-headers': 'authorization',
      },
    });
    expect(preflight!.requestHeaders).not.toHaveProperty('authorization');
    expect(call).toMatchObject({
      method: 'GET',
      requestHeaders: { authorization: `Bearer ${token}` },
      status: 200,
      responseHeaders: { 'access-control-allow-origin': allowedPage.origin, 'access-control-allow-credentials': 'true' },
    });
    await page.close();
  });

  it('blocks a page on another origin in the browser itself: the preflight is refused without CORS headers, the call never sent', async () => {
    const page = await context.newPage();
    const messages: string[] = [];
    page.on('console', (message) => messages.push(message.text()));
    await page.goto(`${otherPage.origin}/`);
    const outcome = await page.evaluate(callGateway, { url: target(), token });

    expect(outcome).toEqual({ read: false, error: 'TypeError: Failed to fetch' });
    expect(messages.join('\n')).toContain(
      `from origin '${otherPage.origin}' has been blocked by CORS policy: Response to preflight request doesn't pass access control check`,
    );
    const exchanges = fromOrigin(otherPage.origin);
    expect(exchanges).toEqual([expect.objectContaining({ method: 'OPTIONS', path: '/v1/users/u_alice', status: 403 })]);
    expect(accessControl(exchanges[0]!.responseHeaders)).toEqual([]);
    expect(exchanges[0]!.responseHeaders).toMatchObject({ vary: expect.stringContaining('Origin') });
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'portcullis.deny', reason: 'cors.origin_denied', status: 403, method: 'OPTIONS', path: '/v1/users/u_alice' }),
    );
    await page.close();
  });

  it('blocks a sandboxed frame on the allowed page (Origin: null) the same way', async () => {
    const page = await context.newPage();
    await page.goto(`${allowedPage.origin}/`);
    await page.setContent('<iframe sandbox="allow-scripts" srcdoc="<p>sandboxed</p>"></iframe>');
    const frame = (await (await page.waitForSelector('iframe')).contentFrame())!;
    expect(await frame.evaluate(() => self.origin)).toBe('null');
    const outcome = await frame.evaluate(callGateway, { url: target(), token });

    expect(outcome).toEqual({ read: false, error: 'TypeError: Failed to fetch' });
    const exchanges = fromOrigin('null');
    expect(exchanges).toEqual([expect.objectContaining({ method: 'OPTIONS', status: 403 })]);
    expect(accessControl(exchanges[0]!.responseHeaders)).toEqual([]);
    await page.close();
  });
});
