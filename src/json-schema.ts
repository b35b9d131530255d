/**
 * `jsonSchema()`: a JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) as a Standard Schema,
 * validated by @cfworker/json-schema — which interprets schemas instead of compiling them to code,
 * so it runs where `new Function` is refused (Cloudflare Workers) as on Node, Deno and Bun.
 * `portcullis import` writes policies that use it.
 * @module
 */

import { Validator, type Schema } from '@cfworker/json-schema';
import type { StandardSchemaV1 } from './schema.ts';

type Json = Record<string, unknown>;

/** Options of `jsonSchema`. */
export interface JsonSchemaOptions {
  /**
   * Path params, query values and headers arrive as strings: `'strings'` turns each property's
   * string into the number, integer or boolean (or array, for a repeated query key) its schema
   * asks for before validating, and the output carries the converted values. Leave it off for bodies.
   * @default false
   */
  coerce?: 'strings' | false;
}

/** A Standard Schema that also hands its JSON Schema back (`~standard.jsonSchema`), for `portcullis openapi`. */
export type JsonSchemaValidator = StandardSchemaV1<unknown, unknown> & {
  readonly '~standard': { readonly jsonSchema: { input(options?: { target?: string }): Json; output(options?: { target?: string }): Json } };
};

/**
 * Wraps a JSON Schema as a Standard Schema for a policy's `params`, `query`, `headers` or `body`.
 * Keys an object schema does not declare (where it says nothing of `additionalProperties`) are left
 * out of the output, so the engine refuses them like any schema's unknown keys (`unknownKeys`).
 *
 * @example
 * ```ts
 * import { jsonSchema } from 'portcullis/json-schema';
 * const query = jsonSchema({ type: 'object', properties: { limit: { type: 'integer', maximum: 100 } } }, { coerce: 'strings' });
 * ```
 */
export function jsonSchema(schema: Json, options: JsonSchemaOptions = {}): JsonSchemaValidator {
  // Fails at definition, not per request, on a schema the validator cannot read.
  const validator = new Validator(schema as Schema, '2020-12', false);
  const coerce = options.coerce === 'strings';
  const copy = () => structuredClone(schema);
  return {
    '~standard': {
      version: 1,
      vendor: 'portcullis-json-schema',
      validate(value: unknown) {
        const input = coerce ? coerceStrings(schema, value) : value;
        const result = validator.validate(input);
        if (result.valid) return { value: declaredOnly(schema, input) };
        // The innermost errors say what is wrong; the outer ones ("properties failed") only where.
        const errors = result.errors.filter((error) => !result.errors.some((other) => other !== error && other.keywordLocation.startsWith(`${error.keywordLocation}/`)));
        return {
          issues: errors.map((error) => ({
            message: error.error,
            path: error.instanceLocation.replace(/^#\/?/, '').split('/').filter(Boolean).map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~')),
          })),
        };
      },
      jsonSchema: { input: copy, output: copy },
    },
  };
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function typesOf(schema: unknown): string[] {
  if (!isObject(schema)) return [];
  if (typeof schema.type === 'string') return [schema.type];
  if (Array.isArray(schema.type)) return schema.type as string[];
  return [];
}

/** One string as the scalar its schema wants; left as it is when it does not read as one. */
function coerceScalar(schema: unknown, value: string): unknown {
  const types = typesOf(schema);
  if (types.includes('string')) return value;
  if ((types.includes('integer') || types.includes('number')) && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (types.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

function coerceStrings(schema: Json, value: unknown): unknown {
  if (!isObject(value) || !isObject(schema.properties)) return value;
  const out: Json = { ...value };
  for (const [key, property] of Object.entries(schema.properties)) {
    const raw = out[key];
    if (typeof raw === 'string') out[key] = typesOf(property).includes('array') ? [coerceScalar((property as Json).items, raw)] : coerceScalar(property, raw);
    else if (Array.isArray(raw)) out[key] = raw.map((item) => (typeof item === 'string' ? coerceScalar(isObject(property) ? property.items : undefined, item) : item));
  }
  return out;
}

/** The value without the keys that object schemas (silent on `additionalProperties`) do not declare. */
function declaredOnly(schema: unknown, value: unknown): unknown {
  if (!isObject(schema)) return value;
  if (Array.isArray(value) && isObject(schema.items)) return value.map((item) => declaredOnly(schema.items, item));
  if (!isObject(value) || !isObject(schema.properties)) return value;
  const open = schema.additionalProperties !== undefined && schema.additionalProperties !== false;
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    const property = schema.properties[key];
    if (property !== undefined) out[key] = declaredOnly(property, item);
    else if (open || isObject(schema.patternProperties)) out[key] = item;
  }
  return out;
}
