import { describe, expect, it, test } from 'vitest';
import { denialResponse } from '../decision.ts';
import { createEngine } from '../engine.ts';
import type { SecurityEvent } from '../log.ts';
import type { Peer } from '../client.ts';
import type { Policy } from '../policy/types.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const routes = {
  'GET /v1/things': { authn: 'anonymous' },
  'HEAD /v1/things': { authn: 'anonymous' },
  'POST /v1/things': { authn: 'anonymous' },
  'PUT /v1/things': { authn: 'anonymous' },
  'PATCH /v1/things': { authn: 'anonymous' },
  'DELETE /v1/things': { authn: 'anonymous' },
  'OPTIONS /v1/things': { authn: 'anonymous' },
} as const;

const DIRECT: Peer = { address: '203.0.113.9' };
const LOOPBACK: Peer = { address: '127.0.0.1' };

function engineFor(policy: Omit<Policy, 'routes'> = {}) {
  const events: SecurityEvent[] = [];
  const engine = createEngine({ routes, ...policy }, { now: () => FIXED, randomId: () => 'req-1', log: (e) => events.push(e) });
  return { engine, events };
}

/** Evaluates `method url` as it arrived from `peer`, and returns the response the caller would see. */
async function send(policy: Omit<Policy, 'routes'>, url: string, init: RequestInit = {}, peer: Peer = DIRECT) {
  const { engine } = engineFor(policy);
  const { pathname, search } = new URL(url);
  const decision = await engine.evaluate(new Request(url, init), { peer, rawTarget: pathname + search });
  const response = decision.kind === 'deny' ? denialResponse(decision) : new Response('ok', { headers: [...decision.headers] });
  return { decision, response };
}

