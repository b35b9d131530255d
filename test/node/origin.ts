/**
 * An origin for gateway tests: a `node:http` server on 127.0.0.1 that counts its connections and
 * closes (with them) when the test's cleanup runs.
 */
import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts the origin; `cleanup` collects what stops it. */
export async function listenOrigin(listener: RequestListener, cleanup: (() => Promise<unknown>)[]): Promise<{ url: string; connections: () => number }> {
  const origin = createServer(listener);
  let connections = 0;
  origin.on('connection', () => connections++);
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  cleanup.push(() => new Promise((resolve) => origin.close(resolve)), async () => origin.closeAllConnections());
  const { port } = origin.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, connections: () => connections };
}
