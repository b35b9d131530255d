/**
 * How a stack process talks to the runner: it listens on a free port of 127.0.0.1, sends the
 * port over IPC, reports its CPU time when asked (`cpu`), and exits (writing its `--cpu-prof`
 * profile) when told to stop.
 * @module
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HOST } from '../scenario.ts';

/** Listens on a free port when the server is not listening yet, then reports the port. */
export async function announce(server: Server): Promise<void> {
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, () => resolve());
    });
  }
  const { port } = server.address() as AddressInfo;
  const stop = () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  };
  process.on('message', (message) => {
    if (message === 'stop') stop();
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', stop);
  process.send?.({ port });
}
