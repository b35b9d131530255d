/**
 * What `portcullis probe` tries, one entry per check: the family it belongs to, what it proves, and
 * the OWASP API Security Top 10 (2023) item a failure maps to.
 * @module
 */

import type { OwaspKey } from '../lint/owasp.ts';

/** Attack families, in the order the probe runs them (rate limits last: they exhaust buckets). */
export const FAMILIES = ['authn', 'jwt', 'dpop', 'certificates', 'signatures', 'bola', 'methods', 'paths', 'hosts', 'cors', 'bodies', 'transport', 'ratelimit', 'headers'] as const;
export type ProbeFamily = (typeof FAMILIES)[number];

/** One check of the catalogue. */
export interface ProbeCheck {
  readonly id: string;
  readonly family: ProbeFamily;
  readonly title: string;
  readonly owasp: OwaspKey;
  /** What a failure means and how to fix it (SARIF help). */
  readonly help: string;
}

const check = (id: string, family: ProbeFamily, owasp: OwaspKey, title: string, help: string): ProbeCheck => ({ id, family, owasp, title, help });

/** Every check, by id. */
export const CHECKS = {
  missingCredentials: check('authn.missing_credentials', 'authn', 'API2', 'An authenticated route answers a request without credentials', 'The route must refuse an anonymous request with 401 and WWW-Authenticate. Check that the gateway guards every route the policy names and that its authn list does not include "anonymous".'),
  badApiKey: check('authn.bad_api_key', 'authn', 'API2', 'An authenticated route accepts an unknown API key', 'An API key that is not in the key map must be refused with 401.'),
  algNone: check('jwt.alg_none', 'jwt', 'API2', 'An unsigned token (alg "none") is accepted', 'Verify every token with the policy\'s keys and an explicit algorithm list; never accept alg "none".'),
  keyConfusion: check('jwt.key_confusion', 'jwt', 'API2', 'An HS256 token keyed with the public key is accepted', 'Pin the algorithms of each key: a public key must never be usable as an HMAC secret.'),
  foreignKey: check('jwt.foreign_key', 'jwt', 'API2', 'A token signed by a key the policy does not trust is accepted', 'Verify the signature against the policy\'s keys only.'),
  embeddedJwk: check('jwt.embedded_jwk', 'jwt', 'API2', 'A token that carries its own key (jwk header) is accepted', 'Refuse tokens whose header names the key (jwk, jku, x5u, x5c): the key must come from the policy.'),
  jku: check('jwt.jku', 'jwt', 'API2', 'A token that points at its own key set (jku header) is accepted', 'Refuse tokens whose header names the key (jwk, jku, x5u, x5c): the key must come from the policy.'),
  x5u: check('jwt.x5u', 'jwt', 'API2', 'A token that points at its own certificate (x5u header) is accepted', 'Refuse tokens whose header names the key (jwk, jku, x5u, x5c): the key must come from the policy.'),
  tampered: check('jwt.tampered', 'jwt', 'API2', 'A token whose payload was changed after signing is accepted', 'Verify the signature over the header and payload as received.'),
  expired: check('jwt.expired', 'jwt', 'API2', 'An expired token is accepted', 'Require exp and check it against the clock (with a small tolerance).'),
  notYetValid: check('jwt.not_yet_valid', 'jwt', 'API2', 'A token that is not valid yet (nbf in the future) is accepted', 'Check nbf.'),
  wrongAudience: check('jwt.wrong_audience', 'jwt', 'API2', 'A token for another audience is accepted', 'Set jwt({ audience }) and check aud.'),
  wrongIssuer: check('jwt.wrong_issuer', 'jwt', 'API2', 'A token from another issuer is accepted', 'Set jwt({ issuer }) and check iss.'),
  missingExp: check('jwt.missing_exp', 'jwt', 'API2', 'A token without exp is accepted', 'Require exp: a token that never expires cannot be revoked by time.'),
  dpopAsBearer: check('dpop.bound_as_bearer', 'dpop', 'API2', 'A DPoP-bound token is accepted as a bearer token', "A token bound to a key (cnf.jkt) is only good with a proof from that key: refuse it as Bearer (jwt({ dpop }) does; without dpop it is refused too)."),
  dpopNoProof: check('dpop.missing_proof', 'dpop', 'API2', 'A DPoP-bound token is accepted without its proof', 'Authorization: DPoP needs a DPoP proof header signed by the key the token is bound to.'),
  dpopWrongRequest: check('dpop.wrong_request', 'dpop', 'API2', 'A DPoP proof made for another method or URL is accepted', "Check the proof's htm against the request's method and its htu against the URL the client used (scheme, host, path)."),
  dpopReplay: check('dpop.replay', 'dpop', 'API2', 'A DPoP proof is accepted twice', "Remember each proof's jti while it is fresh, in a store every gateway shares, and refuse it the second time."),
  signatureForged: check('signature.forged', 'signatures', 'API2', 'A request signed with a key the deployment does not hold is accepted', 'Verify every signed request (webhook, HTTP Message Signature) against the policy\'s secrets or keys before anything else reads it.'),
  signatureStale: check('signature.stale', 'signatures', 'API2', 'A webhook signed long ago is accepted', 'Refuse a signature whose timestamp is outside the tolerance (5 minutes by default): a captured webhook must not stay good.'),
  signatureReplayed: check('signature.replayed', 'signatures', 'API2', 'The same signed webhook is accepted twice', 'Refuse a webhook-id (or signature) seen before (replay: "refuse", the default), in a store every gateway shares.'),
  forgedCertificateHeader: check('certificates.forged_header', 'certificates', 'API2', 'A client-certificate header from a peer that is no trusted proxy is believed', 'Believe X-Forwarded-Client-Cert (or an nginx certificate header) only from the proxies that terminate TLS (clientIp.trustedProxies), and have them overwrite it on every request.'),
  boundTokenWithoutCertificate: check('certificates.bound_token_without_certificate', 'certificates', 'API2', 'A certificate-bound token is accepted without its certificate', 'Check cnf["x5t#S256"] of every token against the request\'s verified client certificate (RFC 8705 §3); refuse the token without it.'),
  bola: check('authz.bola', 'bola', 'API1', "A user reads or changes another user's object", 'Add an owner rule ({ owner: { param } }) or a check to every route with an object id, next to the roles that may see every object.'),
  bolaCase: check('authz.bola_case', 'bola', 'API1', 'The ownership check ignores case', 'Compare object ids exactly: u_Alice is not u_alice.'),
  methodOverride: check('method.override', 'methods', 'API5', 'X-HTTP-Method-Override changes what a request does', 'Ignore and strip X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override: the gateway checked the request line\'s method.'),
  pathConfusion: check('path.confusion', 'paths', 'API5', 'A spelling of a protected path is answered without credentials', 'Refuse ambiguous paths (encoded slashes and dots, //, ;, \\, NUL) with 400 and route case-sensitively, so that gateway and origin read the same path.'),
  pathAmbiguous: check('path.ambiguous', 'paths', 'API8', 'An ambiguous spelling of a path is answered', 'Refuse ambiguous paths with 400: a spelling one server resolves and another does not is how path-confusion bypasses start.'),
  hostConfusion: check('host.confusion', 'hosts', 'API8', 'A Host that is not one plain host[:port] is answered', 'Refuse a Host with a path, query, fragment, userinfo or backslash (and a second Host) with 400 before the runtime builds a URL from it, and hand the handler the target the gateway checked.'),
  hostMisdirected: check('host.misdirected', 'hosts', 'API8', 'A request for a host the policy does not list is answered', 'Answer only the hosts the policy lists (hosts); refuse others with 421.'),
  corsLookalike: check('cors.lookalike_origin', 'cors', 'API8', 'A look-alike origin is allowed by CORS', 'Match origins exactly, byte for byte: no prefix, suffix or regex matching.'),
  corsNull: check('cors.null_origin', 'cors', 'API8', 'The origin "null" is allowed by CORS', 'Never allow "null": sandboxed frames and file: pages send it.'),
  corsAllowed: check('cors.allowed_origin', 'cors', 'API8', 'An allowed origin is not answered as the policy says', 'Echo an allowed origin exactly, with Vary: Origin (and Access-Control-Allow-Credentials when the policy allows credentials).'),
  bodyOversized: check('body.oversized', 'bodies', 'API4', 'A body over the route\'s size cap is accepted', 'Enforce maxBodyBytes while reading the body: 413.'),
  bodyMalformed: check('body.malformed', 'bodies', 'API8', 'Malformed JSON is not refused with 400', 'Parse the body at the gateway and refuse what does not parse.'),
  bodyContentType: check('body.content_type', 'bodies', 'API8', 'A body of a media type the route does not accept is not refused with 415', 'List the accepted media types (contentTypes) and refuse others.'),
  massAssignment: check('body.unknown_keys', 'bodies', 'API3', 'A body with fields the schema does not declare (mass assignment) is accepted', 'Refuse unknown keys (unknownKeys: "reject", the default) or restrict fields by role (fieldRoles).'),
  prototypePollution: check('body.prototype_pollution', 'bodies', 'API8', 'A body with __proto__ or constructor.prototype keys is accepted', 'Refuse prototype keys at any depth before the body reaches a merge.'),
  plainHttp: check('transport.plain_http', 'transport', 'API8', 'The API answers over plain HTTP', 'Redirect GET/HEAD to https (308) and refuse other methods (403); send HSTS.'),
  forwardedProto: check('transport.forwarded_proto', 'transport', 'API8', 'X-Forwarded-Proto is handled wrongly', 'Believe X-Forwarded-Proto only from trusted proxies, and refuse (or redirect) what a trusted proxy marks as plain HTTP.'),
  xffRotation: check('ratelimit.xff_rotation', 'ratelimit', 'API4', 'Rotating X-Forwarded-For escapes a rate limit', 'Believe forwarding headers only from trusted proxies, and take the right-most untrusted hop as the client.'),
  missingHeader: check('headers.missing', 'headers', 'API8', 'A response lacks a security header', 'Set the policy\'s security headers on every response, errors and redirects included.'),
  leakyHeader: check('headers.leaky', 'headers', 'API8', 'A response names the server software', 'Remove X-Powered-By and Server.'),
  stackTrace: check('response.stack_trace', 'headers', 'API8', 'A response body shows a stack trace', 'Answer errors with a problem document that says nothing internal; keep the detail in the log.'),
} as const satisfies Record<string, ProbeCheck>;

/** The catalogue as a list. */
export const ALL_CHECKS: readonly ProbeCheck[] = Object.values(CHECKS);
