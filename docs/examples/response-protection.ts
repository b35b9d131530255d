/**
 * Response protection: the origin sends whole user records; the gateway decides which fields each
 * caller reads, and refuses answers it cannot check.
 */
import * as v from 'valibot';
import { definePolicy, jwt } from 'portcullis';

export const policy = definePolicy({
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  roleHierarchy: { admin: ['user'] },
  routes: {
    'GET /v1/users/:id': {
      authn: ['user'],
      allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }],
      response: {
        // Unlisted fields (id, name) are for every caller the route admits.
        fields: { email: ['owner', 'admin'], lastLoginIp: ['admin'], 'devices[].pushToken': ['admin'] },
        // An allowlist of what the origin may send: a key it does not declare never leaves the gateway.
        schema: v.object({
          id: v.string(),
          name: v.string(),
          email: v.string(),
          lastLoginIp: v.nullable(v.string()),
          devices: v.array(v.object({ model: v.string(), pushToken: v.string() })),
        }),
      },
    },
    'GET /v1/audit/:id': {
      authn: ['user'],
      allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }],
      // Strict: a field the caller may not read refuses the whole answer (502) and logs which field.
      response: { fields: { lastLoginIp: ['admin'] }, mode: 'strict', maxBytes: 64 * 1024 },
    },
  },
});

/**
 * An application that answers every field of the record, whoever asks. Behind the policy —
 * `serve(policy, origin)`, or `forwardTo(url)` in front of a remote origin — each caller reads what
 * the response rule grants.
 */
export const origin = (request: Request) =>
  Response.json({
    id: new URL(request.url).pathname.split('/').pop(),
    name: 'Alice',
    email: 'alice@example.com',
    lastLoginIp: '203.0.113.9',
    devices: [{ model: 'Pixel 9', pushToken: 'fcm:abc' }],
    passwordHash: 'scrypt$…',
  });
