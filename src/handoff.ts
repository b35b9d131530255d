/**
 * The request an allowed request's handler (or origin) gets: exactly the target the policy
 * checked, without the headers that make some servers act on another method than the one checked.
 * @module
 */

/** Request headers that make some servers act on a different method than the one we checked. */
const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * `forward` is what validation made of `original` (a new Request when it read the body, already
 * at `href`); the original is rebuilt only when the runtime's URL differs from the checked target.
 */
export function handoff(forward: Request, original: Request, href: string): Request {
  const moved = forward === original && forward.url !== href && new URL(href).href !== forward.url;
  const override = METHOD_OVERRIDE_HEADERS.some((name) => forward.headers.has(name));
  if (!moved && !override) return forward;
  const headers = new Headers(forward.headers);
  for (const name of METHOD_OVERRIDE_HEADERS) headers.delete(name);
  if (!moved) return new Request(forward, { headers });
  const hasBody = forward.method !== 'GET' && forward.method !== 'HEAD' && forward.body !== null;
  // A streamed body needs `duplex` on Node; the DOM typings do not know it yet.
  const init = { method: forward.method, headers, body: hasBody ? forward.body : null, signal: forward.signal, redirect: forward.redirect, duplex: 'half' };
  return new Request(href, init as RequestInit);
}
