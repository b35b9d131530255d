/**
 * Conformance cases of HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530): a caller
 * signs the method, the URL and the body's digest with its key, and the gateway checks them against
 * the request as it received it before the origin sees the body. The signatures are made here by
 * the `http-message-signatures` package, the digests by node:crypto, on the real clock the servers
 * check them with. Each carries its own `nonce`, so no two cases sign the same thing.
 *
 * A signature over `@target-uri` or `@authority` names the URL the gateway sees, which is not the
 * same on every runtime (views.ts): each case carries a request signed for each.
 * @module
 */

import { constants, createHash, createPrivateKey, sign, type JsonWebKey } from 'node:crypto';
import { createSigner, httpbis, type SigningKey } from 'http-message-signatures';
import type { Case } from './cases.ts';
import { withTwinSignature } from '../fixtures/ecdsa-twin.ts';
import signingKeys from './http-signature-keys.json' with { type: 'json' };
import type { RawRequest } from './runtime.ts';
import { perView } from './views.ts';

const now = Math.floor(Date.now() / 1000);
const problem = (code: string) => ({ type: `https://portcullis.dev/problems/${code}`, code, status: 401 });
const CHALLENGE = /^Signature realm="api"/;
const TRANSFERS = '/v1/signed/transfers';
const TRANSFER = JSON.stringify({ to: 'DE02120300000000202051', amount: 4200 });

const privateKey = (jwk: JsonWebKey) => createPrivateKey({ key: jwk, format: 'jwk' });
const SIGNERS: Record<string, SigningKey> = {
  'partner-ed25519': createSigner(privateKey(signingKeys.ed25519), 'ed25519', 'partner-ed25519'),
  'partner-p256': createSigner(privateKey(signingKeys.p256), 'ecdsa-p256-sha256', 'partner-p256'),
  'partner-hmac': createSigner(Buffer.from(signingKeys.hmac.k, 'base64url'), 'hmac-sha256', 'partner-hmac'),
  // The package's own rsa-pss-sha512 signer leaves OpenSSL's maximum salt length; RFC 9421 §3.3.1
  // fixes it at 64 bytes. node:crypto signs, the package still builds the base and the headers.
  'partner-rsa': { id: 'partner-rsa', alg: 'rsa-pss-sha512', sign: async (data) => sign('sha512', data, { key: privateKey(signingKeys.rsa), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }) },
  // Not a key the gateway knows.
  'partner-unknown': createSigner(privateKey(signingKeys.p256), 'ecdsa-p256-sha256', 'partner-unknown'),
};

