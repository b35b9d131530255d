// The conformance Hono app (hono.ts) on Node: `@hono/node-server`, with `getConnInfo` from its conninfo module.
import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createEngine, denialResponse } from 'portcullis';
import { createApp } from './hono.ts';
import { policy } from '../policy.ts';

// One engine for the app and for the requests node-server cannot turn into a Request (a backslash in
// the path, a bad Host): they never reach Hono, and get the policy's 400 and headers all the same.
const engine = createEngine(policy);
const listener = getRequestListener(createApp(getConnInfo, engine).fetch, { errorHandler: () => denialResponse(engine.reject()) });
const server = createServer(listener).listen(0, '127.0.0.1', () => {
  console.error(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
