/**
 * The conformance suite on workerd: test/conformance/servers/worker.ts (adapters/cloudflare.ts with
 * the conformance policy) on Miniflare with wrangler.toml's compatibility date, flags and vars, in
 * front of an origin on 127.0.0.1 that runs the suite's `echo` and trusts only the gateway.
 *
 * Requests go to workerd's own HTTP socket, not `mf.dispatchFetch`: the target reaches workerd's
 * HTTP parser as written (dispatchFetch would build a URL in Node first), so the Worker sees what
 * workerd makes of `..`, `\` and `%2f`. The runner is the edge: it sets CF-Connecting-IP (127.0.0.1,
 * the address the other runtimes see on their sockets) and the Worker sees the https URL a client
 * reached the edge with.
 * @module
 */

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { identityVerifier } from '../../src/index.ts';
import { normalizePath, parsePattern, RouteTable, type ParsedPattern } from '../../src/router.ts';
import { startWorkerd } from '../cloudflare/workerd.ts';
import { echo, policy } from './policy.ts';
import type { Runtime } from './runtime.ts';

/** The secret the gateway signs identity assertions with (a Worker secret in production). */
const IDENTITY_KEY = 'conformance-identity-key-0123456789abcdef';

export const workerd: Runtime = {
  name: 'workerd',
  async start() {
    const origin = await startEchoOrigin();
    const worker = await startWorkerd({
      entry: 'test/conformance/servers/worker.ts',
      bindings: { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY },
    });
    return {
      send: (request) => worker.send(request, '127.0.0.1'),
      async stop() {
        await worker.stop();
        await origin.close();
      },
    };
  },
};

/**
 * The origin: `echo` behind its own router (the policy's routes, as the application declares
 * them), taking the principal from the gateway's identity assertion and refusing requests without
 * a valid one (403). An error in `echo` is answered the way a careless server answers it — the
 * message in a text/plain 500 — so the suite sees the gateway keep it from the caller.
 */
async function startEchoOrigin() {
  const routes = new RouteTable(
    Object.keys(policy.routes).map((pattern) => ({ pattern, parsed: parsePattern(pattern) as ParsedPattern, route: pattern })),
    { headFromGet: false },
  );
  let url = '';
  let verify: ReturnType<typeof identityVerifier> | undefined;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const request = new Request(`${url}${req.url}`, { method: req.method, headers: headerList(req), body: body.length ? new Uint8Array(body) : undefined });
    const identity = await verify!(request);
    const path = normalizePath(new URL(request.url).pathname, 2048);
    const match = path.ok ? routes.match(request.method, path.segments) : undefined;
    if (!identity.ok || match?.kind !== 'found') {
      res.writeHead(identity.ok ? 404 : 403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: identity.ok ? 'no route' : identity.reason }));
      return;
    }
    try {
      const response = await echo(request, { principal: identity.identity.sub, params: match.params });
      res.writeHead(response.status, [...response.headers]).end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String((error as Error).stack));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  verify = identityVerifier({ key: IDENTITY_KEY, audience: url });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
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

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
