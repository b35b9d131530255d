/**
 * DPoP end to end with implementations this project did not write: oidc-provider issues tokens
 * bound to a key (a JWT with `cnf.jkt`, and an opaque token its introspection answers with `cnf.jkt`
 * and `token_type: DPoP`) to a client whose proofs panva's `dpop` client makes; `jwt()` and
 * `oauth2Introspection()` with `dpop: 'required'` take them only with a fresh proof from that key.
 */
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, definePolicy, jwt, oauth2Introspection, type AuthnMethod, type Decision } from '../../src/index.ts';
import { GATEWAY, LEGACY_API, ORDERS_API, requestToken, SERVICE, startAuthorizationServer, type AuthorizationServer } from './server.ts';

const ORDERS_URL = 'https://api.test/orders';

let server: AuthorizationServer;
let client: KeyPair;

beforeAll(async () => {
  server = await startAuthorizationServer();
  client = await generateKeyPair('ES256');
});
afterAll(() => server?.stop());

/** A token for `resource` bound to `client`'s key: the token request carries a proof for the token endpoint. */
async function boundToken(resource: string, scope: string) {
  const { token_endpoint } = server.discovery;
  const issued = await requestToken(server.discovery, resource, scope, await generateProof(client, token_endpoint, 'POST'));
  expect(issued.token_type).toBe('DPoP');
  return issued.access_token;
}

/** `GET /orders` behind `method`. */
function guard(method: AuthnMethod) {
  const engine = createEngine(
    definePolicy({ transport: { requireHttps: false }, authn: { service: method }, routes: { 'GET /orders': { authn: ['service'], allow: 'authenticated' } } }),
    { log: () => {} },
  );
  return (headers: Record<string, string>) => engine.evaluate(new Request(ORDERS_URL, { headers }));
}

const withProof = async (token: string, keys: KeyPair = client, url = ORDERS_URL) => ({
  authorization: `DPoP ${token}`,
  dpop: await generateProof(keys, url, 'GET', undefined, token),
});

function expectDecision(decision: Decision, expected: string) {
  expect(decision.kind === 'allow' ? `allow ${decision.principal.id}` : decision.reason).toBe(expected);
}

describe.each([
  {
    name: 'a JWT access token (jwt())',
    resource: ORDERS_API,
    scope: 'orders:read',
    method: () => jwt({ jwksUrl: server.discovery.jwks_uri, algorithms: ['ES256'], issuer: server.discovery.issuer, audience: ORDERS_API, typ: 'at+jwt', dpop: 'required' }),
  },
  {
    name: 'an opaque token (oauth2Introspection())',
    resource: LEGACY_API,
    scope: 'legacy:read',
    method: () =>
      oauth2Introspection({
        endpoint: server.discovery.introspection_endpoint,
        clientId: GATEWAY.id,
        clientSecret: GATEWAY.secret,
        issuer: server.discovery.issuer,
        audience: LEGACY_API,
        dpop: 'required',
      }),
  },
])('$name bound by oidc-provider', ({ resource, scope, method }) => {
  it('is accepted with a fresh proof from its key, once per proof', async () => {
    const token = await boundToken(resource, scope);
    const request = guard(method());
    const headers = await withProof(token);
    expectDecision(await request(headers), `allow ${SERVICE.id}`);
    expectDecision(await request(headers), 'authn.dpop_replayed');
    expectDecision(await request(await withProof(token)), `allow ${SERVICE.id}`);
  });

  it('is refused as a bearer token, with another key, or for another URL', async () => {
    const token = await boundToken(resource, scope);
    const request = guard(method());
    expectDecision(await request({ authorization: `Bearer ${token}` }), 'authn.dpop_required');
    expectDecision(await request(await withProof(token, await generateKeyPair('ES256'))), 'authn.dpop_key_mismatch');
    expectDecision(await request(await withProof(token, client, 'https://api.test/invoices')), 'authn.dpop_proof_wrong_url');
  });
});

it("binds the JWT to the proof's key: cnf.jkt is its thumbprint", async () => {
  const token = await boundToken(ORDERS_API, 'orders:read');
  expect(decodeJwt(token).cnf).toEqual({ jkt: await calculateThumbprint(client.publicKey) });
});

it('refuses a bound opaque token where introspection has no dpop: the server says it is bound', async () => {
  const token = await boundToken(LEGACY_API, 'legacy:read');
  const plain = oauth2Introspection({ endpoint: server.discovery.introspection_endpoint, clientId: GATEWAY.id, clientSecret: GATEWAY.secret, audience: LEGACY_API });
  expectDecision(await guard(plain)({ authorization: `Bearer ${token}` }), 'authn.sender_constrained');
});
