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
  | {
      ok: false;
      reason:
        | 'validate.unsupported_media_type'
        | 'validate.body_too_large'
        | 'validate.malformed_body'
        | 'validate.forbidden_key'
        | 'validate.duplicate_key'
        | 'validate.too_deep'
        | BodyReadFailure['reason'];
      detail: string;
    };

/**
 * Why the client's body could not be read to its end. These are the client's doing (it went away,
 * stalled, or sent broken chunked framing), so they are denials, not server errors: an attacker who
 * disconnects mid-body must not be able to page whoever watches the error log.
 */
export interface BodyReadFailure {
  reason: 'client.aborted' | 'client.timeout' | 'request.malformed_framing';
  detail: string;
}

/**
 * Names the failure of a read from the request's body stream. Only the runtime's stream rejects
 * there (a body our own code had already used fails earlier, in `getReader()`), so the place alone
 * says the client is at fault; the request's signal and the error's name say how. Messages are
 * never matched: they differ between runtimes and versions.
 * - `TimeoutError` (a `DOMException` name; the Node adapter's body timeout uses it): 408.
 * - the request's signal aborted (Node), an `AbortError` (Bun) or a `BadResource` (Deno): the
 *   connection closed, 400 (nobody reads it).
 * - anything else the stream throws (Deno on a malformed chunk or an oversized chunk extension):
 *   framing the runtime could not read, 400.
 */
export function bodyReadFailure(request: Request, error: unknown): BodyReadFailure {
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  if (name === 'TimeoutError') return { reason: 'client.timeout', detail: 'the request body did not arrive in time' };
  // Deno rejects with `BadResource` once the connection is gone, before it aborts the signal.
  if (request.signal.aborted || name === 'AbortError' || name === 'BadResource') return { reason: 'client.aborted', detail: 'the connection closed before the request body arrived' };
  return { reason: 'request.malformed_framing', detail: 'the request body could not be read' };
}

/** Time limits on a request body, for runtimes whose server sets none (`Deno.serve`). */
export interface BodyTimeouts {
  /** Longest pause between two chunks, in ms (0: none). */
  idleMs: number;
  /** Longest time for the whole body, however steadily it trickles, in ms (0: none). */
  totalMs: number;
}

/**
 * The request with a body that fails with a `TimeoutError` when the client pauses longer than
 * `idleMs` or takes longer than `totalMs` in all — which the engine answers with 408
 * `client.timeout`. A request without a body is returned as it is.
 * @example
 * engine.handle(withBodyTimeouts(request, { idleMs: 10_000, totalMs: 30_000 }), context, handler);
 */
export function withBodyTimeouts(request: Request, { idleMs, totalMs }: BodyTimeouts): Request {
  if (request.body === null || (idleMs <= 0 && totalMs <= 0)) return request;
  const reader = request.body.getReader();
  const deadline = totalMs > 0 ? Date.now() + totalMs : Infinity;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const wait = Math.min(idleMs > 0 ? idleMs : Infinity, deadline - Date.now());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DOMException('the request body did not arrive in time', 'TimeoutError')), Math.max(0, wait));
      });
      try {
        const chunk = await Promise.race([reader.read(), stalled]);
        if (chunk.done) controller.close();
        else controller.enqueue(chunk.value);
      } catch (error) {
        controller.error(error);
        reader.cancel(error).catch(() => {});
      } finally {
        if (timer !== undefined) clearTimeout(timer);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Request(request, { body, duplex: 'half' } as RequestInit);
}

/** Keys that reach `Object.prototype` when a parsed body is merged into another object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Reads the body stream, stopping as soon as it passes `maxBytes` (a lying or absent Content-Length
 * changes nothing): the bytes, `undefined` when too large, or why the client's stream failed.
 */
export async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array | undefined | BodyReadFailure> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) return undefined;
  // A body already used throws here, outside the try: that is our bug, not the client's.
  const reading = readCapped(request.body, maxBytes);
  try {
    return await reading;
  } catch (error) {
    return bodyReadFailure(request, error);
  }
}

/**
 * Reads a body stream to its end, or stops as soon as it passes `maxBytes` (then `undefined`, the
 * stream cancelled). Rejects when the stream fails; throws at once when it is locked or used.
 * Request and response bodies both come this way.
 */
export function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (body === null) return Promise.resolve(new Uint8Array(0));
  return readAll(body.getReader(), maxBytes);
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Not awaited: the cancel of one branch of a teed body (report-only mode keeps a copy for the
      // handler) settles only once the other branch is done with it.
      reader.cancel().catch(() => {});
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
    if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    // Parsers disagree on which of two charsets wins: the origin could decode what we did not check.
    if (charset !== undefined) return undefined;
    charset = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return { type, charset };
}

/**
 * Nesting depth, the first prototype key and the first duplicate key of a JSON text, in one pass
 * over the text itself. A reviver cannot do the key checks: it sees only the parsed result, where a
 * duplicate key has replaced the earlier value (`{"a":{"__proto__":{}},"a":1}`), but the bytes
 * forwarded to the origin still hold both, and parsers disagree on which duplicate wins
 * (`{"role":"user","role":"admin"}` is `admin` here and `user` to a first-wins parser).
 */