const contentDigest = (body: string) => `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
const md5Digest = (body: string) => `md5=:${createHash('md5').update(body).digest('base64')}:`;

interface Signing {
  /** A name unique to the case: the signature's nonce. */
  nonce: string;
  keyid?: string;
  /** What the request is; the signature is over `signedAs` where that differs. */
  method?: string;
  path?: string;
  body?: string;
  signedAs?: { method?: string; path?: string; body?: string; scheme?: string };
  fields?: string[];
  /** The `Content-Digest` signed. @default the sha-256 digest of the signed body */
  digest?: string;
  created?: number;
  expires?: number;
  /** Headers sent beside the signature's, or instead of them where they have the same name. */
  headers?: Record<string, string>;
}

/** A request signed for the view's origin by the http-message-signatures package. */
function signedRequest(options: Signing) {
  return async (origin: string): Promise<RawRequest> => {
    const { nonce, keyid = 'partner-ed25519', method = 'POST', path = TRANSFERS, body, signedAs = {} } = options;
    const signedBody = signedAs.body ?? body;
    const url = new URL(signedAs.path ?? path, origin);
    if (signedAs.scheme) url.protocol = signedAs.scheme;
    const headers: Record<string, string> = signedBody === undefined ? {} : { 'content-type': 'application/json', 'content-digest': options.digest ?? contentDigest(signedBody) };
    const fields = options.fields ?? ['@method', '@target-uri', ...(signedBody === undefined ? [] : ['content-digest', 'content-type'])];
    const params = ['keyid', 'alg', 'created', 'nonce', ...(options.expires === undefined ? [] : ['expires'])] as const;
    const created = new Date((options.created ?? now) * 1000);
    const message = await httpbis.signMessage(
      { key: SIGNERS[keyid]!, fields, params: [...params], paramValues: { keyid, nonce, created, ...(options.expires !== undefined && { expires: new Date(options.expires * 1000) }) } },
      { method: signedAs.method ?? method, url: url.href, headers },
    );
    // The package names its headers `Signature` and `Signature-Input`; a case's own replace them by name.
    const signedHeaders = Object.fromEntries(Object.entries(message.headers).map(([name, value]) => [name.toLowerCase(), String(value)]));
    return { method, target: path, headers: { ...signedHeaders, ...options.headers }, ...(body !== undefined && { body }) };
  };
}

const signed = (options: Signing) => perView(signedRequest(options));

/** The request with its ECDSA signature replaced by the twin, which anyone can compute without the key. */
function twinRequest(request: RawRequest): RawRequest {
  const headers = request.headers as Record<string, string>;
  return { ...request, headers: { ...headers, signature: withTwinSignature(headers.signature!) } };
}

/** The same requests with their signatures swapped for the twins. */
function twinOf({ request, requestByRuntime }: Pick<Case, 'request' | 'requestByRuntime'>): Pick<Case, 'request' | 'requestByRuntime'> {
  return {
    request: twinRequest(request),
    requestByRuntime: Object.fromEntries(Object.entries(requestByRuntime ?? {}).map(([runtime, request]) => [runtime, twinRequest(request)])),
  };
}

/** Sent twice each: the second time it is a replay. */
const honest = await signed({ nonce: 'honest', body: TRANSFER });
const byEcdsa = await signed({ nonce: 'ecdsa', keyid: 'partner-p256', method: 'GET' });

export const httpSignatureCases: Case[] = [
  {
    name: 'RFC 9421: an ed25519 signature over the method, the URL and the body`s digest; the origin gets the body as signed',
    ...honest,
    expect: { status: 200, json: { principal: 'partner', body: JSON.parse(TRANSFER) } },
  },
  {
    name: 'RFC 9421: the same signed request again is a replay',
    ...honest,
    expect: { status: 401, headers: { 'www-authenticate': CHALLENGE }, json: problem('authn.signature_replayed') },
  },
  {
    name: 'RFC 9421: an hmac-sha256 signature with the shared secret',
    ...(await signed({ nonce: 'hmac', keyid: 'partner-hmac', body: TRANSFER })),
    expect: { status: 200, json: { principal: 'partner', body: JSON.parse(TRANSFER) } },
  },
  {
    name: 'RFC 9421: an rsa-pss-sha512 signature (salt of 64 bytes)',
    ...(await signed({ nonce: 'rsa', keyid: 'partner-rsa', body: TRANSFER })),
    expect: { status: 200, json: { principal: 'partner', body: JSON.parse(TRANSFER) } },
  },
  {
    name: 'RFC 9421: an ecdsa-p256-sha256 signature on a GET, which has no body to digest',
    ...byEcdsa,
    expect: { status: 200, json: { principal: 'partner', body: null } },
  },
  {
    // An ECDSA signature has a twin anyone can compute; a replay cache keyed by the signature's
    // bytes would take the twin for a new request.
    name: 'RFC 9421: the same request again with the twin (r, n − s) of its ECDSA signature is a replay',
    ...twinOf(byEcdsa),
    expect: { status: 401, json: problem('authn.signature_replayed') },
  },
  {
    name: 'RFC 9421: a body changed after signing does not match the signed Content-Digest',
    ...(await signed({ nonce: 'changed-body', body: TRANSFER.replace('4200', '420000'), signedAs: { body: TRANSFER } })),
    expect: { status: 401, headers: { 'www-authenticate': CHALLENGE }, json: problem('authn.digest_mismatch') },
  },
  {
    name: 'RFC 9421: a body changed after signing, with a Content-Digest recomputed for it',
    ...(await signed({ nonce: 'changed-digest', body: TRANSFER.replace('4200', '420000'), signedAs: { body: TRANSFER }, headers: { 'content-digest': contentDigest(TRANSFER.replace('4200', '420000')) } })),
    expect: { status: 401, json: problem('authn.bad_signature') },
  },
  {
    // The signature covers one member of Content-Digest, of an algorithm the gateway does not
    // check; the member it checks is made for another body.
    name: 'RFC 9421: a body swapped beside a signed Content-Digest member the gateway does not check',
    ...(await signed({
      nonce: 'digest-member',
      body: TRANSFER.replace('4200', '420000'),
      signedAs: { body: TRANSFER },
      fields: ['@method', '@target-uri', '"content-digest";key="md5"'],
      digest: `${contentDigest(TRANSFER)}, ${md5Digest(TRANSFER)}`,
      headers: { 'content-digest': `${contentDigest(TRANSFER.replace('4200', '420000'))}, ${md5Digest(TRANSFER)}` },
    })),
    expect: { status: 401, json: problem('authn.signature_coverage') },
  },
  {
    name: 'RFC 9421: a signature made for another method',
    ...(await signed({ nonce: 'other-method', body: TRANSFER, signedAs: { method: 'PUT' } })),
    expect: { status: 401, json: problem('authn.bad_signature') },
  },
  {
    name: 'RFC 9421: a signature made for another URL',
    ...(await signed({ nonce: 'other-url', body: TRANSFER, signedAs: { path: '/v1/signed/transfers?dry_run=true' } })),
    expect: { status: 401, json: problem('authn.bad_signature') },
  },
  {
    name: 'RFC 9421: a signature created two hours ago',
    ...(await signed({ nonce: 'old', body: TRANSFER, created: now - 7200 })),
    expect: { status: 401, json: problem('authn.signature_stale') },
  },
  {
    name: 'RFC 9421: a signature past its expires',
    ...(await signed({ nonce: 'expired', body: TRANSFER, created: now - 10, expires: now - 5 })),
    expect: { status: 401, json: problem('authn.signature_stale') },
  },
  {
    name: 'RFC 9421: a signature that does not cover the target the policy requires',
    ...(await signed({ nonce: 'no-target', body: TRANSFER, fields: ['@method', 'content-digest'] })),
    expect: { status: 401, json: problem('authn.signature_coverage') },
  },
  {
    name: 'RFC 9421: a signature that leaves the body out (no content-digest covered)',
    ...(await signed({ nonce: 'no-digest', body: TRANSFER, fields: ['@method', '@target-uri', 'content-type'] })),
    expect: { status: 401, json: problem('authn.signature_coverage') },
  },
  {
    name: 'RFC 9421: a signature by a keyid the gateway does not know',
    ...(await signed({ nonce: 'unknown-key', keyid: 'partner-unknown', body: TRANSFER })),
    expect: { status: 401, json: problem('authn.unknown_key') },
  },
  {
    name: 'RFC 9421: a Signature without its Signature-Input',
    ...(await perView(async (origin) => {
      const { 'signature-input': _, ...headers } = (await signedRequest({ nonce: 'no-input', body: TRANSFER })(origin)).headers as Record<string, string>;
      return { method: 'POST', target: TRANSFERS, headers, body: TRANSFER };
    })),
    expect: { status: 401, headers: { 'www-authenticate': CHALLENGE }, json: problem('authn.signature_malformed') },
  },
  {
    name: 'RFC 9421: unsigned',
    request: { method: 'POST', target: TRANSFERS, headers: { 'content-type': 'application/json' }, body: TRANSFER },
    expect: { status: 401, headers: { 'www-authenticate': 'Signature realm="api"' }, json: problem('authn.required') },
  },
  {
    // The table's client is no proxy the policy trusts: its X-Forwarded-Proto and Forwarded change
    // no scheme, so a signature over the other scheme is not over this request. On workerd the
    // scheme is the edge's https, and the forged headers claim http.
    name: 'RFC 9421: forwarding headers from an untrusted client do not change the scheme the signature must name',
    ...(await perView((origin) => {
      const other = origin.startsWith('https:') ? 'http' : 'https';
      return signedRequest({ nonce: 'forged-scheme', body: TRANSFER, signedAs: { scheme: other }, headers: { 'x-forwarded-proto': other, forwarded: `proto=${other}` } })(origin);
    })),
    expect: { status: 401, json: problem('authn.bad_signature') },
  },
  {
    name: 'RFC 9421 by @authority and @path: a request without a query',
    ...(await signed({ nonce: 'by-path', method: 'PUT', body: TRANSFER, fields: ['@method', '@authority', '@path', 'content-digest'] })),
    expect: { status: 200, json: { principal: 'partner', body: JSON.parse(TRANSFER) } },
  },
  {
    // `@path` leaves the query out: `?dry_run=true` could become `false` under the same signature.
    name: 'RFC 9421 by @authority and @path: a query the signature leaves out',
    ...(await signed({ nonce: 'by-path-query', method: 'PUT', path: `${TRANSFERS}?dry_run=true`, body: TRANSFER, fields: ['@method', '@authority', '@path', 'content-digest'] })),
    expect: { status: 401, json: problem('authn.signature_coverage') },
  },
  {
    name: 'RFC 9421 by @authority and @path: a query covered by @query',
    ...(await signed({ nonce: 'by-path-with-query', method: 'PUT', path: `${TRANSFERS}?dry_run=true`, body: TRANSFER, fields: ['@method', '@authority', '@path', '@query', 'content-digest'] })),
    expect: { status: 200, json: { principal: 'partner', target: `${TRANSFERS}?dry_run=true` } },
  },
];
