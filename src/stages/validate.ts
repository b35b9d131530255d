/**
 * Input validation: params, query, headers and body against the route's schemas. The output of
 * the schemas is what the handler or origin receives.
 * @module
 */

import { bodyReadFailure, parseBody } from '../body.ts';
import type { ValidatedInput } from '../decision.ts';
import { refuse, type Stage } from '../exchange.ts';
import type { LimitsPolicy, Policy, RoutePolicy } from '../policy/types.ts';
import { droppedKeys, runSchema, type FieldError, type StandardSchemaV1 } from '../schema.ts';
import { compileHierarchy } from './authz.ts';

export type { ValidatedInput } from '../decision.ts';

export type ValidationResult =
  | { ok: true; input: ValidatedInput; request: Request }
  | { ok: false; reason: string; detail?: string; errors?: FieldError[] };

const valueOf = (result: { ok: boolean; value?: unknown }) => result.value;

/** A part the route has no schema for. */
const NOTHING = { ok: true as const, value: undefined };

export const DEFAULT_MAX_BODY_BYTES = 100 * 1024;
export const DEFAULT_MAX_JSON_DEPTH = 32;

/** Query parameters as an object: one value → string, a repeated key → array of strings. */
export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  // A plain object keeps V8's fast properties (a prototype-less one is a slow dictionary); the one
  // key a plain object would swallow as a setter, `__proto__`, is defined as an own property instead,
  // so `?__proto__=x` is a key the unknown-key rule sees.
  const out: Record<string, string | string[]> = {};
  params.forEach((value, key) => {
    const existing = Object.hasOwn(out, key) ? out[key] : undefined;
    const next = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    if (key === '__proto__') Object.defineProperty(out, key, { value: next, enumerable: true, writable: true, configurable: true });
    else out[key] = next;
  });
  return out;
}

/**
 * The request URL without the query keys a stripping schema dropped, or undefined when it dropped
 * none. The other pairs keep their spelling: only whole `key=value` pieces are left out.
 */
function strippedTarget(href: string, input: Record<string, unknown>, output: unknown): string | undefined {
  if (typeof output !== 'object' || output === null) return undefined;
  const dropped = new Set(Object.keys(input).filter((key) => !Object.hasOwn(output, key)));
  if (!dropped.size) return undefined;
  const out = new URL(href);
  const kept = out.search
    .slice(1)
    .split('&')
    .filter((piece) => {
      const [key] = [...new URLSearchParams(piece).keys()];
      return key === undefined || !dropped.has(key);
    });
  out.search = kept.join('&');
  return out.href;
}

/** Does the (dotted) field exist as an own property of the value? */
function hasField(value: unknown, path: string): boolean {
  let current = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return false;
    current = (current as Record<string, unknown>)[key];
  }
  return true;
}

/**
 * A form body without the fields a stripping schema dropped, or undefined when it dropped none.
 * Forms are forwarded as read, so a stripped `role=admin` would otherwise still reach the origin.
 */
function strippedForm(type: string, input: unknown, output: unknown): URLSearchParams | FormData | undefined {
  const multipart = type === 'multipart/form-data';
  if (!multipart && type !== 'application/x-www-form-urlencoded') return undefined;
  if (typeof input !== 'object' || input === null || typeof output !== 'object' || output === null) return undefined;
  const fields = Object.entries(input as Record<string, string | File | (string | File)[]>);
  const kept = fields.filter(([key]) => Object.hasOwn(output, key));
  if (kept.length === fields.length) return undefined;
  const form = multipart ? new FormData() : new URLSearchParams();
  for (const [key, value] of kept) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'string') form.append(key, item);
      else if (form instanceof FormData) form.append(key, item, item.name);
    }
  }
  return form;
}

