/**
 * The request target: the one `scheme://host/path?query` that the policy checks and the handler or
 * origin receives, decided once from the raw request target, the `Host` header and the connection.
 *
 * Runtimes build `request.url` from `Host`, and a `Host` such as `a#`, `a?` or `x/v1/users/u_bob?`
 * moves the path: the runtime's URL then names another resource than the request line. So `Host`
 * must be a plain `host[:port]` and agree with the URL's authority, and the path and query come from
 * the raw target where the adapter has one.
 * @module
 */

/**
 * A DNS name or IPv4 address (letters, digits, `-`, `_`, dots), or a bracketed IPv6 address; an
 * optional port in its one spelling (no leading zero: URL parsers read `:080` as `:80`, and drop it).
 */
const HOST = /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?$/i;

/** Returns the host lowercased when `value` is a valid `host[:port]`, else undefined. */
export function parseHost(value: string): string | undefined {
  if (value.length > 261) return undefined;
  const match = HOST.exec(value);
  if (!match) return undefined;
  if (match[1] !== undefined && Number(match[1]) > 65535) return undefined;
  return value.toLowerCase();
}

/** The target of a request, split as the pipeline uses it. */
export interface Target {
  /** `host[:port]`, lowercase, as the client named it. */
  readonly host: string;
  /** The path as received, still percent-encoded (`/v1/users/u_alice`). */
  readonly path: string;
  /** `?` and the query as received, or `''`. */
  readonly search: string;
}

export type TargetResult = { ok: true; target: Target } | { ok: false; reason: 'request.malformed_host' | 'request.malformed_path' };

/**
 * Splits a request into its checked target.
 *
 * @param url `request.url` as the runtime serialized it.
 * @param hostHeader the `Host` header (`null` when absent: the URL's authority is the host then).
 * @param rawTarget the request target as received, when the adapter has it (Node).
 */
export function resolveTarget(url: string, hostHeader: string | null, rawTarget: string | undefined): TargetResult {
  const colon = url.indexOf(':');
  const scheme = url.slice(0, colon).toLowerCase();
  const start = colon + 3;
  const end = authorityEnd(url, start);
  const urlAuthority = url.slice(start, end);

  const host = parseHost(hostHeader ?? urlAuthority);
  // A second `Host` header arrives joined with a comma, which no host contains.
  if (host === undefined) return { ok: false, reason: 'request.malformed_host' };
  if (hostHeader !== null && !sameAuthority(host, urlAuthority, scheme)) return { ok: false, reason: 'request.malformed_host' };

  let rest = url.slice(end);
  if (rawTarget !== undefined) {
    rest = rawTarget;
    if (rawTarget.charCodeAt(0) !== 0x2f) {
      // Absolute form (`GET http://host/path`): its authority must be the Host, or the target and
      // the Host name two different resources.
      const absolute = /^https?:\/\/([^/?#]*)/i.exec(rawTarget);
      if (!absolute) return { ok: false, reason: 'request.malformed_path' };
      if (!sameAuthority(host, absolute[1]!, scheme)) return { ok: false, reason: 'request.malformed_host' };
      rest = rawTarget.slice(absolute[0].length);
      if (!rest.startsWith('/')) rest = `/${rest}`;
    }
  }
  // A request target has no fragment (RFC 9112 §3.2). Bun and Deno keep one in `request.url`, where
  // a router that does not cut it off (Hono) routes `/v1/health#/../users/u_bob` as that path.
  if (rest.includes('#')) return { ok: false, reason: 'request.malformed_path' };
  const query = rest.indexOf('?');
  const path = query < 0 ? rest : rest.slice(0, query);
  const search = query < 0 ? '' : rest.slice(query);
  return { ok: true, target: { host, path: path === '' ? '/' : path, search } };
}

/** The URL of a target: what the handler's `request.url` must be. */
export function targetHref(scheme: string, target: Target): string {
  return `${scheme}://${target.host}${target.path}${target.search}`;
}

/** Whether a host pattern list (`api.example.com`, `*.example.com`, `127.0.0.1:8787`) admits `host`. */
export function compileHostAllowlist(entries: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const anyPort = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of entries.map((value) => value.toLowerCase())) {
    if (entry.startsWith('*.')) suffixes.push(entry.slice(1));
    else if (hasPort(entry)) exact.add(entry);
    else anyPort.add(entry);
  }
  return function allowedHost(host) {
    if (exact.has(host)) return true;
    const name = hostname(host);
    if (anyPort.has(name)) return true;
    // `*.example.com` admits one more label: `a.example.com`, not `a.b.example.com` or `example.com`.
    return suffixes.some((suffix) => name.endsWith(suffix) && name.length > suffix.length && !name.slice(0, -suffix.length).includes('.'));
  };
}

/** The entry's problem, or undefined when it is a valid `hosts` entry. */
export function checkHostEntry(entry: string): string | undefined {
  const host = entry.startsWith('*.') ? entry.slice(2) : entry;
  if (parseHost(host) === undefined) return `"${entry}" is not a host[:port] such as "api.example.com", "*.example.com" or "127.0.0.1:8787"`;
  if (entry.startsWith('*.') && hasPort(host)) return `"${entry}": a wildcard entry takes no port`;
  return undefined;
}

/** The hostname without the port (brackets kept): what a redirect to another port names. */
export function hostname(host: string): string {
  return hasPort(host) ? host.slice(0, host.lastIndexOf(':')) : host;
}

function hasPort(host: string): boolean {
  const colon = host.lastIndexOf(':');
  return colon >= 0 && colon > host.lastIndexOf(']');
}

function authorityEnd(url: string, start: number): number {
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) return i;
  }
  return url.length;
}

/** `host` (already lowercase) and an authority are the same, the scheme's default port aside. */
function sameAuthority(host: string, authority: string, scheme: string): boolean {
  const other = authority.toLowerCase();
  if (host === other) return true;
  const port = scheme === 'https' ? ':443' : ':80';
  const strip = (value: string) => (value.endsWith(port) ? value.slice(0, -port.length) : value);
  return strip(host) === strip(other);
}
