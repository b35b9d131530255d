/**
 * upstashStore() on a real redis-server, through the Upstash REST bridge: one global limit across
 * engine instances, failure-only buckets, headers, and outages (Redis killed, hung, REST endpoint gone).
 * The clock is the real one: Upstash counts with the runtime's Date.now() and Redis's expiry.
 */
import { Redis } from '@upstash/redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, definePolicy } from '../../src/index.ts';
import { upstashStore, type UpstashStoreOptions } from '../../src/stores/upstash.ts';
import type { Decision, Policy, RateLimitingPolicy, RateLimitPolicy, SecurityEvent} from '../../src/index.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { startUpstashBridge, type UpstashBridge } from './upstash-bridge.ts';

interface Backend {
  server: RedisServer;
  bridge: UpstashBridge;
  close(): Promise<void>;
}

async function startBackend(): Promise<Backend> {
  const server = await startRedisServer();
  const bridge = await startUpstashBridge({ redisUrl: server.url });
  return {
    server,
    bridge,
    async close() {
      await bridge.close();
      await server.stop();
    },
  };
}

/** One gateway instance: its own Redis client and store, as a second process or isolate would have. */
function instance(
  backend: Backend,
  buckets: Record<string, RateLimitPolicy>,
  options: { rateLimiting?: RateLimitingPolicy; store?: Partial<UpstashStoreOptions> } = {},
) {
  const events: SecurityEvent[] = [];
  const redis = new Redis({ url: backend.bridge.url, token: backend.bridge.token });
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      rateLimits: buckets,
      ...(options.rateLimiting && { rateLimiting: options.rateLimiting }),
      routes: { 'GET /x': { authn: 'anonymous', rateLimit: Object.keys(buckets) } },
    } as Policy),
    { rateLimitStore: upstashStore({ redis, ...options.store }), log: (event) => void events.push(event) },
  );
  const send = (address = '203.0.113.7') => engine.evaluate(new Request('https://api.test/x'), { peer: { address } });
  return { engine, events, send };
}

const status = (decision: Decision) => (decision.kind === 'allow' ? 200 : decision.status);
const count = (decisions: Decision[], code: number) => decisions.filter((decision) => status(decision) === code).length;

describe('one Redis behind several engine instances', () => {
  let backend: Backend;
  beforeAll(async () => (backend = await startBackend()));
  afterAll(async () => backend?.close());
  beforeEach(async () => void (await new Redis({ url: backend.bridge.url, token: backend.bridge.token }).flushdb()));

  it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)('%s: two instances enforce one global limit', async (algorithm) => {
    // An hour-long window: a run that straddles a window boundary is all but impossible.
    const buckets = { api: { limit: 10, window: '1h', by: 'ip' as const, algorithm } };
    const a = instance(backend, buckets);
    const b = instance(backend, buckets);
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).send()));
    expect(count(decisions, 200)).toBe(10);
    expect(count(decisions, 429)).toBe(30);
    // Another client is untouched on either instance.
    expect(status(await a.send('203.0.113.8'))).toBe(200);
    expect(status(await b.send('203.0.113.8'))).toBe(200);
  });

  it('sets RateLimit headers from Redis`s counts, and 429 with Retry-After when exceeded', async () => {
    const { send } = instance(backend, { api: { limit: 2, window: '1h', by: 'ip', algorithm: 'fixed-window' } });
    const first = await send();
    expect(first.headers.get('ratelimit-policy')).toBe('"api";q=2;w=3600');
    expect(first.headers.get('ratelimit')).toMatch(/^"api";r=1;t=\d+$/);
    expect((await send()).headers.get('ratelimit')).toMatch(/^"api";r=0;t=\d+$/);
    const limited = await send();
    expect(limited.kind === 'deny' && limited.reason).toBe('ratelimit.exceeded');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
  });

  it('counts only failures in a failure bucket, across instances', async () => {
    const buckets = { login: { limit: 2, window: '15m', by: 'ip' as const, count: 'failures' as const } };
    const a = instance(backend, buckets);
    const b = instance(backend, buckets);
    // Settled as engine.handle settles: with the handler's status, or the denial's own.
    const attempt = async (via: typeof a, result: number) => {
      const decision = await via.send();
      await decision.settle(decision.kind === 'allow' ? result : decision.status);
      return status(decision);
    };
    for (let i = 0; i < 4; i++) expect(await attempt(i % 2 ? a : b, 200)).toBe(200);
    expect(await attempt(a, 401)).toBe(200);
    expect(await attempt(b, 401)).toBe(200);
    expect(await attempt(a, 200)).toBe(429);
    expect(await attempt(b, 200)).toBe(429);
  });

  it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)(
    '%s: holds concurrent failed logins on two instances to the limit, and refunds successful ones',
    async (algorithm) => {
      const buckets = { login: { limit: 3, window: '1h', by: 'ip' as const, count: 'failures' as const, algorithm } };
      const a = instance(backend, buckets);
      const b = instance(backend, buckets);
      for (let i = 0; i < 4; i++) {
        const success = await (i % 2 ? a : b).send();
        await success.settle(200);
      }
      const attempts = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).send()));
      await Promise.all(attempts.map((attempt) => attempt.settle(attempt.kind === 'allow' ? 401 : attempt.status)));
      expect(count(attempts, 200)).toBe(3);
      expect(count(attempts, 429)).toBe(9);
    },
  );

  it('refills a token bucket as time passes', async () => {
    // 2 tokens per 2 s: one every second.
    const { send } = instance(backend, { api: { limit: 2, window: '2s', by: 'ip', algorithm: 'token-bucket' } });
    expect([status(await send()), status(await send()), status(await send())]).toEqual([200, 200, 429]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect([status(await send()), status(await send())]).toEqual([200, 429]);
  });
});

