/**
 * Response protection (the read side of broken object property level authorization): a route's
 * JSON answer is read, within a size cap, before it leaves the gateway; fields the caller may not
 * read are removed (or the answer refused), and a response schema checks what the origin sends.
 * @module
 */

import type { Principal } from '../authn/contract.ts';
import { mediaType, readCapped } from '../body.ts';
import { isGatewayAnswer, type Allow } from '../decision.ts';
import { refuse, type Refusal } from '../exchange.ts';
import type { AllowRule, Policy, ResponsePolicy, RoutePolicy } from '../policy/types.ts';
import { runSchema } from '../schema.ts';
import { isMaskedServerError, maskServerError } from '../server-errors.ts';
import { OWNER_READER, parseFieldPath, type FieldStep } from '../policy/field-path.ts';
import { compileHierarchy, owns } from './authz.ts';

export type { ResponsePolicy } from '../policy/types.ts';
export { OWNER_READER, parseFieldPath, type FieldStep } from '../policy/field-path.ts';

/** `response.maxBytes` when the route leaves it out. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** What the filter knows about the exchange. */
export interface ResponseContext {
  readonly principal: Principal;
  /** The route's path params, for `owner`. */
  readonly params: Readonly<Record<string, string>>;
  /** The request method: a HEAD answer has no body to read. */
  readonly method: string;
}

/** Why an answer was refused; each is a 502 (the gateway's own answer replaces the origin's). */
export type ResponseRefusal = 'response.too_large' | 'response.unreadable' | 'response.invalid' | 'response.forbidden_field';

export type ResponseOutcome =
  /** The answer to send: the original when nothing was read, else a new Response. `removed` names the field paths taken out. */
  | { ok: true; response: Response; removed: readonly string[] }
  /** Refused: `detail` is for the log only (it may name a protected field). */
  | { ok: false; reason: ResponseRefusal; detail: string };

/** A compiled `response` rule. */
export type ResponseFilter = (response: Response, context: ResponseContext) => Promise<ResponseOutcome>;

/** Statuses whose answers have no body (RFC 9110 §15). */
const BODILESS = new Set([204, 205, 304]);

/** Headers that describe the origin's exact bytes: wrong once the body is rewritten. */
const BODY_BOUND_HEADERS = ['content-length', 'etag', 'content-md5', 'digest', 'content-digest', 'repr-digest'];

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Compiles a route's `response` rule. `owners` are the ownership conditions of the route's `allow`
 * rules (what `owner` means for this route); `expandRoles` applies the role hierarchy.
 *
 * @example
 * ```ts
 * const filter = compileResponseFilter({ fields: { lastLoginIp: ['admin'] } }, { owners: [], expandRoles: (roles) => new Set(roles) });
 * const outcome = await filter(Response.json({ id: 'u_1', lastLoginIp: '192.0.2.1' }), { principal, params: {}, method: 'GET' });
 * ```
 */
