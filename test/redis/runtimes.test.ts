/**
 * redisStore with node-redis on the real Bun and Deno binaries (the npm packages `bun` and `deno`)
 * against a real redis-server: node-redis's `node:net` sockets work there, and the store answers as
 * it does on Node. Deno needs network access to Redis and env access to REDIS_DEBUG_MAINTENANCE,
 * which node-redis reads when it connects.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeBinary } from '../conformance/runtime.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'test/redis/runtime-take.ts';

let server: RedisServer;
beforeAll(async () => (server = await startRedisServer()));
afterAll(async () => server?.stop());

const runtimes: [string, () => [string, string[]]][] = [
  ['bun', () => [runtimeBinary('bun'), [SCRIPT]]],
  [
    'deno',
    () => [runtimeBinary('deno'), ['run', '--no-prompt', '--allow-net=127.0.0.1', '--allow-env=REDIS_URL,RUNTIME,REDIS_DEBUG_MAINTENANCE', '--allow-read', SCRIPT]],
  ],
];

describe.each(runtimes)('redisStore on %s', (name, command) => {
  it('connects with node-redis, takes from a bucket, and sends the script again after SCRIPT FLUSH', async () => {
    const [file, args] = command();
    const { stdout } = await promisify(execFile)(file, args, {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: `${server.url}`, DENO_NO_UPDATE_CHECK: '1', RUNTIME: name },
      timeout: 60_000,
    });
    const reset = Date.UTC(2026, 0, 1) + 60_000;
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      takes: [
        { success: true, limit: 2, remaining: 1, reset },
        { success: true, limit: 2, remaining: 0, reset },
        { success: false, limit: 2, remaining: 0, reset },
      ],
      afterFlush: { success: true, limit: 2, remaining: 1, reset },
    });
  }, 90_000);
});
