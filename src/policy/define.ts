/**
 * `definePolicy`: validates a policy object once, at definition, and names the offending path.
 * @module
 */

import * as v from 'valibot';
import { checkTrustedProxy } from '../client.ts';
import { PolicyError } from '../errors.ts';
import { parsePattern } from '../router.ts';
import { checkHostEntry } from '../target.ts';
import { isStandardSchema } from '../schema.ts';
import { parseDuration } from './duration.ts';
import { isAuthnMethod } from '../authn/contract.ts';
import { checkCountryCode } from '../country.ts';
import { checkCidr } from '../ip-set.ts';
import { OWNER_READER, parseFieldPath } from './field-path.ts';
import type { Policy, RoutePolicy } from './types.ts';

const isoDate = v.pipe(
  v.string(),
  v.check(
    (value) =>
      /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value) &&
      !Number.isNaN(Date.parse(value)) &&
      // Date.parse rolls 2027-02-30 over to March; the calendar date must exist as written.
      new Date(`${value.slice(0, 10)}T00:00:00Z`).toISOString().slice(0, 10) === value.slice(0, 10),
    'must be an ISO 8601 date, e.g. "2027-01-31" or "2027-01-31T00:00:00Z"',
  ),
);
const headerValue = v.pipe(v.string(), v.regex(/^[\t\x20-\x7e]*$/, 'must be printable ASCII (a header value)'));
const headerName = v.pipe(v.string(), v.regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be an HTTP header name'));
const exactOrigin = v.pipe(
  v.string(),
  v.check((value) => {
    if (value === '*') return true;
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value && !url.hostname.includes('*');
    } catch {
      return false;
    }
  }, 'must be an exact origin such as "https://app.example.com" (scheme and host, no path, no trailing slash, no wildcard)'),
);
const seconds = v.pipe(v.number(), v.integer('must be an integer number of seconds'), v.minValue(0));
const offOr = <T extends v.GenericSchema>(schema: T) => v.optional(v.union([v.literal(false), schema]));

const names = (what: string) => v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.minLength(1, `must list at least one ${what}`));
const schema = v.custom(isStandardSchema, 'must be a Standard Schema (a valibot, zod or arktype schema)');
const bytes = v.pipe(v.number(), v.integer('must be a whole number of bytes'), v.minValue(0));
const duration = v.pipe(v.string(), v.check((value) => parseDuration(value) !== undefined, 'must be a window such as "15m", "1h", "30s", "1d" or "500ms"'));
const threshold = v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1));
const statuses = v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(599))), v.minLength(1));

/** One entry of `policy.alerts`, by kind. Exported for the type test; not public API. */
export const AlertSchema = v.variant(
  'kind',
  [
    v.strictObject({
      kind: v.literal('failed-logins'),
      per: v.picklist(['username', 'ip'], 'must be "username" (credential stuffing) or "ip" (password spraying)'),
      routes: names('route'),
      usernameField: v.optional(v.pipe(v.string(), v.regex(/^[^.]+(\.[^.]+)*$/, 'must be a body field such as username, or login.name for a nested one'))),
      threshold,
      window: duration,
      failureStatuses: v.optional(statuses),
    }),
    v.strictObject({ kind: v.literal('principal-ips'), threshold, window: duration, routes: v.optional(names('route')) }),
    v.strictObject({
      kind: v.literal('spike'),
      of: v.picklist(['denials', '5xx'], 'must be "denials" or "5xx"'),
      window: duration,
      baseline: duration,
      factor: v.optional(v.pipe(v.number(), v.minValue(1, 'must be at least 1'))),
      minimum: v.optional(threshold),
    }),
  ],
  'must have a kind: "failed-logins", "principal-ips" or "spike"',
);