describe('transport', () => {
  describe('HTTPS is required by default', () => {
    test.each(['GET', 'HEAD'])('redirects a plain-HTTP %s with 308 to the https URL, query kept, port dropped', async (method) => {
      const { decision, response } = await send({}, 'http://api.example.com:8080/v1/things?page=2&sort=name', { method });
      expect(decision).toMatchObject({ kind: 'deny', status: 308, reason: 'transport.https_redirect' });
      expect(response.status).toBe(308);
      expect(response.headers.get('location')).toBe('https://api.example.com/v1/things?page=2&sort=name');
    });

    it('redirects an IPv6 host to https with its brackets and without the port', async () => {
      const { response } = await send({}, 'http://[2001:db8::1]:8080/v1/things');
      expect(response.status).toBe(308);
      expect(response.headers.get('location')).toBe('https://[2001:db8::1]/v1/things');
    });

    test.each(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])('refuses a plain-HTTP %s with 403 and no redirect', async (method) => {
      const { decision, response } = await send({}, 'http://api.example.com/v1/things', { method });
      expect(decision).toMatchObject({ kind: 'deny', status: 403, reason: 'transport.https_required' });
      expect(response.status).toBe(403);
      expect(response.headers.has('location')).toBe(false);
      expect(await response.json()).toMatchObject({ code: 'transport.https_required', status: 403 });
    });

    it('refuses plain HTTP before routing, on a path that has no route', async () => {
      const { decision } = await send({}, 'http://api.example.com/nowhere');
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    it('allows HTTPS', async () => {
      const { decision } = await send({}, 'https://api.example.com/v1/things');
      expect(decision.kind).toBe('allow');
    });

    it('believes the socket scheme the adapter reports over the scheme of request.url', async () => {
      const { decision } = await send({}, 'https://api.example.com/v1/things', {}, { address: '203.0.113.9', scheme: 'http' });
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    it('allows plain HTTP when requireHttps is false', async () => {
      const { decision } = await send({ transport: { requireHttps: false } }, 'http://api.example.com/v1/things', { method: 'POST' });
      expect(decision.kind).toBe('allow');
    });
  });

  describe('allowLoopbackHttp', () => {
    const transport = { allowLoopbackHttp: true };

    test.each(['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1'])('exempts a direct plain-HTTP connection from %s', async (address) => {
      const { decision } = await send({ transport }, 'http://localhost:8787/v1/things', { method: 'POST' }, { address });
      expect(decision.kind).toBe('allow');
    });

    test.each([['203.0.113.9'], ['10.0.0.1'], ['::2']])('does not exempt a plain-HTTP connection from %s', async (address) => {
      const { decision } = await send({ transport }, 'http://localhost:8787/v1/things', {}, { address });
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    it('does not exempt a connection whose address the runtime did not give', async () => {
      const { decision } = await send({ transport }, 'http://localhost:8787/v1/things', {}, {});
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    it('exempts nothing when it is off (the default)', async () => {
      const { decision } = await send({}, 'http://localhost:8787/v1/things', {}, LOOPBACK);
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    test.each([
      ['GET', 308, 'transport.https_redirect'],
      ['POST', 403, 'transport.https_required'],
    ])('never exempts a %s that a trusted loopback proxy marked X-Forwarded-Proto: http', async (method, status, reason) => {
      const { decision } = await send(
        { transport, clientIp: { trustedProxies: ['loopback'] } },
        'http://localhost:8787/v1/things',
        { method, headers: { 'x-forwarded-proto': 'http', 'x-forwarded-for': '203.0.113.9' } },
        LOOPBACK,
      );
      expect(decision).toMatchObject({ kind: 'deny', status, reason });
    });

    it('never exempts a request a trusted loopback proxy forwarded, even without X-Forwarded-Proto', async () => {
      const { decision } = await send(
        { transport, clientIp: { trustedProxies: ['loopback'] } },
        'http://localhost:8787/v1/things',
        { headers: { 'x-forwarded-for': '203.0.113.9' } },
        LOOPBACK,
      );
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    it('never exempts a request a trusted proxy marked proto=http in Forwarded', async () => {
      const { decision } = await send(
        { transport, clientIp: { trustedProxies: ['loopback'], header: 'forwarded' } },
        'http://localhost:8787/v1/things',
        { headers: { forwarded: 'for=127.0.0.1;proto=http' } },
        LOOPBACK,
      );
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });
  });

  describe('X-Forwarded-Proto', () => {
    const clientIp = { trustedProxies: ['10.0.0.0/8'] };

    it('ignores X-Forwarded-Proto: https from an untrusted peer on plain HTTP', async () => {
      const { decision } = await send({ clientIp }, 'http://api.example.com/v1/things', { headers: { 'x-forwarded-proto': 'https' } }, DIRECT);
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    it('ignores X-Forwarded-Proto: https when no proxy is trusted at all', async () => {
      const { decision } = await send({}, 'http://api.example.com/v1/things', { headers: { 'x-forwarded-proto': 'https' } }, { address: '10.0.0.7' });
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });

    it('ignores X-Forwarded-Proto: http from an untrusted peer on HTTPS', async () => {
      const { decision } = await send({ clientIp }, 'https://api.example.com/v1/things', { headers: { 'x-forwarded-proto': 'http' } }, DIRECT);
      expect(decision.kind).toBe('allow');
    });

    it('believes X-Forwarded-Proto: https from a trusted proxy that terminated TLS', async () => {
      const { decision } = await send(
        { clientIp },
        'http://api.example.com/v1/things',
        { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' } },
        { address: '10.0.0.7' },
      );
      expect(decision.kind).toBe('allow');
    });

    test.each([['https, http'], ['http, https'], ['HTTPS, ftp'], ['']])(
      'treats X-Forwarded-Proto %j from a trusted proxy as plain HTTP (any hop on HTTP)',
      async (proto) => {
        const { decision } = await send(
          { clientIp },
          'https://api.example.com/v1/things',
          { headers: { 'x-forwarded-proto': proto } },
          { address: '10.0.0.7' },
        );
        expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
      },
    );

    it('reads only the configured forwarding header: X-Forwarded-Proto is ignored when the policy uses Forwarded', async () => {
      const { decision } = await send(
        { clientIp: { trustedProxies: ['10.0.0.0/8'], header: 'forwarded' } },
        'http://api.example.com/v1/things',
        { headers: { 'x-forwarded-proto': 'https' } },
        { address: '10.0.0.7' },
      );
      expect(decision).toMatchObject({ kind: 'deny', reason: 'transport.https_redirect' });
    });
  });

  describe('Strict-Transport-Security', () => {
    it('defaults to max-age=31536000; includeSubDomains', async () => {
      const { response } = await send({}, 'https://api.example.com/v1/things');
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    });

    test.each([
      [{ maxAge: 600, includeSubDomains: false }, 'max-age=600'],
      [{ maxAge: 63072000, includeSubDomains: true, preload: true }, 'max-age=63072000; includeSubDomains; preload'],
      [{ maxAge: 0, includeSubDomains: false }, 'max-age=0'],
    ])('is configurable: %j gives %j', async (hsts, value) => {
      const { response } = await send({ transport: { hsts } }, 'https://api.example.com/v1/things');
      expect(response.headers.get('strict-transport-security')).toBe(value);
    });

    it('is removed by hsts: false', async () => {
      const { response } = await send({ transport: { hsts: false } }, 'https://api.example.com/v1/things');
      expect(response.headers.has('strict-transport-security')).toBe(false);
    });

    test.each([
      ['an allowed request', 'https://api.example.com/v1/things', 200],
      ['a 404', 'https://api.example.com/nowhere', 404],
      ['a 308 redirect', 'http://api.example.com/v1/things', 308],
    ])('is set on %s', async (_what, url, status) => {
      const { response } = await send({}, url);
      expect(response.status).toBe(status);
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    });
  });
});
