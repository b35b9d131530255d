/**
 * What `forwardTo` lets through of an origin's answer: a `Retry-After` only when it is one, a
 * `Location` only when it leads to the origin itself (as a path) or to an origin the gateway names.
 * @module
 */

const DELAY_SECONDS = /^\d{1,10}$/;
/** IMF-fixdate (RFC 9110 §5.6.7), the form senders must use: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * An origin's `Retry-After` as the client may see it (RFC 9110 §10.2.3): delay-seconds, or an
 * HTTP-date re-serialized from the parsed time; `undefined` for anything else (`5, <script>`), which
 * a client or a cache in front of the gateway would otherwise take from us.
 */
export function validRetryAfter(value: string | null): string | undefined {
  if (value === null) return undefined;
  if (DELAY_SECONDS.test(value)) return value;
  if (!IMF_FIXDATE.test(value)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toUTCString();
}

/**
 * What to send in place of an origin's `Location`, or `null` to refuse the answer. A Location on the
 * origin's own origin, or on the public one it was told (`X-Forwarded-Proto` + `-Host`), becomes a
 * path: the client never learns the origin's address, and follows the redirect back through the
 * gateway. One on an origin in `allowed` passes; any other — `http://127.0.0.1:9/`,
 * `http://169.254.169.254/`, a scheme-relative `//host/`, `/\host` — is refused. Relative
 * references are resolved as a browser would, against the forwarded URL.
 */
export function publicLocation(location: string, forwarded: URL, publicOrigin: string, allowed: ReadonlySet<string>): string | null {
  let resolved: URL;
  try {
    resolved = new URL(location, forwarded);
  } catch {
    return null;
  }
  // A path is safe whatever the public host is: the client resolves it against the URL it used.
  if (resolved.origin === forwarded.origin || resolved.origin === publicOrigin) {
    // `http://origin//evil.test/` would become `//evil.test/`: scheme-relative, another host.
    if (resolved.pathname.startsWith('//')) return null;
    return resolved.pathname + resolved.search + resolved.hash;
  }
  return allowed.has(resolved.origin) ? resolved.href : null;
}

/** Where a Location leads, for the log: its origin only (a path or query can carry a token). */
export function locationOrigin(location: string, forwarded: URL): string {
  try {
    return new URL(location, forwarded).origin;
  } catch {
    return 'an unparsable URL';
  }
}
