/**
 * The demo origin: a small Hono API that trusts its gateway and nobody else. It knows nothing of
 * policies; authentication, authorization and limits happen in front of it. What proves a request
 * came through the gateway is the gateway's identity assertion: signed, valid for a minute, for
 * this one method and target, accepted once — a captured one opens nothing else.
 * @module
 */

import { scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { Hono } from 'hono';
import { SignJWT, type JWK } from 'jose';
import { identityVerifier, memoryReplayCache, type Identity, type IdentityKey } from '../src/index.ts';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

export const DEMO_ISSUER = 'https://demo.portcullis.dev';
export const DEMO_AUDIENCE = 'portcullis-demo';

interface User {
  id: string;
  username: string;
  name: string;
  email: string;
  roles: string[];
  /** `scrypt$N$r$p$salt$hash`: the password itself is never stored. */
  passwordHash: string;
}

/** The demo users (passwords in the README and printed at start: alice / bob). */
export function demoUsers(): Map<string, User> {
  const users: User[] = [
    {
      id: 'u_alice',
      username: 'alice',
      name: 'Alice Liddell',
      email: 'alice@example.com',
      roles: ['user'],
      passwordHash: 'scrypt$32768$8$1$Fv80EVv3upTTk9bG6BE9Nw$WKdfOD3UayoQvpRLXJ7fVJiy2M6j8lK24uJMlRAOPKA',
    },
    {
      id: 'u_bob',
      username: 'bob',
      name: 'Bob Builder',
      email: 'bob@example.com',
      roles: ['admin'],
      passwordHash: 'scrypt$32768$8$1$dN3KkUt_bR83ybQ-anOL8Q$vIniYORfSjjBuVUqDu1yMEhwUz9k9YbreccETPXxjhk',
    },
  ];
  return new Map(users.map((user) => [user.id, user]));
}

/** Hashes a password the way `demoUsers` stores it. */
async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = stored.split('$');
  const expected = Buffer.from(hash!, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt!, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return timingSafeEqual(actual, expected);
}

/** An unknown username costs the same scrypt as a known one, so timing does not reveal usernames. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export interface DemoOriginOptions {
  /** The ES256 private key tokens are signed with. */
  signingKey: CryptoKey;
  /** Its public half, served as the JWKS (with `kid`, `alg`, `use`). */
  publicJwk: JWK;
  /**
   * The HMAC key the gateway signs identity assertions with (`forwardTo({ identity })`). A request
   * without a valid, unexpired, unused assertion for its own method and target is refused (403).
   */
  identityKey: IdentityKey;
  /** The origin's URL as the gateway addresses it: the assertion's audience (`false`: any). */
  audience: string | false;
  now?: () => number;
}

/** What the origin's handlers know: the gateway's verified word on who is calling. */
type OriginEnv = { Variables: { identity: Identity } };

/** Builds the origin app. */
export function createDemoOrigin(options: DemoOriginOptions): Hono<OriginEnv> {
  const users = demoUsers();
  const byUsername = new Map([...users.values()].map((user) => [user.username, user]));
  const now = options.now ?? Date.now;
  const verify = identityVerifier({ key: options.identityKey, audience: options.audience, now, replayCache: memoryReplayCache({ now }) });
  const app = new Hono<OriginEnv>();

  app.use(async (c, next) => {
    const verified = await verify(c.req.raw);
    if (!verified.ok) return c.json({ error: 'only the gateway may call this origin', code: verified.reason }, 403);
    c.set('identity', verified.identity);
    await next();
  });

  app.get('/v1/health', (c) => c.json({ status: 'ok' }));
  app.get('/.well-known/jwks.json', (c) => c.json({ keys: [options.publicJwk] }));

  app.post('/v1/auth/login', async (c) => {
    const body = await c.req.json().catch(() => null);
    const username = typeof body?.username === 'string' ? body.username : '';
    const password = typeof body?.password === 'string' ? body.password : '';
    const user = byUsername.get(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) {
      return c.json({ type: 'https://portcullis.dev/problems/authn.bad_credentials', title: 'Unauthorized', status: 401 }, 401, {
        'content-type': 'application/problem+json',
      });
    }
    const issuedAt = Math.floor(now() / 1000);
    // The gateway checked the login's DPoP proof (the policy's `dpop` method): its principal is the
    // key's thumbprint, to which the token is bound (RFC 9449 cnf.jkt).
    const identity = c.get('identity');
    const jkt = identity.authn === 'dpop' ? identity.sub : undefined;
    const token = await new SignJWT({ roles: user.roles, ...(jkt && { cnf: { jkt } }) })
      .setProtectedHeader({ alg: 'ES256', kid: options.publicJwk.kid!, typ: 'JWT' })
      .setIssuer(DEMO_ISSUER)
      .setAudience(DEMO_AUDIENCE)
      .setSubject(user.id)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 15 * 60)
      .sign(options.signingKey);
    return c.json(jkt ? { token, token_type: 'DPoP' } : { token });
  });

  const show = (user: User) => ({ id: user.id, name: user.name, email: user.email });
  const getUser = (c: { req: { param(name: 'id'): string } }) => users.get(c.req.param('id'));

  for (const prefix of ['/v1', '/v0']) {
    app.get(`${prefix}/users/:id`, (c) => {
      const user = getUser(c);
      return user ? c.json(show(user)) : c.json({ title: 'Not found', status: 404 }, 404);
    });
  }

  app.patch('/v1/users/:id', async (c) => {
    const user = getUser(c);
    if (!user) return c.json({ title: 'Not found', status: 404 }, 404);
    // The gateway validated the body against the route schema; the origin applies it.
    const patch = (await c.req.json()) as { name?: string; email?: string };
    if (patch.name !== undefined) user.name = patch.name;
    if (patch.email !== undefined) user.email = patch.email;
    return c.json(show(user));
  });

  app.delete('/v1/users/:id', (c) => {
    const existed = users.delete(c.req.param('id'));
    return existed ? c.body(null, 204) : c.json({ title: 'Not found', status: 404 }, 404);
  });

  // The gateway verified the webhook's signature and refused a replayed id; the body is as signed.
  app.post('/v1/webhooks/payments', async (c) => {
    await c.req.json();
    return c.body(null, 204);
  });
  app.get('/v1/reports', (c) =>
    c.json({ generatedAt: new Date(now()).toISOString(), users: users.size, reports: [{ id: 'r_weekly', title: 'Weekly sign-ins', count: 42 }] }),
  );

  return app;
}
