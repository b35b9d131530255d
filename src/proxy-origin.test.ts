/**
 * `forwardTo` over real HTTP on 127.0.0.1: a request goes to the configured origin and nowhere
 * else, whatever its target says, and the origin's redirects never point a client at an internal
 * address.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Allow } from './decision.ts';
import { createEngine } from './engine.ts';
import type { SecurityEvent } from './log.ts';
import { definePolicy } from './policy/define.ts';
import { forwardTo, type ForwardOptions } from './proxy.ts';
import { PolicyError } from './errors.ts';
/** The PolicyError a factory throws, from its message (`path: problem`). */
function policyError(message: string): PolicyError {
  const at = message.indexOf(': ');
  return new PolicyError([{ path: message.slice(0, at), message: message.slice(at + 2) }]);
}


/** A listener on 127.0.0.1 that records the targets it was asked for and answers with `answer`. */
async function listen(answer: (target: string) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 })) {
  const targets: string[] = [];
  const server: Server = createServer((req, res) => {
    targets.push(req.url!);
    const { status, headers = {} } = answer(req.url!);
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`origin saw ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, targets, close: () => new Promise((resolve) => server.close(resolve)) };
}

let origin: Awaited<ReturnType<typeof listen>>;
/** Where a leaked request would land: it must never be called. */
let trap: Awaited<ReturnType<typeof listen>>;
const events: SecurityEvent[] = [];

beforeAll(async () => {
  trap = await listen();
  origin = await listen((target) => {
    const location = new URLSearchParams(target.split('?')[1] ?? '').get('location');
    return location === null ? { status: 200 } : { status: Number(new URLSearchParams(target.split('?')[1]).get('status') ?? 302), headers: { location } };
  });
});
afterAll(async () => {
  await origin.close();
  await trap.close();
});

const engine = createEngine(definePolicy({ routes: { 'GET /v1/things': { authn: 'anonymous' } } }), { randomId: () => 'req-1', log: () => {} });

/** An allow for an ordinary request: what the handler gets beside whatever request reaches it. */
async function allowed(): Promise<Allow> {
  const decision = await engine.evaluate(new Request('https://gw.test/v1/things'), { peer: { address: '198.51.100.4' } });
  if (decision.kind !== 'allow') throw new Error('expected an allow');
  return decision;
}

function forward(options: ForwardOptions = {}) {
  return forwardTo(origin.url, { headers: { 'x-origin-secret': 's3cret' }, log: (event) => events.push(event), ...options });
}

describe('forwardTo sends the request to its origin and nowhere else', () => {
  it.each([
    ['a scheme-relative path', (trapPort: number) => `http://gw.test//127.0.0.1:${trapPort}/leak`],
    ['a backslash (which URL parsing turns into //)', (trapPort: number) => `http://gw.test/\\127.0.0.1:${trapPort}/leak`],
    ['userinfo after //', (trapPort: number) => `http://gw.test//user:pass@127.0.0.1:${trapPort}/leak`],
    ['a query that looks like a host', (trapPort: number) => `http://gw.test//127.0.0.1:${trapPort}?x=1`],
  ])('refuses %s with 400 origin.target_refused, and calls nobody', async (_, url) => {
    const before = origin.targets.length;
    events.length = 0;
    const response = await forward()(new Request(url(trap.port)), await allowed());
    expect(response.status).toBe(400);
    expect((await response.json()) as unknown).toMatchObject({ code: 'origin.target_refused', requestId: 'req-1' });
    expect([trap.targets, origin.targets.length - before]).toEqual([[], 0]);
    expect(events).toEqual([expect.objectContaining({ event: 'portcullis.deny', reason: 'origin.target_refused', status: 400, requestId: 'req-1' })]);
  });

  it.each([
    ['an @ in the first segment', (trapPort: number) => `http://gw.test/@127.0.0.1:${trapPort}/leak`, (trapPort: number) => `/@127.0.0.1:${trapPort}/leak`],
    ['an absolute URL as the path', (trapPort: number) => `http://gw.test/http://127.0.0.1:${trapPort}/leak`, (trapPort: number) => `/http://127.0.0.1:${trapPort}/leak`],
    ['a host in the query', (trapPort: number) => `http://gw.test/v1/things?next=//127.0.0.1:${trapPort}/`, (trapPort: number) => `/v1/things?next=//127.0.0.1:${trapPort}/`],
  ])('keeps %s a path on its origin', async (_, url, seen) => {
    const response = await forward()(new Request(url(trap.port)), await allowed());
    expect([response.status, await response.text()]).toEqual([200, `origin saw ${seen(trap.port)}`]);
    expect(trap.targets).toEqual([]);
  });
});

