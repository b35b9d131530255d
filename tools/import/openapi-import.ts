/**
 * importOpenApi: a policy skeleton (TypeScript source) from an OpenAPI 3.0/3.1 document — one
 * route per operation, its path, query, header and body schemas as `jsonSchema()`, and the
 * security schemes as `jwt()`, `apiKey()` and `oauth2Introspection()` stubs. What the document
 * cannot say (who may call, the real issuer, the keys) is written fail-closed and marked TODO.
 * @module
 */

import { parsePattern, type ParsedPattern } from '../../src/router.ts';
import { AUTH_FLOW, isAdminRoute } from '../lint/rules.ts';
import { dereference, isObject, toJsonSchema, type Json, type OpenApiDocument } from './document.ts';

/** Options of importOpenApi. */
export interface ImportOptions {
  /** The package the policy imports from. @default 'portcullis' */
  from?: string;
  /** The document's file name, for the header comment. */
  file?: string;
}

/** The generated policy and what the import could not carry over. */
export interface ImportResult {
  /** TypeScript source of the policy module. */
  source: string;
  routes: number;
  methods: number;
  /** What was left out or guessed, for the person who finishes the policy. */
  notes: string[];
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A placeholder host that never resolves (RFC 6761): an unfinished stub refuses every credential. */
const PLACEHOLDER = 'https://issuer.invalid';

interface Method {
  name: string;
  factory: 'jwt' | 'apiKey' | 'oauth2Introspection';
  code: string;
}

/**
 * Turns an OpenAPI document into the source of a policy module.
 *
 * @example
 * ```ts
 * import { importOpenApi, parseOpenApiText } from 'portcullis/import';
 * const { source, notes } = importOpenApi(parseOpenApiText(readFileSync('openapi.yaml', 'utf8'), 'openapi.yaml'));
 * ```
 */
export function importOpenApi(input: OpenApiDocument, options: ImportOptions = {}): ImportResult {
  const { document } = input;
  const notes: string[] = [];
  const methods = securityMethods(document, notes);
  const routes: string[] = [];
  const buckets = new Set<string>();
  let bodies = false;

  for (const [path, item] of Object.entries(document.paths as Json)) {
    const pathItem = dereference(document, item);
    if (!pathItem) continue;
    for (const method of METHODS) {
      const operation = dereference(document, pathItem[method]);
      if (!operation) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const declared = typeof operation['x-portcullis-route'] === 'string' && operation['x-portcullis-route'].startsWith(`${method.toUpperCase()} `) ? operation['x-portcullis-route'] : undefined;
      const pattern = declared ?? `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`;
      const parsed = parsePattern(pattern);
      if (typeof parsed === 'string') {
        notes.push(`${where}: left out, the path does not make a route (${parsed})`);
        continue;
      }
      const bad = parsed.params.filter((name) => !PARAM_NAME.test(name));
      if (bad.length) {
        notes.push(`${where}: left out, path parameter names ${bad.join(', ')} are not identifiers`);
        continue;
      }
      const route = routeSource(input, pattern, parsed, [...parameterList(document, pathItem.parameters), ...parameterList(document, operation.parameters)], operation, methods, notes);
      if (!route) continue;
      route.buckets.forEach((bucket) => buckets.add(bucket));
      bodies ||= route.body;
      routes.push(route.code);
    }
  }

  const from = options.from ?? 'portcullis';
  const factories = [...new Set(methods.map((method) => method.factory))].sort();
  const bucketCode: Record<string, string> = {
    perIp: "perIp: { limit: 300, window: '1m', by: 'ip' },",
    perCaller: "perCaller: { limit: 600, window: '1m', by: 'principal' },",
    credentials: "credentials: { limit: 5, window: '15m', by: 'ip', count: 'failures' },",
  };
  const info = isObject(document.info) ? document.info : {};
  const lines = [
    '/**',
    ` * Imported by \`portcullis import\` from ${options.file ?? 'an OpenAPI document'}${typeof info.title === 'string' ? ` (${info.title}${typeof info.version === 'string' ? ` ${info.version}` : ''})` : ''}.`,
    ' * Before it guards anything: resolve each TODO (who may call each route, the real issuers and keys),',
    ' * then run `portcullis lint` on this file.',
    ' * @module',
    ' */',
    '',
    `import { ${['definePolicy', ...factories].sort().join(', ')} } from '${from}';`,
    `import { jsonSchema } from '${from}/json-schema';`,
    '',
    'export default definePolicy({',
    ...(methods.length ? ['  authn: {', ...methods.map((method) => indent(method.code, 4)), '  },'] : []),
    ...(buckets.size ? ['  // TODO: budgets that fit the traffic you expect.', '  rateLimits: {', ...[...buckets].sort().map((name) => `    ${bucketCode[name]}`), '  },'] : []),
    ...(bodies ? ['  // TODO: the largest body a route needs.', '  limits: { maxBodyBytes: 64 * 1024 },'] : []),
    '  routes: {',
    ...routes.map((code) => indent(code, 4)),
    '  },',
    '});',
    '',
  ];
  return { source: lines.join('\n'), routes: routes.length, methods: methods.length, notes };
}

const indent = (code: string, spaces: number) => code.split('\n').map((line) => ' '.repeat(spaces) + line).join('\n');
const literal = (value: unknown) => JSON.stringify(value);

function parameterList(document: Json, list: unknown): Json[] {
  return Array.isArray(list) ? list.map((item) => dereference(document, item)).filter((item): item is Json => item !== undefined) : [];
}

/** The schema of a parameter: its `schema`, or the one of its `content`. */
function parameterSchema(parameter: Json): unknown {
  if (parameter.schema !== undefined) return parameter.schema;
  const content = isObject(parameter.content) ? Object.values(parameter.content)[0] : undefined;
  return isObject(content) ? content.schema : undefined;
}

function objectSchema(input: OpenApiDocument, parameters: Json[], notes: string[], where: string, lowerCase = false): Json {
  const properties: Json = {};
  const required: string[] = [];
  for (const parameter of parameters) {
    const name = lowerCase ? String(parameter.name).toLowerCase() : String(parameter.name);
    const schema = toJsonSchema(input, parameterSchema(parameter), notes, where);
    properties[name] = typeof parameter.description === 'string' && schema.description === undefined ? { ...schema, description: parameter.description } : schema;
    if (parameter.required === true || parameter.in === 'path') required.push(name);
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

interface RouteSource {
  code: string;
  buckets: string[];
  body: boolean;
}

function routeSource(input: OpenApiDocument, pattern: string, parsed: ParsedPattern, parameters: Json[], operation: Json, methods: Method[], notes: string[]): RouteSource | undefined {
  const { document } = input;
  // Operation-level parameters override path-level ones of the same name and place.
  const unique = new Map<string, Json>();
  for (const parameter of parameters) unique.set(`${String(parameter.in)}:${String(parameter.name)}`, parameter);
  const byPlace = (place: string) => [...unique.values()].filter((parameter) => parameter.in === place);
  const cookies = byPlace('cookie');
  if (cookies.length) notes.push(`${pattern}: cookie parameters (${cookies.map((c) => c.name).join(', ')}) are not checked`);

  // Who may call: the operation's security, else the document's.
  const requirements = (Array.isArray(operation.security) ? operation.security : Array.isArray(document.security) ? document.security : []) as unknown[];
  const known = new Map(methods.map((method) => [method.name, method]));
  const names: string[] = [];
  const scopeSets: string[][] = [];
  let optional = false;
  for (const requirement of requirements.filter(isObject)) {
    const schemes = Object.keys(requirement);
    if (!schemes.length) optional = true;
    const usable = schemes.map((scheme) => (known.has(scheme) ? scheme : known.has(scheme.replace(/Query$/, '')) ? scheme.replace(/Query$/, '') : undefined));
    if (usable.some((name) => name === undefined)) continue;
    names.push(...(usable as string[]));
    scopeSets.push(schemes.flatMap((scheme) => (Array.isArray(requirement[scheme]) ? (requirement[scheme] as string[]) : [])));
  }
  if (requirements.length && !names.length && !optional) {
    notes.push(`${pattern}: left out, no security requirement of it maps to a method portcullis has`);
    return undefined;
  }
  const authn = [...new Set(names)];
  const anonymous = !authn.length;
  const info = { pattern, parsed, route: { authn: anonymous ? ('anonymous' as const) : authn } };
  const admin = isAdminRoute(info);
  const literalPath = parsed.segments.map((segment) => ('literal' in segment ? segment.literal : '')).join('/');
  const credentialFlow = ['POST', 'PUT', 'PATCH'].includes(parsed.method) && AUTH_FLOW.test(literalPath);

  const lines: string[] = [`${JSON.stringify(pattern)}: {`];
  if (anonymous) lines.push("  authn: 'anonymous',");
  else lines.push(`  authn: ${literal(optional ? [...authn, 'anonymous'] : authn)},`);
  if (!anonymous) {
    const scoped = scopeSets.length > 0 && scopeSets.every((set) => set.length > 0);
    if (scoped && !admin) {
      lines.push('  // TODO: who may call? The document names scopes; add roles or an owner rule where they are not enough.');
      lines.push(`  allow: ${literal(dedupe(scopeSets).map((scopes) => ({ scopes })))},`);
    } else if (admin) {
      // Fail closed: a deletion or an admin function is nobody's until someone says whose.
      lines.push('  // TODO: who may call? Admins only until decided.');
      lines.push(`  allow: ${literal(scoped ? dedupe(scopeSets).map((scopes) => ({ roles: ['admin'], scopes })) : [{ roles: ['admin'] }])},`);
    } else {
      lines.push("  // TODO: who may call? 'authenticated' admits every caller the methods accept.");
      lines.push("  allow: 'authenticated',");
    }
  }
  const buckets = anonymous ? (credentialFlow ? ['credentials', 'perIp'] : ['perIp']) : ['perCaller'];
  lines.push(`  rateLimit: ${literal(buckets)},`);

  const where = pattern;
  const pathParams = byPlace('path');
  const declared = new Set(pathParams.map((parameter) => String(parameter.name)));
  const params = [...pathParams, ...parsed.params.filter((name) => !declared.has(name)).map((name) => ({ name, in: 'path', schema: { type: 'string' } }))];
  if (pathParams.length) lines.push(`  params: jsonSchema(${literal(objectSchema(input, params, notes, where))}, { coerce: 'strings' }),`);
  const query = byPlace('query');
  if (query.length) lines.push(`  query: jsonSchema(${literal(objectSchema(input, query, notes, where))}, { coerce: 'strings' }),`);
  const headers = byPlace('header');
  if (headers.length) lines.push(`  headers: jsonSchema(${literal(objectSchema(input, headers, notes, where, true))}, { coerce: 'strings' }),`);

  const requestBody = dereference(document, operation.requestBody);
  const content = requestBody && isObject(requestBody.content) ? requestBody.content : undefined;
  let body = false;
  if (content && Object.keys(content).length) {
    const types = Object.keys(content);
    const jsonType = types.find((type) => /^application\/(?:[\w.+-]+\+)?json$/i.test(type.split(';')[0]!.trim()));
    const media = jsonType ? dereference(document, content[jsonType]) : undefined;
    if (media?.schema !== undefined) {
      lines.push(`  body: jsonSchema(${literal(toJsonSchema(input, media.schema, notes, where))}),`);
      body = true;
    } else {
      notes.push(`${pattern}: the body (${types.join(', ')}) has no JSON schema; give the route a body schema`);
    }
    if (types.length !== 1 || types[0] !== 'application/json') lines.push(`  contentTypes: ${literal(types)},`);
    body = true;
  }
  const summary = typeof operation.summary === 'string' && operation.summary !== pattern ? operation.summary : typeof operation.description === 'string' && !operation.summary ? operation.description.split('\n')[0] : undefined;
  if (summary) lines.push(`  description: ${literal(summary)},`);
  lines.push('},');
  return { code: lines.join('\n'), buckets, body };
}

function dedupe(sets: string[][]): string[][] {
  const seen = new Set<string>();
  return sets.filter((set) => {
    const key = [...set].sort().join(' ');
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** `issuer X; audience Y` out of the description `portcullis openapi` writes, when it is one. */
function described(description: unknown, key: string): string | undefined {
  if (typeof description !== 'string') return undefined;
  return new RegExp(`\\b${key} ([^;)]+)`).exec(description)?.[1]?.trim();
}

/** The document's security schemes as authentication methods; the ones portcullis has no method for, noted. */
function securityMethods(document: Json, notes: string[]): Method[] {
  const components = isObject(document.components) ? document.components : {};
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  const out: Method[] = [];
  const queryKeys = new Map<string, string>();
  for (const [name, raw] of Object.entries(schemes)) {
    const scheme = dereference(document, raw);
    if (!scheme) continue;
    // `portcullis openapi` writes an API key readable from the query as a second scheme, `<name>Query`.
    if (scheme.type === 'apiKey' && scheme.in === 'query' && name.endsWith('Query') && isObject(schemes[name.slice(0, -5)])) {
      queryKeys.set(name.slice(0, -5), String(scheme.name));
      continue;
    }
    const method = methodOf(name, scheme, notes);
    if (method) out.push(method);
  }
  return out.map((method) =>
    queryKeys.has(method.name) ? { ...method, code: method.code.replace('  keys: {},', `  keys: {},\n  dangerouslyAllowQueryParam: ${literal(queryKeys.get(method.name))},`) } : method,
  );
}

function methodOf(name: string, scheme: Json, notes: string[]): Method | undefined {
  const key = PARAM_NAME.test(name) ? name : JSON.stringify(name);
  const description = scheme.description;
  if (scheme.type === 'apiKey') {
    if (scheme.in === 'cookie') {
      notes.push(`securitySchemes.${name}: API keys in cookies are not supported; routes that need only it are left out`);
      return undefined;
    }
    const prefix = typeof description === 'string' ? /Keys start with (\S+?)\.?$/.exec(description)?.[1] : undefined;
    const header = scheme.in === 'header' ? String(scheme.name).toLowerCase() : 'x-api-key';
    const lines = [
      `${key}: apiKey({`,
      `  header: ${literal(header)},`,
      ...(scheme.in === 'query' ? [`  dangerouslyAllowQueryParam: ${literal(String(scheme.name))},`] : []),
      ...(prefix ? [`  prefix: ${literal(prefix)},`] : []),
      '  // TODO: SHA-256 hex of each key → { principal, scopes } (hashApiKey), or resolve: a lookup in your store.',
      '  keys: {},',
      '}),',
    ];
    return { name, factory: 'apiKey', code: lines.join('\n') };
  }
  const introspected = (scheme.type === 'http' && typeof description === 'string' && /introspection/i.test(description)) || scheme.type === 'oauth2';
  if (introspected) {
    const endpoint = typeof description === 'string' ? /introspection \(RFC 7662\) at (\S+?)\.?$/.exec(description)?.[1] : undefined;
    const lines = [
      `${key}: oauth2Introspection({`,
      ...(endpoint ? [] : ['  // TODO: the authorization server\'s introspection endpoint (RFC 7662), and this gateway\'s client credentials.']),
      `  endpoint: ${literal(endpoint ?? `${PLACEHOLDER}/oauth2/introspect`)},`,
      "  clientId: 'TODO',",
      "  clientSecret: 'TODO: from your secret store',",
      "  audience: 'TODO',",
      '}),',
    ];
    return { name, factory: 'oauth2Introspection', code: lines.join('\n') };
  }
  if ((scheme.type === 'http' && String(scheme.scheme).toLowerCase() === 'bearer') || scheme.type === 'openIdConnect') {
    const discovery = typeof scheme.openIdConnectUrl === 'string' ? scheme.openIdConnectUrl.replace(/\/\.well-known\/openid-configuration$/, '') : undefined;
    const issuer = described(description, 'issuer') ?? discovery;
    const audience = described(description, 'audience');
    const jwksUrl = described(description, 'keys') ?? (discovery ? `${discovery}/.well-known/jwks.json` : undefined);
    const algorithms = described(description, 'algorithms')?.split(', ');
    const list = (value: string | undefined) => (value?.includes(', ') ? literal(value.split(', ')) : literal(value));
    const lines = [
      `${key}: jwt({`,
      ...(issuer && audience && jwksUrl ? [] : ['  // TODO: the identity provider\'s keys, issuer and audience (the document does not say them all).']),
      `  jwksUrl: ${literal(jwksUrl ?? `${PLACEHOLDER}/.well-known/jwks.json`)},`,
      `  issuer: ${list(issuer ?? PLACEHOLDER)},`,
      `  audience: ${list(audience ?? 'TODO')},`,
      `  algorithms: ${literal(algorithms ?? ['ES256'])},`,
      '}),',
    ];
    return { name, factory: 'jwt', code: lines.join('\n') };
  }
  notes.push(`securitySchemes.${name}: ${String(scheme.type)} ${String(scheme.scheme ?? '')} has no portcullis method; routes that need only it are left out`.replace(/\s+;/, ';'));
  return undefined;
}
