/**
 * diffPolicies: what changed in access between two compiled policies — not in text. Each change is
 * classed widening, narrowing or neutral, with the OWASP API Security Top 10 item a widening risks.
 * @module
 */

import type { AuthnMethod } from '../../src/authn/contract.ts';
import type { HeadersPolicy, Policy, RateLimitPolicy, RoutePolicy } from '../../src/policy/types.ts';
import { jsonSchemaOf } from '../openapi/document.ts';
import { diffAllow, diffFieldRoles, diffHierarchy } from './allow-diff.ts';
import { added, change, quoted, routePath, type ChangeArea, type PolicyChange } from './change.ts';
import { diffSchemas } from './schema-diff.ts';

/** The engine's defaults, where a missing key means something (a default cap, a default header). */
const DEFAULT_MAX_BODY_BYTES = 100 * 1024;
const DEFAULT_MAX_JSON_DEPTH = 32;
const SCHEMA_PARTS = ['params', 'query', 'headers', 'body'] as const;

/**
 * Compares two policies (as `definePolicy` returns them) and lists every change in who may call
 * what, with what input, from where.
 *
 * @example
 * ```ts
 * import { diffPolicies } from 'portcullis/diff';
 * const changes = diffPolicies(oldPolicy, newPolicy);
 * if (changes.some((c) => c.class === 'widening')) console.log('access widens');
 * ```
 */
export function diffPolicies(before: Policy, after: Policy): PolicyChange[] {
  return [
    ...diffRoutes(before, after),
    ...diffAuthnMethods(before.authn ?? {}, after.authn ?? {}),
    ...diffHierarchy(before.roleHierarchy, after.roleHierarchy).map((c) => change(c.class, 'allow', 'roleHierarchy', c.message, c.owasp)),
    ...diffBuckets(before, after),
    ...diffCors(before, after),
    ...diffHeaders(before.headers ?? {}, after.headers ?? {}),
    ...diffTransport(before, after),
    ...diffEdges(before, after),
  ];
}

function diffRoutes(before: Policy, after: Policy): PolicyChange[] {
  const out: PolicyChange[] = [];
  const oldRoutes = before.routes as Readonly<Record<string, RoutePolicy>>;
  const newRoutes = after.routes as Readonly<Record<string, RoutePolicy>>;
  for (const [pattern, route] of Object.entries(newRoutes)) {
    const old = oldRoutes[pattern];
    if (old) {
      out.push(...diffRoute(pattern, old, route, before, after));
      continue;
    }
    const who = route.authn === 'anonymous' ? 'anyone, without credentials' : `${route.authn.join(' or ')}${route.allow === 'authenticated' ? ', every authenticated principal' : ''}`;
    out.push(change('widening', 'routes', routePath(pattern), `route added (${who})`, route.authn === 'anonymous' ? 'API2' : 'API9', pattern));
  }
  for (const pattern of added(Object.keys(newRoutes), Object.keys(oldRoutes))) {
    out.push(change('narrowing', 'routes', routePath(pattern), 'route removed', undefined, pattern));
  }
  return out;
}

