// A strict TypeScript consumer (NodeNext, no skipLibCheck): the core and the Hono middleware, typed.
import { Hono } from 'hono';
import { createEngine, definePolicy, jwt, type Decision } from 'portcullis';
import { portcullis, type PortcullisEnv } from 'portcullis/hono';
import { fieldKeyring, type FieldKeyring } from 'portcullis/crypto';

export const policy = definePolicy({
  authn: { user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', issuer: 'https://id.example.com', audience: 'api', algorithms: ['ES256'] }) },
  routes: {
    'GET /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }] },
  },
});

export const engine = createEngine(policy);
export const evaluate = (request: Request): Promise<Decision> => engine.evaluate(request, { peer: { address: '127.0.0.1' } });

export const app = new Hono<PortcullisEnv<typeof policy>>()
  .use(portcullis(policy))
  .get('/v1/users/:id', (c) => {
    const principal: string = c.var.principal.id;
    return c.json({ principal, route: c.var.decision.route });
  });

export const keyring: FieldKeyring = fieldKeyring({ keys: { k1: new Uint8Array(32) }, current: 'k1' });
export const sealed: Promise<string> = keyring.seal('alice@example.com', { record: 'u_1', column: 'users.email' });
