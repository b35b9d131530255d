/**
 * Stack 5: portcullis as Hono middleware (`portcullis(policy, { getConnInfo })`) on `@hono/node-server`.
 * @module
 */

import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { portcullis, type PortcullisEnv } from '../../adapters/hono.ts';
import { keyFromEnv, userBody } from '../scenario.ts';
import { announce } from './listen.ts';
import { benchPolicy } from './policy.ts';

const policy = benchPolicy(keyFromEnv());
const app = new Hono<PortcullisEnv<typeof policy>>();
app.use(portcullis(policy, { getConnInfo }));
app.get('/users/:id', (c) => c.json(userBody(c.req.param('id'))));

await announce(createAdaptorServer({ fetch: app.fetch }) as Server);
