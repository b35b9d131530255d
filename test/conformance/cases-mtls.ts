/**
 * Conformance cases of client certificates: what every runtime must refuse the same way. The
 * policy takes certificates from Envoy's `X-Forwarded-Client-Cert` and trusts no proxy, so a
 * certificate header is always a forgery here (on Workers the peer is Cloudflare's edge, which
 * passes client headers through: the same). A proxy the policy trusts is tested over real sockets
 * in test/node/mtls.test.ts; this policy must trust none, or its spoofing cases would not hold.
 * @module
 */

import { base64url, importJWK, SignJWT, type JWK } from 'jose';
import type { Case } from './cases.ts';
import keys from './keys.json' with { type: 'json' };
import { AUDIENCE, ISSUER, PARTNER_URI } from './policy.ts';

const now = Math.floor(Date.now() / 1000);
/** Any certificate's digest: the header names it, nobody presents it. */
const DIGEST = 'a1'.repeat(32);
const THUMBPRINT = base64url.encode(new Uint8Array(32).fill(0xa1));

/** Alice's token, bound to the certificate whose digest is DIGEST (RFC 8705 `cnf`). */
const bound = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, sub: 'u_alice', roles: ['user'], cnf: { 'x5t#S256': THUMBPRINT } })
  .setProtectedHeader({ alg: 'ES256', kid: keys.es256.private.kid, typ: 'JWT' })
  .sign(await importJWK(keys.es256.private as JWK, 'ES256'));

const refused = (code: string) => ({
  status: 401,
  headers: { 'content-type': 'application/problem+json', 'www-authenticate': /./ },
  json: { type: `https://portcullis.dev/problems/${code}`, code, status: 401 },
});
const xfcc = `Hash=${DIGEST};URI=${PARTNER_URI}`;

export const mtlsCases: Case[] = [
  {
    name: 'mTLS: a route for client certificates asks for one',
    request: { method: 'GET', target: '/v1/partner' },
    expect: { ...refused('authn.required'), headers: { 'www-authenticate': 'ClientCertificate realm="api"' } },
  },
  {
    name: 'mTLS: an X-Forwarded-Client-Cert naming a known client, from a peer that is not a trusted proxy, is refused',
    request: { method: 'GET', target: '/v1/partner', headers: { 'x-forwarded-client-cert': xfcc } },
    expect: refused('authn.certificate_untrusted_source'),
  },
  {
    name: 'mTLS: a certificate-bound token without its certificate is refused',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: { authorization: `Bearer ${bound}` } },
    expect: refused('authn.bound_certificate_missing'),
  },
  {
    name: 'mTLS: a certificate-bound token with a forged certificate header is refused',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: { authorization: `Bearer ${bound}`, 'x-forwarded-client-cert': xfcc } },
    expect: refused('authn.certificate_untrusted_source'),
  },
];