const cidrs = v.array(v.pipe(v.string(), v.check((entry) => checkCidr(entry) === undefined, (issue) => checkCidr(issue.input as string)!)));
const countries = v.array(v.pipe(v.string(), v.check((code) => checkCountryCode(code) === undefined, (issue) => checkCountryCode(issue.input as string)!)));
const IpRulesSchema = v.strictObject({ allow: v.optional(cidrs), deny: v.optional(cidrs) });
const CountryRulesSchema = v.strictObject({ allow: v.optional(countries), deny: v.optional(countries), unknown: v.optional(v.picklist(['deny', 'allow'])) });
const QuotaSchema = v.strictObject({
  limit: v.pipe(v.number(), v.integer('must be a whole number of calls'), v.minValue(1)),
  period: v.picklist(['day', 'month'], 'must be "day" or "month" (calendar periods in UTC)'),
  by: v.optional(v.picklist(['principal', 'apiKey'])),
});

const AllowRuleSchema = v.pipe(
  v.strictObject({
    roles: v.optional(names('role')),
    scopes: v.optional(names('scope')),
    owner: v.optional(v.strictObject({ param: v.string(), claim: v.optional(v.pipe(v.string(), v.minLength(1))) })),
    check: v.optional(v.custom<(context: never) => unknown>((value) => typeof value === 'function', 'must be a function (context) => boolean')),
    name: v.optional(v.string()),
  }),
  v.check(
    (rule) => rule.roles !== undefined || rule.scopes !== undefined || rule.owner !== undefined || rule.check !== undefined,
    'an empty rule would admit everyone: give roles, scopes, owner or check',
  ),
);

/** What definePolicy checks each route against. Exported for the type test that ties it to `RoutePolicy` (policy-schema.type-test.ts); not public API. */
export const RouteSchema = v.strictObject({
  authn: v.union(
    [v.literal('anonymous'), v.pipe(v.array(v.string()), v.minLength(1, 'must name at least one method'))],
    'must be "anonymous" or a list of method names from policy.authn',
  ),
  allow: v.optional(v.union([v.literal('authenticated'), v.pipe(v.array(AllowRuleSchema), v.minLength(1, 'must list at least one rule'))])),
  params: v.optional(schema),
  query: v.optional(schema),
  headers: v.optional(schema),
  body: v.optional(schema),
  contentTypes: v.optional(
    v.pipe(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/, 'must be a lowercase media type such as "application/json"'))), v.minLength(1)),
  ),
  maxBodyBytes: v.optional(bytes),
  unknownKeys: v.optional(v.picklist(['reject', 'strip'])),
  fieldRoles: v.optional(v.record(v.string(), names('role'))),
  rateLimit: v.optional(names('bucket')),
  quota: v.optional(v.pipe(v.string(), v.minLength(1))),
  ip: v.optional(IpRulesSchema),
  country: v.optional(CountryRulesSchema),
  mode: v.optional(v.picklist(['enforce', 'report'])),
  cacheControl: offOr(headerValue),
  response: v.optional(
    v.strictObject({
      fields: v.optional(
        v.record(
          v.pipe(v.string(), v.check((path) => typeof parseFieldPath(path) !== 'string', (issue) => `field path ${parseFieldPath(issue.input as string) as string}`)),
          names('reader (a role, or "owner")'),
        ),
      ),
      schema: v.optional(schema),
      mode: v.optional(v.picklist(['strip', 'strict'])),
      maxBytes: v.optional(v.pipe(bytes, v.minValue(1))),
    }),
  ),
  description: v.optional(v.string()),
});

