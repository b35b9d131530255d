/**
 * Transport: HTTPS only (unless the policy says otherwise). A GET or HEAD over plain HTTP is
 * redirected to the same target on https; anything else is refused, since a redirect would have
 * the client resend its body (and credentials) in the clear.
 * @module
 */

import { refuse, type Stage } from '../exchange.ts';
import type { Policy } from '../policy/types.ts';
import { hostname } from '../target.ts';

export function transportStage(policy: Policy): Stage {
  const requireHttps = policy.transport?.requireHttps ?? true;
  const allowLoopbackHttp = policy.transport?.allowLoopbackHttp ?? false;

  return function transport(x) {
    if (!requireHttps || x.client.scheme !== 'http' || (allowLoopbackHttp && x.client.directLoopback)) return undefined;
    if (x.method !== 'GET' && x.method !== 'HEAD') return refuse('transport', 'transport.https_required');
    // The checked host (a plain host[:port], allowed by `hosts`), without the port: the plain-HTTP
    // port is not the HTTPS one.
    const target = x.target!;
    x.headers.set('location', `https://${hostname(target.host)}${target.path}${target.search}`);
    return refuse('transport', 'transport.https_redirect');
  };
}
