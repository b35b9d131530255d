/**
 * DPoP (RFC 9449): on GET routes whose jwt method takes DPoP-bound tokens, a token bound to the
 * probe's own key (signed with --signing-key) must work only with a fresh proof for the request's
 * method and URL. Sent as a bearer token, without a proof, with a proof for another method or URL,
 * or with a proof used before, it must be a 401.
 * @module
 */

import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { CHECKS } from '../checks.ts';
import { inconclusive, type ProbeContext } from '../context.ts';
import { NoAnswer, Unsendable, type ProbeRequest, type ProbeResponse } from '../http.ts';
import { PROBE_ID, type ProbeRoute } from '../model.ts';
import { refusedByAuthn } from './authn.ts';

/** Routes whose proofs are tried: a few, and only GET, so an honest proof never changes anything. */
const MAX_ROUTES = 3;

/** The probe's DPoP key and its proofs. */
interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function proofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** base64url(SHA-256(token)), the proof's `ath`. */
async function tokenHash(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))));
}

function proof(key: ProofKey, htm: string, htu: string, token: string, nonce: string | undefined, iat: number): Promise<string> {
  return tokenHash(token).then((ath) =>
    new SignJWT({ htm, htu, ath, jti: crypto.randomUUID(), iat, ...(nonce && { nonce }) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(key.privateKey),
  );
}

const dpopOf = (route: ProbeRoute) =>
  route.methods.find(({ method }) => method.kind === 'jwt' && typeof method.meta?.dpop === 'object' && method.meta.dpop !== null);

export async function probeDpop(ctx: ProbeContext) {
  const routes = ctx.model.routes.filter((route) => !route.anonymous && route.method === 'GET' && dpopOf(route)).slice(0, MAX_ROUTES);
  if (!routes.length) {
    ctx.note('dpop: no GET route takes DPoP-bound tokens');
    return;
  }
  if (!ctx.signer) {
    ctx.note('dpop: skipped: a token bound to the probe\'s key needs --signing-key');
    return;
  }
  const key = await proofKey();
  const first = (value: unknown) => (Array.isArray(value) ? value[0] : value) as string | undefined;
  for (const route of routes) {
    const { method } = dpopOf(route)!;
    const meta = method.meta ?? {};
    const now = ctx.now();
    const token = await ctx.signer.sign({ iss: first(meta.issuer), aud: first(meta.audience), sub: `${PROBE_ID}-dpop`, iat: now, exp: now + 600, cnf: { jkt: key.jkt } });
    const target = ctx.model.pathOf(route, ctx.probeParams(route));
    const url = ctx.session.urlOf({ method: 'GET', target }).split('?')[0]!;
    const bound = (headers: Record<string, string> = {}) => ({ method: 'GET', target, headers: { authorization: `DPoP ${token}`, ...headers } });
    // A deployment with server nonces names one on its first refusal; every later proof carries it.
    let nonce: string | undefined;
    const honest = async () => proof(key, 'GET', url, token, nonce, ctx.now());

    const opening = await sendQuietly(ctx, bound({ dpop: await honest() }));
    if (!opening) continue;
    nonce = opening.headers.get('dpop-nonce') ?? undefined;

    await ctx.attempt(CHECKS.dpopAsBearer, route.pattern, { method: 'GET', target, headers: { authorization: `Bearer ${token}` } }, '401', (response) =>
      refusedByAuthn(response, 'a DPoP-bound token sent as a bearer token'),
    );
    await ctx.attempt(CHECKS.dpopNoProof, route.pattern, bound(), '401', (response) => refusedByAuthn(response, 'a DPoP-bound token without its proof'));
    await ctx.attempt(CHECKS.dpopWrongRequest, route.pattern, bound({ dpop: await proof(key, 'POST', url, token, nonce, ctx.now()) }), '401', (response) =>
      refusedByAuthn(response, 'a proof made for POST'),
    );
    const elsewhere = `${ctx.session.origin}${ctx.session.prefix}/portcullis-probe/elsewhere`;
    await ctx.attempt(CHECKS.dpopWrongRequest, route.pattern, bound({ dpop: await proof(key, 'GET', elsewhere, token, nonce, ctx.now()) }), '401', (response) =>
      refusedByAuthn(response, 'a proof made for another URL'),
    );

    // A replay: a proof the deployment accepted once, sent again.
    const used = bound({ dpop: await honest() });
    const accepted = await sendQuietly(ctx, used);
    if (!accepted) continue;
    if (accepted.status === 401) {
      ctx.settle(CHECKS.dpopReplay, route.pattern, used, '401', inconclusive(`an honest proof was refused (${accepted.status}): is the probe's --signing-key the issuer's?`));
      continue;
    }
    await ctx.attempt(CHECKS.dpopReplay, route.pattern, used, '401', (response) => refusedByAuthn(response, 'a DPoP proof used before (same jti)'));
  }
}

/** A request that sets up a check rather than being one: no answer skips the route (a note says so). */
async function sendQuietly(ctx: ProbeContext, request: ProbeRequest): Promise<ProbeResponse | undefined> {
  try {
    return (await ctx.session.send(request)).response;
  } catch (error) {
    if (!(error instanceof NoAnswer) && !(error instanceof Unsendable)) throw error;
    ctx.note(`dpop: ${request.target} skipped: ${error.message}`);
    return undefined;
  }
}
