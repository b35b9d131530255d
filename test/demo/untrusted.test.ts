/** The demo ignores forwarding headers (`X-Forwarded-For`, `Forwarded`) from peers it does not trust as proxies. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SecurityEvent } from '../../src/index.ts';
import { startDemo } from '../../policies/demo-gateway.ts';

const events: SecurityEvent[] = [];
let demo: Awaited<ReturnType<typeof startDemo>>;

beforeAll(async () => {
  demo = await startDemo({ env: { TRUSTED_PROXIES: '' }, port: 0, log: (event) => events.push(event as SecurityEvent) });
});
afterAll(() => demo.close());

it('keys on the socket address and ignores X-Forwarded-For and -Proto when no proxy is trusted', async () => {
  const res = await fetch(`${demo.url}/v1/nope`, { headers: { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'http' } });
  // Not redirected: the spoofed "plain HTTP" claim is not believed either.
  expect(res.status).toBe(404);
  const event = events.find((e) => e.requestId === res.headers.get('x-request-id'));
  expect(event?.clientIp).toBe('127.0.0.1');
});

it('accepts plain HTTP only because the peer is a direct loopback connection', async () => {
  const res = await fetch(`${demo.url}/v1/health`);
  expect(res.status).toBe(200);
});
