/**
 * Stack 2: Hono with its own middleware — `hono/secure-headers`, `hono/cors`, `hono/jwt`,
 * `hono-rate-limiter` and `@hono/valibot-validator` — on `@hono/node-server`.
 *
 * The verification key is imported once (a CryptoKey), the best case for `hono/jwt`: given a JWK
 * or a PEM it would import the key again on every request.
 * @module
 */

import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { jwt, type JwtVariables } from 'hono/jwt';
import { secureHeaders } from 'hono/secure-headers';
import { rateLimiter } from 'hono-rate-limiter';
import * as v from 'valibot';
import { AUDIENCE, ISSUER, keyFromEnv, ORIGIN, ownerOrAdmin, RATE_LIMIT, userBody, type Claims } from '../scenario.ts';
import { announce } from './listen.ts';

const key = keyFromEnv();
const secret =
  key.alg === 'ES256'
    ? await crypto.subtle.importKey('jwk', key.publicJwk!, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])
    : await crypto.subtle.importKey('raw', new TextEncoder().encode(key.secret!), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);

const app = new Hono<{ Variables: JwtVariables<Claims> }>();
app.use(secureHeaders());
app.use(cors({ origin: ORIGIN, credentials: true, maxAge: 86400 }));
app.use('/users/*', jwt({ secret, alg: key.alg, verification: { iss: ISSUER, aud: AUDIENCE } }));
app.use(
  '/users/*',
  rateLimiter<{ Variables: JwtVariables<Claims> }>({
    windowMs: RATE_LIMIT.windowMs,
    limit: RATE_LIMIT.limit,
    standardHeaders: 'draft-7',
    keyGenerator: (c) => `user:${c.get('jwtPayload').sub}`,
  }),
);
app.get('/users/:id', vValidator('query', v.strictObject({ fields: v.optional(v.string()) })), (c) => {
  const id = c.req.param('id');
  if (!ownerOrAdmin(c.get('jwtPayload'), id)) return c.json({ error: 'forbidden' }, 403);
  return c.json(userBody(id));
});

await announce(createAdaptorServer({ fetch: app.fetch }) as Server);
