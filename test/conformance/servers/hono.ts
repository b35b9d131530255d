// The conformance Hono app, for any runtime's getConnInfo. hono-bun.ts serves it with Bun;
// the suite also drives it in-process with `app.request()`.
import { Hono } from 'hono';
import type { GetConnInfo } from 'hono/conninfo';
import { problemResponse, type Engine } from 'portcullis';
import { portcullis, type PortcullisEnv } from 'portcullis/hono';
import { echo, policy } from '../policy.ts';

type Env = PortcullisEnv<typeof policy>;

export function createApp(getConnInfo?: GetConnInfo, guard: typeof policy | Engine = policy) {
  // A sub-app: the policy's routes are full paths, whatever prefix Hono mounts it under.
  const users = new Hono<Env>()
    .get('/:id', (c) => echo(c.req.raw, { principal: c.var.principal.id, params: c.req.param() }))
    .patch('/:id', (c) => echo(c.req.raw, { principal: c.var.principal.id, params: c.req.param() }))
    .delete('/:id', (c) => echo(c.req.raw, { principal: c.var.principal.id, params: c.req.param() }));

  return new Hono<Env>()
    .use(portcullis(guard, { getConnInfo }))
    .route('/v1/users', users)
    .all('*', (c) => echo(c.req.raw, { principal: c.var.principal.id, params: c.var.decision.params }))
    // Errors become a problem+json 500 that says nothing; the middleware still adds the policy's headers.
    .onError((_error, c) => problemResponse('internal.error', c.var.decision?.requestId ?? ''));
}