function diffRoute(pattern: string, old: RoutePolicy, now: RoutePolicy, before: Policy, after: Policy): PolicyChange[] {
  const out: PolicyChange[] = [];
  const at = routePath(pattern);
  const push = (cls: PolicyChange['class'], area: ChangeArea, key: string, message: string, owasp?: Parameters<typeof change>[4]) =>
    out.push(change(cls, area, `${at}${key}`, message, owasp, pattern));

  // Authentication: which methods the route accepts.
  if (old.authn !== 'anonymous' && now.authn === 'anonymous') push('widening', 'authn', '.authn', `now public: no credentials needed (was ${old.authn.join(' or ')})`, 'API2');
  else if (old.authn === 'anonymous' && now.authn !== 'anonymous') push('narrowing', 'authn', '.authn', `now needs ${now.authn.join(' or ')} (was public)`);
  else if (old.authn !== 'anonymous' && now.authn !== 'anonymous') {
    const more = added(old.authn, now.authn);
    const fewer = added(now.authn, old.authn);
    if (more.includes('anonymous')) push('widening', 'authn', '.authn', 'credentials are now optional ("anonymous" added)', 'API2');
    const methods = more.filter((name) => name !== 'anonymous');
    if (methods.length) push('widening', 'authn', '.authn', `now also accepts ${quoted(methods)}`, 'API2');
    if (fewer.length) push('narrowing', 'authn', '.authn', `no longer accepts ${quoted(fewer)}`);
  }

  // Who is allowed. A route that became public has no allow list left to compare.
  if (now.authn !== 'anonymous' && old.authn !== 'anonymous') {
    for (const c of diffAllow(old.allow, now.allow, after.roleHierarchy)) push(c.class, 'allow', '.allow', c.message, c.owasp);
  }
  for (const c of diffFieldRoles(old.fieldRoles, now.fieldRoles)) push(c.class, 'allow', '.fieldRoles', c.message, c.owasp);

  // Input: each part's schema, the media types, the body cap, unknown keys.
  for (const part of SCHEMA_PARTS) {
    if (old[part] === now[part]) continue;
    const changes = diffSchemas(old[part] && jsonSchemaOf(old[part]), now[part] && jsonSchemaOf(now[part]), part);
    for (const c of changes) push(c.class, 'schema', `.${part}`, `${c.pointer ? `${c.pointer.slice(1)}: ` : ''}${c.message}`, c.owasp);
  }
  const types = (route: RoutePolicy) => route.contentTypes ?? (route.body ? ['application/json'] : []);
  const moreTypes = added(types(old), types(now));
  const fewerTypes = added(types(now), types(old));
  if (moreTypes.length) push('widening', 'schema', '.contentTypes', `now also accepts bodies of ${quoted(moreTypes)}`, 'API8');
  if (fewerTypes.length) push('narrowing', 'schema', '.contentTypes', `no longer accepts ${quoted(fewerTypes)}`);
  const cap = (route: RoutePolicy, policy: Policy) => route.maxBodyBytes ?? policy.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (types(now).length && types(old).length && cap(now, after) !== cap(old, before)) {
    const bigger = cap(now, after) > cap(old, before);
    push(bigger ? 'widening' : 'narrowing', 'limits', '.maxBodyBytes', `body cap ${cap(old, before)} → ${cap(now, after)} bytes`, bigger ? 'API4' : undefined);
  }
  if ((old.unknownKeys ?? 'reject') !== (now.unknownKeys ?? 'reject')) {
    // Stripped keys never reach the origin: callers may send more, the handler gets no more.
    push('neutral', 'schema', '.unknownKeys', `unknown keys are now ${now.unknownKeys === 'strip' ? 'stripped' : 'refused'} (were ${old.unknownKeys === 'strip' ? 'stripped' : 'refused'})`);
  }

  // Rate limits this route takes from.
  const moreBuckets = added(old.rateLimit ?? [], now.rateLimit ?? []);
  const fewerBuckets = added(now.rateLimit ?? [], old.rateLimit ?? []);
  if (fewerBuckets.length) push('widening', 'rateLimits', '.rateLimit', `no longer limited by ${quoted(fewerBuckets)}`, 'API4');
  if (moreBuckets.length) push('narrowing', 'rateLimits', '.rateLimit', `now also limited by ${quoted(moreBuckets)}`);

  // The policy-wide mode is reported once, apart.
  if ((old.mode ?? 'policy') !== (now.mode ?? 'policy')) {
    const reports = now.mode === 'report' || (now.mode === undefined && after.mode === 'report');
    push(reports ? 'widening' : 'narrowing', 'mode', '.mode', reports ? 'report-only: denials are logged and let through' : 'enforced (was report-only)', reports ? 'API8' : undefined);
  }
  // Only an explicit Cache-Control: the default follows authn, whose change is reported above.
  if ((old.cacheControl !== undefined || now.cacheControl !== undefined) && old.cacheControl !== now.cacheControl) {
    const cache = (route: RoutePolicy) => (route.cacheControl === false ? '(the handler’s)' : (route.cacheControl ?? (route.authn === 'anonymous' ? '(none)' : 'no-store')));
    // A shared cache may hand one caller's answer to another once no-store is gone.
    const risky = cache(old) === 'no-store' && cache(now) !== 'no-store' && now.authn !== 'anonymous';
    push(risky ? 'widening' : 'neutral', 'headers', '.cacheControl', `Cache-Control ${cache(old)} → ${cache(now)}`, risky ? 'API8' : undefined);
  }
  return out;
}

