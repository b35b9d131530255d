/**
 * Many gateways, one set of limits: three gateway processes (the Node adapter, redisStore) on one
 * real redis-server, hammered through every process at once; then Redis killed and restarted on
 * the same port while the gateways keep running.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from './redis-server.ts';

const STORE_TIMEOUT_MS = 500;
const GATEWAYS = 3;

interface Gateway {
  url: string;
  pid: number;
  child: ChildProcess;
}

function startGateway(redisUrl: string): Promise<Gateway> {
  const child = fork(fileURLToPath(new URL('./fleet-gateway.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, REDIS_URL: redisUrl, STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a gateway did not start within 30 s')), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve({ ...(message as { url: string; pid: number }), child });
    });
    child.once('exit', (code) => reject(new Error(`a gateway exited with ${code} before listening`)));
  });
}

let server: RedisServer;
let gateways: Gateway[];
beforeAll(async () => {
  server = await startRedisServer();
  gateways = await Promise.all(Array.from({ length: GATEWAYS }, () => startGateway(server.url)));
}, 60_000);
afterAll(async () => {
  await Promise.all(
    (gateways ?? []).map(async ({ child }) => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await exited;
    }),
  );
  await server?.stop();
});

const get = async (gateway: Gateway, path: string) => {
  const response = await fetch(`${gateway.url}${path}`);
  const body = await response.text();
  return { status: response.status, ratelimit: response.headers.get('ratelimit'), body };
};

describe('three gateway processes on one redis-server', () => {
  it('hammered concurrently through every process, a bucket of 40 admits exactly 40', async () => {
    const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => get(gateways[i % GATEWAYS]!, '/hammered')));
    const admitted = answers.filter((answer) => answer.status === 200);
    expect(admitted).toHaveLength(40);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(110);
    // (Per-process limits would have admitted 3 × 40.)
    // Each admitted request saw its own remaining count: 39 down to 0, once each.
    const remaining = admitted.map((answer) => Number(/r=(\d+)/.exec(answer.ratelimit!)![1])).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('all processes agree on the remaining count', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) seen.push((await get(gateways[i % GATEWAYS]!, '/counted')).ratelimit!.replace(/;t=\d+/, ''));
    expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => `"counted";r=${9 - i}`), '"counted";r=0', '"counted";r=0']);
  });

  it('Redis killed: every process answers 503 ratelimit.unavailable within the store timeout; restarted on the same port: every process recovers', async () => {
    const port = server.port;
    await server.kill();
    for (const gateway of gateways) {
      const started = performance.now();
      const response = await fetch(`${gateway.url}/counted`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ code: 'ratelimit.unavailable' });
      // Bounded by the store timeout, not by a hang; the slack is for a busy machine's scheduling.
      expect(performance.now() - started).toBeLessThan(STORE_TIMEOUT_MS + 2_000);
    }

    server = await startRedisServer({ port });
    // A restarted Redis is empty (no persistence here): every process admits again, unrestarted.
    const pids = gateways.map(({ child }) => child.pid);
    for (const gateway of gateways) {
      const until = Date.now() + 10_000;
      let answer = await get(gateway, '/counted');
      while (answer.status !== 200 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        answer = await get(gateway, '/counted');
      }
      expect(answer.status).toBe(200);
    }
    expect(gateways.map(({ child }) => child.pid)).toEqual(pids);
    expect(gateways.every(({ child }) => child.exitCode === null)).toBe(true);
    // And they share the restarted Redis's counts: three taken of ten, whoever asks next.
    expect((await get(gateways[0]!, '/counted')).ratelimit).toMatch(/^"counted";r=6;/);
  }, 30_000);
});
