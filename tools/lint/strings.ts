/**
 * Body strings lint can prove unbounded: the fields of a valibot schema (read through its JSON
 * Schema) that accept any length and any characters. Other Standard Schemas are not judged.
 * @module
 */

import { jsonSchemaOf } from '../openapi/document.ts';
import type { StandardSchemaV1 } from '../../src/schema.ts';

type Json = Record<string, unknown>;

/** Keywords that hold subschemas of the same value or of its members (not `propertyNames`: keys are bounded by the body cap). */
const NESTED_ONE = ['items', 'additionalProperties', 'not', 'contains'];
const NESTED_MANY = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];

/** A string node says how long or what it may be: a maximum length, a pattern or format, or fixed values. */
const bounded = (node: Json) => node.maxLength !== undefined || node.pattern !== undefined || node.format !== undefined || node.enum !== undefined || node.const !== undefined;

const isString = (node: Json) => node.type === 'string' || (Array.isArray(node.type) && node.type.includes('string'));

/**
 * JSON pointers (`/name`, `/tags/items`) of the string fields of a valibot schema that have neither
 * a maximum length nor a pattern: any length, any character (NUL and other controls included).
 * Empty for a schema of another vendor.
 */
export function unboundedStrings(schema: StandardSchemaV1): string[] {
  if (schema['~standard'].vendor !== 'valibot') return [];
  const found: string[] = [];
  const visit = (node: unknown, pointer: string) => {
    if (typeof node !== 'object' || node === null) return;
    const json = node as Json;
    if (isString(json) && !bounded(json)) found.push(pointer || '/');
    if (typeof json.properties === 'object' && json.properties !== null) {
      for (const [key, child] of Object.entries(json.properties)) visit(child, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    }
    for (const keyword of NESTED_ONE) visit(json[keyword], `${pointer}/${keyword}`);
    for (const keyword of NESTED_MANY) if (Array.isArray(json[keyword])) (json[keyword] as unknown[]).forEach((child) => visit(child, pointer));
  };
  visit(jsonSchemaOf(schema), '');
  return found;
}