/** Settings of a method whose change accepts credentials that were refused (true: the new value is looser). */
type Looser = (was: unknown, now: unknown) => boolean;
const listLooser: Looser = (was, now) => {
  const list = (value: unknown) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);
  const a = list(was);
  const b = list(now);
  return b === undefined ? a !== undefined : a !== undefined && added(a, b).length > 0;
};
const turnedOff: Looser = (was, now) => was === true && now !== true;
const turnedOn: Looser = (was, now) => was !== true && now === true;
const grew: Looser = (was, now) => typeof was === 'number' && (typeof now !== 'number' || now > was);

const METHOD_SETTINGS: Record<string, Looser> = {
  algorithms: listLooser,
  issuer: listLooser,
  audience: listLooser,
  typ: listLooser,
  requireExp: turnedOff,
  maxLifetime: grew,
  requireMfa: turnedOff,
  prefix: (was, now) => typeof was === 'string' && (typeof now !== 'string' || !now.startsWith(was)),
  queryParam: (was, now) => was === undefined && now !== undefined,
  acceptUntypedTokens: turnedOn,
};

function diffAuthnMethods(before: Readonly<Record<string, AuthnMethod>>, after: Readonly<Record<string, AuthnMethod>>): PolicyChange[] {
  const out: PolicyChange[] = [];
  for (const [name, method] of Object.entries(after)) {
    const path = `authn.${name}`;
    const old = before[name];
    if (!old) {
      out.push(change('neutral', 'authn', path, `method added (${method.kind}); routes that name it are listed above`));
      continue;
    }
    if (old.kind !== method.kind) {
      out.push(change('widening', 'authn', path, `now a ${method.kind} method (was ${old.kind}): other credentials are accepted`, 'API2'));
      continue;
    }
    const was = old.meta ?? {};
    const now = method.meta ?? {};
    for (const key of new Set([...Object.keys(was), ...Object.keys(now)])) {
      if (key === 'jwks' || JSON.stringify(was[key]) === JSON.stringify(now[key])) continue;
      const looser = METHOD_SETTINGS[key]?.(was[key], now[key]);
      const text = `${key} ${JSON.stringify(was[key]) ?? '(unset)'} → ${JSON.stringify(now[key]) ?? '(unset)'}`;
      out.push(change(looser ? 'widening' : METHOD_SETTINGS[key] ? 'narrowing' : 'neutral', 'authn', `${path}.${key}`, text, looser ? 'API2' : undefined));
    }
    if (method.challenge !== old.challenge) out.push(change('neutral', 'authn', path, `challenge ${old.challenge} → ${method.challenge}`));
  }
  for (const name of added(Object.keys(after), Object.keys(before))) out.push(change('neutral', 'authn', `authn.${name}`, 'method removed'));
  return out;
}

/** Requests per millisecond a bucket lets through, for comparing buckets of different windows. */
function rate(bucket: RateLimitPolicy): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(bucket.window);
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[match?.[2] as 'ms'] ?? NaN;
  return bucket.limit / (Number(match?.[1]) * unit);
}

