/**
 * The URL the gateway sees is not the same on every runtime, and requests bound to it (a DPoP
 * proof's `htu`, an RFC 9421 signature over `@target-uri` or `@authority`) must be made for the one
 * each runtime sees: on a server of its own (plain HTTP straight from loopback) it is `http://` and
 * the `Host` the case sends; Hono driven in-process sees `http://127.0.0.1`; workerd sees the https
 * URL the client reached the edge with.
 * @module
 */

import type { Case } from './cases.ts';
import type { RawRequest } from './runtime.ts';

/** Where the gateway's URL differs: the origin it sees, and the Host to send (none: the runner's). */
export const VIEWS: { runtime?: string; origin: string; host?: string }[] = [
  { origin: 'http://api.conformance.test', host: 'api.conformance.test' },
  { runtime: 'hono', origin: 'http://127.0.0.1' },
  { runtime: 'workerd', origin: 'https://api.example.com' },
];

/** A request per view, made by `build` for the view's origin; the view's Host is added to its headers. */
export async function perView(build: (origin: string) => Promise<RawRequest> | RawRequest): Promise<Pick<Case, 'request' | 'requestByRuntime'>> {
  const built = await Promise.all(
    VIEWS.map(async (view) => {
      const request = await build(view.origin);
      return { view, request: { ...request, headers: { ...(view.host && { host: view.host }), ...(request.headers as Record<string, string> | undefined) } } };
    }),
  );
  return {
    request: built.find(({ view }) => !view.runtime)!.request,
    requestByRuntime: Object.fromEntries(built.filter(({ view }) => view.runtime).map(({ view, request }) => [view.runtime!, request])),
  };
}
