/**
 * A reference, not one of the five stacks (`BENCH_STACKS=…,bridge`): the Request/Response bridge
 * portcullis-node runs on (`@hono/node-server`'s listener), answering with the same body and the
 * same response headers, set the same way, but checking nothing. Its distance from `bare` is what
 * the bridge and the headers cost; its distance from portcullis-node is what the policy costs.
 * @module
 */

import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { userBody } from '../scenario.ts';
import { allowedHeaders } from './allowed-headers.ts';
import { announce } from './listen.ts';

const headers = await allowedHeaders();
const json = { 'content-type': 'application/json' };
const listener = getRequestListener((_request, { outgoing }) => {
  for (const [name, value] of headers) outgoing.setHeader(name, value);
  outgoing.setHeader('x-request-id', crypto.randomUUID());
  return new Response(JSON.stringify(userBody('42')), { headers: json });
});

await announce(createServer(listener));
