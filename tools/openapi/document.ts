/**
 * toOpenApi: builds the OpenAPI 3.1 document of a policy; jsonSchemaOf turns a request schema into
 * JSON Schema.
 * @module
 */

import { toJsonSchema } from '@valibot/to-json-schema';
import { problemType } from '../../src/decision.ts';
import type { Policy, RoutePolicy } from '../../src/policy/types.ts';
import { parsePattern, type ParsedPattern } from '../../src/router.ts';
import type { StandardSchemaV1 } from '../../src/schema.ts';
import type { AuthnMethod } from '../../src/authn/contract.ts';
import type { AllowRule } from '../../src/policy/types.ts';

type Json = Record<string, unknown>;

/** Options of `toOpenApi`. */
export interface OpenApiOptions {
  /** @default 'API guarded by portcullis' */
  title?: string;
  /** The API's version (info.version). @default '0.0.0' */
  version?: string;
  /** Server URLs (`https://api.example.com`). */
  servers?: readonly string[];
  /** "Now", to mark operations of deprecated versions. @default the current time */
  now?: number | string | Date;
}

/** The problem responses, shared in components.responses. */
const RESPONSES = {
  400: { name: 'BadRequest', description: 'Bad request: an ambiguous path, a malformed body or credential header (`request.malformed_path`, `validate.malformed_body`, `authn.invalid_request` …).' },
  401: { name: 'Unauthorized', description: 'Missing or invalid credentials (`authn.required`, `authn.token_expired` …). `WWW-Authenticate` names the accepted schemes.' },
  403: { name: 'Forbidden', description: 'Authenticated but not allowed (`authz.denied`, `authz.field_forbidden`), or plain HTTP where HTTPS is required (`transport.https_required`).' },
  404: { name: 'NotFound', description: 'No route matches the path (`route.not_found`).' },
  405: { name: 'MethodNotAllowed', description: 'The path exists with other methods (`route.method_not_allowed`); `Allow` lists them.' },
  410: { name: 'Gone', description: 'The API version reached its sunset (`version.sunset`).' },
  413: { name: 'ContentTooLarge', description: 'The body is larger than the route accepts (`validate.body_too_large`).' },
  415: { name: 'UnsupportedMediaType', description: 'The body media type is not accepted (`validate.unsupported_media_type`).' },
  422: { name: 'UnprocessableContent', description: 'Params, query, headers or body failed the schema, or carried unknown keys (`validate.invalid`); `errors` lists each field.' },
  429: { name: 'TooManyRequests', description: 'A rate-limit bucket is empty (`ratelimit.exceeded`), or the caller used up its quota for the period (`quota.exhausted`); `Retry-After` says when to retry.' },
  503: { name: 'ServiceUnavailable', description: 'A dependency the decision needs is down: keys, introspection or the rate-limit store (`authn.keys_unavailable`, `ratelimit.unavailable`). Fails closed.' },
} as const;
type ProblemStatus = keyof typeof RESPONSES;

const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema });
const RESPONSE_HEADERS: Partial<Record<ProblemStatus, Json>> = {
  401: { 'WWW-Authenticate': header('The accepted authentication schemes (RFC 6750 error codes for bearer tokens).') },
  405: { Allow: header('The methods this path accepts.') },
  429: {
    'Retry-After': header('Seconds until the bucket has room.', { type: 'integer', minimum: 1 }),
    RateLimit: header('Remaining units per bucket (IETF RateLimit header fields).'),
    'RateLimit-Policy': header('Each bucket: quota and window.'),
  },
};

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details. `code` is the stable reason code; `type` is its URI.',
  required: ['type', 'title', 'status', 'code', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri', examples: [problemType('authz.denied')] },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    code: { type: 'string', examples: ['authz.denied'] },
    requestId: { type: 'string', description: 'Also sent as X-Request-Id, and logged.' },
    detail: { type: 'string' },
    errors: { type: 'array', items: { $ref: '#/components/schemas/FieldError' } },
  },
};

const FIELD_ERROR_SCHEMA = {
  type: 'object',
  required: ['in', 'pointer', 'detail'],
  properties: {
    in: { enum: ['params', 'query', 'headers', 'body'] },
    pointer: { type: 'string', description: 'JSON Pointer into that part.' },
    detail: { type: 'string' },
  },
};

/** Headers OpenAPI says are not described as parameters. */
const RESERVED_HEADERS = ['accept', 'content-type', 'authorization'];