/** What definePolicy checks a policy against. Exported for the type test that ties it to `Policy` (policy-schema.type-test.ts); not public API. */
export const PolicySchema = v.strictObject({
  hosts: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.check((entry) => checkHostEntry(entry) === undefined, (issue) => checkHostEntry(issue.input as string)!))),
      v.minLength(1, 'must list at least one host (leave hosts out to answer every host)'),
    ),
  ),
  clientIp: v.optional(
    v.strictObject({
      trustedProxies: v.optional(v.array(v.string())),
      header: v.optional(v.picklist(['x-forwarded-for', 'forwarded'])),
      countryHeader: v.optional(headerName),
    }),
  ),
  clientCertificate: v.optional(
    v.strictObject({
      from: v.optional(v.picklist(['tls', 'xfcc', 'escaped-pem'])),
      header: v.optional(headerName),
      verifyHeader: v.optional(headerName),
    }),
  ),
  transport: v.optional(
    v.strictObject({
      requireHttps: v.optional(v.boolean()),
      allowLoopbackHttp: v.optional(v.boolean()),
      hsts: offOr(
        v.strictObject({
          maxAge: seconds,
          includeSubDomains: v.optional(v.boolean()),
          preload: v.optional(v.boolean()),
        }),
      ),
    }),
  ),
  authn: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a name such as "user"'), v.notValue('anonymous', '"anonymous" is reserved')),
      v.custom(isAuthnMethod, 'must be an authentication method made by jwt(), apiKey(), oauth2Introspection() or mtls()'),
    ),
  ),
  cors: v.optional(
    v.strictObject({
      origins: v.pipe(v.array(exactOrigin), v.minLength(1, 'must list at least one origin')),
      credentials: v.optional(v.boolean()),
      maxAge: v.optional(seconds),
      allowHeaders: v.optional(v.array(headerName)),
      exposeHeaders: v.optional(v.array(headerName)),
    }),
  ),
  headers: v.optional(
    v.strictObject({
      contentSecurityPolicy: offOr(headerValue),
      frameOptions: offOr(v.picklist(['DENY', 'SAMEORIGIN'])),
      referrerPolicy: offOr(headerValue),
      permissionsPolicy: offOr(headerValue),
      crossOriginOpenerPolicy: offOr(headerValue),
      crossOriginResourcePolicy: offOr(headerValue),
    }),
  ),
  versions: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must be a path prefix such as "/v1"')),
      v.strictObject({
        deprecation: v.optional(isoDate),
        sunset: v.optional(isoDate),
        link: v.optional(v.pipe(v.string(), v.url('must be an absolute URL'), v.regex(/^[^\s<>"]+$/, 'must not contain spaces, quotes or angle brackets (it goes inside Link: <…>)'))),
      }),
    ),
  ),
  routing: v.optional(
    v.strictObject({
      headFromGet: v.optional(v.boolean()),
      maxPathLength: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65536))),
    }),
  ),
  roleHierarchy: v.optional(v.record(v.string(), v.array(v.string()))),
  limits: v.optional(
    v.strictObject({
      maxBodyBytes: v.optional(bytes),
      maxJsonDepth: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))),
    }),
  ),
  rateLimits: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a name such as "login"')),
      v.strictObject({
        limit: v.pipe(v.number(), v.integer('must be a whole number of requests'), v.minValue(1)),
        window: duration,
        by: v.optional(
          v.union([
            v.picklist(['ip', 'principal', 'apiKey', 'route']),
            v.custom<(context: never) => string>((value) => typeof value === 'function', 'must be a function'),
          ], 'must be "ip", "principal", "apiKey", "route" or a function (context) => string'),
        ),
        algorithm: v.optional(v.picklist(['fixed-window', 'sliding-window', 'token-bucket'])),
        count: v.optional(v.picklist(['all', 'failures'])),
        failureStatuses: v.optional(statuses),
        ipv6Prefix: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(128))),
        mode: v.optional(v.picklist(['enforce', 'report'])),
      }),
    ),
  ),
  quotas: v.optional(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a name such as "monthly"')), QuotaSchema)),
  ip: v.optional(IpRulesSchema),
  country: v.optional(CountryRulesSchema),
  rateLimiting: v.optional(
    v.strictObject({
      onStoreError: v.optional(v.picklist(['deny', 'allow'])),
      storeTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    }),
  ),
  alerts: v.optional(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a name such as "failed_logins"')), AlertSchema)),
  mode: v.optional(v.picklist(['enforce', 'report'])),
  logging: v.optional(
    v.strictObject({
      allowed: v.optional(
        v.strictObject({
          sample: v.pipe(v.number(), v.minValue(0, 'must be from 0 to 1'), v.maxValue(1, 'must be from 0 to 1')),
          queryValues: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
        }),
      ),
    }),
  ),
  dev: v.optional(v.boolean()),
  routes: v.record(v.string(), RouteSchema),
});

