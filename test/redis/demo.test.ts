/**
 * The demo's rate-limit behaviour over real HTTP with its Redis stores: `UPSTASH_REDIS_REST_URL` +
 * `_TOKEN` (pointing at the REST bridge) and `REDIS_URL` (a real redis-server, through redisStore).
 * The same lines with the memory store are in test/demo/ratelimit.test.ts. Last, two `npm start`
 * processes on one REDIS_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from '@upstash/redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { startUpstashBridge, type UpstashBridge } from './upstash-bridge.ts';
import { clearOfWindowEdge } from '../wait.ts';

let server: RedisServer;
let bridge: UpstashBridge;
beforeAll(async () => {
  server = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: server.url });
});
afterAll(async () => {
  await bridge?.close();
  await server?.stop();
});

type Demo = Awaited<ReturnType<typeof startDemo>>;
const demos: Demo[] = [];
beforeEach(async () => void (await new Redis({ url: bridge.url, token: bridge.token }).flushdb()));
// The demo's buckets have 15-minute windows on the real clock; no test may straddle two.
beforeEach(() => clearOfWindowEdge(15 * 60_000, 15_000));
afterEach(async () => {
  await Promise.all(demos.splice(0).map((demo) => demo.close()));
});

const stores = [
  ['UPSTASH_REDIS_REST_URL + _TOKEN', 'Upstash', () => ({ UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token })],
  ['REDIS_URL', 'Redis', () => ({ REDIS_URL: server.url })],
] as const;

describe.each(stores)('the demo with %s', (_, storeName, storeEnv) => {
  async function demo(env: Record<string, string>) {
    const started = await startDemo({ env: { ...storeEnv(), ...env }, port: 0, log: () => {} });
    demos.push(started);
    return started;
  }
  const login = (at: Demo, password: string, headers: Record<string, string> = {}) =>
    fetch(`${at.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ username: 'alice', password }),
    });

  it('uses that store', async () => {
    expect((await demo({})).rateLimitStore).toMatch(new RegExp(`^${storeName} `));
  });

  it('refuses the next login after LOGIN_RATE_LIMIT failures from one IP with 429 and Retry-After, even with the right password', async () => {
    const at = await demo({ LOGIN_RATE_LIMIT: '3' });
    for (let i = 0; i < 3; i++) expect((await login(at, 'wrong')).status).toBe(401);
    const blocked = await login(at, 'correct horse battery staple');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.json()).toMatchObject({ code: 'ratelimit.exceeded' });
    // And it stays refused for the rest of the window, however the client goes on.
    for (const password of ['wrong', 'correct horse battery staple', 'wrong', 'wrong']) expect((await login(at, password)).status).toBe(429);
  });

  it('does not count successful logins', async () => {
    const at = await demo({ LOGIN_RATE_LIMIT: '2' });
    for (let i = 0; i < 5; i++) expect((await login(at, 'correct horse battery staple')).status).toBe(200);
    expect((await login(at, 'wrong')).status).toBe(401);
    expect((await login(at, 'correct horse battery staple')).status).toBe(200);
  });

  it('does not mint new buckets for X-Forwarded-For rotation from an untrusted peer', async () => {
    const at = await demo({ LOGIN_RATE_LIMIT: '2', TRUSTED_PROXIES: '' });
    expect((await login(at, 'wrong', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(401);
    expect((await login(at, 'wrong', { 'x-forwarded-for': '198.51.100.2' })).status).toBe(401);
    expect((await login(at, 'wrong', { 'x-forwarded-for': '198.51.100.3' })).status).toBe(429);
  });

  it('answers request RATE_LIMIT + 1 with 429, Retry-After and RateLimit headers, and shows them on allowed responses', async () => {
    const at = await demo({ RATE_LIMIT: '3' });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${at.url}/v1/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"api";q=3;w=900');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"api";r=${2 - i};t=\\d+$`));
    }
    const limited = await fetch(`${at.url}/v1/health`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit')).toMatch(/^"api";r=0;t=\d+$/);
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
  });

  it('shares the limit between two gateways on the same Redis (the memory store could not)', async () => {
    const [first, second] = [await demo({ RATE_LIMIT: '3' }), await demo({ RATE_LIMIT: '3' })];
    const statuses = [];
    for (const at of [first, second, first, second]) statuses.push((await fetch(`${at.url}/v1/health`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('two `npm start` processes with the same REDIS_URL on different PORTs', () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const started: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(
      started.splice(0).map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        // npm runs tsx runs node: the whole process group this test started.
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }),
    );
  });

  /** `npm start` with PORT=0 (a free port each); resolves with the URL it prints. */
  async function npmStart(env: Record<string, string>): Promise<string> {
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, PORT: '0', REDIS_URL: server.url, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    started.push(child);
    let output = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start printed no URL within 60 s: ${output}`)), 60_000);
      child.stderr!.on('data', (chunk) => {
        output += chunk;
        const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
        if (url) {
          clearTimeout(timer);
          resolve(url);
        }
      });
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
    });
  }

  it('share every limit: a client alternating between them gets exactly RATE_LIMIT answers, then 429 from both', async () => {
    const env = { RATE_LIMIT: '5', LOGIN_RATE_LIMIT: '3' };
    const urls = await Promise.all([npmStart(env), npmStart(env)]);
    expect(new Set(urls).size).toBe(2);
    // Two clients, told apart by the loopback proxy's X-Forwarded-For (TRUSTED_PROXIES=loopback).
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${urls[i % 2]}/v1/health`, { headers: { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' }, redirect: 'manual' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);

    const login = async (url: string) =>
      (
        await fetch(`${url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.2', 'x-forwarded-proto': 'https' },
          redirect: 'manual',
          body: JSON.stringify({ username: 'alice', password: 'wrong' }),
        })
      ).status;
    const logins: number[] = [];
    for (let i = 0; i < 5; i++) logins.push(await login(urls[i % 2]!));
    expect(logins).toEqual([401, 401, 401, 429, 429]);
    // Two demo starts (tsx, PGlite) on a busy machine take longer than the default test timeout.
  }, 90_000);
});

it('nothing in src/, adapters/ or policies/ imports from test/ (the demo reaches Redis with redisStore)', () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const offenders = ['src', 'adapters', 'policies'].flatMap((dir) =>
    (readdirSync(`${ROOT}${dir}`, { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
      .filter((file) => /(from|import\()\s*['"](\.\.\/)+test\//.test(readFileSync(`${ROOT}${dir}/${file}`, 'utf8')))
      .map((file) => `${dir}/${file}`),
  );
  expect(offenders).toEqual([]);
});
