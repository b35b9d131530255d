import { definePolicy, jwt, type CheckContext } from 'portcullis';

/** Stands in for your database: `SELECT owner_id FROM documents WHERE id = $1`. */
const documents = new Map([
  ['doc_1', { ownerId: 'u_alice', sharedWith: ['u_carol'] }],
  ['doc_2', { ownerId: 'u_bob', sharedWith: [] }],
]);
async function findDocument(id: string) {
  return documents.get(id);
}

/** A custom check: true admits, false denies (authz.check_failed); a throw or a rejection denies too (authz.check_error). */
async function ownsOrSharedWith({ principal, params }: CheckContext): Promise<boolean> {
  const document = await findDocument(params.id!);
  return document !== undefined && (document.ownerId === principal.id || document.sharedWith.includes(principal.id));
}

export default definePolicy({
  transport: { allowLoopbackHttp: true },
  authn: {
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  routes: {
    // Alternatives: an admin, or the owner (or a reader) the database names.
    'GET /v1/documents/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { name: 'owner-or-shared', check: ownsOrSharedWith }] },
    // owner compares the path param with a claim of the token: `sub` unless `claim` names another.
    'GET /v1/tenants/:tenant/settings': { authn: ['user'], allow: [{ roles: ['tenant-admin'], owner: { param: 'tenant', claim: 'tenant_id' } }] },
  },
});
