/**
 * Test infrastructure: deliberately broken deployments of the demo, for the probe to catch.
 *
 * - `startOpenGateway`: the demo origin behind a "gateway" with no policy at all — the setup the
 *   probe exists to catch: no authentication, a URL-parsing proxy (`..` resolved before routing, the
 *   URL built from Host),
 *   an origin that honours X-HTTP-Method-Override, CORS that reflects any origin, X-Powered-By, and
 *   no security headers, no body checks, no rate limits.
 * - `startWeakenedDemo`: the real gateway (adapters/node.ts) with the demo policy minus three
 *   things — GET /v1/users/:id admits every authenticated user (the owner rule is gone), the `user`
 *   JWT method believes any token it can decode, and every peer is a trusted proxy — so each
 *   weakness should show up as its own findings and nothing else.
 * @module
 */

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve as serveOrigin } from '@hono/node-server';
import { decodeJwt, importJWK, type JWK } from 'jose';
import { serve } from '../../adapters/node.ts';
import { definePolicy, forwardTo, hashApiKey, type Allow, type AuthnMethod } from '../../src/index.ts';
import { identitySigner, IDENTITY_HEADER } from '../../src/identity.ts';
import { DEMO_EXAMPLE_WEBHOOK_SECRET, demoConfig, demoPolicy } from '../../policies/demo.ts';
import { createDemoOrigin } from '../../policies/demo-origin.ts';

export interface WeakGateway {
  url: string;
  close(): Promise<void>;
}

const IDENTITY_KEY = 'probe-test-gateway-identity-key-0123456789';

async function keysOf(privateJwk: JWK) {
  const { d: _d, ...publicFields } = privateJwk;
  const publicJwk: JWK = { ...publicFields, alg: 'ES256', use: 'sig' };
  const signingKey = (await importJWK({ ...privateJwk, alg: 'ES256' }, 'ES256')) as CryptoKey;
  return { signingKey, publicJwk };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The demo origin with no gateway worth the name in front of it. */
export async function startOpenGateway(privateJwk: JWK): Promise<WeakGateway> {
  const origin = createDemoOrigin({ ...(await keysOf(privateJwk)), identityKey: IDENTITY_KEY, audience: false });
  // It vouches for every request, whoever sent it.
  const sign = identitySigner({ key: IDENTITY_KEY });
  const anyone = { principal: { id: 'anonymous', method: 'anonymous', roles: [], scopes: [] }, client: { ip: '127.0.0.1' } };
  // A careless error handler: the stack goes to the caller.
  origin.onError((error) => new Response(String(error.stack), { status: 500, headers: { 'content-type': 'text/plain' } }));
  const server = createServer(async (req, res) => {
    const allowOrigin = req.headers.origin;
    const cors: Record<string, string> = allowOrigin ? { 'access-control-allow-origin': allowOrigin, 'access-control-allow-credentials': 'true' } : {};
    if (req.method === 'OPTIONS' && allowOrigin) {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, POST, PATCH, DELETE', 'x-powered-by': 'Express' }).end();
      return;
    }
    const body = await readBody(req);
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    // Express's method-override, in the origin's own framework.
    const method = (req.headers['x-http-method-override'] as string | undefined)?.toUpperCase() ?? req.method!;
    // A proxy that parses the URL resolves `..`, `%2e%2e` and `\\` before it forwards; it builds
    // that URL from Host, as runtimes do, so a Host carrying a path moves the path.
    let response: Response;
    try {
      const url = new URL(`http://${req.headers.host}${req.url!}`);
      headers.set(IDENTITY_HEADER, await sign({ ...anyone, requestId: crypto.randomUUID() } as unknown as Allow, method, url));
      response = await origin.fetch(new Request(url, { method, headers, body: method === 'GET' || method === 'HEAD' || !body.length ? undefined : new Uint8Array(body) }));
    } catch (error) {
      response = new Response(String((error as Error).stack), { status: 500, headers: { 'content-type': 'text/plain' } });
    }
    res.writeHead(response.status, { ...Object.fromEntries(response.headers), ...cors, 'x-powered-by': 'Express' });
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A `jwt`-kind method that decodes tokens without verifying them. */
function believeAnyToken(meta: Readonly<Record<string, unknown>>): AuthnMethod {
  return {
    kind: 'jwt',
    challenge: 'Bearer realm="api"',
    meta,
    async authenticate(request) {
      const header = request.headers.get('authorization');
      if (!header?.startsWith('Bearer ')) return { kind: 'absent' };
      try {
        const claims = decodeJwt(header.slice(7));
        const roles = Array.isArray(claims.roles) ? (claims.roles as string[]) : [];
        return { kind: 'success', principal: { id: String(claims.sub), roles, scopes: [], claims } };
      } catch {
        return { kind: 'failure', reason: 'authn.malformed_token' };
      }
    },
  };
}

/** The real gateway, the demo policy with the owner rule, JWT verification and proxy trust broken. */
export async function startWeakenedDemo(privateJwk: JWK, apiKey: string): Promise<WeakGateway> {
  const keys = await keysOf(privateJwk);
  const origin = createDemoOrigin({ ...keys, identityKey: IDENTITY_KEY, audience: false });
  const originServer = await new Promise<ReturnType<typeof serveOrigin>>((resolve) => {
    const server = serveOrigin({ fetch: origin.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(server));
  });
  const base = demoPolicy(demoConfig({}), { publicJwk: keys.publicJwk, apiKeyHash: await hashApiKey(apiKey), webhookSecret: DEMO_EXAMPLE_WEBHOOK_SECRET });
  const policy = definePolicy({
    ...base,
    clientIp: { trustedProxies: ['0.0.0.0/0', '::/0'] },
    authn: { ...base.authn, user: believeAnyToken(base.authn!.user!.meta!) },
    // Without an owner rule there is no owner to read a field either: the response rule goes too.
    routes: { ...base.routes, 'GET /v1/users/:id': { ...base.routes['GET /v1/users/:id'], allow: 'authenticated', response: undefined } },
  });
  const gateway = await serve(
    policy,
    forwardTo(`http://127.0.0.1:${(originServer.address() as AddressInfo).port}`, { identity: { key: IDENTITY_KEY } }),
    { port: 0, handleSignals: false, env: { log: () => {} } },
  );
  return {
    url: gateway.url,
    async close() {
      await gateway.close();
      await new Promise((resolve) => originServer.close(resolve));
    },
  };
}