/** `routes["GET /v1/users/:id"].authn[1]` from a list of keys. */
export function formatPath(keys: readonly (string | number)[]): string {
  let out = '';
  for (const key of keys) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

type Issue = { path: string; message: string };

/**
 * A union (`false` or an object) reports one vague issue; when the value matched the object branch
 * by type, its nested issues (an unknown key inside it) are the ones that name the problem.
 */
function innermost(issue: v.BaseIssue<unknown>): v.BaseIssue<unknown>[] {
  if (issue.type !== 'union' || !issue.issues?.length) return [issue];
  // Nested issues carry paths relative to the union: prefix them with the union's own path.
  const nested = issue.issues.filter((sub) => sub.path?.length);
  if (!nested.length) return [issue];
  return nested.flatMap((sub) => innermost({ ...sub, path: [...(issue.path ?? []), ...sub.path!] } as v.BaseIssue<unknown>));
}

/** valibot's messages, reworded where they would puzzle a policy author. */
function describeIssue(issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'strict_object') {
    if (issue.expected === 'never') return 'unknown key (a typo, or an option this version does not have)';
    if (issue.received === 'undefined') {
      return issue.expected === '"authn"'
        ? 'is required: every route names the authentication it accepts (a list of methods, or "anonymous")'
        : 'is required';
    }
  }
  return issue.message;
}

/** Checks that need more than one field: references between parts of the policy. */
function crossChecks(policy: Policy): Issue[] {
  const issues: Issue[] = [];
  const methods = policy.authn ?? {};

  for (const [i, entry] of (policy.clientIp?.trustedProxies ?? []).entries()) {
    const problem = checkTrustedProxy(entry);
    if (problem) issues.push({ path: formatPath(['clientIp', 'trustedProxies', i]), message: problem });
  }

  const certificates = policy.clientCertificate;
  const from = certificates?.from ?? 'tls';
  if (certificates?.header !== undefined && from === 'tls') {
    issues.push({ path: 'clientCertificate.header', message: "a header is read only with from: 'xfcc' or 'escaped-pem'" });
  }
  if (certificates?.verifyHeader !== undefined && from !== 'escaped-pem') {
    issues.push({ path: 'clientCertificate.verifyHeader', message: "belongs to from: 'escaped-pem' (nginx's $ssl_client_verify)" });
  }
  for (const name of Object.keys(policy.quotas ?? {})) {
    // Quotas and buckets share the RateLimit header fields, where each is an item named after it.
    if (name in (policy.rateLimits ?? {})) issues.push({ path: formatPath(['quotas', name]), message: `a rate-limit bucket is named "${name}" too: give the quota another name` });
  }

  const cors = policy.cors;
  if (cors?.origins.includes('*')) {
    if (cors.origins.length > 1) issues.push({ path: 'cors.origins', message: '"*" cannot be combined with other origins' });
    if (cors.credentials) {
      issues.push({ path: 'cors.credentials', message: 'credentials cannot be allowed for every origin ("*"): list the exact origins' });
    }
  }

  for (const [prefix, version] of Object.entries(policy.versions ?? {})) {
    if (version.deprecation && version.sunset && Date.parse(version.sunset) < Date.parse(version.deprecation)) {
      issues.push({ path: formatPath(['versions', prefix, 'sunset']), message: 'is before the deprecation date' });
    }
  }

  const seen = new Map<string, string>();
  for (const [pattern, route] of Object.entries(policy.routes)) {
    const parsed = parsePattern(pattern);
    if (typeof parsed === 'string') {
      issues.push({ path: formatPath(['routes', pattern]), message: parsed });
      continue;
    }
    // "GET /users/:id" and "GET /users/:name" are the same route spelled twice.
    const shape = `${parsed.method} ${parsed.segments.map((s) => ('param' in s ? ':' : s.literal)).join('/')}`;
    const twin = seen.get(shape);
    if (twin) issues.push({ path: formatPath(['routes', pattern]), message: `matches the same requests as "${twin}"` });
    seen.set(shape, pattern);

    const at = (...keys: (string | number)[]) => formatPath(['routes', pattern, ...keys]);
    if (route.authn !== 'anonymous' && route.allow === undefined) {
      issues.push({
        path: at('allow'),
        message: 'is required on an authenticated route (deny by default): list who may call, or say "authenticated" to admit every authenticated caller',
      });
    }
    if (Array.isArray(route.allow)) {
      route.allow.forEach((rule, i) => {
        if (rule.owner && !parsed.params.includes(rule.owner.param)) issues.push({ path: at('allow', i, 'owner', 'param'), message: 'no such path param' });
        if (rule.owner && route.authn === 'anonymous') issues.push({ path: at('allow', i, 'owner'), message: 'an anonymous route has no principal to own anything' });
      });
    }
    if (route.quota !== undefined) {
      if (!(route.quota in (policy.quotas ?? {}))) issues.push({ path: at('quota'), message: `no quota named "${route.quota}" in policy.quotas` });
      else if (route.authn === 'anonymous') issues.push({ path: at('quota'), message: 'an anonymous route has no principal or key to count calls for' });
    }
    for (const [field, readers] of Object.entries(route.response?.fields ?? {})) {
      // `owner` reads by the route's own ownership rule: without one it would mean nothing (or everyone).
      const owned = Array.isArray(route.allow) && route.allow.some((rule) => rule.owner);
      if (readers.includes(OWNER_READER) && !owned) {
        issues.push({ path: at('response', 'fields', field), message: '"owner" needs an allow rule with owner on this route (it decides who owns the record)' });
      }
    }
    route.rateLimit?.forEach((name, i) => {
      if (!(name in (policy.rateLimits ?? {}))) issues.push({ path: at('rateLimit', i), message: `no bucket named "${name}" in policy.rateLimits` });
    });
    if (route.fieldRoles && !route.body) issues.push({ path: at('fieldRoles'), message: 'needs a body schema to check fields against' });
    if ((route.body || route.contentTypes) && (parsed.method === 'GET' || parsed.method === 'HEAD')) {
      issues.push({ path: at(route.body ? 'body' : 'contentTypes'), message: `a ${parsed.method} request has no body` });
    }
    if (route.authn !== 'anonymous') {
      route.authn.forEach((name, i) => {
        if (name !== 'anonymous' && !(name in methods)) {
          issues.push({
            path: formatPath(['routes', pattern, 'authn', i]),
            message: `no authentication method named "${name}" in policy.authn`,
          });
        }
      });
    }
  }
  issues.push(...alertChecks(policy));
  return issues;
}

