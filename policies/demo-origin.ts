/**
 * The demo origin: a small Hono API that trusts its gateway and nobody else. It knows nothing of
 * policies; authentication, authorization and limits happen in front of it. What proves a request
 * came through the gateway is the gateway's identity assertion: signed, valid for a minute, for
 * this one method and target, accepted once — a captured one opens nothing else.
 * @module
 */

import { scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { Hono, type Context } from 'hono';
import { SignJWT, type JWK } from 'jose';
import { identityVerifier, memoryReplayCache, type Identity, type IdentityKey } from '../src/index.ts';
import { openDemoDatabase, type DemoDatabase, type DemoUser } from './demo-db.ts';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

export const DEMO_ISSUER = 'https://demo.portcullis.dev';
export const DEMO_AUDIENCE = 'portcullis-demo';

/** Checks a password against its stored scrypt hash. */
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
  /** The users table. @default a fresh in-memory database (`openDemoDatabase()`) */
  database?: DemoDatabase | Promise<DemoDatabase>;
}

/** What the origin's handlers know: the gateway's verified word on who is calling. */
type OriginEnv = { Variables: { identity: Identity } };

/** Builds the origin app. */
export function createDemoOrigin(options: DemoOriginOptions): Hono<OriginEnv> {
  const database = Promise.resolve(options.database ?? openDemoDatabase());
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
    const db = await database;
    const user = await db.findByUsername(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) {
      return c.json({ type: 'https://portcullis.dev/problems/authn.bad_credentials', title: 'Unauthorized', status: 401 }, 401, {
        'content-type': 'application/problem+json',
      });
    }
    // The address the gateway resolved and signed into its assertion, not a header anyone could send.
    await db.recordLogin(user.id, c.var.identity.client_ip);
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

  // The origin sends every field, lastLoginIp included: the gateway's response rule decides who reads it.
  const show = (user: DemoUser) => ({ id: user.id, name: user.name, email: user.email, lastLoginIp: user.lastLoginIp });
  const notFound = (c: Context) => c.json({ title: 'Not found', status: 404 }, 404);

  for (const prefix of ['/v1', '/v0']) {
    app.get(`${prefix}/users/:id`, async (c) => {
      const user = await (await database).findById(c.req.param('id'));
      return user ? c.json(show(user)) : notFound(c);
    });
  }

  app.patch('/v1/users/:id', async (c) => {
    // The gateway validated the body against the route schema; the origin applies it.
    const patch = (await c.req.json()) as { name?: string; email?: string };
    const user = await (await database).update(c.req.param('id'), patch);
    return user ? c.json(show(user)) : notFound(c);
  });

  app.delete('/v1/users/:id', async (c) => ((await (await database).remove(c.req.param('id'))) ? c.body(null, 204) : notFound(c)));

  // The gateway verified the webhook's signature and refused a replayed id; the body is as signed.
  app.post('/v1/webhooks/payments', async (c) => {
    await c.req.json();
    return c.body(null, 204);
  });
  app.get('/v1/reports', async (c) =>
    c.json({ generatedAt: new Date(now()).toISOString(), users: await (await database).count(), reports: [{ id: 'r_weekly', title: 'Weekly sign-ins', count: 42 }] }),
  );

  return app;
}
