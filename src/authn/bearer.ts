/**
 * Reading credentials out of a request, strictly: one spelling per credential.
 * @module
 */

/** What was found in a credential header. */
export type Extracted = { kind: 'absent' } | { kind: 'invalid' } | { kind: 'token'; token: string };

/** RFC 6750 b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The bearer token of `Authorization: Bearer <token>`. The scheme is case-insensitive (RFC 9110);
 * the token is taken exactly: two Authorization headers (joined by `, `), extra spaces or a
 * trailing space make the request invalid rather than picking one.
 */
export function bearerToken(headers: Headers): Extracted {
  const extracted = bearerCredential(headers);
  return extracted.kind !== 'token' || isB64Token(extracted.token) ? extracted : { kind: 'invalid' };
}

/**
 * `bearerToken()` before the token's syntax is checked: for a verifier that has seen this exact
 * token pass `isB64Token` before (a cache hit) and checks the others itself.
 */
export function bearerCredential(headers: Headers): Extracted {
  return schemeCredential(headers, 'bearer');
}

/** `bearerCredential()` for another scheme (lower case), such as `dpop` (RFC 9449). */
export function schemeCredential(headers: Headers, scheme: string): Extracted {
  const value = headers.get('authorization');
  if (value === null) return { kind: 'absent' };
  const space = value.indexOf(' ');
  if (space < 0) return value.toLowerCase() === scheme ? { kind: 'invalid' } : { kind: 'absent' };
  if (value.slice(0, space).toLowerCase() !== scheme) return { kind: 'absent' };
  return { kind: 'token', token: value.slice(space + 1) };
}

/** The token is an RFC 6750 b64token (what `bearerToken` checks). */
export function isB64Token(token: string): boolean {
  return B64TOKEN.test(token);
}