describe("forwardTo keeps an origin's Location on the public side", () => {
  const redirect = async (location: string, options: ForwardOptions = {}, status = 302) => {
    events.length = 0;
    const query = new URLSearchParams({ location, status: String(status) });
    return forward(options)(new Request(`https://gw.test/v1/things?${query}`), await allowed());
  };

  it.each([
    ['an absolute URL on the origin', () => `${origin.url}/v1/things/7?view=full`, '/v1/things/7?view=full'],
    ['a path', () => '/v1/things/7', '/v1/things/7'],
    ['a relative reference', () => 'things/7#top', '/v1/things/7#top'],
    ['an absolute URL on the public origin (built from X-Forwarded-Proto and -Host)', () => 'https://gw.test/v1/things/9', '/v1/things/9'],
  ])('rewrites %s to a path', async (_, location, expected) => {
    const response = await redirect(location());
    expect([response.status, response.headers.get('location')]).toEqual([302, expected]);
  });

  it('rewrites the Location of a 201 too', async () => {
    const response = await redirect(`${origin.url}/v1/things/8`, {}, 201);
    expect([response.status, response.headers.get('location')]).toEqual([201, '/v1/things/8']);
  });

  it.each([
    ['loopback on another port', () => `http://127.0.0.1:${trap.port}/admin`],
    ['IPv6 loopback', () => 'http://[::1]/'],
    ['a private address', () => 'http://10.0.0.7/internal'],
    ['the cloud metadata service', () => 'http://169.254.169.254/latest/meta-data/'],
    ['another public host', () => 'https://evil.example/'],
    ['the public host over another scheme', () => 'http://gw.test/v1/things'],
    ['a scheme-relative reference', () => '//evil.example/x'],
    ['a backslash reference', () => '/\\evil.example/x'],
    ['a path that would become scheme-relative', () => `${origin.url}//evil.example/x`],
    ['javascript:', () => 'javascript:alert(1)'],
  ])('refuses a Location to %s: 502 origin.redirect_refused, logged', async (_, location) => {
    const response = await redirect(location());
    expect([response.status, response.headers.has('location')]).toEqual([502, false]);
    expect((await response.json()) as unknown).toMatchObject({ code: 'origin.redirect_refused' });
    expect(events).toEqual([expect.objectContaining({ event: 'portcullis.error', reason: 'origin.redirect_refused', status: 502, route: 'GET /v1/things' })]);
    expect(events[0]!.error).toMatch(/^the origin answered 302 with a Location to \S+$/);
    expect(events[0]!.error).not.toContain('/latest/meta-data');
  });

  it('passes a Location to an origin named in redirectOrigins', async () => {
    const response = await redirect('https://id.example.com/authorize?client_id=a', { redirectOrigins: ['https://id.example.com'] });
    expect([response.status, response.headers.get('location')]).toEqual([302, 'https://id.example.com/authorize?client_id=a']);
  });

  it("relays every Location as it is with redirects: 'pass'", async () => {
    const response = await redirect('http://169.254.169.254/', { redirects: 'pass' });
    expect([response.status, response.headers.get('location')]).toEqual([302, 'http://169.254.169.254/']);
  });

  it('refuses an unknown redirects mode at construction', () => {
    expect(() => forwardTo(origin.url, { redirects: 'refuse' as never })).toThrow(policyError(`forwardTo().redirects: must be 'rewrite' or 'pass', got "refuse"`));
  });

  it.each([['id.example.com'], ['https://id.example.com/path'], ['ftp://id.example.com']])('refuses redirectOrigins entry %s at construction', (entry) => {
    expect(() => forwardTo(origin.url, { redirectOrigins: [entry] })).toThrow(policyError(`forwardTo().redirectOrigins[0]: "${entry}" must be an origin such as https://id.example.com`));
  });
});
