/**
 * One change between two policies, as `portcullis diff` reports it.
 * @module
 */

import { OWASP_API_TOP_10, type OwaspItem, type OwaspKey } from '../lint/owasp.ts';

/**
 * `widening`: some request the old policy refused may now get through (or get further);
 * `narrowing`: some request it let through is now refused; `neutral`: neither, or not decidable
 * from the policy alone (a changed description, a new key source).
 */
export type ChangeClass = 'widening' | 'narrowing' | 'neutral';

/** What part of the policy a change is in. */
export type ChangeArea =
  | 'routes'
  | 'authn'
  | 'allow'
  | 'schema'
  | 'rateLimits'
  | 'cors'
  | 'headers'
  | 'transport'
  | 'hosts'
  | 'clientIp'
  | 'limits'
  | 'mode'
  | 'versions'
  | 'routing';

/** One semantic change. */
export interface PolicyChange {
  class: ChangeClass;
  area: ChangeArea;
  /** Where in the new policy (or the old one, for what was removed): `routes["GET /v1/x"].allow`. */
  path: string;
  /** The route it concerns, when it concerns one. */
  route?: string;
  message: string;
  /** The OWASP API Security Top 10 (2023) item a widening of this kind risks. */
  owasp?: OwaspItem;
}

/** A change; `owasp` names the item (`API5`). */
export function change(cls: ChangeClass, area: ChangeArea, path: string, message: string, owasp?: OwaspKey, route?: string): PolicyChange {
  return { class: cls, area, path, ...(route === undefined ? {} : { route }), message, ...(owasp ? { owasp: OWASP_API_TOP_10[owasp] } : {}) };
}

/** `routes["GET /x"]` */
export const routePath = (route: string) => `routes[${JSON.stringify(route)}]`;

/** `a, b` of what is in `after` and not in `before`. */
export function added<T>(before: readonly T[], after: readonly T[]): T[] {
  return after.filter((item) => !before.includes(item));
}

/** A list for a message: `"a", "b"`. */
export const quoted = (items: readonly unknown[]) => items.map((item) => JSON.stringify(item)).join(', ');
