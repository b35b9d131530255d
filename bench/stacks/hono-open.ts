/**
 * A reference, not one of the five stacks (`BENCH_STACKS=…,hono-open`): the Hono app portcullis-hono
 * runs in (Hono's router and context on `@hono/node-server`), answering the same route with the same
 * body and response headers, but checking nothing. Its distance from the bridge is what Hono itself
 * costs; its distance from portcullis-hono is what the policy costs as Hono middleware.
 * @module
 */

import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { userBody } from '../scenario.ts';
import { allowedHeaders } from './allowed-headers.ts';
import { announce } from './listen.ts';

const headers = await allowedHeaders();
const app = new Hono();
app.get('/users/:id', (c) => {
  for (const [name, value] of headers) c.header(name, value);
  c.header('x-request-id', crypto.randomUUID());
  return c.json(userBody(c.req.param('id')));
});

await announce(createAdaptorServer({ fetch: app.fetch }) as Server);
