/**
 * The Workers gateway's origins: which origin (a binding holding its URL) serves which path prefix.
 * @module
 */

/** One origin of the gateway: the binding that holds its URL, and the path prefix it serves. */
export interface OriginRoute {
  name: string;
  segments: string[];
}

/** `{ '/v1/billing': 'BILLING_URL', '/': 'ORIGIN_URL' }`, checked, longest prefix first. */
export function originRoutes(origins: Readonly<Record<string, string>>): OriginRoute[] {
  const routes = Object.entries(origins)
    .map(([prefix, name]) => ({ name, segments: segmentsOf(prefix, name) }))
    .sort((a, b) => b.segments.length - a.segments.length);
  if (!routes.length) throw new TypeError('gateway: options.origins is empty');
  return routes;
}

/**
 * The route of the longest prefix of the request's path, or undefined when none matches (no `/`
 * entry). The origin is chosen by the decoded path, as the policy matched it: `/v1/%62illing` is
 * the billing route to the policy and must go to the billing origin. (The engine refused every
 * spelling whose decoding would add a separator.)
 */
export function pickOrigin<R extends { segments: readonly string[] }>(routes: readonly R[], request: Request): R | undefined {
  const path = new URL(request.url).pathname.split('/').slice(1).map(decodeURIComponent);
  return routes.find(({ segments }) => segments.every((segment, i) => path[i] === segment));
}

function segmentsOf(prefix: string, name: string): string[] {
  if (!/^\/([^/?#]+(\/[^/?#]+)*)?$/.test(prefix)) {
    throw new TypeError(`gateway: origins["${prefix}"] must be a path prefix such as "/" or "/v1/billing" (no trailing slash, query or fragment)`);
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`gateway: origins["${prefix}"] must name a binding, got "${name}"`);
  return prefix === '/' ? [] : prefix.slice(1).split('/');
}
