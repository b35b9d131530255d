/**
 * `forwardTo` behind the Node, Bun and Deno adapters, against a real origin on 127.0.0.1: what the
 * origin hears (an allow-list of headers, the verified credential only), where the request goes
 * (the origin, never a host named in the target), and what the client gets of the origin's answer.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import keys from './keys.json' with { type: 'json' };
import { AUDIENCE, ISSUER } from './policy.ts';
import { runtimeBinary, spawnServer, type RawResponse, SOURCE_CONDITION } from './runtime.ts';

interface Received { target: string; headers: Record<string, string | string[] | undefined> }

/** A listener on 127.0.0.1 that records what it receives; the query may ask for an answer (`status`, `location`, `retry`). */
async function listen() {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    received.push({ target: req.url!, headers: req.headers });
    const ask = new URLSearchParams(req.url!.split('?')[1] ?? '');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (ask.has('location')) headers.location = ask.get('location')!;
    if (ask.has('retry')) headers['retry-after'] = ask.get('retry')!;
    res.writeHead(Number(ask.get('status') ?? 200), headers).end(JSON.stringify({ target: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, received, close: () => new Promise((resolve) => server.close(resolve)) };
}

const SERVER = 'test/conformance/servers/forward.ts';
const SOURCE = SOURCE_CONDITION;
const gateways = [
  { name: 'node', start: (origin: string, mode: string) => spawnServer(process.execPath, [SOURCE, '--import', 'tsx', SERVER, origin, mode]) },
  {
    name: 'node with fetch',
    start: (origin: string, mode: string) => spawnServer(process.execPath, [SOURCE, '--import', 'tsx', SERVER, origin, mode], { FORWARD_TRANSPORT: 'fetch' }),
  },
  {
    name: 'node with nodeTransport()',
    start: (origin: string, mode: string) => spawnServer(process.execPath, [SOURCE, '--import', 'tsx', SERVER, origin, mode], { FORWARD_TRANSPORT: 'node' }),
  },
  { name: 'bun', start: (origin: string, mode: string) => spawnServer(runtimeBinary('bun'), [SOURCE, SERVER, origin, mode]) },
  {
    name: 'deno',
    start: (origin: string, mode: string) =>
      spawnServer(runtimeBinary('deno'), ['run', SOURCE, '--no-prompt', '--allow-net=127.0.0.1', '--allow-read', SERVER, origin, mode], { DENO_NO_UPDATE_CHECK: '1' }),
  },
];

/** Identity and routing headers that some proxy in the world sets and some origin believes. */
const IDENTITY_HEADERS: Record<string, string> = {
  'cf-access-authenticated-user-email': 'admin@example.com',
  'cf-access-jwt-assertion': 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1X2JvYiJ9.',
  'x-goog-authenticated-user-email': 'accounts.google.com:admin@example.com',
  'x-amzn-oidc-identity': 'u_bob',
  'x-ms-client-principal': 'eyJ1c2VySWQiOiJ1X2JvYiJ9',
  'x-webauth-user': 'bob',
  'ssl-client-cert': '-----BEGIN%20CERTIFICATE-----',
  'x-ssl-client-s-dn': 'CN=bob',
  'x-envoy-original-path': '/v1/users/u_bob',
  'x-original-method': 'DELETE',
  'x-host': 'internal.example.com',
  'x-remote-user': 'bob',
  'x-portcullis-identity': 'forged',
  forwarded: 'for=203.0.113.1;proto=https',
};

const privateKey = await importJWK(keys.es256.private as JWK, 'ES256');
const now = Math.floor(Date.now() / 1000);
const alice = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, sub: 'u_alice', roles: ['user'] })
  .setProtectedHeader({ alg: 'ES256', kid: keys.es256.private.kid, typ: 'JWT' })
  .sign(privateKey);

let origin: Awaited<ReturnType<typeof listen>>;
/** Where a leaked request would land: nothing may ever reach it. */
let trap: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  [origin, trap] = await Promise.all([listen(), listen()]);
});
afterAll(async () => {
  await Promise.all([origin.close(), trap.close()]);
});