describe('outages', () => {
  let backend: Backend | undefined;
  beforeEach(async () => (backend = await startBackend()));
  afterEach(async () => {
    backend?.server.process.kill('SIGCONT');
    await backend?.close();
  });
  const buckets = { api: { limit: 5, window: '1m', by: 'ip' as const } };

  it('redis-server killed mid-test: the next request is refused with 503 ratelimit.unavailable (fail closed) and logged', async () => {
    const { send, events } = instance(backend!, buckets);
    expect(status(await send())).toBe(200);
    await backend!.server.kill();
    const decision = await send();
    expect(decision.kind === 'deny' && [decision.status, decision.reason]).toEqual([503, 'ratelimit.unavailable']);
    expect(events).toMatchObject([{ event: 'portcullis.error', reason: 'ratelimit.unavailable', status: 503, clientIp: '203.0.113.7' }]);
  });

  it("redis-server killed mid-test, onStoreError 'allow': requests are let through and each is logged", async () => {
    const { send, events } = instance(backend!, buckets, { rateLimiting: { onStoreError: 'allow' } });
    expect(status(await send())).toBe(200);
    await backend!.server.kill();
    expect([status(await send()), status(await send())]).toEqual([200, 200]);
    expect(events).toMatchObject([
      { event: 'portcullis.error', reason: 'ratelimit.store_error' },
      { event: 'portcullis.error', reason: 'ratelimit.store_error' },
    ]);
  });

  it('a hung redis-server (SIGSTOP) is a failed store after storeTimeoutMs: 503', async () => {
    const { send, events } = instance(backend!, buckets, { rateLimiting: { storeTimeoutMs: 300 } });
    expect(status(await send())).toBe(200);
    backend!.server.process.kill('SIGSTOP');
    const started = performance.now();
    const decision = await send();
    const elapsed = performance.now() - started;
    expect(decision.kind === 'deny' && decision.reason).toBe('ratelimit.unavailable');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
    expect(events[0]!.error).toMatch(/300 ms/);
  });

  it('the REST endpoint gone: 503 within storeTimeoutMs, although @upstash/redis keeps retrying', async () => {
    const { send } = instance(backend!, buckets, { rateLimiting: { storeTimeoutMs: 300 } });
    expect(status(await send())).toBe(200);
    await backend!.bridge.close();
    const started = performance.now();
    const decision = await send();
    expect(decision.kind === 'deny' && decision.reason).toBe('ratelimit.unavailable');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('the ephemeral cache keeps refusing a client already over its limit while Redis is down; it never admits', async () => {
    const cached = instance(backend!, { api: { limit: 1, window: '1h', by: 'ip' } });
    const uncached = instance(backend!, { api: { limit: 1, window: '1h', by: 'ip' } }, { store: { ephemeralCache: false } });
    expect(status(await cached.send())).toBe(200);
    expect(status(await cached.send())).toBe(429);
    expect(status(await uncached.send())).toBe(429);
    await backend!.server.kill();
    expect(status(await cached.send())).toBe(429);
    expect(status(await uncached.send())).toBe(503);
    // A client the cache has not seen over its limit goes to Redis: 503, not an admission.
    expect(status(await cached.send('203.0.113.99'))).toBe(503);
  });
});
