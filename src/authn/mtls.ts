/**
 * `mtls()`: clients authenticated by their TLS certificate, from the source `policy.clientCertificate`
 * names (the runtime's TLS, or a header a trusted proxy sets).
 * @module
 */

import { policyError, refuseUnknownOptions } from '../errors.ts';
import type { ClientCertificate } from './certificate.ts';
import type { AuthnContext, AuthnEnv, AuthnMethod, AuthnOutcome } from './contract.ts';

/** Who a certificate stands for. */
export interface MtlsClient {
  /** The principal id. */
  principal: string;
  roles?: readonly string[];
  scopes?: readonly string[];
  /** A label for logs and explain output, e.g. `billing-batch 2026`. */
  name?: string;
}

/** Options of `mtls()`. Give `clients` (static) or `resolve`, not both. */
export interface MtlsOptions {
  /**
   * Known certificates → the client each stands for. A key says what it matches:
   * - `sha256:<hex>`: the SHA-256 of the certificate's DER (`openssl x509 -noout -fingerprint
   *   -sha256`; colons and case do not matter) — pins one certificate;
   * - `uri:<uri>`, `dns:<name>`, `email:<address>`: a subject alternative name (a SPIFFE id is a URI);
   * - `subject:<dn>`: the whole subject, RFC 4514 (`CN=billing,O=Example,C=US`, as `openssl x509
   *   -noout -subject -nameopt RFC2253` prints it).
   * A certificate that matches no key is refused; one that matches keys of two principals too.
   */
  clients?: Readonly<Record<string, MtlsClient>>;
  /** A lookup instead: the verified certificate → its client, `undefined` when unknown. */
  resolve?: (certificate: ClientCertificate) => MtlsClient | undefined | Promise<MtlsClient | undefined>;
  /** `realm` in `WWW-Authenticate`. @default 'api' */
  realm?: string;
}

const MTLS_OPTIONS: ReadonlySet<string> = new Set(Object.keys({ clients: 0, resolve: 0, realm: 0 } satisfies Record<keyof MtlsOptions, 0>));

/** The kinds of `clients` keys, in the order they win when a certificate matches several of one principal. */
const KINDS = ['sha256', 'uri', 'dns', 'email', 'subject'] as const;
type Kind = (typeof KINDS)[number];

/**
 * Client certificate (mTLS) authentication. Only a certificate the TLS layer verified counts: on
 * Node serve HTTPS with `requestCert` and the client CA; behind a proxy, the proxy verifies.
 *
 * @example
 * ```ts
 * const partner = mtls({
 *   clients: {
 *     'uri:spiffe://example.org/ns/billing/sa/batch': { principal: 'svc_billing', roles: ['service'] },
 *     'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08': { principal: 'partner_acme', roles: ['partner'] },
 *   },
 * });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 */
export function mtls(options: MtlsOptions): AuthnMethod {
  refuseUnknownOptions('mtls()', options, MTLS_OPTIONS);
  if ((options.clients === undefined) === (options.resolve === undefined)) policyError('mtls().clients', 'give exactly one of clients or resolve');
  if (options.resolve !== undefined && typeof options.resolve !== 'function') policyError('mtls().resolve', 'must be a function (certificate) => client');
  const index = new Map<string, MtlsClient>();
  for (const [key, client] of Object.entries(options.clients ?? {})) {
    const at = `mtls().clients[${JSON.stringify(key)}]`;
    const normalized = normalizeKey(key);
    if (typeof normalized !== 'string') policyError(at, normalized.problem);
    if (typeof client !== 'object' || client === null || typeof client.principal !== 'string' || !client.principal) policyError(`${at}.principal`, 'is required');
    if (index.has(normalized)) policyError(at, `names the same certificate as another key (${normalized})`);
    index.set(normalized, client);
  }
  const resolve = options.resolve ?? ((certificate: ClientCertificate) => lookup(index, certificate));

  return {
    kind: 'mtls',
    challenge: `ClientCertificate realm="${options.realm ?? 'api'}"`,
    meta: Object.freeze({
      lookup: options.resolve ? 'resolve' : 'static',
      // Identifiers, not secrets: what lint, explain and the probe's forged headers name.
      identities: Object.freeze([...index.keys()]),
    }),
    async authenticate(_request: Request, _env: AuthnEnv, context?: AuthnContext): Promise<AuthnOutcome> {
      const found = context?.clientCertificate ? await context.clientCertificate() : undefined;
      if (found === undefined || found.kind === 'absent') return { kind: 'absent' };
      if (found.kind === 'refused') return { kind: 'failure', reason: found.reason };
      const { certificate } = found;
      let client: MtlsClient | undefined;
      try {
        client = await resolve(certificate);
      } catch (error) {
        if (error instanceof AmbiguousCertificate) return { kind: 'failure', reason: 'authn.certificate_ambiguous' };
        return { kind: 'failure', reason: 'authn.unavailable' };
      }
      if (!client) return { kind: 'failure', reason: 'authn.certificate_unknown' };
      return {
        kind: 'success',
        principal: {
          id: client.principal,
          roles: client.roles ?? [],
          scopes: client.scopes ?? [],
          // keyId lets `by: 'apiKey'` buckets count per certificate.
          claims: Object.freeze({ clientName: client.name, keyId: certificate.sha256.slice(0, 16), certificate }),
        },
      };
    },
  };
}

/** Two keys of different principals match one certificate: which is meant is not for us to guess. */
class AmbiguousCertificate extends Error {}

function lookup(index: ReadonlyMap<string, MtlsClient>, certificate: ClientCertificate): MtlsClient | undefined {
  const candidates: string[] = [
    `sha256:${certificate.sha256}`,
    ...certificate.uris.map((uri) => `uri:${uri}`),
    ...certificate.dnsNames.map((name) => `dns:${name}`),
    ...certificate.emails.map((email) => `email:${email}`),
    ...(certificate.subject === undefined ? [] : [`subject:${certificate.subject}`]),
  ];
  let found: MtlsClient | undefined;
  for (const candidate of candidates) {
    const client = index.get(candidate);
    if (!client) continue;
    if (found && found.principal !== client.principal) throw new AmbiguousCertificate();
    found ??= client;
  }
  return found;
}

/** A `clients` key in the form the lookup builds, or what is wrong with it. */
function normalizeKey(key: string): string | { problem: string } {
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon) as Kind;
  const value = key.slice(colon + 1);
  if (colon < 0 || !KINDS.includes(kind)) return { problem: 'must start with sha256:, uri:, dns:, email: or subject:' };
  if (!value) return { problem: `names no ${kind}` };
  if (kind === 'sha256') {
    const hex = value.replaceAll(':', '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) return { problem: 'sha256: must be followed by the 64 hex digits of the SHA-256 of the certificate (DER)' };
    return `sha256:${hex}`;
  }
  // DNS names are case-insensitive; the certificate's are lowercased as they are read.
  return kind === 'dns' ? `dns:${value.toLowerCase()}` : key;
}
