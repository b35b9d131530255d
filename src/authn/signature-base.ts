/**
 * The signature base of HTTP Message Signatures (RFC 9421 §2.5): one line per covered component,
 * its identifier as a Structured Field item, then `@signature-params`. Components are derived from
 * the request exactly as the gateway checked it (the URL the engine resolved, the headers received).
 * @module
 */

import { parseDictionary, serializeDictionary, serializeInnerList, serializeItem, type BareItem, type InnerList, type Item, type Parameters } from 'structured-headers';

/** Why a base cannot be built: the component is not in the request, or not one we derive. */
export type BaseFailure = { ok: false; reason: 'authn.signature_malformed' | 'authn.signature_component_missing'; component: string };

/**
 * Fields whose value is a Structured Field Dictionary, for the `sf` and `key` parameters (§2.1.1,
 * §2.1.2): the RFC asks the verifier to know a field's type, so only these are re-serialized.
 */
const DICTIONARY_FIELDS = new Set(['content-digest', 'repr-digest', 'want-content-digest', 'want-repr-digest', 'signature-input', 'signature', 'accept-signature']);

/** The method and URL the derived components name: the request as the gateway checked it. */
export interface SignedTarget {
  readonly method: string;
  readonly url: URL;
}

/** The derived components of a request (§2.2); `@status` belongs to responses and is refused. */
function derived(name: string, params: Parameters, { method, url }: SignedTarget): string | undefined {
  // `req` (a response's request) and `bs`/`sf` have no meaning on a derived request component.
  if ([...params.keys()].some((param) => param !== 'name' || name !== '@query-param')) return undefined;
  switch (name) {
    case '@method':
      return method;
    case '@target-uri':
      return url.href;
    case '@authority':
      // URL.host is the normalized authority: lowercase, without the scheme's default port.
      return url.host;
    case '@scheme':
      return url.protocol.slice(0, -1);
    case '@request-target':
      return url.pathname + url.search;
    case '@path':
      return url.pathname || '/';
    case '@query':
      return url.search || '?';
    case '@query-param': {
      const wanted = params.get('name');
      if (typeof wanted !== 'string') return undefined;
      const values = url.searchParams.getAll(decodeURIComponent(wanted));
      // A parameter that appears twice cannot be signed unambiguously (§2.2.8): refused.
      return values.length === 1 ? encodeURIComponent(values[0]!) : undefined;
    }
    default:
      return undefined;
  }
}

/** An HTTP field's component value (§2.1): the combined value, or one member of a dictionary field. */
function fieldValue(name: string, params: Parameters, request: Request): string | undefined {
  const value = request.headers.get(name);
  if (value === null) return undefined;
  if (!params.size) return value;
  const key = params.get('key');
  const onlyKnown = [...params.keys()].every((param) => param === 'sf' || param === 'key');
  if (!onlyKnown || !DICTIONARY_FIELDS.has(name) || (key !== undefined && typeof key !== 'string')) return undefined;
  let dictionary;
  try {
    dictionary = parseDictionary(value);
  } catch {
    return undefined;
  }
  if (key === undefined) return serializeDictionary(dictionary);
  const member = dictionary.get(key);
  if (member === undefined) return undefined;
  return Array.isArray(member[0]) ? serializeInnerList(member as InnerList) : serializeItem(member as Item);
}

/**
 * The signature base of one signature: `input` is its inner list from `Signature-Input`. `target`
 * is the request's method and URL as the gateway resolved them (the scheme the client used).
 */
export function signatureBase(request: Request, target: SignedTarget, input: InnerList): { ok: true; base: string; covered: string[] } | BaseFailure {
  const [components] = input;
  const lines: string[] = [];
  const covered: string[] = [];
  const seen = new Set<string>();
  for (const [name, params] of components) {
    if (typeof name !== 'string' || name === '@signature-params' || name !== name.toLowerCase()) {
      return { ok: false, reason: 'authn.signature_malformed', component: String(name) };
    }
    const identifier = serializeItem(name as BareItem, params);
    // The same component twice would let a signer cover one value and show the verifier another.
    if (seen.has(identifier)) return { ok: false, reason: 'authn.signature_malformed', component: identifier };
    seen.add(identifier);
    const value = name.startsWith('@') ? derived(name, params, target) : fieldValue(name, params, request);
    if (value === undefined) return { ok: false, reason: 'authn.signature_component_missing', component: identifier };
    lines.push(`${identifier}: ${value}`);
    covered.push(name);
  }
  lines.push(`"@signature-params": ${serializeInnerList(input)}`);
  return { ok: true, base: lines.join('\n'), covered };
}