/** Compiles a route's validation. `roles` are the principal's roles after the hierarchy. */
export function compileValidation(route: RoutePolicy, limits: LimitsPolicy = {}) {
  const contentTypes = route.contentTypes ?? (route.body ? ['application/json'] : undefined);
  const maxBytes = route.maxBodyBytes ?? limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxDepth = limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const strip = route.unknownKeys === 'strip';
  const fieldRoles = Object.entries(route.fieldRoles ?? {});

  /** Runs a schema and applies the unknown-key rule. */
  async function check(schema: StandardSchemaV1, value: unknown, part: string, unknownKeys: boolean) {
    const result = await runSchema(schema, value, part);
    if (!result.ok || !unknownKeys || strip) return result;
    const dropped = droppedKeys(value, result.value);
    if (!dropped.length) return result;
    return { ok: false as const, errors: dropped.map((pointer) => ({ in: part, pointer, detail: 'unknown key' })) };
  }

  return async function validate(
    request: Request,
    query: URLSearchParams,
    href: string,
    params: Readonly<Record<string, string>>,
    roles: ReadonlySet<string>,
  ): Promise<ValidationResult> {
    const errors: FieldError[] = [];
    // A part without a schema passes as it is, without a trip through the microtask queue.
    const paramsOut = route.params ? await check(route.params, params, 'params', false) : { ok: true as const, value: params };
    const queryIn = route.query ? queryObject(query) : undefined;
    const queryOut = route.query ? await check(route.query, queryIn, 'query', true) : NOTHING;
    // Stripped query keys leave the forwarded target too: the origin gets what the schema kept.
    const target = (strip && queryIn && queryOut.ok && strippedTarget(href, queryIn, queryOut.value)) || href;
    const headersOut = route.headers ? await check(route.headers, Object.fromEntries(request.headers), 'headers', false) : NOTHING;
    if (!paramsOut.ok) errors.push(...paramsOut.errors);
    if (!queryOut.ok) errors.push(...queryOut.errors);
    if (!headersOut.ok) errors.push(...headersOut.errors);

    let body: unknown;
    let forward = request;
    const hasMethodBody = request.method !== 'GET' && request.method !== 'HEAD';
    if (contentTypes && hasMethodBody) {
      const parsed = await parseBody(request, { types: contentTypes, maxBytes, maxDepth });
      if (!parsed.ok) return { ok: false, reason: parsed.reason, detail: parsed.detail };
      const bodyOut = route.body ? await check(route.body, parsed.value, 'body', true) : { ok: true as const, value: parsed.value };
      if (!bodyOut.ok) errors.push(...bodyOut.errors);
      else body = bodyOut.value;
      if (!errors.length) {
        // The body was read once; the origin gets the schema's output (JSON) or the bytes read.
        const isJson = route.body !== undefined && (parsed.type === 'application/json' || parsed.type.endsWith('+json'));
        const form = strip && route.body !== undefined ? strippedForm(parsed.type, parsed.value, body) : undefined;
        const payload = isJson ? JSON.stringify(body) : (form ?? parsed.bytes);
        const headers = new Headers(request.headers);
        headers.delete('content-length');
        headers.delete('transfer-encoding');
        // A rebuilt multipart body has a boundary of its own, which the Request sets.
        if (form instanceof FormData) headers.delete('content-type');
        forward = new Request(target, { method: request.method, headers, body: payload as BodyInit, signal: request.signal });
      }
    } else if (hasMethodBody && request.body !== null) {
      // A route that declares no body accepts none: an unexpected body is refused, not forwarded.
      const declared = request.headers.get('content-length');
      if (request.headers.has('transfer-encoding') || (declared !== null && declared !== '0')) {
        return { ok: false, reason: 'validate.unsupported_media_type', detail: 'this route accepts no body' };
      }
      const reader = request.body.getReader();
      let first: Awaited<ReturnType<typeof reader.read>>;
      try {
        first = await reader.read();
      } catch (error) {
        return { ok: false, ...bodyReadFailure(request, error) };
      }
      const { done, value } = first;
      if (!done && value.byteLength > 0) {
        await reader.cancel().catch(() => {});
        return { ok: false, reason: 'validate.unsupported_media_type', detail: 'this route accepts no body' };
      }
      forward = new Request(target, { method: request.method, headers: request.headers, signal: request.signal });
    }
    if (forward === request && target !== href) forward = new Request(target, request);

    if (errors.length) return { ok: false, reason: 'validate.invalid', errors };

    for (const [field, allowed] of fieldRoles) {
      if (hasField(body, field) && !allowed.some((role) => roles.has(role))) {
        return { ok: false, reason: 'authz.field_forbidden', detail: field };
      }
    }
    // (The three passed: errors is empty.)
    const input = { params: valueOf(paramsOut), query: valueOf(queryOut), headers: valueOf(headersOut), body };
    return { ok: true, input, request: forward };
  };
}

/**
 * The validation stage: params, query, headers and body against the matched route's schemas. It
 * reads the body; a request that report-only mode may let through keeps an unread copy for the
 * handler (the check may stop at the size limit, or at a parse error).
 */
export function validateStage(policy: Policy): Stage {
  const expandRoles = compileHierarchy(policy.roleHierarchy);
  const byRoute = new Map(Object.entries(policy.routes).map(([pattern, route]) => [pattern, compileValidation(route, policy.limits)]));
  return async function validate(x) {
    const { request } = x;
    const unread = x.report && request.body !== null && !request.bodyUsed ? request.clone() : undefined;
    const valid = await byRoute.get(x.route!)!(request, x.query!, x.href!, x.params!, expandRoles(x.principal!.roles));
    if (unread && valid.ok) void unread.body?.cancel().catch(() => {});
    else if (unread) x.unread = unread;
    if (!valid.ok) {
      // A forbidden field is named in the trace and the log (reasons), never to the caller.
      const reasons = valid.reason.startsWith('authz.') && valid.detail ? [`${valid.reason}: ${valid.detail}`] : undefined;
      return refuse('validate', valid.reason, { detail: valid.detail, errors: valid.errors, reasons });
    }
    x.input = valid.input;
    x.forward = valid.request;
    x.trace.push({ stage: 'validate', outcome: 'pass' });
    return undefined;
  };
}
