/**
 * redisStore() on a real redis-server through node-redis: one global limit across engine instances,
 * keys and hash tags, the script cache, authentication and TLS, and outages (Redis killed, hung,
 * restarted on the same port). The answers themselves (memory store semantics) are in
 * test/stores/conformance.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, definePolicy } from '../../src/index.ts';
import type { Decision, Policy, RateLimitingPolicy, RateLimitPolicy, SecurityEvent } from '../../src/index.ts';
import { RATE_LIMIT_SCRIPT } from '../../src/stores/redis-script.ts';
import { redisStore, type RedisStore, type RedisStoreOptions } from '../../src/stores/redis.ts';
import type { BucketSpec } from '../../src/stores/types.ts';
import { freePort, startRedisServer, type RedisServer } from './redis-server.ts';

const T0 = Date.UTC(2026, 0, 1);
const stores: RedisStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function store(options: RedisStoreOptions): RedisStore {
  const made = redisStore(options);
  stores.push(made);
  return made;
}

/** A raw node-redis client, to look at what the store wrote. */
async function inspect(url: string) {
  const client = createClient({ url });
  await client.connect();
  return client;
}

/** One gateway instance: its own client and store, as a second process would have. */
function instance(url: string, buckets: Record<string, RateLimitPolicy>, rateLimiting?: RateLimitingPolicy) {
  const events: SecurityEvent[] = [];
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      rateLimits: buckets,
      ...(rateLimiting && { rateLimiting }),
      routes: { 'GET /x': { authn: 'anonymous', rateLimit: Object.keys(buckets) } },
    } as Policy),
    { rateLimitStore: store({ url, createClient }), log: (event) => void events.push(event) },
  );
  const send = (address = '203.0.113.7') => engine.evaluate(new Request('https://api.test/x'), { peer: { address } });
  return { events, send };
}

const status = (decision: Decision) => (decision.kind === 'allow' ? 200 : decision.status);
const count = (decisions: Decision[], code: number) => decisions.filter((decision) => status(decision) === code).length;
const waitFor = async (condition: () => Promise<boolean>, ms: number) => {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('redisStore on one redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => (server = await startRedisServer()));
  afterAll(async () => server?.stop());
  beforeEach(async () => {
    const client = await inspect(server.url);
    await client.flushDb();
    client.destroy();
  });

  it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)('%s: two instances enforce one global limit', async (algorithm) => {
    const buckets = { api: { limit: 10, window: '1h', by: 'ip' as const, algorithm } };
    const a = instance(server.url, buckets);
    const b = instance(server.url, buckets);
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).send()));
    expect(count(decisions, 200)).toBe(10);
    expect(count(decisions, 429)).toBe(30);
    expect(status(await a.send('203.0.113.8'))).toBe(200);
  });

  it('keeps one key per bucket and client under the prefix, inside a Cluster hash tag, and lets it expire', async () => {
    const redis = store({ url: server.url, createClient, prefix: 'gw' });
    const spec: BucketSpec = { name: 'a:b', limit: 5, windowMs: 60_000, algorithm: 'sliding-window' };
    await redis.consume(spec, 'ip:2001:db8::/64', T0);
    await redis.consume(spec, 'fn:{x}%', T0);
    await redis.consume({ ...spec, algorithm: 'token-bucket' }, 'ip:2001:db8::/64', T0);
    const client = await inspect(server.url);
    const keys = (await client.keys('*')).sort();
    expect(keys).toEqual(['gw:{a%3Ab:fn:%7Bx%7D%25}:sw', 'gw:{a%3Ab:ip:2001:db8::/64}:sw', 'gw:{a%3Ab:ip:2001:db8::/64}:tb']);
    // Two windows and a second of slack.
    expect(await client.pTTL(keys[1]!)).toBeGreaterThan(120_000);
    expect(await client.pTTL(keys[1]!)).toBeLessThanOrEqual(121_000);
    client.destroy();
  });

  it('refuses a prefix that would break the hash tag', () => {
    expect(() => redisStore({ url: server.url, createClient, prefix: 'a{b}' })).toThrow(/prefix/);
  });

  it('sends the script again when Redis lost it (SCRIPT FLUSH, a restart, another cluster node)', async () => {
    const redis = store({ url: server.url, createClient });
    const spec: BucketSpec = { name: 'api', limit: 3, windowMs: 60_000, algorithm: 'fixed-window' };
    expect(await redis.consume(spec, 'k', T0)).toMatchObject({ success: true, remaining: 2 });
    const client = await inspect(server.url);
    const sha = createHash('sha1').update(RATE_LIMIT_SCRIPT).digest('hex');
    expect(await client.scriptExists(sha)).toEqual([1]);
    await client.scriptFlush();
    expect(await client.scriptExists(sha)).toEqual([0]);
    expect(await redis.consume(spec, 'k', T0)).toMatchObject({ success: true, remaining: 1 });
    expect(await client.scriptExists(sha)).toEqual([1]);
    client.destroy();
  });

  it('takes a connected client of your own and leaves it open on close()', async () => {
    const client = await inspect(server.url);
    const redis = redisStore({ client });
    const spec: BucketSpec = { name: 'api', limit: 1, windowMs: 60_000, algorithm: 'token-bucket' };
    expect((await redis.consume(spec, 'k', T0)).success).toBe(true);
    expect((await redis.consume(spec, 'k', T0)).success).toBe(false);
    await redis.close();
    expect(await client.ping()).toBe('PONG');
    client.destroy();
  });
});

