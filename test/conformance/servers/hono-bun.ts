// The conformance Hono app (hono.ts) on Bun: `getConnInfo` from hono/bun reads `server.requestIP`.
import { getConnInfo } from 'hono/bun';
import { createApp } from './hono.ts';

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: createApp(getConnInfo).fetch });
console.error(`listening on ${server.url.origin}`);
