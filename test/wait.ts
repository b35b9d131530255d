/**
 * Small waits the integration tests share: a free loopback port to hand a server before it
 * listens, and polling until something a process writes or serves shows up.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A port on 127.0.0.1 that was free a moment ago (for servers that must be told their port). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `check` every 100 ms until it returns a value; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing came within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Returns at once, or, when fewer than `needMs` are left before the next multiple of `windowMs`,
 * once that boundary has passed. A test that counts a rate limit out against the real clock must
 * run inside one window: across a boundary a sliding window counts the previous window by its
 * overlap, rounded down, and grants one request more than the limit (see docs/rate-limits.md); a
 * quota starts from zero at its period's end.
 */
export async function clearOfWindowEdge(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
