/**
 * A small valid value for a body schema, so that a body attack changes one thing at a time: a
 * mass-assignment body is the valid sample plus a `role` key, and its 422 can only be for that key.
 * Best effort, from the JSON Schema the OpenAPI export makes of the route's schema.
 * @module
 */

import { jsonSchemaOf } from '../openapi/document.ts';
import type { StandardSchemaV1 } from '../../src/schema.ts';

type Json = Record<string, unknown>;

/** A sample value for a route's body schema; `{}` when nothing better is known. */
export function sampleBody(schema: StandardSchemaV1 | undefined): unknown {
  if (!schema) return {};
  try {
    return sample(jsonSchemaOf(schema) as Json, 0) ?? {};
  } catch {
    return {};
  }
}

/** The property names a body schema declares (to pick attack keys that are not among them). */
export function declaredKeys(schema: StandardSchemaV1 | undefined): Set<string> {
  if (!schema) return new Set();
  try {
    const json = jsonSchemaOf(schema) as Json;
    return new Set(Object.keys((json.properties as Json | undefined) ?? {}));
  } catch {
    return new Set();
  }
}

function sample(schema: Json | undefined, depth: number): unknown {
  if (!schema || depth > 8) return undefined;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options)) {
      for (const option of options as Json[]) {
        const value = sample(option, depth + 1);
        if (value !== undefined) return value;
      }
    }
  }
  if (Array.isArray(schema.allOf)) {
    const parts = (schema.allOf as Json[]).map((part) => sample(part, depth + 1));
    if (parts.every((part) => typeof part === 'object' && part !== null && !Array.isArray(part))) return Object.assign({}, ...parts);
    return parts[0];
  }
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : (schema.type as string | undefined);
  switch (type) {
    case 'object': {
      const out: Json = {};
      const properties = (schema.properties as Record<string, Json> | undefined) ?? {};
      for (const name of (schema.required as string[] | undefined) ?? []) out[name] = sample(properties[name], depth + 1) ?? 'portcullis-probe';
      return out;
    }
    case 'array': {
      const count = Math.min(Number(schema.minItems ?? 0), 8);
      return Array.from({ length: count }, () => sample(schema.items as Json | undefined, depth + 1) ?? 'portcullis-probe');
    }
    case 'string':
      return sampleString(schema);
    case 'integer':
    case 'number': {
      const minimum = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : 1;
      const maximum = typeof schema.maximum === 'number' ? schema.maximum : undefined;
      const value = maximum !== undefined && minimum > maximum ? maximum : minimum;
      return type === 'integer' ? Math.ceil(value) : value;
    }
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return undefined;
  }
}

function sampleString(schema: Json): string {
  const formats: Record<string, string> = {
    email: 'probe@portcullis-probe.invalid',
    uri: 'https://portcullis-probe.invalid/',
    url: 'https://portcullis-probe.invalid/',
    'date-time': '2030-01-01T00:00:00Z',
    date: '2030-01-01',
    uuid: '00000000-0000-4000-8000-000000000000',
    ipv4: '192.0.2.1',
    ipv6: '2001:db8::1',
  };
  let value = formats[schema.format as string] ?? 'portcullis-probe';
  const min = Number(schema.minLength ?? 0);
  const max = schema.maxLength === undefined ? undefined : Number(schema.maxLength);
  while (value.length < min) value += 'x';
  if (max !== undefined && value.length > max) value = value.slice(0, max);
  return value;
}
