/**
 * The Upstash REST bridge against a real redis-server: `@upstash/redis` and `@upstash/ratelimit`,
 * unmodified, talk to it as to Upstash.
 */
import { createHash } from 'node:crypto';
import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { startUpstashBridge, type UpstashBridge } from './upstash-bridge.ts';

let server: RedisServer;
let bridge: UpstashBridge;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: server.url });
  redis = new Redis({ url: bridge.url, token: bridge.token });
});
afterAll(async () => {
  await bridge?.close();
  await server?.stop();
});
beforeEach(async () => {
  await redis.flushdb();
});

/** The REST protocol by hand. */
async function rest(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${bridge.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bridge.token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

describe('the REST protocol', () => {
  it('runs one command: POST / with a JSON array → { result }', async () => {
    expect(await rest('/', ['SET', 'k', 'v'])).toEqual({ status: 200, body: { result: 'OK' } });
    expect(await rest('/', ['GET', 'k'])).toEqual({ status: 200, body: { result: 'v' } });
    expect(await rest('/', ['INCRBY', 'n', 5])).toEqual({ status: 200, body: { result: 5 } });
    expect(await rest('/', ['GET', 'missing'])).toEqual({ status: 200, body: { result: null } });
  });

  it('encodes string results as base64 (but not OK, numbers or nil) with Upstash-Encoding: base64', async () => {
    const base64 = { 'upstash-encoding': 'base64' };
    expect(await rest('/', ['SET', 'k', 'héllo'], base64)).toEqual({ status: 200, body: { result: 'OK' } });
    expect(await rest('/', ['GET', 'k'], base64)).toEqual({ status: 200, body: { result: Buffer.from('héllo').toString('base64') } });
    expect(await rest('/', ['INCR', 'n'], base64)).toEqual({ status: 200, body: { result: 1 } });
    expect(await rest('/', ['MGET', 'k', 'none'], base64)).toEqual({ status: 200, body: { result: [Buffer.from('héllo').toString('base64'), null] } });
    expect(await rest('/', ['PING'], base64)).toEqual({ status: 200, body: { result: Buffer.from('PONG').toString('base64') } });
  });

  it('answers a Redis error with 400 { error }', async () => {
    await rest('/', ['SET', 'k', 'not a number']);
    const { status, body } = await rest('/', ['INCR', 'k']);
    expect(status).toBe(400);
    expect(body).toEqual({ error: expect.stringMatching(/not an integer/) });
  });

  it('runs a pipeline: POST /pipeline → one { result } or { error } per command, in order', async () => {
    const { status, body } = await rest('/pipeline', [['SET', 'k', 'x'], ['INCR', 'k'], ['GET', 'k'], ['INCR', 'n']]);
    expect(status).toBe(200);
    expect(body).toEqual([{ result: 'OK' }, { error: expect.stringMatching(/not an integer/) }, { result: 'x' }, { result: 1 }]);
  });

  it('runs a transaction: POST /multi-exec', async () => {
    const { status, body } = await rest('/multi-exec', [['INCR', 'n'], ['INCR', 'n'], ['GET', 'n']]);
    expect(status).toBe(200);
    expect(body).toEqual([{ result: 1 }, { result: 2 }, { result: '2' }]);
  });

  it('refuses requests without the bearer token', async () => {
    for (const authorization of ['', 'Bearer wrong', `bearer${bridge.token}`]) {
      const response = await fetch(bridge.url, { method: 'POST', headers: { authorization }, body: '["GET","k"]' });
      expect(response.status).toBe(401);
    }
  });
});

describe('@upstash/redis through the bridge', () => {
  it('reads and writes strings, numbers and nil', async () => {
    await redis.set('greeting', 'héllo ✓ — 日本');
    expect(await redis.get('greeting')).toBe('héllo ✓ — 日本');
    await redis.set('json', { a: 1 });
    expect(await redis.get('json')).toEqual({ a: 1 });
    expect(await redis.incr('n')).toBe(1);
    expect(await redis.get('missing')).toBeNull();
  });

  it('auto-pipelines concurrent commands and keeps each result with its command', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => redis.incrby(`k${i % 4}`, i)));
    expect(results.slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(await Promise.all([redis.get('k0'), redis.get('k1')])).toEqual([0 + 4 + 8 + 12 + 16, 1 + 5 + 9 + 13 + 17]);
  });

  it('runs explicit pipelines and transactions', async () => {
    expect(await redis.pipeline().set('a', 'x').get('a').incr('b').exec()).toEqual(['OK', 'x', 1]);
    expect(await redis.multi().incr('c').incr('c').exec()).toEqual([1, 2]);
  });

  it('surfaces Redis errors as errors', async () => {
    await redis.set('k', 'text');
    await expect(redis.incr('k')).rejects.toThrow(/not an integer/);
  });

  it('runs EVAL, SCRIPT LOAD and EVALSHA; an unknown sha is NOSCRIPT', async () => {
    const script = 'return redis.call("INCRBY", KEYS[1], ARGV[1])';
    expect(await redis.eval(script, ['e'], ['2'])).toBe(2);
    const sha = await redis.scriptLoad(script);
    expect(sha).toBe(createHash('sha1').update(script).digest('hex'));
    expect(await redis.evalsha(sha, ['e'], ['3'])).toBe(5);
    await expect(redis.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it('accepts the Upstash-only shebang flag of @upstash/ratelimit`s scripts, under the sha the client computes', async () => {
    const script = '#!lua flags=allow-key-locking\nreturn redis.call("INCR", KEYS[1])';
    const sha = createHash('sha1').update(script).digest('hex');
    await expect(redis.evalsha(sha, ['f'], [])).rejects.toThrow(/NOSCRIPT/);
    expect(await redis.eval(script, ['f'], [])).toBe(1);
    expect(await redis.evalsha(sha, ['f'], [])).toBe(2);
    expect(await redis.scriptLoad(script)).toBe(sha);
    expect(await redis.scriptExists(sha)).toEqual([1]);
  });

  it('is refused with the wrong token', async () => {
    const intruder = new Redis({ url: bridge.url, token: 'wrong', retry: false });
    await expect(intruder.get('k')).rejects.toThrow(/Unauthorized/);
  });
});

describe('@upstash/ratelimit through the bridge', () => {
  it.each([
    ['fixedWindow', Ratelimit.fixedWindow(3, '10 s')],
    ['slidingWindow', Ratelimit.slidingWindow(3, '10 s')],
    ['tokenBucket', Ratelimit.tokenBucket(1, '10 s', 3)],
  ])('%s admits 3 and refuses the 4th, and reports what remains', async (_, limiter) => {
    const ratelimit = new Ratelimit({ redis, limiter, timeout: 0, ephemeralCache: false, prefix: 'spec' });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await ratelimit.limit('client'));
    expect(results.map((result) => [result.success, result.remaining])).toEqual([[true, 2], [true, 1], [true, 0], [false, 0]]);
    expect((await ratelimit.getRemaining('client')).remaining).toBe(0);
    expect((await ratelimit.getRemaining('someone else')).remaining).toBe(3);
  });

  it('runs its scripts by EVALSHA once Redis has them', async () => {
    const ratelimit = new Ratelimit({ redis, limiter: Ratelimit.fixedWindow(3, '10 s'), timeout: 0 });
    await ratelimit.limit('client');
    const sha = 'b2efc02798c8e9b471a10f9b1d5745db89923ff3'; // @upstash/ratelimit 2.2.0's fixed-window script
    expect(await redis.scriptExists(sha)).toEqual([1]);
  });

  it('is atomic under concurrency: of 30 concurrent requests, exactly the limit succeed', async () => {
    const ratelimit = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(10, '10 s'), timeout: 0, ephemeralCache: false });
    const results = await Promise.all(Array.from({ length: 30 }, () => ratelimit.limit('client')));
    expect(results.filter((result) => result.success)).toHaveLength(10);
  });
});