describe.each(gateways)('forwardTo on $name', (gateway) => {
  let enforce: Awaited<ReturnType<typeof spawnServer>>;
  let report: Awaited<ReturnType<typeof spawnServer>>;

  beforeAll(async () => {
    [enforce, report] = await Promise.all([gateway.start(origin.url, 'enforce'), gateway.start(origin.url, 'report')]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([enforce?.stop(), report?.stop()]);
  });

  /** Sends a request and returns the answer and what the origin received for it (if anything). */
  async function through(target: string, headers: Record<string, string> = {}): Promise<{ response: RawResponse; seen: Received | undefined }> {
    const before = origin.received.length;
    const response = await enforce.send({ method: 'GET', target, headers });
    return { response, seen: origin.received.slice(before).at(-1) };
  }

  it('no identity or routing header the client sends reaches the origin; standard and named ones do', async () => {
    const { response, seen } = await through('/v1/health', {
      ...IDENTITY_HEADERS,
      accept: 'application/json',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'x-tenant-id': 't_1',
      'x-other': 'not named',
    });
    expect(response.status).toBe(200);
    expect(Object.keys(IDENTITY_HEADERS).filter((name) => seen!.headers[name] !== undefined)).toEqual([]);
    expect(seen!.headers).toMatchObject({
      accept: 'application/json',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'x-tenant-id': 't_1',
      'x-forwarded-for': '127.0.0.1',
      'x-request-id': response.headers.get('x-request-id'),
    });
    expect(seen!.headers['x-other']).toBeUndefined();
  });

  it('an unverified Authorization on an anonymous route stays behind', async () => {
    const { response, seen } = await through('/v1/health', { authorization: 'Bearer forged.unverified.token' });
    expect([response.status, seen!.headers.authorization]).toEqual([200, undefined]);
  });

  it('the token that authenticated passes, as the options ask', async () => {
    const { response, seen } = await through('/v1/users/u_alice', { authorization: `Bearer ${alice}` });
    expect([response.status, seen!.headers.authorization]).toEqual([200, `Bearer ${alice}`]);
  });

  it("an API key the options do not name stays behind, and so does a failed token beside it", async () => {
    const { response, seen } = await through('/v1/reports', { 'x-api-key': keys.apiKey.key, authorization: 'Bearer forged.unverified.token' });
    expect([response.status, seen!.headers['x-api-key'], seen!.headers.authorization]).toEqual([200, undefined, undefined]);
  });

  it("an origin's redirect to its own address becomes a path", async () => {
    const { response } = await through(`/v1/health?${new URLSearchParams({ status: '302', location: `${origin.url}/v1/users/u_alice?view=full` })}`);
    expect([response.status, response.headers.get('location')]).toEqual([302, '/v1/users/u_alice?view=full']);
  });

  it.each([['http://169.254.169.254/latest/meta-data/'], ['http://127.0.0.1:9/admin'], ['//evil.example/']])(
    "an origin's redirect to %s is refused with 502",
    async (location) => {
      const { response } = await through(`/v1/health?${new URLSearchParams({ status: '302', location })}`);
      expect([response.status, response.headers.get('location'), JSON.parse(response.body).code]).toEqual([502, null, 'origin.redirect_refused']);
    },
  );

  it.each([
    ['5, <script>alert(1)</script>', null],
    ['120', '120'],
  ])("a masked 503's Retry-After %j arrives as %j", async (retry, expected) => {
    const { response } = await through(`/v1/health?${new URLSearchParams({ status: '503', retry })}`);
    expect([response.status, response.headers.get('retry-after')]).toEqual([502, expected]);
  });

  it('neither an absolute-form target nor the Host header sends it to another host', async () => {
    for (const server of [enforce, report]) {
      await server.send({ method: 'GET', target: `http://127.0.0.1:${trap.port}/v1/health` });
      await server.send({ method: 'GET', target: '/v1/health', headers: { host: `127.0.0.1:${trap.port}` } });
    }
    expect(trap.received).toEqual([]);
  });

  it('a target naming another host never leaves for it, even in report mode', async () => {
    const before = origin.received.length;
    for (const target of [`//127.0.0.1:${trap.port}/leak`, `//x@127.0.0.1:${trap.port}/leak`]) {
      const response = await report.send({ method: 'GET', target });
      expect(response.status).toBe(400);
    }
    expect([trap.received, origin.received.length - before]).toEqual([[], 0]);
  });
});
