/**
 * Gateway stack `node-proxy`, the floor of a Node gateway: `node:http` in, a keep-alive
 * `http.request` to the origin out, bodies piped both ways, no checks at all.
 * @module
 */

import { Agent, createServer, request } from 'node:http';
import { announce } from '../listen.ts';
import { originFromEnv } from './origin.ts';

const origin = originFromEnv();
const agent = new Agent({ keepAlive: true });

const server = createServer((incoming, outgoing) => {
  const forwarded = request(
    { agent, host: origin.hostname, port: origin.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
    (answer) => {
      outgoing.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(outgoing);
    },
  );
  forwarded.on('error', () => outgoing.destroy());
  incoming.pipe(forwarded);
});

await announce(server);