function scanJson(text: string): { depth: number; forbidden: string | undefined; duplicate: string | undefined; bigNumber: boolean } {
  let depth = 0;
  let max = 0;
  let forbidden: string | undefined;
  let duplicate: string | undefined;
  // A number with an exponent, or of more digits than a double's range: it may parse to ±Infinity.
  let bigNumber = false;
  let digits = 0;
  // The keys seen in each open object; `null` for an open array.
  const open: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 308) bigNumber = true;
      continue;
    }
    // `e` after a digit is an exponent (in `true` and `false` it follows a letter).
    if ((c === 101 || c === 69) && digits > 0) bigNumber = true;
    if (c !== 46) digits = 0;
    if (c === 34) {
      // A string: find its end, then look past whitespace for the `:` that makes it a key.
      const start = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) {
          escaped = true;
          i++; // skip the escaped character
        } else if (d === 34) break;
      }
      if (forbidden !== undefined && duplicate !== undefined) continue;
      let next = i + 1;
      for (let w = text.charCodeAt(next); w === 32 || w === 9 || w === 10 || w === 13; w = text.charCodeAt(next)) next++;
      if (text.charCodeAt(next) !== 58) continue;
      let key: unknown = text.slice(start + 1, i);
      if (escaped) {
        try {
          key = JSON.parse(text.slice(start, i + 1));
        } catch {
          continue; // not a valid string: JSON.parse of the whole text will say so
        }
      }
      if (forbidden === undefined && FORBIDDEN_KEYS.has(key as string)) forbidden = key as string;
      const keys = open[open.length - 1];
      if (keys) {
        if (duplicate === undefined && keys.has(key as string)) duplicate = key as string;
        keys.add(key as string);
      }
    } else if (c === 123 || c === 91) {
      max = Math.max(max, ++depth);
      open.push(c === 123 ? new Set() : null);
    } else if (c === 125 || c === 93) {
      depth--;
      open.pop();
    }
  }
  return { depth: max, forbidden, duplicate, bigNumber };
}

/** Whether every number in a parsed JSON value is finite (`1e400` parses to Infinity, which JSON.stringify writes as `null`). */
function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return true;
  return Object.values(value).every(allFinite);
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
  // The same for a content coding on a body the gateway parses: it checks the bytes as sent, an
  // origin that honours Content-Encoding would decode them into another body. (Another type passes
  // as bytes, unread, whatever its coding.)
  const isJson = media.type === 'application/json' || media.type.endsWith('+json');
  const parsed = isJson || media.type === 'application/x-www-form-urlencoded' || media.type === 'multipart/form-data';
  const coding = request.headers.get('content-encoding');
  if (parsed && coding !== null && coding.trim().toLowerCase() !== 'identity') {
    return { ok: false, reason: 'validate.unsupported_media_type', detail: 'no content coding (Content-Encoding) is accepted' };
  }
  const bytes = await readLimited(request, options.maxBytes);
  if (!bytes) return { ok: false, reason: 'validate.body_too_large', detail: `the limit is ${options.maxBytes} bytes` };
  if (!(bytes instanceof Uint8Array)) return { ok: false, ...bytes };

  if (media.type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': request.headers.get('content-type')! } }).formData();
    } catch {
      return { ok: false, reason: 'validate.malformed_body', detail: 'malformed multipart body' };
    }
    return fromEntries(form.entries(), bytes, media.type);
  }

  // Another allowlisted type (octet-stream, text/csv …): passed on as bytes, neither decoded nor parsed.
  if (!parsed) return { ok: true, value: bytes, bytes, type: media.type };

  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'validate.malformed_body', detail: 'body is not valid UTF-8' };
  }
  if (!isJson) return fromEntries(new URLSearchParams(text).entries(), bytes, media.type);
  const { depth, forbidden, duplicate, bigNumber } = scanJson(text);
  if (depth > options.maxDepth) return { ok: false, reason: 'validate.too_deep', detail: `nesting deeper than ${options.maxDepth}` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'validate.malformed_body', detail: 'body is not valid JSON' };
  }
  if (forbidden !== undefined) return { ok: false, reason: 'validate.forbidden_key', detail: `the key "${forbidden}" is not accepted` };
  if (duplicate !== undefined) return { ok: false, reason: 'validate.duplicate_key', detail: `the key "${duplicate}" appears twice in one object` };
  // The schema would check Infinity, and the origin get the `null` it is re-serialized as.
  if (bigNumber && !allFinite(value)) return { ok: false, reason: 'validate.malformed_body', detail: 'a number is out of range' };
  return { ok: true, value, bytes, type: media.type };
}

/** Form fields to an object: a repeated field becomes an array. */
function fromEntries(entries: Iterable<[string, string | File]>, bytes: Uint8Array, type: string): BodyResult {
  const value: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    if (FORBIDDEN_KEYS.has(key)) return { ok: false, reason: 'validate.forbidden_key', detail: `the key "${key}" is not accepted` };
    const existing = Object.hasOwn(value, key) ? value[key] : undefined;
    value[key] = existing === undefined ? item : Array.isArray(existing) ? [...existing, item] : [existing, item];
  }
  return { ok: true, value, bytes, type };
}
