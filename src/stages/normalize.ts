/**
 * Normalize: who the client is (trusted proxies), the one target the request names (host, path,
 * query, checked against `hosts`), and the path's segments. Everything after reads these.
 * @module
 */

import type { ClientResolver } from '../client.ts';
import { refuse, type Stage } from '../exchange.ts';
import type { Policy } from '../policy/types.ts';
import { normalizePath } from '../router.ts';
import { compileHostAllowlist, resolveTarget, targetHref } from '../target.ts';

export function normalizeStage(policy: Policy, resolveClient: ClientResolver): Stage {
  const maxPathLength = policy.routing?.maxPathLength ?? 2048;
  const allowedHost = policy.hosts && compileHostAllowlist(policy.hosts);

  return function normalize(x) {
    const { request, context } = x;
    const peer = context.peer ?? {};
    x.client = resolveClient(request.headers, peer, request.url);
    if (context.rawTarget !== undefined && context.rawTarget.length > maxPathLength) return refuse('normalize', 'request.malformed_path');
    // On Workers the URL is the one Cloudflare's edge routed by, and it is the host; the Host
    // header beside it may name something else (Miniflare's own address, a service binding's caller).
    const hostHeader = peer.platform === 'cloudflare' ? null : request.headers.get('host');
    const resolved = resolveTarget(request.url, hostHeader, context.rawTarget);
    if (!resolved.ok) return refuse('normalize', resolved.reason);
    const target = resolved.target;
    x.target = target;
    // What the handler's request.url will be: the path and query checked here, on the socket's scheme.
    x.href = targetHref(peer.scheme ?? schemeOf(request.url), target);
    const normalized = normalizePath(target.path, maxPathLength);
    if (!normalized.ok) return refuse('normalize', 'request.malformed_path');
    x.segments = normalized.segments;
    if (allowedHost && !allowedHost(target.host)) return refuse('normalize', 'request.misdirected');
    x.trace.push({ stage: 'normalize', outcome: 'pass', detail: `client ${x.client.ip} over ${x.client.scheme}` });
    return undefined;
  };
}

/** The scheme of a serialized URL, such as `request.url`. */
function schemeOf(url: string): string {
  return url.slice(0, url.indexOf(':')).toLowerCase();
}