function diffBuckets(before: Policy, after: Policy): PolicyChange[] {
  const out: PolicyChange[] = [];
  const oldBuckets = before.rateLimits ?? {};
  const newBuckets = after.rateLimits ?? {};
  for (const [name, bucket] of Object.entries(newBuckets)) {
    const old = oldBuckets[name];
    const path = `rateLimits.${name}`;
    if (!old) continue;
    if (old.limit !== bucket.limit || old.window !== bucket.window) {
      const looser = rate(bucket) > rate(old) || (rate(bucket) === rate(old) && bucket.limit > old.limit);
      out.push(change(looser ? 'widening' : 'narrowing', 'rateLimits', path, `${old.limit} per ${old.window} → ${bucket.limit} per ${bucket.window}`, looser ? 'API4' : undefined));
    }
    const by = (b: RateLimitPolicy) => (typeof b.by === 'function' ? 'a custom key' : (b.by ?? 'principal'));
    if (by(old) !== by(bucket)) out.push(change('neutral', 'rateLimits', `${path}.by`, `counted by ${by(old)} → ${by(bucket)}`, 'API4'));
    if ((old.count ?? 'all') !== (bucket.count ?? 'all')) {
      const looser = bucket.count === 'failures';
      out.push(change(looser ? 'widening' : 'narrowing', 'rateLimits', `${path}.count`, looser ? 'only failures count now' : 'every request counts now', looser ? 'API4' : undefined));
    }
    if ((old.mode ?? 'enforce') !== (bucket.mode ?? 'enforce')) {
      const looser = bucket.mode === 'report';
      out.push(change(looser ? 'widening' : 'narrowing', 'rateLimits', `${path}.mode`, looser ? 'report-only: an empty bucket refuses nothing' : 'enforced (was report-only)', looser ? 'API4' : undefined));
    }
    if ((old.algorithm ?? 'sliding-window') !== (bucket.algorithm ?? 'sliding-window')) {
      out.push(change('neutral', 'rateLimits', `${path}.algorithm`, `${old.algorithm ?? 'sliding-window'} → ${bucket.algorithm ?? 'sliding-window'}`));
    }
  }
  const onError = (policy: Policy) => policy.rateLimiting?.onStoreError ?? 'deny';
  if (onError(before) !== onError(after)) {
    const looser = onError(after) === 'allow';
    out.push(change(looser ? 'widening' : 'narrowing', 'rateLimits', 'rateLimiting.onStoreError', looser ? 'a failing store lets requests through (fails open)' : 'a failing store refuses (fails closed)', looser ? 'API4' : undefined));
  }
  return out;
}

function diffCors(before: Policy, after: Policy): PolicyChange[] {
  const out: PolicyChange[] = [];
  const was = before.cors;
  const now = after.cors;
  if (!was && !now) return out;
  if (!was) return [change('widening', 'cors', 'cors', `browsers may now call cross-origin from ${quoted(now!.origins)}${now!.credentials ? ', with credentials' : ''}`, 'API8')];
  if (!now) return [change('narrowing', 'cors', 'cors', 'no cross-origin calls from browsers any more')];
  const more = added(was.origins, now.origins);
  const fewer = added(now.origins, was.origins);
  if (more.length) out.push(change('widening', 'cors', 'cors.origins', `origins added: ${quoted(more)}`, 'API8'));
  if (fewer.length) out.push(change('narrowing', 'cors', 'cors.origins', `origins removed: ${quoted(fewer)}`));
  if (Boolean(was.credentials) !== Boolean(now.credentials)) {
    out.push(now.credentials ? change('widening', 'cors', 'cors.credentials', 'cross-origin calls now carry credentials (cookies, Authorization)', 'API8') : change('narrowing', 'cors', 'cors.credentials', 'cross-origin calls no longer carry credentials'));
  }
  const headers = (list: readonly string[] | undefined) => (list ?? ['authorization', 'content-type']).map((name) => name.toLowerCase());
  const moreHeaders = added(headers(was.allowHeaders), headers(now.allowHeaders));
  const fewerHeaders = added(headers(now.allowHeaders), headers(was.allowHeaders));
  if (moreHeaders.length) out.push(change('widening', 'cors', 'cors.allowHeaders', `scripts may now send ${quoted(moreHeaders)}`, 'API8'));
  if (fewerHeaders.length) out.push(change('narrowing', 'cors', 'cors.allowHeaders', `scripts may no longer send ${quoted(fewerHeaders)}`));
  const moreExposed = added(was.exposeHeaders ?? [], now.exposeHeaders ?? []);
  if (moreExposed.length) out.push(change('widening', 'cors', 'cors.exposeHeaders', `scripts may now read ${quoted(moreExposed)}`, 'API3'));
  if ((was.maxAge ?? 600) !== (now.maxAge ?? 600)) out.push(change('neutral', 'cors', 'cors.maxAge', `preflight cache ${was.maxAge ?? 600} → ${now.maxAge ?? 600} s`));
  return out;
}

