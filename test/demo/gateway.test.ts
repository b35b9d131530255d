/**
 * The demo's promises (README, "Try the demo"), checked over real HTTP against the process
 * `npm start` runs.
 */
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDemo, type DemoProcess } from './demo-process.ts';

let demo: DemoProcess;
let base: string;

/** Starts the demo exactly as `npm start` does, on a free port, and waits for its banner. */
beforeAll(async () => {
  demo = await spawnDemo({ ALLOWED_ORIGINS: 'https://app.example.com', TRUSTED_PROXIES: 'loopback' });
  base = demo.base;
}, 120_000); // the child creates its Postgres (PGlite) before it listens: seconds of CPU

afterAll(async () => {
  await demo?.stop();
});

/** A request with an exact, unnormalized request target (fetch would resolve `..` itself). */
function raw(path: string, init: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const url = new URL(base);
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The security event logged for a request id (stdout may lag the response by a moment). */
async function eventFor(requestId: unknown): Promise<Record<string, unknown> | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const events = demo.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const event = events.find((e) => e.requestId === requestId);
    if (event) return event;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

describe('the demo gateway over HTTP', () => {
  it('answers the health check through the gateway', async () => {
    const res = await fetch(`${base}/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('serves the JWKS with one public ES256 key and no private part', async () => {
    const res = await fetch(`${base}/.well-known/jwks.json`);
    const { keys } = (await res.json()) as { keys: Record<string, string>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
  });

  it.each([
    ['/v1/health'],
    ['/v1/nope'],
    ['/v1//health'],
  ])('sets every security header and no X-Powered-By on %s', async (path) => {
    const res = await raw(path);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['server']).toBeUndefined();
  });

  it('answers an unknown path with 404 problem+json', async () => {
    const res = await raw('/v1/nope');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({ status: 404, code: 'route.not_found' });
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const res = await raw('/v1/health', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET');
    expect(res.headers['content-type']).toBe('application/problem+json');
  });

  it.each([
    ['/v1/users/%2e%2e/health', 400],
    ['/v1/users/../health', 400],
    ['/v1//health', 400],
    ['/v1/health%2f', 400],
    ['/v1/health;x=1', 400],
    ['/v1/%5chealth', 400],
    ['/v1\\health', 400],
    ['/V1/Health', 404],
    ['/v1/health/', 400],
  ])('refuses the ambiguous spelling %s with %i', async (path, status) => {
    const res = await raw(path);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body).not.toMatch(/at .*\.ts|stack/i);
  });

  it('never lets a method-override header change the method', async () => {
    const res = await raw('/v1/health', { method: 'POST', headers: { 'x-http-method-override': 'GET', 'content-length': '0' } });
    expect(res.status).toBe(405);
  });

  describe('transport', () => {
    it('redirects a GET that a trusted proxy marks as plain HTTP to https (308)', async () => {
      const res = await raw('/v1/health?x=1', { headers: { 'x-forwarded-proto': 'http', 'x-forwarded-for': '203.0.113.9', host: 'localhost:8080' } });
      expect(res.status).toBe(308);
      // The host the policy checked (one of ALLOWED_HOSTS), without the plain-HTTP port.
      expect(res.headers['location']).toBe('https://localhost/v1/health?x=1');
    });

    it('answers 421 to a Host that is not in ALLOWED_HOSTS, and never redirects to it', async () => {
      const res = await raw('/v1/health', { headers: { 'x-forwarded-proto': 'http', host: 'evil.example.com' } });
      expect(res.status).toBe(421);
      expect(res.headers['location']).toBeUndefined();
      expect(JSON.parse(res.body)).toMatchObject({ code: 'request.misdirected' });
    });

    it('refuses a POST that a trusted proxy marks as plain HTTP (403)', async () => {
      const res = await raw('/v1/auth/login', { method: 'POST', headers: { 'x-forwarded-proto': 'http', 'content-length': '0' } });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'transport.https_required' });
    });

    it('lets a request a trusted proxy marks as HTTPS through', async () => {
      const res = await raw('/v1/health', { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' } });
      expect(res.status).toBe(200);
    });
  });

  describe('CORS', () => {
    const preflight = (origin: string) =>
      raw('/v1/health', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });

    it('answers a preflight from the allowed origin with 204, that exact origin and credentials', async () => {
      const res = await preflight('https://app.example.com');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-headers']).toBe('authorization');
      expect(res.headers['vary']).toContain('Origin');
    });

    it.each(['https://evil.example.com', 'https://app.example.com.evil.test', 'http://app.example.com', 'null', 'https://app.example.com, https://evil.test'])(
      'gives the origin %s no Access-Control-Allow-* header',
      async (origin) => {
        const res = await preflight(origin);
        expect(Object.keys(res.headers).filter((name) => name.startsWith('access-control-allow'))).toEqual([]);
        const actual = await raw('/v1/health', { headers: { origin } });
        expect(Object.keys(actual.headers).filter((name) => name.startsWith('access-control-allow'))).toEqual([]);
        expect(actual.headers['vary']).toContain('Origin');
      },
    );
  });

  it('logs each denial as one JSON line with reason, route, client IP and request id, and no secrets', async () => {
    const res = await raw('/v1/nope?api_key=sk_live_secret', { headers: { authorization: 'Bearer secret.token.value', cookie: 'sid=secret' } });
    const event = await eventFor(res.headers['x-request-id']);
    expect(event).toMatchObject({ event: 'portcullis.deny', reason: 'route.not_found', status: 404, clientIp: '127.0.0.1', route: null, path: '/v1/nope' });
    expect(demo.stdout()).not.toMatch(/secret/);
  });

  it('believes X-Forwarded-For from a trusted proxy (loopback): the client is the forwarded address', async () => {
    const res = await raw('/v1/nope', { headers: { 'x-forwarded-for': '198.51.100.7, 127.0.0.1' } });
    expect(await eventFor(res.headers['x-request-id'])).toMatchObject({ clientIp: '198.51.100.7' });
  });

  it('shuts down gracefully on SIGTERM', async () => {
    demo.child.kill('SIGTERM');
    const [code] = await once(demo.child, 'exit');
    expect(code).toBe(0);
  });
});
