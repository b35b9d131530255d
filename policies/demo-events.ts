/**
 * The demo gateway's recent security events: a ring of the last events it logged, served to admins
 * at `GET /v1/admin/events`. Events hold reason codes, routes, addresses and principal ids — never
 * a token, password or key (the engine logs none) — so they can be shown as they are.
 * @module
 */

import type { SecurityEvent, SecuritySink } from '../src/index.ts';

/** A sink that keeps the last `size` events before handing each on. */
export function recentEvents(next: SecuritySink, size = 100) {
  const ring: SecurityEvent[] = [];
  let start = 0;
  const sink: SecuritySink = (event) => {
    if (ring.length < size) ring.push(event);
    else {
      ring[start] = event;
      start = (start + 1) % size;
    }
    return next(event);
  };
  return {
    sink,
    /** Oldest first. */
    list: (): SecurityEvent[] => [...ring.slice(start), ...ring.slice(0, start)],
  };
}