const HEADER_DEFAULTS: Required<{ [K in keyof HeadersPolicy]: string }> = {
  contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
  frameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  permissionsPolicy: 'accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()',
  crossOriginOpenerPolicy: 'same-origin',
  crossOriginResourcePolicy: 'same-origin',
};

function diffHeaders(before: HeadersPolicy, after: HeadersPolicy): PolicyChange[] {
  const out: PolicyChange[] = [];
  for (const [key, fallback] of Object.entries(HEADER_DEFAULTS) as [keyof HeadersPolicy, string][]) {
    const was = before[key] ?? fallback;
    const now = after[key] ?? fallback;
    if (was === now) continue;
    const path = `headers.${key}`;
    if (now === false) out.push(change('widening', 'headers', path, `no longer sent (was ${JSON.stringify(was)})`, 'API8'));
    else if (was === false) out.push(change('narrowing', 'headers', path, `now sent: ${JSON.stringify(now)}`));
    else out.push(change(key === 'frameOptions' && now === 'SAMEORIGIN' ? 'widening' : 'neutral', 'headers', path, `${JSON.stringify(was)} → ${JSON.stringify(now)}`, key === 'frameOptions' ? 'API8' : undefined));
  }
  return out;
}

function diffTransport(before: Policy, after: Policy): PolicyChange[] {
  const out: PolicyChange[] = [];
  const was = before.transport ?? {};
  const now = after.transport ?? {};
  if ((was.requireHttps ?? true) !== (now.requireHttps ?? true)) {
    out.push(now.requireHttps === false ? change('widening', 'transport', 'transport.requireHttps', 'plain HTTP is accepted', 'API8') : change('narrowing', 'transport', 'transport.requireHttps', 'HTTPS is required'));
  }
  if (Boolean(was.allowLoopbackHttp) !== Boolean(now.allowLoopbackHttp)) {
    out.push(now.allowLoopbackHttp ? change('widening', 'transport', 'transport.allowLoopbackHttp', 'plain HTTP from loopback is accepted', 'API8') : change('narrowing', 'transport', 'transport.allowLoopbackHttp', 'plain HTTP from loopback is refused'));
  }
  const hsts = (t: typeof was) => (t.hsts === false ? false : (t.hsts ?? { maxAge: 31536000, includeSubDomains: true }));
  const hstsWas = hsts(was);
  const hstsNow = hsts(now);
  if (JSON.stringify(hstsWas) !== JSON.stringify(hstsNow)) {
    const weaker =
      hstsNow === false ||
      (hstsWas !== false && (hstsNow.maxAge < hstsWas.maxAge || (Boolean(hstsWas.includeSubDomains) && !hstsNow.includeSubDomains) || (Boolean(hstsWas.preload) && !hstsNow.preload)));
    out.push(change(weaker ? 'widening' : 'narrowing', 'transport', 'transport.hsts', `Strict-Transport-Security ${JSON.stringify(hstsWas)} → ${JSON.stringify(hstsNow)}`, weaker ? 'API8' : undefined));
  }
  return out;
}

