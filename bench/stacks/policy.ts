/**
 * The scenario as a portcullis policy: what stacks 2 and 3 say in middleware, in one object.
 * @module
 */

import * as v from 'valibot';
import { definePolicy, jwt } from '../../src/index.ts';
import { AUDIENCE, ISSUER, ORIGIN, RATE_LIMIT, type StackKey } from '../scenario.ts';

export function benchPolicy(key: StackKey) {
  const user =
    key.alg === 'ES256'
      ? jwt({ jwks: { keys: [key.publicJwk!] }, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE })
      : jwt({ secret: key.secret!, algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
  return definePolicy({
    // HTTPS is required, but the bench talks plain HTTP to 127.0.0.1 directly (as the demo does).
    transport: { requireHttps: true, allowLoopbackHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true } },
    cors: { origins: [ORIGIN], credentials: true, maxAge: 86400 },
    authn: { user },
    rateLimits: { api: { limit: RATE_LIMIT.limit, window: RATE_LIMIT.window, by: 'principal' } },
    routes: {
      'GET /users/:id': {
        authn: ['user'],
        allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }],
        rateLimit: ['api'],
        query: v.strictObject({ fields: v.optional(v.string()) }),
      },
    },
  });
}
