/** The demo's rate limits (API-wide and failed logins), over real HTTP, with the default memory store. */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { warmDemoDatabase } from '../../policies/demo-db.ts';
import { startDemo } from '../../policies/demo-gateway.ts';
import { clearOfWindowEdge } from '../wait.ts';

// Each test starts its own demo: the first would pay for creating the database within its time.
beforeAll(warmDemoDatabase);
// The demo's buckets have 15-minute windows on the real clock; no test may straddle two.
beforeEach(() => clearOfWindowEdge(15 * 60_000, 15_000));
let demo: Awaited<ReturnType<typeof startDemo>> | undefined;
afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

const login = (password: string, headers: Record<string, string> = {}) =>
  fetch(`${demo!.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username: 'alice', password }),
  });

describe('login brute-force protection', () => {
  it('refuses the next login after LOGIN_RATE_LIMIT failures from one IP with 429 and Retry-After, even with the right password', async () => {
    demo = await startDemo({ env: { LOGIN_RATE_LIMIT: '3' }, port: 0, log: () => {} });
    for (let i = 0; i < 3; i++) expect((await login('wrong')).status).toBe(401);
    const blocked = await login('correct horse battery staple');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.json()).toMatchObject({ code: 'ratelimit.exceeded' });
  });

  it('does not count successful logins', async () => {
    demo = await startDemo({ env: { LOGIN_RATE_LIMIT: '2' }, port: 0, log: () => {} });
    for (let i = 0; i < 5; i++) expect((await login('correct horse battery staple')).status).toBe(200);
    expect((await login('wrong')).status).toBe(401);
    expect((await login('correct horse battery staple')).status).toBe(200);
  });

  it('counts per client address: another client (via the trusted loopback proxy) is not blocked', async () => {
    demo = await startDemo({ env: { LOGIN_RATE_LIMIT: '1' }, port: 0, log: () => {} });
    expect((await login('wrong', { 'x-forwarded-for': '203.0.113.1', 'x-forwarded-proto': 'https' })).status).toBe(401);
    expect((await login('wrong', { 'x-forwarded-for': '203.0.113.1', 'x-forwarded-proto': 'https' })).status).toBe(429);
    expect((await login('wrong', { 'x-forwarded-for': '203.0.113.2', 'x-forwarded-proto': 'https' })).status).toBe(401);
  });

  it('does not mint new buckets for X-Forwarded-For rotation from an untrusted peer', async () => {
    demo = await startDemo({ env: { LOGIN_RATE_LIMIT: '2', TRUSTED_PROXIES: '' }, port: 0, log: () => {} });
    expect((await login('wrong', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(401);
    expect((await login('wrong', { 'x-forwarded-for': '198.51.100.2' })).status).toBe(401);
    expect((await login('wrong', { 'x-forwarded-for': '198.51.100.3' })).status).toBe(429);
  });
});

describe('API rate limit', () => {
  it('answers request RATE_LIMIT + 1 with 429, Retry-After and RateLimit headers, and shows them on allowed responses', async () => {
    demo = await startDemo({ env: { RATE_LIMIT: '3' }, port: 0, log: () => {} });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${demo.url}/v1/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"api";q=3;w=900');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"api";r=${2 - i};t=\\d+$`));
    }
    const limited = await fetch(`${demo.url}/v1/health`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit')).toMatch(/^"api";r=0;t=\d+$/);
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
  });
});