/**
 * A Standard Schema as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), input side: what
 * the caller sends. Actions with no JSON Schema counterpart (custom checks, transforms) are left out.
 */
export function jsonSchemaOf(schema: StandardSchemaV1): Json {
  const standard = schema['~standard'] as StandardSchemaV1['~standard'] & {
    jsonSchema?: { input?: (options: { target: string }) => Json };
  };
  if (standard.vendor === 'valibot') {
    try {
      return withoutDialect(toJsonSchema(schema as never, { target: 'draft-2020-12', typeMode: 'input', errorMode: 'ignore' }) as Json);
    } catch {
      // Fall through to the Standard JSON Schema interface, then to a description.
    }
  }
  if (typeof standard.jsonSchema?.input === 'function') {
    try {
      return withoutDialect(standard.jsonSchema.input({ target: 'draft-2020-12' }));
    } catch {
      // A vendor that cannot convert this schema: described below.
    }
  }
  return { description: `Validated by a ${standard.vendor} schema that offers no JSON Schema.` };
}

function withoutDialect(schema: Json): Json {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/**
 * Objects that do not say otherwise get `additionalProperties: false`: the engine refuses keys a
 * schema would drop (unknownKeys: 'reject'), so the document says the same.
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' || key === '$defs') {
      out[key] = Object.fromEntries(Object.entries(value as Json).map(([name, sub]) => [name, closeObjects(sub)]));
    } else if (['items', 'prefixItems', 'anyOf', 'oneOf', 'allOf', 'additionalProperties'].includes(key)) {
      out[key] = closeObjects(value);
    } else {
      out[key] = value;
    }
  }
  if (out.type === 'object' && out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** `/v1/users/:id` → `/v1/users/{id}` */
export function openApiPath(parsed: ParsedPattern): string {
  return `/${parsed.segments.map((segment) => ('param' in segment ? `{${segment.param}}` : segment.literal)).join('/')}`;
}

/** `GET /v1/users/:id` → `getV1UsersById` */
function operationId(method: string, parsed: ParsedPattern): string {
  const words = parsed.segments.flatMap((segment) =>
    'param' in segment ? ['by', ...segment.param.split(/[^A-Za-z0-9]+/)] : segment.literal.split(/[^A-Za-z0-9]+/),
  );
  return method.toLowerCase() + words.filter(Boolean).map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
}

/** The security schemes of one authentication method (an API key readable from the query has two). */
function securitySchemes(method: AuthnMethod): Record<string, Json> {
  const meta = method.meta ?? {};
  const list = (value: unknown) => (Array.isArray(value) ? value.join(', ') : String(value));
  if (method.kind === 'jwt') {
    const parts = [
      meta.issuer !== undefined && `issuer ${list(meta.issuer)}`,
      meta.audience !== undefined && `audience ${list(meta.audience)}`,
      meta.algorithms !== undefined && `algorithms ${list(meta.algorithms)}`,
      typeof meta.jwksUrl === 'string' && `keys ${meta.jwksUrl}`,
    ].filter(Boolean);
    return { '': { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: `A JWT (${parts.join('; ')}).` } };
  }
  if (method.kind === 'apiKey') {
    const schemes: Record<string, Json> = {
      '': { type: 'apiKey', in: 'header', name: typeof meta.header === 'string' ? meta.header : 'x-api-key', description: meta.prefix ? `Keys start with ${String(meta.prefix)}.` : 'An API key.' },
    };
    if (typeof meta.queryParam === 'string') schemes.Query = { type: 'apiKey', in: 'query', name: meta.queryParam, description: 'The same API key, in the URL.' };
    return schemes;
  }
  if (method.kind === 'oauth2Introspection') {
    return { '': { type: 'http', scheme: 'bearer', description: `An OAuth 2.0 access token, checked by token introspection (RFC 7662)${typeof meta.endpoint === 'string' ? ` at ${meta.endpoint}` : ''}.` } };
  }
  if (method.kind === 'mtls') return { '': { type: 'mutualTLS', description: 'A client certificate (mutual TLS), verified by the TLS layer or a trusted proxy.' } };
  const scheme = /^[A-Za-z][A-Za-z0-9_-]*/.exec(method.challenge)?.[0] ?? 'bearer';
  return { '': { type: 'http', scheme: scheme.toLowerCase(), description: `A ${method.kind} credential.` } };
}

function describeRule(rule: AllowRule): string {
  const parts: string[] = [];
  if (rule.roles) parts.push(`a role of ${rule.roles.join(', ')}`);
  if (rule.scopes) parts.push(`scopes ${rule.scopes.join(' ')}`);
  if (rule.owner) parts.push(`owner of {${rule.owner.param}} (claim ${rule.owner.claim ?? 'sub'})`);
  if (rule.check) parts.push(`the check ${rule.name ?? 'of the policy'}`);
  return parts.join(' and ');
}

function describeAccess(policy: Policy, route: RoutePolicy): string {
  const lines: string[] = [];
  if (route.description) lines.push(route.description, '');
  if (route.authn === 'anonymous') lines.push('Authentication: none (public).');
  else {
    const names = route.authn.map((name) => (name === 'anonymous' ? 'none (optional)' : `${name} (${policy.authn?.[name]?.kind ?? '?'})`));
    lines.push(`Authentication: ${names.join(' or ')}.`);
  }
  if (route.allow === 'authenticated') lines.push('Allowed: every authenticated caller.');
  else if (route.allow) lines.push(`Allowed: ${route.allow.map(describeRule).join('; or ')}.`);
  if (route.fieldRoles) {
    lines.push(`Fields only some roles may set: ${Object.entries(route.fieldRoles).map(([field, roles]) => `${field} (${roles.join(', ')})`).join('; ')}.`);
  }
  if (route.rateLimit?.length) {
    const buckets = route.rateLimit.map((name) => {
      const bucket = policy.rateLimits?.[name];
      return bucket ? `${name}: ${bucket.limit} per ${bucket.window} by ${typeof bucket.by === 'function' ? 'a custom key' : (bucket.by ?? 'principal')}${bucket.count === 'failures' ? ' (failures only)' : ''}` : name;
    });
    lines.push(`Rate limits: ${buckets.join('; ')}.`);
  }
  const quota = route.quota === undefined ? undefined : policy.quotas?.[route.quota];
  if (quota) lines.push(`Quota: ${quota.limit} calls per UTC ${quota.period} per ${quota.by === 'apiKey' ? 'API key' : 'caller'} (an API key's plan may differ).`);
  return lines.join('\n');
}

/** Object-schema properties as parameters (`in: query` / `in: header`); other shapes as one form parameter. */
function objectParameters(schema: StandardSchemaV1, where: 'query' | 'header', close: boolean): Json[] {
  const json = (close ? closeObjects(jsonSchemaOf(schema)) : jsonSchemaOf(schema)) as Json;
  const properties = json.properties as Record<string, Json> | undefined;
  if (json.type !== 'object' || !properties) return where === 'query' ? [{ name: 'query', in: 'query', style: 'form', explode: true, schema: json }] : [];
  const required = Array.isArray(json.required) ? (json.required as string[]) : [];
  return Object.entries(properties)
    .filter(([name]) => where !== 'header' || !RESERVED_HEADERS.includes(name.toLowerCase()))
    .map(([name, property]) => ({ name, in: where, required: required.includes(name), schema: property }));
}

/** The OpenAPI 3.1 document of the API a policy guards. */
export function toOpenApi(policy: Policy, options: OpenApiOptions = {}): Json {
  const now = options.now === undefined ? Date.now() : new Date(options.now).getTime();
  const securitySchemeNames = new Map<string, string[]>();
  const components: Record<string, Record<string, Json>> = {
    schemas: { Problem: PROBLEM_SCHEMA, FieldError: FIELD_ERROR_SCHEMA },
    responses: {},
    securitySchemes: {},
  };
  for (const [status, { name, description }] of Object.entries(RESPONSES)) {
    components.responses![name] = {
      description,
      ...(RESPONSE_HEADERS[Number(status) as ProblemStatus] ? { headers: RESPONSE_HEADERS[Number(status) as ProblemStatus] } : {}),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  for (const [name, method] of Object.entries(policy.authn ?? {})) {
    const schemes = Object.entries(securitySchemes(method)).map(([suffix, scheme]) => {
      components.securitySchemes![name + suffix] = scheme;
      return name + suffix;
    });
    securitySchemeNames.set(name, schemes);
  }

  const remoteDependency = Object.values(policy.authn ?? {}).some((method) => method.kind === 'oauth2Introspection' || typeof method.meta?.jwksUrl === 'string');
  const versions = Object.entries(policy.versions ?? {}).map(([prefix, version]) => ({ parts: prefix.split('/').filter(Boolean), version }));
  const paths: Record<string, Record<string, Json>> = {};

  const operations = Object.entries(policy.routes).flatMap(([pattern, route]: [string, RoutePolicy]) => {
    const parsed = parsePattern(pattern);
    if (typeof parsed === 'string') return [];
    const entries: [string, ParsedPattern, RoutePolicy, boolean][] = [[pattern, parsed, route, false]];
    if (policy.routing?.headFromGet && parsed.method === 'GET' && !(`HEAD ${parsed.path}` in policy.routes)) {
      entries.push([pattern, { ...parsed, method: 'HEAD' }, route, true]);
    }
    return entries;
  });

  for (const [pattern, parsed, route, derived] of operations) {
    const paramsJson = route.params ? (jsonSchemaOf(route.params).properties as Record<string, Json> | undefined) : undefined;
    const parameters: Json[] = parsed.params.map((name) => ({ name, in: 'path', required: true, schema: paramsJson?.[name] ?? { type: 'string' } }));
    // Unknown query keys are refused like unknown body keys; unlisted headers never are.
    if (route.query) parameters.push(...objectParameters(route.query, 'query', route.unknownKeys !== 'strip'));
    if (route.headers) parameters.push(...objectParameters(route.headers, 'header', false));

    const hasBody = (route.body !== undefined || route.contentTypes !== undefined) && !['GET', 'HEAD'].includes(parsed.method);
    const responses: Json = { '2XX': { description: "The guarded API's answer (the policy does not describe it)." } };
    const refer = (status: ProblemStatus) => (responses[status] = { $ref: `#/components/responses/${RESPONSES[status].name}` });
    refer(400);
    if (route.authn !== 'anonymous') refer(401);
    const writes = !['GET', 'HEAD', 'OPTIONS'].includes(parsed.method);
    if (Array.isArray(route.allow) || route.fieldRoles || (writes && policy.transport?.requireHttps !== false)) refer(403);
    if (parsed.params.length) refer(404);
    const version = versions.find(({ parts }) => parts.every((part, i) => { const segment = parsed.segments[i]; return segment !== undefined && 'literal' in segment && segment.literal === part; }));
    if (version?.version.sunset) refer(410);
    if (hasBody) refer(413), refer(415);
    if (route.params || route.query || route.headers || (hasBody && route.body)) refer(422);
    if (route.rateLimit?.length || route.quota !== undefined) refer(429);
    if ((route.rateLimit?.length && policy.rateLimiting?.onStoreError !== 'allow') || (route.authn !== 'anonymous' && remoteDependency)) refer(503);

    const security =
      route.authn === 'anonymous'
        ? []
        : route.authn.flatMap((name) => (name === 'anonymous' ? [{}] : (securitySchemeNames.get(name) ?? []).map((scheme) => ({ [scheme]: [] }))));
    const deprecation = version?.version.deprecation === undefined ? NaN : Date.parse(version.version.deprecation);
    const operation: Json = {
      operationId: operationId(parsed.method, parsed),
      summary: route.description?.split('\n')[0] ?? (derived ? `${pattern} (HEAD)` : pattern),
      description: describeAccess(policy, route),
      ...(parameters.length ? { parameters } : {}),
      ...(hasBody
        ? {
            requestBody: {
              required: true,
              content: Object.fromEntries(
                (route.contentTypes ?? ['application/json']).map((type) => [
                  type,
                  { schema: route.body ? (route.unknownKeys === 'strip' ? jsonSchemaOf(route.body) : closeObjects(jsonSchemaOf(route.body))) : {} },
                ]),
              ),
            },
          }
        : {}),
      responses,
      security,
      ...(deprecation <= now || version?.version.sunset ? { deprecated: true } : {}),
      'x-portcullis-route': pattern,
    };
    (paths[openApiPath(parsed)] ??= {})[parsed.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'API guarded by portcullis',
      version: options.version ?? '0.0.0',
      description:
        'Generated from a portcullis policy. Every denial is application/problem+json (RFC 9457) with a stable `code`; ' +
        'unknown paths answer 404 and known paths with another method 405 with `Allow`.',
    },
    ...(options.servers?.length ? { servers: options.servers.map((url) => ({ url })) } : {}),
    paths,
    components,
  };
}
