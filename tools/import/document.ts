/**
 * Reading an OpenAPI 3.0 or 3.1 document: JSON or YAML text, local `$ref`s resolved, and schemas
 * brought to JSON Schema draft 2020-12 (OpenAPI 3.0's `nullable`, boolean `exclusiveMinimum` and
 * `example` rewritten), which is what `jsonSchema()` validates.
 * @module
 */

import { parse as parseYaml } from 'yaml';

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** An OpenAPI document as read, with the version it declares. */
export interface OpenApiDocument {
  document: Json;
  /** `3.0` or `3.1`. */
  version: '3.0' | '3.1';
}

/** Parses JSON or YAML text (by the file's ending, else by its first character) and checks the version. */
export function parseOpenApiText(text: string, file = 'the document'): OpenApiDocument {
  let parsed: unknown;
  const json = /\.json$/i.test(file) || (!/\.ya?ml$/i.test(file) && text.trimStart().startsWith('{'));
  try {
    parsed = json ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new TypeError(`not ${json ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`);
  }
  return openApiDocument(parsed);
}

/** Checks that a value is an OpenAPI 3.0 or 3.1 document. */
export function openApiDocument(value: unknown): OpenApiDocument {
  if (!isObject(value)) throw new TypeError('an OpenAPI document is an object');
  const declared = value.openapi;
  if (typeof declared !== 'string' || !/^3\.[01]\./.test(declared)) {
    throw new TypeError(`openapi: ${JSON.stringify(declared ?? value.swagger ?? null)} — only OpenAPI 3.0 and 3.1 can be imported`);
  }
  if (!isObject(value.paths)) throw new TypeError('paths: the document has no paths');
  return { document: value, version: declared.startsWith('3.0') ? '3.0' : '3.1' };
}

/** Follows a local `$ref` (`#/components/schemas/User`). */
export function resolveRef(document: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new TypeError(`$ref ${ref}: only references inside the document can be imported`);
  return ref
    .slice(2)
    .split('/')
    .map((part) => decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), document);
}

/** An object that may be a `$ref` (parameters, request bodies), resolved. */
export function dereference(document: Json, value: unknown): Json | undefined {
  let current = value;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    if (hops > 20) throw new TypeError(`$ref ${current.$ref}: a chain of references that does not end`);
    current = resolveRef(document, current.$ref);
  }
  return isObject(current) ? current : undefined;
}

const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SUBSCHEMAS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems'];
/** OpenAPI's own keywords, which are no JSON Schema. */
const OPENAPI_ONLY = ['discriminator', 'xml', 'externalDocs', 'nullable', 'example'];

/**
 * A schema as self-contained JSON Schema 2020-12: references inlined (a recursive one becomes `{}`
 * and is reported in `notes`), OpenAPI 3.0 spellings rewritten, OpenAPI-only keywords dropped.
 */
export function toJsonSchema(input: { document: Json; version: '3.0' | '3.1' }, schema: unknown, notes: string[], where: string, seen: readonly string[] = []): Json {
  if (!isObject(schema)) return typeof schema === 'boolean' && !schema ? { not: {} } : {};
  if (typeof schema.$ref === 'string') {
    if (seen.includes(schema.$ref)) {
      notes.push(`${where}: ${schema.$ref} refers to itself; that part is accepted unchecked`);
      return {};
    }
    return toJsonSchema(input, resolveRef(input.document, schema.$ref), notes, where, [...seen, schema.$ref]);
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-') || OPENAPI_ONLY.includes(key)) continue;
    if (SUBSCHEMA_MAPS.includes(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toJsonSchema(input, sub, notes, where, seen)]));
    } else if (SUBSCHEMA_LISTS.includes(key) && Array.isArray(value)) {
      out[key] = value.map((sub) => toJsonSchema(input, sub, notes, where, seen));
    } else if (SUBSCHEMAS.includes(key) && isObject(value)) {
      out[key] = toJsonSchema(input, value, notes, where, seen);
    } else {
      out[key] = value;
    }
  }
  if (input.version === '3.0') {
    if (schema.nullable === true) out.type = typeof out.type === 'string' ? [out.type, 'null'] : out.type;
    for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
      if (out[flag] === true && typeof out[bound] === 'number') (out[flag] = out[bound]), delete out[bound];
      else if (typeof out[flag] === 'boolean') delete out[flag];
    }
  }
  if (schema.example !== undefined && out.examples === undefined) out.examples = [schema.example];
  return out;
}