export function compileResponseFilter(
  rule: ResponsePolicy,
  options: { owners: readonly NonNullable<AllowRule['owner']>[]; expandRoles: (roles: readonly string[]) => ReadonlySet<string> },
): ResponseFilter {
  const fields = Object.entries(rule.fields ?? {}).map(([path, readers]) => ({ path, steps: parseFieldPath(path) as FieldStep[], readers }));
  const maxBytes = rule.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const strict = rule.mode === 'strict';

  /** The fields this caller may not read. */
  function hiddenFrom({ principal, params }: ResponseContext) {
    const roles = options.expandRoles(principal.roles);
    const isOwner = () => options.owners.some((owner) => owns(owner, principal, params));
    return fields.filter(({ readers }) => !readers.some((reader) => (reader === OWNER_READER ? isOwner() : roles.has(reader))));
  }

  return async function protectResponse(response, context) {
    const pass = { ok: true as const, response, removed: [] };
    if (BODILESS.has(response.status) || context.method === 'HEAD' || response.body === null) return pass;
    const success = response.status >= 200 && response.status < 300;
    const media = mediaType(response.headers.get('content-type'));
    const json = media !== undefined && (media.type === 'application/json' || media.type.endsWith('+json'));
    // An error page that is not JSON carries no record; a success that is not JSON cannot be checked.
    if (!json && !success) return pass;
    const refuse = (reason: ResponseRefusal, detail: string): ResponseOutcome => {
      void response.body?.cancel().catch(() => {});
      return { ok: false, reason, detail };
    };
    if (json && media.charset !== undefined && media.charset !== 'utf-8') return refuse('response.unreadable', `JSON in charset ${media.charset}`);
    const coding = response.headers.get('content-encoding');
    if (coding !== null && coding.trim().toLowerCase() !== 'identity') return refuse('response.unreadable', `a ${coding} body cannot be read (ask the origin for identity)`);
    const declared = response.headers.get('content-length');
    if (declared !== null && Number(declared) > maxBytes) return refuse('response.too_large', `Content-Length ${declared} is over the limit of ${maxBytes} bytes`);

    let bytes: Uint8Array | undefined;
    try {
      bytes = await readCapped(response.body, maxBytes);
    } catch (error) {
      return { ok: false, reason: 'response.unreadable', detail: `the body failed while read: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (bytes === undefined) return { ok: false, reason: 'response.too_large', detail: `the body is over the limit of ${maxBytes} bytes` };
    if (!json) {
      if (bytes.byteLength === 0) return { ok: true, response: rebuilt(response, bytes), removed: [] };
      return { ok: false, reason: 'response.unreadable', detail: `a ${response.status} answer of type ${media?.type ?? '(none)'}, not JSON` };
    }

    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(bytes));
    } catch {
      return { ok: false, reason: 'response.unreadable', detail: 'the body is not valid UTF-8 JSON' };
    }
    let changed = false;
    if (success && rule.schema) {
      const checked = await runSchema(rule.schema, value, 'response');
      if (!checked.ok) return { ok: false, reason: 'response.invalid', detail: checked.errors.map((error) => `${error.pointer || '/'}: ${error.detail}`).join('; ') };
      value = checked.value;
      changed = true;
    }

    const removed: string[] = [];
    for (const { path, steps } of hiddenFrom(context)) {
      const found = { count: 0 };
      if (!removeField(value, steps, 0, found)) return { ok: false, reason: 'response.invalid', detail: `the answer's shape does not fit the field path "${path}"` };
      if (found.count) removed.push(path);
    }
    if (strict && removed.length) return { ok: false, reason: 'response.forbidden_field', detail: `fields the caller may not read: ${removed.join(', ')}` };
    if (!changed && !removed.length) return { ok: true, response: rebuilt(response, bytes), removed };
    const text = JSON.stringify(value);
    if (text === undefined) return { ok: false, reason: 'response.invalid', detail: 'the schema output is not JSON' };
    return { ok: true, response: rebuilt(response, new TextEncoder().encode(text), true), removed };
  };
}

/**
 * Removes the field at `steps[i…]` from `value`, counting what it removes. A value of the wrong
 * kind where the path goes on (an array where it names a key, an object where it says `[]`) may hold
 * the field where the path cannot point: the nearest enclosing key is removed whole (fail closed),
 * and `false` tells the caller when there is none.
 */
function removeField(value: unknown, steps: readonly FieldStep[], i: number, found: { count: number }): boolean {
  // A string or a number holds no field.
  if (typeof value !== 'object' || value === null) return true;
  const step = steps[i]!;
  if ('each' in step) {
    if (!Array.isArray(value)) return false;
    return value.every((item) => removeField(item, steps, i + 1, found));
  }
  if (Array.isArray(value) || !Object.hasOwn(value, step.key)) return !Array.isArray(value);
  const record = value as Record<string, unknown>;
  if (i === steps.length - 1 || !removeField(record[step.key], steps, i + 1, found)) {
    delete record[step.key];
    found.count++;
  }
  return true;
}

/** The answer with `bytes` as its body; with `rewritten`, without the headers that described the old bytes. */
function rebuilt(response: Response, bytes: Uint8Array, rewritten = false): Response {
  const headers = new Headers(response.headers);
  if (rewritten) for (const name of BODY_BOUND_HEADERS) headers.delete(name);
  return new Response(bytes as Uint8Array<ArrayBuffer>, { status: response.status, statusText: response.statusText, headers });
}

/**
 * The answer rules of allowed requests, compiled once: a 5xx the gateway did not write becomes a
 * problem that says nothing (`maskServerError`), then the route's `response` rule reads its JSON
 * answer. The response to send, or the refusal that replaces it (the detail in `reasons`: it may
 * name a protected field, so the log has it and the caller does not); `undefined` when no rule
 * applies and the response goes as it is.
 */
export function answerStage(policy: Policy): (response: Response, decision: Allow) => Promise<Response | Refusal> | undefined {
  const expandRoles = compileHierarchy(policy.roleHierarchy);
  const filters = new Map<string, ResponseFilter>();
  for (const [pattern, route] of Object.entries(policy.routes) as [string, RoutePolicy][]) {
    if (!route.response) continue;
    const owners = Array.isArray(route.allow) ? route.allow.flatMap((rule: AllowRule) => (rule.owner ? [rule.owner] : [])) : [];
    filters.set(pattern, compileResponseFilter(route.response, { owners, expandRoles }));
  }
  async function filtered(filter: ResponseFilter, response: Response, decision: Allow): Promise<Response | Refusal> {
    const outcome = await filter(response, { principal: decision.principal, params: decision.params, method: decision.request.method });
    if (outcome.ok) return outcome.response;
    return refuse('response', outcome.reason, { reasons: [`${outcome.reason}: ${outcome.detail}`] });
  }
  // Nothing (not even a promise) when no rule applies: most answers do not wait a microtask here.
  return function answer(response, decision) {
    if (isMaskedServerError(response)) return maskServerError(response, decision.requestId);
    const filter = filters.get(decision.route);
    if (!filter || isGatewayAnswer(response)) return undefined;
    return filtered(filter, response, decision);
  };
}
