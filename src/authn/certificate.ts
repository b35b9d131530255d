/**
 * Client certificates: what an adapter hands in about the certificate of a TLS connection, and
 * the identity the authentication methods read out of it. X.509 is decoded by PeculiarVentures'
 * ASN.1 schemas (`@peculiar/asn1-x509`), never by hand.
 * @module
 */

import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, id_ce_subjectAltName, SubjectAlternativeName, type Name } from '@peculiar/asn1-x509';
import { base64url } from 'jose';
import { hexOf } from '../hex.ts';

/**
 * What the runtime knows about the client certificate of the connection a request arrived on:
 * the Node adapter reads it from the `TLSSocket`, the Workers adapter from `request.cf.tlsClientAuth`.
 */
export interface PresentedCertificate {
  /**
   * The TLS layer verified it against the CAs it trusts (Node: `socket.authorized`; Cloudflare:
   * `certVerified === 'SUCCESS'`). An unverified certificate never authenticates anyone.
   */
  verified: boolean;
  /** The certificate itself (DER), when the runtime hands it over (Node). */
  der?: Uint8Array | undefined;
  /** SHA-256 of the DER in hex, when the runtime gives only that (Cloudflare). */
  sha256?: string | undefined;
  /** The subject as an RFC 4514 string, when the runtime gives only that (Cloudflare). */
  subject?: string | undefined;
}

/** A verified client certificate, as the authentication methods see it. */
export interface ClientCertificate {
  /** SHA-256 of the DER, lowercase hex. */
  readonly sha256: string;
  /** The same digest, base64url: RFC 8705's `x5t#S256`, what a certificate-bound token names. */
  readonly x5tS256: string;
  /** The subject, RFC 4514 (most specific first: `CN=billing,O=Example,C=US`), when known. */
  readonly subject: string | undefined;
  /** Subject alternative names: URIs (SPIFFE ids), DNS names, email addresses. */
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  readonly emails: readonly string[];
}

/** A certificate the source could not read, or one that came from a peer with no say. */
export class CertificateProblem extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** The identity of a DER certificate. Throws a `CertificateProblem` when it does not decode. */
export async function certificateFromDer(der: Uint8Array): Promise<ClientCertificate> {
  let certificate: Certificate;
  try {
    certificate = AsnConvert.parse(der as BufferSource, Certificate);
  } catch {
    throw new CertificateProblem('authn.certificate_malformed', 'the certificate is not DER X.509');
  }
  const names = { uris: [] as string[], dnsNames: [] as string[], emails: [] as string[] };
  for (const extension of certificate.tbsCertificate.extensions ?? []) {
    if (extension.extnID !== id_ce_subjectAltName) continue;
    let san: SubjectAlternativeName;
    try {
      san = AsnConvert.parse(extension.extnValue, SubjectAlternativeName);
    } catch {
      throw new CertificateProblem('authn.certificate_malformed', 'the subject alternative names do not decode');
    }
    for (const name of san) {
      if (name.uniformResourceIdentifier !== undefined) names.uris.push(name.uniformResourceIdentifier);
      if (name.dNSName !== undefined) names.dnsNames.push(name.dNSName.toLowerCase());
      if (name.rfc822Name !== undefined) names.emails.push(name.rfc822Name);
    }
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der as BufferSource));
  return identity(hexOf(digest), formatName(certificate.tbsCertificate.subject), names);
}

/**
 * The identity of a certificate known only by its digest and the names a proxy or the runtime
 * read out of it (Cloudflare's `tlsClientAuth`, Envoy's `X-Forwarded-Client-Cert` without `Cert=`).
 */
export function certificateFromFields(fields: { sha256: string; subject?: string | undefined; uris?: readonly string[]; dnsNames?: readonly string[] }): ClientCertificate {
  const sha256 = fields.sha256.toLowerCase();
  if (!HEX_SHA256.test(sha256)) throw new CertificateProblem('authn.certificate_malformed', 'the certificate digest is not a SHA-256 in hex');
  return identity(sha256, fields.subject || undefined, {
    uris: [...(fields.uris ?? [])],
    dnsNames: (fields.dnsNames ?? []).map((name) => name.toLowerCase()),
    emails: [],
  });
}

/** The DER of a PEM `CERTIFICATE` block: exactly one, nothing else. */
export function derFromPem(pem: string): Uint8Array {
  const match = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----$/.exec(pem.trim());
  if (!match) throw new CertificateProblem('authn.certificate_malformed', 'not one PEM certificate');
  try {
    return Uint8Array.from(atob(match[1]!.replace(/\s+/g, '')), (char) => char.charCodeAt(0));
  } catch {
    throw new CertificateProblem('authn.certificate_malformed', 'the PEM body is not base64');
  }
}

/** The identity of a certificate the runtime presented. */
export function presentedCertificate(presented: PresentedCertificate): Promise<ClientCertificate> {
  if (presented.der) return certificateFromDer(presented.der);
  if (presented.sha256 !== undefined) return Promise.resolve(certificateFromFields({ sha256: presented.sha256, subject: presented.subject }));
  return Promise.reject(new CertificateProblem('authn.certificate_malformed', 'the runtime gave neither the certificate nor its digest'));
}

function identity(sha256: string, subject: string | undefined, names: { uris: string[]; dnsNames: string[]; emails: string[] }): ClientCertificate {
  const digest = Uint8Array.from(sha256.match(/../g)!, (byte) => parseInt(byte, 16));
  return Object.freeze({
    sha256,
    x5tS256: base64url.encode(digest),
    subject,
    uris: Object.freeze(names.uris),
    dnsNames: Object.freeze(names.dnsNames),
    emails: Object.freeze(names.emails),
  });
}

/** The short names RFC 4514 (and OpenSSL's `-nameopt RFC2253`) print; other types print as their OID. */
const ATTRIBUTE_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
]);

/**
 * An X.509 name as RFC 4514 writes it: the most specific RDN first, `,` between RDNs, `+` inside
 * a multi-valued one, and the special characters escaped — the form OpenSSL, Envoy and Cloudflare
 * (`certSubjectDNRFC2253`) print, so that a subject in a policy matches whichever source read it.
 */
function formatName(name: Name): string | undefined {
  const rdns = [...name].reverse().map((rdn) => [...rdn].map((attribute) => `${ATTRIBUTE_NAMES.get(attribute.type) ?? attribute.type}=${escapeValue(attribute.value.toString())}`).join('+'));
  return rdns.length ? rdns.join(',') : undefined;
}

function escapeValue(value: string): string {
  return value
    .replace(/[\\"+,;<>]/g, (char) => `\\${char}`)
    .replace(/\0/g, '\\00')
    .replace(/^[ #]/, (char) => `\\${char}`)
    .replace(/ $/, '\\ ');
}