/** Hosts, trusted proxies, global limits, mode, dev, versions, routing. */
function diffEdges(before: Policy, after: Policy): PolicyChange[] {
  const out: PolicyChange[] = [];
  if (before.hosts && !after.hosts) out.push(change('widening', 'hosts', 'hosts', `every Host is answered (was ${quoted(before.hosts)})`, 'API8'));
  else if (!before.hosts && after.hosts) out.push(change('narrowing', 'hosts', 'hosts', `only ${quoted(after.hosts)} are answered`));
  else if (before.hosts && after.hosts) {
    const more = added(before.hosts, after.hosts);
    const fewer = added(after.hosts, before.hosts);
    if (more.length) out.push(change('widening', 'hosts', 'hosts', `hosts added: ${quoted(more)}`, 'API8'));
    if (fewer.length) out.push(change('narrowing', 'hosts', 'hosts', `hosts removed: ${quoted(fewer)}`));
  }
  const proxies = (policy: Policy) => policy.clientIp?.trustedProxies ?? [];
  const moreProxies = added(proxies(before), proxies(after));
  const fewerProxies = added(proxies(after), proxies(before));
  // Whoever is trusted may name any client address: per-IP limits and IP rules follow what they say.
  if (moreProxies.length) out.push(change('widening', 'clientIp', 'clientIp.trustedProxies', `forwarding headers now believed from ${quoted(moreProxies)}`, 'API8'));
  if (fewerProxies.length) out.push(change('narrowing', 'clientIp', 'clientIp.trustedProxies', `forwarding headers no longer believed from ${quoted(fewerProxies)}`));
  if ((before.clientIp?.header ?? 'x-forwarded-for') !== (after.clientIp?.header ?? 'x-forwarded-for')) {
    out.push(change('neutral', 'clientIp', 'clientIp.header', `client address read from ${after.clientIp?.header ?? 'x-forwarded-for'} (was ${before.clientIp?.header ?? 'x-forwarded-for'})`));
  }
  const depth = (policy: Policy) => policy.limits?.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  if (depth(before) !== depth(after)) {
    const deeper = depth(after) > depth(before);
    out.push(change(deeper ? 'widening' : 'narrowing', 'limits', 'limits.maxJsonDepth', `JSON depth ${depth(before)} → ${depth(after)}`, deeper ? 'API4' : undefined));
  }
  const pathLength = (policy: Policy) => policy.routing?.maxPathLength ?? 2048;
  if (pathLength(before) !== pathLength(after)) {
    const longer = pathLength(after) > pathLength(before);
    out.push(change(longer ? 'widening' : 'narrowing', 'routing', 'routing.maxPathLength', `longest target ${pathLength(before)} → ${pathLength(after)}`, longer ? 'API4' : undefined));
  }
  if (Boolean(before.routing?.headFromGet) !== Boolean(after.routing?.headFromGet)) {
    out.push(after.routing?.headFromGet ? change('widening', 'routing', 'routing.headFromGet', 'HEAD is answered on every GET route', 'API9') : change('narrowing', 'routing', 'routing.headFromGet', 'HEAD only where a route names it'));
  }
  if ((before.mode ?? 'enforce') !== (after.mode ?? 'enforce')) {
    out.push(after.mode === 'report' ? change('widening', 'mode', 'mode', 'report-only: nothing is refused, denials are only logged', 'API8') : change('narrowing', 'mode', 'mode', 'enforced (was report-only)'));
  }
  if (Boolean(before.dev) !== Boolean(after.dev)) {
    out.push(after.dev ? change('widening', 'mode', 'dev', 'development mode: denials show the decision trace to the caller', 'API8') : change('narrowing', 'mode', 'dev', 'development mode off'));
  }
  if (JSON.stringify(before.logging ?? {}) !== JSON.stringify(after.logging ?? {})) {
    // Not access, but what the log keeps: query values named here are written to it.
    out.push(change('neutral', 'mode', 'logging', `${JSON.stringify(before.logging ?? {})} → ${JSON.stringify(after.logging ?? {})}`));
  }
  for (const prefix of new Set([...Object.keys(before.versions ?? {}), ...Object.keys(after.versions ?? {})])) {
    const was = before.versions?.[prefix];
    const now = after.versions?.[prefix];
    if (JSON.stringify(was) === JSON.stringify(now)) continue;
    const sunsetLater = was?.sunset !== undefined && (now?.sunset === undefined || Date.parse(now.sunset) > Date.parse(was.sunset));
    out.push(change(sunsetLater ? 'widening' : 'neutral', 'versions', `versions[${JSON.stringify(prefix)}]`, `${JSON.stringify(was ?? null)} → ${JSON.stringify(now ?? null)}`, sunsetLater ? 'API9' : undefined));
  }
  return out;
}
