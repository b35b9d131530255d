/**
 * Client certificates: a certificate header (Envoy's X-Forwarded-Client-Cert, nginx's escaped PEM)
 * sent by the probe, which is no trusted proxy, naming a client the policy knows; and a token bound
 * to a certificate (RFC 8705 `cnf["x5t#S256"]`) sent without it. Each must be a 401.
 * @module
 */

import { base64url } from 'jose';
import { hexOf } from '../../../src/hex.ts';
import { CHECKS } from '../checks.ts';
import type { ProbeContext } from '../context.ts';
import type { ProbeRoute } from '../model.ts';
import { forgedClaims, refusedByAuthn } from './authn.ts';

const randomHex = () => hexOf(crypto.getRandomValues(new Uint8Array(32)));

/** An XFCC element naming `identity` (an `mtls()` clients key): what a proxy would write for that client. */
function xfccFor(identity: string): string {
  const colon = identity.indexOf(':');
  const [kind, value] = [identity.slice(0, colon), identity.slice(colon + 1)];
  if (kind === 'sha256') return `Hash=${value}`;
  const field = { uri: 'URI', dns: 'DNS', subject: 'Subject' }[kind];
  return field ? `Hash=${randomHex()};${field}="${value.replace(/["\\]/g, '\\$&')}"` : `Hash=${randomHex()}`;
}

/** The headers that forge a certificate for `identity`: the policy's own header names, and Envoy's and nginx's defaults. */
function forgedHeaders(ctx: ProbeContext, identity: string): Record<string, string> {
  const source = ctx.model.policy.clientCertificate;
  const headers: Record<string, string> = {
    'x-forwarded-client-cert': xfccFor(identity),
    'x-ssl-client-cert': encodeURIComponent('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'),
    'x-ssl-client-verify': 'SUCCESS',
  };
  if (source?.header) headers[source.header.toLowerCase()] = source.from === 'escaped-pem' ? headers['x-ssl-client-cert']! : headers['x-forwarded-client-cert']!;
  if (source?.verifyHeader) headers[source.verifyHeader.toLowerCase()] = 'SUCCESS';
  return headers;
}

const target = (ctx: ProbeContext, route: ProbeRoute) => ctx.model.pathOf(route, ctx.probeParams(route));

export async function probeCertificates(ctx: ProbeContext) {
  const mtlsRoutes = ctx.model.guarded.filter((route) => route.methods.some(({ method }) => method.kind === 'mtls'));
  if (ctx.options.trustedProxy) {
    if (mtlsRoutes.length) ctx.note('certificates: the probe runs on a trusted proxy, whose certificate headers the deployment believes by design: forged headers not sent');
  } else {
    for (const route of mtlsRoutes) {
      const { method } = route.methods.find(({ method }) => method.kind === 'mtls')!;
      const identity = ((method.meta?.identities as string[] | undefined) ?? [])[0] ?? `sha256:${randomHex()}`;
      await ctx.attempt(CHECKS.forgedCertificateHeader, route.pattern, { method: route.method, target: target(ctx, route), headers: forgedHeaders(ctx, identity) }, '401', (response) =>
        refusedByAuthn(response, `a certificate header naming ${identity}, from a peer that is no trusted proxy,`),
      );
    }
  }

  const jwtRoutes = ctx.model.guarded.filter((route) => route.methods.some(({ method }) => method.kind === 'jwt'));
  if (!jwtRoutes.length) return;
  if (!ctx.signer) {
    ctx.note('certificates: no bound token was made (give --signing-key): a certificate-bound token without its certificate was not tried');
    return;
  }
  // One route per jwt method: the binding is the method's, not the route's.
  const seen = new Set<string>();
  for (const route of jwtRoutes) {
    const { name, method } = route.methods.find(({ method }) => method.kind === 'jwt')!;
    if (seen.has(name)) continue;
    seen.add(name);
    const digest = randomHex();
    const claims = { ...forgedClaims(ctx, route, method.meta ?? {}), cnf: { 'x5t#S256': base64url.encode(Uint8Array.from(digest.match(/../g)!, (byte) => parseInt(byte, 16))) } };
    const token = await ctx.signer.sign(claims);
    const authorization = `Bearer ${token}`;
    await ctx.attempt(CHECKS.boundTokenWithoutCertificate, route.pattern, { method: route.method, target: target(ctx, route), headers: { authorization } }, '401', (response) =>
      refusedByAuthn(response, 'a certificate-bound token without its certificate'),
    );
    if (ctx.options.trustedProxy) continue;
    await ctx.attempt(
      CHECKS.boundTokenWithoutCertificate,
      route.pattern,
      { method: route.method, target: target(ctx, route), headers: { authorization, ...forgedHeaders(ctx, `sha256:${digest}`) } },
      '401',
      (response) => refusedByAuthn(response, 'a certificate-bound token with a forged certificate header'),
    );
  }
}
