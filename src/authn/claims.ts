/**
 * Reading roles and scopes out of claims, wherever the issuer put them.
 * @module
 */

/** Reads a dotted path (`realm_access.roles`, or split once: `['realm_access', 'roles']`) from claims; own properties only. */
export function readClaim(claims: Readonly<Record<string, unknown>>, path: string | readonly string[]): unknown {
  let value: unknown = claims;
  for (const key of typeof path === 'string' ? path.split('.') : path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A claim as a list of strings: an array of strings, or a space-delimited string (`scope`). */
export function claimList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}
