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
  const value = headers.get('authorization');
  if (value === null) return { kind: 'absent' };
  const space = value.indexOf(' ');
  if (space < 0) return value.toLowerCase() === 'bearer' ? { kind: 'invalid' } : { kind: 'absent' };
  if (value.slice(0, space).toLowerCase() !== 'bearer') return { kind: 'absent' };
  const token = value.slice(space + 1);
  return B64TOKEN.test(token) ? { kind: 'token', token } : { kind: 'invalid' };
}