/** Alerts name routes that exist and can feed them. */
function alertChecks(policy: Policy): Issue[] {
  const issues: Issue[] = [];
  for (const [name, alert] of Object.entries(policy.alerts ?? {})) {
    const at = (...keys: (string | number)[]) => formatPath(['alerts', name, ...keys]);
    const routes = alert.kind === 'spike' ? undefined : alert.routes;
    routes?.forEach((pattern, i) => {
      const route = (policy.routes as Record<string, RoutePolicy>)[pattern];
      if (!route) issues.push({ path: at('routes', i), message: `no route "${pattern}" in policy.routes` });
      else if (alert.kind === 'failed-logins' && !route.body) {
        issues.push({ path: at('routes', i), message: 'needs a body schema: the username is read from the validated body' });
      } else if (alert.kind === 'principal-ips' && route.authn === 'anonymous') {
        issues.push({ path: at('routes', i), message: 'is anonymous: it has no principal to watch' });
      }
    });
    if (alert.kind === 'spike' && parseDuration(alert.baseline)! <= parseDuration(alert.window)!) {
      issues.push({ path: at('baseline'), message: `must be longer than window (${alert.window}): it is the rate the window is compared with` });
    }
  }
  return issues;
}

/**
 * Validates a policy and returns it unchanged. Throws a `PolicyError` naming every problem's path.
 *
 * @example
 * ```ts
 * export default definePolicy({
 *   cors: { origins: ['https://app.example.com'], credentials: true },
 *   routes: { 'GET /v1/health': { authn: 'anonymous' } },
 * });
 * ```
 */
export function definePolicy<const P extends Policy>(policy: P): P {
  const result = v.safeParse(PolicySchema, policy);
  if (!result.success) {
    throw new PolicyError(
      result.issues.flatMap(innermost).map((issue) => ({
        path: formatPath((issue.path ?? []).map((item) => item.key as string | number)),
        message: describeIssue(issue),
      })),
    );
  }
  const issues = crossChecks(policy);
  if (issues.length) throw new PolicyError(issues);
  return policy;
}
