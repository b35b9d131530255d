/**
 * Reading and parsing request bodies: size enforced while streaming, strict media types,
 * JSON that cannot pollute prototypes or nest without bound.
 * @module
 */

/** Body media types a route may accept. */
export const BODY_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'] as const;
export type BodyType = (typeof BODY_TYPES)[number] | (string & {});

export type BodyResult =
  | { ok: true; value: unknown; bytes: Uint8Array; type: string }
  | { ok: false; reason: 'validate.unsupported_media_type' | 'validate.body_too_large' | 'validate.malformed_body' | 'validate.forbidden_key' | 'validate.too_deep'; detail: string };

/** Keys that reach `Object.prototype` when a parsed body is merged into another object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Reads the body stream, stopping as soon as it passes `maxBytes` (a lying or absent Content-Length changes nothing). */
export async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) return undefined;
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** `type/subtype` and a charset, from a Content-Type header; undefined when unreadable. */
export function mediaType(header: string | null): { type: string; charset: string | undefined } | undefined {
  if (header === null) return undefined;
  const [essence, ...params] = header.split(';');
  const type = essence!.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) return undefined;
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() === 'charset') charset = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return { type, charset };
}

/** Nesting depth of a JSON text, in one pass, without parsing it. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) max = Math.max(max, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads and parses a body of an allowed type. */
export async function parseBody(
  request: Request,
  options: { types: readonly string[]; maxBytes: number; maxDepth: number },
): Promise<BodyResult> {
  const media = mediaType(request.headers.get('content-type'));
  if (!media || !options.types.includes(media.type)) {
    return { ok: false, reason: 'validate.unsupported_media_type', detail: `accepted: ${options.types.join(', ')}` };
  }
  // JSON and forms are UTF-8 here; a body declared in another charset would be read differently
  // by the gateway and the origin.
  if (media.charset !== undefined && media.charset !== 'utf-8' && media.type !== 'multipart/form-data') {
    return { ok: false, reason: 'validate.unsupported_media_type', detail: 'charset must be utf-8' };
  }
  const bytes = await readLimited(request, options.maxBytes);
  if (!bytes) return { ok: false, reason: 'validate.body_too_large', detail: `the limit is ${options.maxBytes} bytes` };

  if (media.type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': request.headers.get('content-type')! } }).formData();
    } catch {
      return { ok: false, reason: 'validate.malformed_body', detail: 'malformed multipart body' };
    }
    return fromEntries(form.entries(), bytes, media.type);
  }

  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'validate.malformed_body', detail: 'body is not valid UTF-8' };
  }
  if (media.type === 'application/x-www-form-urlencoded') return fromEntries(new URLSearchParams(text).entries(), bytes, media.type);
  if (media.type === 'application/json' || media.type.endsWith('+json')) {
    if (jsonDepth(text) > options.maxDepth) return { ok: false, reason: 'validate.too_deep', detail: `nesting deeper than ${options.maxDepth}` };
    let forbidden: string | undefined;
    let value: unknown;
    try {
      value = JSON.parse(text, function (key, item) {
        if (FORBIDDEN_KEYS.has(key)) forbidden = key;
        return item;
      });
    } catch {
      return { ok: false, reason: 'validate.malformed_body', detail: 'body is not valid JSON' };
    }
    if (forbidden !== undefined) return { ok: false, reason: 'validate.forbidden_key', detail: `the key "${forbidden}" is not accepted` };
    return { ok: true, value, bytes, type: media.type };
  }
  // Another allowlisted type (octet-stream, text/csv …): passed on as bytes, not parsed.
  return { ok: true, value: bytes, bytes, type: media.type };
}

/** Form fields to an object: a repeated field becomes an array. */
function fromEntries(entries: Iterable<[string, FormDataEntryValue]>, bytes: Uint8Array, type: string): BodyResult {
  const value: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    if (FORBIDDEN_KEYS.has(key)) return { ok: false, reason: 'validate.forbidden_key', detail: `the key "${key}" is not accepted` };
    const existing = Object.hasOwn(value, key) ? value[key] : undefined;
    value[key] = existing === undefined ? item : Array.isArray(existing) ? [...existing, item] : [existing, item];
  }
  return { ok: true, value, bytes, type };
}