describe('redisStore: authentication and TLS are the client`s (in the URL)', () => {
  it('authenticates with the password in the URL, and fails (never admits) with a wrong one', async () => {
    const server = await startRedisServer({ args: ['--requirepass', 's3cret pass'] });
    try {
      const spec: BucketSpec = { name: 'api', limit: 2, windowMs: 60_000, algorithm: 'fixed-window' };
      const good = store({ url: `redis://default:${encodeURIComponent('s3cret pass')}@127.0.0.1:${server.port}`, createClient });
      await waitFor(async () => (await good.consume(spec, 'k', T0).catch(() => undefined)) !== undefined, 5_000);
      const wrong = store({ url: `redis://default:wrong@127.0.0.1:${server.port}`, createClient, commandTimeoutMs: 300 });
      await expect(wrong.consume(spec, 'k', T0)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });

  it('speaks TLS with rediss://', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-redis-tls-'));
    const made = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    expect(made.status).toBe(0);
    const port = await freePort();
    const server = await startRedisServer({
      args: ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem'), '--tls-auth-clients', 'no'],
    });
    try {
      const ca = readFileSync(join(dir, 'cert.pem'));
      const spec: BucketSpec = { name: 'api', limit: 2, windowMs: 60_000, algorithm: 'fixed-window' };
      // Your own options (a private CA here) go on top of the store's.
      const tls = store({ url: `rediss://127.0.0.1:${port}`, createClient: (options) => createClient({ ...options, socket: { ...options.socket, tls: true, ca } }) });
      await waitFor(async () => (await tls.consume(spec, 'k', T0).catch(() => undefined))?.success === true, 5_000);
      // Plain redis:// to a TLS port gets no answer: a failure, not an admission.
      const plain = store({ url: `redis://127.0.0.1:${port}`, createClient, commandTimeoutMs: 300, connectTimeoutMs: 300 });
      await expect(plain.consume(spec, 'k', T0)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });
});

describe('redisStore: outages', () => {
  let server: RedisServer;
  beforeEach(async () => (server = await startRedisServer()));
  afterEach(async () => {
    server.process.kill('SIGCONT');
    await server.stop();
  });
  const buckets = { api: { limit: 5, window: '1m', by: 'ip' as const } };

  it('redis-server killed: 503 ratelimit.unavailable at once (no offline queue), long before storeTimeoutMs', async () => {
    const { send, events } = instance(server.url, buckets, { storeTimeoutMs: 5_000 });
    expect(status(await send())).toBe(200);
    await server.kill();
    const started = performance.now();
    const decisions = [await send(), await send()];
    expect(decisions.map((decision) => decision.kind === 'deny' && [decision.status, decision.reason])).toEqual([
      [503, 'ratelimit.unavailable'],
      [503, 'ratelimit.unavailable'],
    ]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(events).toMatchObject([{ event: 'portcullis.error', reason: 'ratelimit.unavailable' }, { reason: 'ratelimit.unavailable' }]);
  });

  it("redis-server killed, onStoreError 'allow': let through and logged", async () => {
    const { send, events } = instance(server.url, buckets, { onStoreError: 'allow' });
    expect(status(await send())).toBe(200);
    await server.kill();
    expect([status(await send()), status(await send())]).toEqual([200, 200]);
    expect(events).toMatchObject([{ reason: 'ratelimit.store_error' }, { reason: 'ratelimit.store_error' }]);
  });

  it('a hung redis-server (SIGSTOP) is a failed store after storeTimeoutMs, and answers in order once it wakes', async () => {
    const { send } = instance(server.url, { api: { limit: 2, window: '1h', by: 'ip' } }, { storeTimeoutMs: 300 });
    expect(status(await send())).toBe(200);
    server.process.kill('SIGSTOP');
    const started = performance.now();
    const decision = await send();
    expect(decision.kind === 'deny' && decision.reason).toBe('ratelimit.unavailable');
    expect(performance.now() - started).toBeLessThan(2_000);
    server.process.kill('SIGCONT');
    // Redis had received the hung request's command and runs it when it wakes: that request was
    // refused (503) but its unit is spent — an outage never buys extra requests. Replies stay matched.
    const next = await send();
    expect(status(next)).toBe(429);
    expect(next.headers.get('ratelimit')).toMatch(/^"api";r=0;t=\d+$/);
  });

  it('a hung redis-server does not make commands pile up: beyond maxQueuedCommands they fail at once', async () => {
    const redis = store({ url: server.url, createClient, maxQueuedCommands: 5, commandTimeoutMs: 60_000 });
    const spec: BucketSpec = { name: 'api', limit: 100, windowMs: 60_000, algorithm: 'fixed-window' };
    expect((await redis.consume(spec, 'k', T0)).success).toBe(true);
    server.process.kill('SIGSTOP');
    const settled: boolean[] = [];
    const calls = Array.from({ length: 20 }, () => redis.consume(spec, 'k', T0).then(() => settled.push(true), () => settled.push(false)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // 5 wait for Redis; the other 15 were refused without waiting.
    expect(settled).toEqual(Array.from({ length: 15 }, () => false));
    server.process.kill('SIGCONT');
    await Promise.all(calls);
    expect(settled.filter(Boolean)).toHaveLength(5);
  });

  it('redis-server restarted on the same port: the store reconnects by itself', async () => {
    const { send } = instance(server.url, buckets, { storeTimeoutMs: 300 });
    expect(status(await send())).toBe(200);
    await server.kill();
    expect(status(await send())).toBe(503);
    server = await startRedisServer({ port: server.port });
    await waitFor(async () => status(await send()) === 200, 10_000);
  });

  it('a gateway started while Redis is down answers 503 and recovers once Redis is up', async () => {
    const port = server.port;
    await server.kill();
    const { send } = instance(`redis://127.0.0.1:${port}`, buckets, { storeTimeoutMs: 300 });
    expect(status(await send())).toBe(503);
    server = await startRedisServer({ port });
    await waitFor(async () => status(await send()) === 200, 10_000);
  });
});
