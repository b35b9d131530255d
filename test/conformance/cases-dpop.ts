/**
 * Conformance cases for DPoP (RFC 9449): a token bound to a key works only with a proof from that
 * key for the request's method and URL, once. The proofs come from panva's `dpop` client.
 *
 * A proof names the URL the gateway sees, which is not the same on every runtime (views.ts): each
 * case carries a request made for each.
 * @module
 */

import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { Case } from './cases.ts';
import keys from './keys.json' with { type: 'json' };
import { AUDIENCE, ISSUER } from './policy.ts';
import { perView as perViewOf } from './views.ts';

const TARGET = '/v1/bound/me';

const issuerKey = (await importJWK(keys.es256.private as JWK, 'ES256')) as CryptoKey;
const client = await generateKeyPair('ES256');
const thief = await generateKeyPair('ES256');
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'u_alice', roles: ['user'], iat: now, exp: now + 3600, cnf: { jkt: await calculateThumbprint(client.publicKey) } })
  .setProtectedHeader({ alg: 'ES256', kid: keys.es256.private.kid, typ: 'JWT' })
  .sign(issuerKey);

/** A GET of `target` per view: `headers` gets the view's origin. */
const perView = (target: string, headers: (origin: string) => Promise<Record<string, string>> | Record<string, string>) =>
  perViewOf(async (origin) => ({ method: 'GET', target, headers: await headers(origin) }));

const withProof = (keyPair: KeyPair, method: string, path: string) => (origin: string) =>
  generateProof(keyPair, `${origin}${path}`, method, undefined, token).then((proof) => ({ authorization: `DPoP ${token}`, dpop: proof }));

/** One honest request per view, sent twice: the second time it is a replay. */
const honest = await perView(TARGET, withProof(client, 'GET', TARGET));

const PROBLEM = { 'content-type': 'application/problem+json' };
const problem = (code: string) => ({ code, status: 401 });
const INVALID_PROOF = 'DPoP realm="api", algs="ES256", error="invalid_dpop_proof"';

export const dpopCases: Case[] = [
  {
    name: 'DPoP: a bound token with a fresh proof for its method and URL',
    ...honest,
    expect: { status: 200, json: { principal: 'u_alice' } },
  },
  {
    name: 'DPoP: the same proof again is a replay (jti seen)',
    ...honest,
    expect: { status: 401, headers: { ...PROBLEM, 'www-authenticate': INVALID_PROOF }, json: problem('authn.dpop_replayed') },
  },
  {
    name: 'DPoP: the bound token sent as a bearer token',
    ...(await perView(TARGET, () => ({ authorization: `Bearer ${token}` }))),
    expect: { status: 401, headers: { 'www-authenticate': 'DPoP realm="api", algs="ES256", error="invalid_token"' }, json: problem('authn.dpop_required') },
  },
  {
    name: 'DPoP: the bound token as a bearer token where only bearer tokens are known',
    ...(await perView('/v1/users/u_alice', () => ({ authorization: `Bearer ${token}` }))),
    expect: { status: 401, headers: { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' }, json: problem('authn.dpop_bound_as_bearer') },
  },
  {
    name: 'DPoP: a proof made for another URL',
    ...(await perView(TARGET, withProof(client, 'GET', '/v1/users/u_alice'))),
    expect: { status: 401, headers: { 'www-authenticate': INVALID_PROOF }, json: problem('authn.dpop_proof_wrong_url') },
  },
  {
    name: 'DPoP: a proof made for another method',
    ...(await perView(TARGET, withProof(client, 'DELETE', TARGET))),
    expect: { status: 401, headers: { 'www-authenticate': INVALID_PROOF }, json: problem('authn.dpop_proof_wrong_method') },
  },
  {
    // The table's client is no proxy the policy trusts: its forwarding headers change no scheme. On
    // workerd the scheme is the edge's https, and the forged headers claim http.
    name: 'DPoP: a proof for the other scheme, with forwarding headers from an untrusted client that claim it',
    ...(await perView(TARGET, async (origin) => {
      const other = origin.startsWith('https:') ? 'http' : 'https';
      return { ...(await withProof(client, 'GET', TARGET)(origin.replace(/^https?/, other))), 'x-forwarded-proto': other, forwarded: `proto=${other}` };
    })),
    expect: { status: 401, headers: { 'www-authenticate': INVALID_PROOF }, json: problem('authn.dpop_proof_wrong_url') },
  },
  {
    name: 'DPoP: a proof from a key the token is not bound to',
    ...(await perView(TARGET, withProof(thief, 'GET', TARGET))),
    expect: { status: 401, headers: { 'www-authenticate': INVALID_PROOF }, json: problem('authn.dpop_key_mismatch') },
  },
];
