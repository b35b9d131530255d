/**
 * Test infrastructure: an origin on 127.0.0.1 that trusts only its gateway. It verifies the
 * identity assertion on every request (403 without a valid one, as a real origin should), records
 * what it received, and echoes it.
 * @module
 */

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { identityVerifier, type IdentityResult } from '../../src/index.ts';

export interface Received {
  method: string;
  /** The request target as received. */
  target: string;
  headers: Record<string, string>;
  body: string;
  identity: IdentityResult;
}

export interface RunningOrigin {
  /** `http://127.0.0.1:<port>`: the value of ORIGIN_URL. */
  url: string;
  received: Received[];
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  body?: unknown;
}

/**
 * Starts the origin. `respond` may answer a path differently (e.g. 401 for a failed login, or later); by
 * default a verified request gets 200 with `{ identity, headers }`.
 */
export async function startOrigin(key: string, respond: (received: Received) => Answer | undefined | Promise<Answer | undefined> = () => undefined): Promise<RunningOrigin> {
  const received: Received[] = [];
  let url = '';
  let verify: ((request: Request) => Promise<IdentityResult>) | undefined;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value ?? '']));
    const request = new Request(`${url}${req.url}`, { method: req.method, headers: headerList(req) });
    const record: Received = { method: req.method!, target: req.url!, headers, body, identity: await verify!(request) };
    received.push(record);
    const answer = (await respond(record)) ?? (record.identity.ok ? { status: 200, body: { identity: record.identity.identity, headers } } : { status: 403, body: { error: record.identity.reason } });
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body ?? null));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The audience is the origin as the gateway addresses it: its ORIGIN_URL.
  verify = identityVerifier({ key, audience: url });
  return {
    url,
    received,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function headerList(req: IncomingMessage): [string, string][] {
  const list: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) list.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return list;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
