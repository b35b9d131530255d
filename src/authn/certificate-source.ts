/**
 * Where a request's client certificate comes from (`policy.clientCertificate`): the TLS connection
 * the runtime terminated, or a header that a trusted proxy which terminated TLS sets — Envoy's
 * `X-Forwarded-Client-Cert`, or nginx's `$ssl_client_escaped_cert`. A header counts only when the
 * connection comes from one of `clientIp.trustedProxies`: from anyone else it is a forgery.
 * @module
 */

import { certificateFromDer, certificateFromFields, CertificateProblem, derFromPem, presentedCertificate, type ClientCertificate, type PresentedCertificate } from './certificate.ts';
import { parseXfcc } from './xfcc.ts';

/** `policy.clientCertificate`. */
export interface ClientCertificateOptions {
  /**
   * - `tls`: the connection's own TLS (the Node adapter serving HTTPS with `requestCert`, or
   *   Cloudflare's `request.cf.tlsClientAuth`); only a certificate the TLS layer verified counts.
   * - `xfcc`: Envoy's `X-Forwarded-Client-Cert` (`Hash=`, `Cert=`, `Subject=`, `URI=`, `DNS=`),
   *   exactly one element (`forward_client_cert_details: SANITIZE_SET`).
   * - `escaped-pem`: a URL-encoded PEM certificate, as nginx's `$ssl_client_escaped_cert`, with
   *   nginx's `$ssl_client_verify` in `verifyHeader`, which must say `SUCCESS`.
   *
   * Header sources are believed only from `clientIp.trustedProxies` (never on Workers, where the
   * peer is Cloudflare's edge, which passes client headers through); the proxy must verify the
   * certificate and overwrite the header on every request.
   * @default 'tls'
   */
  from?: 'tls' | 'xfcc' | 'escaped-pem';
  /** The header the proxy sets. @default 'x-forwarded-client-cert' (xfcc), 'x-ssl-client-cert' (escaped-pem) */
  header?: string;
  /** `escaped-pem` only: the header with nginx's `$ssl_client_verify`. @default 'x-ssl-client-verify' */
  verifyHeader?: string;
}

/** What a request carries. */
export type CertificateLookup =
  /** No client certificate. */
  | { kind: 'absent' }
  /** A verified certificate. */
  | { kind: 'present'; certificate: ClientCertificate }
  /** A certificate that must not count (unverified, unreadable, from an untrusted peer): the reason code. */
  | { kind: 'refused'; reason: string };

/** What the engine knows about the connection. */
export interface CertificateConnection {
  /** The certificate the runtime's TLS layer saw. */
  certificate?: PresentedCertificate | undefined;
  /** The connection comes from one of `clientIp.trustedProxies`. */
  trustedPeer: boolean;
}

/** Looks up a request's client certificate. */
export type CertificateSource = (headers: Headers, connection: CertificateConnection) => Promise<CertificateLookup>;

/** Longest certificate header read; a 4096-bit RSA certificate URL-encoded is about 3 KB. */
const MAX_HEADER_CHARS = 16_384;
const ABSENT: CertificateLookup = Object.freeze({ kind: 'absent' });

/**
 * Compiles `policy.clientCertificate` (checked by `definePolicy`) into a lookup.
 * @example
 * ```ts
 * const source = compileCertificateSource({ from: 'xfcc' });
 * const found = await source(request.headers, { trustedPeer: true });
 * ```
 */
export function compileCertificateSource(options: ClientCertificateOptions = {}): CertificateSource {
  const from = options.from ?? 'tls';
  if (from === 'tls') return fromConnection;
  const header = (options.header ?? (from === 'xfcc' ? 'x-forwarded-client-cert' : 'x-ssl-client-cert')).toLowerCase();
  const verifyHeader = (options.verifyHeader ?? 'x-ssl-client-verify').toLowerCase();
  const read = from === 'xfcc' ? fromXfcc : (value: string, headers: Headers) => fromEscapedPem(value, headers.get(verifyHeader));
  return async function fromHeader(headers, connection) {
    const value = headers.get(header);
    if (value === null || value === '') return ABSENT;
    // Anyone can send the header; only a proxy we trust terminated TLS and wrote it.
    if (!connection.trustedPeer) return refused('authn.certificate_untrusted_source');
    if (value.length > MAX_HEADER_CHARS) return refused('authn.certificate_malformed');
    return settle(read(value, headers));
  };
}

async function fromConnection(_headers: Headers, connection: CertificateConnection): Promise<CertificateLookup> {
  const presented = connection.certificate;
  if (!presented) return ABSENT;
  if (!presented.verified) return refused('authn.certificate_unverified');
  return settle(presentedCertificate(presented));
}

/** One XFCC element: the certificate itself (`Cert=`) when sent, else its digest and names. */
async function fromXfcc(value: string): Promise<ClientCertificate> {
  const elements = parseXfcc(value);
  // Several elements describe several hops; which one is the client depends on every proxy's setup.
  if (elements?.length !== 1) throw new CertificateProblem('authn.certificate_malformed', 'X-Forwarded-Client-Cert must hold exactly one element');
  const element = elements[0]!;
  const single = (key: string) => {
    const values = element.get(key);
    if (values && values.length > 1) throw new CertificateProblem('authn.certificate_malformed', `X-Forwarded-Client-Cert repeats ${key}`);
    return values?.[0];
  };
  const cert = single('cert');
  const hash = single('hash');
  if (cert !== undefined) {
    const certificate = await certificateFromDer(derFromPem(decode(cert)));
    if (hash !== undefined && hash.toLowerCase() !== certificate.sha256) throw new CertificateProblem('authn.certificate_malformed', 'Hash= is not the digest of Cert=');
    return certificate;
  }
  if (hash === undefined) throw new CertificateProblem('authn.certificate_malformed', 'X-Forwarded-Client-Cert has neither Hash= nor Cert=');
  return certificateFromFields({ sha256: hash, subject: single('subject'), uris: element.get('uri'), dnsNames: element.get('dns') });
}

/** nginx's `$ssl_client_escaped_cert`, counted only when `$ssl_client_verify` said SUCCESS. */
async function fromEscapedPem(value: string, verify: string | null): Promise<ClientCertificate> {
  if (verify !== 'SUCCESS') throw new CertificateProblem('authn.certificate_unverified', 'the proxy did not verify the certificate');
  return certificateFromDer(derFromPem(decode(value)));
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new CertificateProblem('authn.certificate_malformed', 'the certificate is not URL-encoded');
  }
}

async function settle(pending: Promise<ClientCertificate>): Promise<CertificateLookup> {
  try {
    return { kind: 'present', certificate: await pending };
  } catch (error) {
    if (error instanceof CertificateProblem) return refused(error.reason);
    throw error;
  }
}

const refused = (reason: string): CertificateLookup => ({ kind: 'refused', reason });
