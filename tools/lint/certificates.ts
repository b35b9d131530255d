/**
 * The lint rule for client certificates (`mtls()`, certificate-bound tokens, `policy.clientCertificate`):
 * a certificate source that can never deliver what the policy matches, where the policy runs.
 * @module
 */

import type { Policy } from '../../src/policy/types.ts';
import type { Hit, LintRule, LintTarget } from './rules.ts';

const HEADER_SOURCES = new Set(['xfcc', 'escaped-pem']);

const mtlsMethods = (policy: Policy) => Object.entries(policy.authn ?? {}).filter(([, method]) => method?.kind === 'mtls');

/** Trusted-proxy entries that name an address (`cloudflare` names no peer). */
const proxyAddresses = (policy: Policy) => (policy.clientIp?.trustedProxies ?? []).filter((entry) => entry !== 'cloudflare');

/** Runtimes whose fetch handler is given no peer certificate. */
const NO_PEER_CERTIFICATE: Partial<Record<LintTarget, string>> = {
  bun: "Bun.serve gives a handler no peer certificate (and Bun's node:https none either)",
  deno: "Deno.serve gives a handler no peer certificate (portcullis/node's serve({ tls }) on Deno's node:https does)",
};

const PROXY_FIX =
  "Terminate TLS in a proxy that verifies the certificate and overwrites the header (Envoy: forward_client_cert_details SANITIZE_SET; nginx: proxy_set_header), and list its address in clientIp.trustedProxies.";

/** A certificate source that cannot work where the policy runs: every client certificate is refused or unseen. */
export const CERTIFICATE_SOURCE_RULE: LintRule = {
  id: 'mtls.certificate_unavailable',
  severity: 'error',
  owasp: 'API2',
  title: 'Client certificates cannot reach the policy as configured',
  description:
    'A certificate header (X-Forwarded-Client-Cert, an nginx escaped PEM) counts only from a peer in clientIp.trustedProxies, since anyone else can write it; from the connection, the runtime must hand the certificate over. Where neither can happen, mTLS never authenticates anyone and every certificate-bound token is refused.',
  fix: PROXY_FIX,
  check: ({ policy, target }) => {
    const from = policy.clientCertificate?.from ?? 'tls';
    const at = ['clientCertificate', 'from'];
    if (HEADER_SOURCES.has(from)) {
      if (target === 'workers') return [{ keys: at, message: `a "${from}" header on Workers comes from the client, through Cloudflare's edge: it is always refused`, fix: "Use Cloudflare's own mTLS (clientCertificate: { from: 'tls' } reads request.cf.tlsClientAuth)." }];
      if (proxyAddresses(policy).length) return [];
      return [{ keys: at, message: `certificates are read from a "${from}" header, but no proxy address is trusted to set it: every one is refused` }];
    }
    const methods = mtlsMethods(policy);
    const why = NO_PEER_CERTIFICATE[target];
    if (why) return methods.map(([name]): Hit => ({ keys: ['authn', name], message: `"${name}" reads the connection's certificate, but ${why}` }));
    if (target !== 'workers') return [];
    // Cloudflare hands over the certificate's fingerprint and subject, not its alternative names.
    return methods.flatMap(([name, method]) =>
      ((method.meta?.identities as readonly string[] | undefined) ?? [])
        .filter((identity) => /^(uri|dns|email):/.test(identity))
        .map((identity): Hit => ({
          keys: ['authn', name, 'clients', identity],
          message: `"${identity}" can never match on Workers: request.cf.tlsClientAuth names no subject alternative names`,
          fix: "Key the client by sha256: (the certificate's fingerprint) or subject:.",
        })),
    );
  },
};
