import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { createEngine, denialResponse, problemResponse } from 'portcullis';
import { portcullis, routeInput, type PortcullisEnv } from 'portcullis/hono';
import policy from './policy.ts';

const engine = createEngine(policy);

// Mount the middleware first. Handlers run only for requests the policy allows.
const app = new Hono<PortcullisEnv<typeof policy>>()
  .use(portcullis<typeof policy>(engine, { getConnInfo }))
  .get('/v1/health', (c) => c.json({ status: 'ok' }))
  .get('/v1/users/:id', (c) => c.json({ id: c.req.param('id'), caller: c.var.principal.id }))
  .patch('/v1/users/:id', (c) => {
    const { body } = routeInput(c, 'PATCH /v1/users/:id'); // the schema's output: { name?: string; email?: string }
    return c.json({ id: c.req.param('id'), ...body });
  })
  .delete('/v1/users/:id', (c) => c.body(null, 204))
  // Errors become a problem+json 500 that says nothing; the middleware still adds the policy's headers.
  .onError((_error, c) => problemResponse('internal.error', c.var.decision?.requestId ?? ''));

// Requests node-server cannot turn into a Request (a backslash in the path, a bad Host) never reach
// Hono: they get the policy's 400 and headers all the same.
const listener = getRequestListener(app.fetch, { errorHandler: () => denialResponse(engine.reject()) });
const server = createServer(listener).listen(Number(process.env.PORT ?? 8787), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
