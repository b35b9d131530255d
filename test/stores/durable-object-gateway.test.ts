/**
 * docs/scaling.md's Durable Objects set-up on workerd (Miniflare): the Cloudflare gateway with
 * durableObjectStore, RateLimitObject bound as RATE_LIMITS, in front of an origin on 127.0.0.1.
 */
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bundleWorker } from '../cloudflare/workerd.ts';
import { startOrigin, type RunningOrigin } from '../cloudflare/origin.ts';
import { clearOfWindowEdge } from '../wait.ts';

const IDENTITY_KEY = 'durable-object-gateway-identity-key-0123456789';
let origin: RunningOrigin;
let mf: Miniflare;
beforeAll(async () => {
  origin = await startOrigin(IDENTITY_KEY, ({ target }) => (target === '/v1/login' ? { status: 401 } : undefined));
  mf = new Miniflare({
    modules: true,
    script: await bundleWorker('test/stores/durable-object-gateway-worker.ts'),
    compatibilityDate: '2025-07-18',
    bindings: { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY },
    durableObjects: { RATE_LIMITS: 'RateLimitObject' },
  });
  await mf.ready;
}, 60_000);
// The worker's buckets have 1-hour windows on the real clock; no test may straddle two.
beforeEach(() => clearOfWindowEdge(60 * 60_000, 10_000));
afterAll(async () => {
  await mf?.dispose();
  await origin?.close();
});

/** A request as Cloudflare's edge passes it on: over HTTPS, with CF-Connecting-IP. */
const send = (path: string, ip: string, method = 'GET') =>
  mf.dispatchFetch(`https://api.example.com${path}`, { method, headers: { 'cf-connecting-ip': ip } });

describe('the Cloudflare gateway on durableObjectStore', () => {
  it('admits exactly the limit of concurrent requests, and every answer shows the shared count', async () => {
    const responses = await Promise.all(Array.from({ length: 40 }, () => send('/v1/things', '203.0.113.7')));
    const admitted = responses.filter((response) => response.status === 200);
    expect(admitted).toHaveLength(10);
    expect(responses.filter((response) => response.status === 429)).toHaveLength(30);
    const remaining = admitted.map((response) => Number(/r=(\d+)/.exec(response.headers.get('ratelimit')!)![1])).sort((a, b) => a - b);
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    // Another client has a limit of its own.
    expect((await send('/v1/things', '203.0.113.8')).status).toBe(200);
  });

  it('holds failed logins to the failure bucket limit (the origin answers 401 to every login here)', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await send('/v1/login', '198.51.100.9', 'POST')).status);
    expect(statuses).toEqual([401, 401, 429, 429]);
  });
});
