/**
 * Compares two JSON Schemas of one request part (params, query, headers, body) and says whether
 * the new one accepts more (loosened) or less (tightened): fields, required fields, unknown keys,
 * types, enums, patterns, formats and the size limits.
 * @module
 */

import type { OwaspKey } from '../lint/owasp.ts';
import { added, quoted, type ChangeClass } from './change.ts';

type Json = Record<string, unknown>;

/** One loosening or tightening inside a schema, at a JSON Pointer. */
export interface SchemaChange {
  class: ChangeClass;
  /** JSON Pointer into the part (`/email`, `/authors/items`); `` for the part itself. */
  pointer: string;
  message: string;
  owasp?: OwaspKey;
}

/** Upper limits: a higher value or none at all accepts more (and bigger) input. */
const UPPER_LIMITS = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties'] as const;
/** Lower limits: a lower value or none accepts more. */
const LOWER_LIMITS = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties'] as const;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function types(schema: Json): string[] | undefined {
  if (typeof schema.type === 'string') return [schema.type];
  if (Array.isArray(schema.type)) return schema.type as string[];
  return undefined;
}

/**
 * What changed from `before` to `after`. Either may be undefined: the part had no schema, which the
 * engine reads as "anything" for params, query and headers, and as "no body" for the body.
 */
export function diffSchemas(before: Json | undefined, after: Json | undefined, part: 'params' | 'query' | 'headers' | 'body'): SchemaChange[] {
  if (!before && !after) return [];
  if (!before) {
    return part === 'body'
      ? [{ class: 'widening', pointer: '', message: 'the route now accepts a body', owasp: 'API3' }]
      : [{ class: 'narrowing', pointer: '', message: `${part} now have a schema` }];
  }
  if (!after) {
    return part === 'body'
      ? [{ class: 'narrowing', pointer: '', message: 'the route no longer accepts a body' }]
      : [{ class: 'widening', pointer: '', message: `${part} are no longer validated (the schema was removed)`, owasp: 'API8' }];
  }
  const out: SchemaChange[] = [];
  compare(before, after, '', out);
  return out;
}

function compare(a: Json, b: Json, pointer: string, out: SchemaChange[]) {
  if (same(a, b)) return;
  const push = (cls: ChangeClass, message: string, owasp?: OwaspKey) => out.push({ class: cls, pointer, message, ...(owasp ? { owasp } : {}) });

  // A schema that describes nothing checkable (a custom check, a transform) accepts anything here.
  const describes = (schema: Json) => Object.keys(schema).some((key) => key !== 'description' && key !== 'title' && key !== 'examples');
  if (!describes(b) && describes(a)) return push('widening', `no longer checked (the new schema has no JSON Schema form here)`, 'API8');

  const typesA = types(a);
  const typesB = types(b);
  if (typesA && !typesB) push('widening', `any type is accepted (was ${typesA.join(' or ')})`, 'API8');
  else if (!typesA && typesB) push('narrowing', `only ${typesB.join(' or ')} is accepted`);
  else if (typesA && typesB) {
    const more = added(typesA, typesB);
    const fewer = added(typesB, typesA);
    if (more.length) push('widening', `now also accepts ${more.join(', ')}`, 'API8');
    if (fewer.length) push('narrowing', `no longer accepts ${fewer.join(', ')}`);
  }

  compareValues(a, b, push);
  for (const key of UPPER_LIMITS) compareLimit(a[key], b[key], key, 'upper', push);
  for (const key of LOWER_LIMITS) compareLimit(a[key], b[key], key, 'lower', push);

  for (const key of ['pattern', 'format'] as const) {
    if (same(a[key], b[key])) continue;
    if (a[key] === undefined) push('narrowing', `now must match ${key} ${JSON.stringify(b[key])}`);
    else if (b[key] === undefined) push('widening', `the ${key} ${JSON.stringify(a[key])} was removed`, 'API8');
    // Which of two patterns admits more is not decidable in general: read it as a widening.
    else push('widening', `${key} changed from ${JSON.stringify(a[key])} to ${JSON.stringify(b[key])} (it may admit values the old one refused)`, 'API8');
  }

  compareObjects(a, b, pointer, push, out);
  if (isObject(a.items) && isObject(b.items)) compare(a.items, b.items, `${pointer}/items`, out);
  else if (isObject(a.items) && !isObject(b.items) && b.type === 'array') push('widening', `items are no longer checked`, 'API8');
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const listA = Array.isArray(a[key]) ? (a[key] as unknown[]) : undefined;
    const listB = Array.isArray(b[key]) ? (b[key] as unknown[]) : undefined;
    if (same(listA, listB)) continue;
    if (listA && listB && listA.length === listB.length) {
      listA.forEach((sub, i) => isObject(sub) && isObject(listB[i]) && compare(sub, listB[i] as Json, `${pointer}/${key}/${i}`, out));
    } else if (key === 'allOf' ? (listA?.length ?? 0) > (listB?.length ?? 0) : (listB?.length ?? 0) > (listA?.length ?? 0)) {
      push('widening', `${key} has ${key === 'allOf' ? 'fewer conditions' : 'more alternatives'}`, 'API8');
    } else {
      push('narrowing', `${key} has ${key === 'allOf' ? 'more conditions' : 'fewer alternatives'}`);
    }
  }
}

function compareValues(a: Json, b: Json, push: (cls: ChangeClass, message: string, owasp?: OwaspKey) => void) {
  const values = (schema: Json) => (Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : undefined);
  const valuesA = values(a);
  const valuesB = values(b);
  if (!valuesA && !valuesB) return;
  if (valuesA && !valuesB) return push('widening', `any value is accepted (was one of ${quoted(valuesA)})`, 'API3');
  if (!valuesA && valuesB) return push('narrowing', `only ${quoted(valuesB)} accepted`);
  const more = valuesB!.filter((value) => !valuesA!.some((old) => same(old, value)));
  const fewer = valuesA!.filter((value) => !valuesB!.some((now) => same(now, value)));
  // A new enum value is a new state a caller may set (a role, a visibility): property-level authorization.
  if (more.length) push('widening', `now also accepts ${quoted(more)}`, 'API3');
  if (fewer.length) push('narrowing', `no longer accepts ${quoted(fewer)}`);
}

function compareLimit(
  a: unknown,
  b: unknown,
  key: string,
  side: 'upper' | 'lower',
  push: (cls: ChangeClass, message: string, owasp?: OwaspKey) => void,
) {
  if (a === b) return;
  const owasp: OwaspKey = side === 'upper' ? 'API4' : 'API8';
  if (typeof a !== 'number' && typeof b === 'number') return push('narrowing', `${key} ${b} added`);
  if (typeof a === 'number' && typeof b !== 'number') return push('widening', `${key} ${a} removed`, owasp);
  if (typeof a !== 'number' || typeof b !== 'number') return;
  const looser = side === 'upper' ? b > a : b < a;
  push(looser ? 'widening' : 'narrowing', `${key} ${a} → ${b}`, looser ? owasp : undefined);
}

function compareObjects(
  a: Json,
  b: Json,
  pointer: string,
  push: (cls: ChangeClass, message: string, owasp?: OwaspKey) => void,
  out: SchemaChange[],
) {
  const propsA = isObject(a.properties) ? a.properties : undefined;
  const propsB = isObject(b.properties) ? b.properties : undefined;
  const closedA = a.additionalProperties === false;
  const closedB = b.additionalProperties === false;
  if (closedA && !closedB && (propsA || propsB)) push('widening', `unknown keys are now accepted`, 'API3');
  if (!closedA && closedB) push('narrowing', `unknown keys are now refused`);
  if (!propsA && !propsB) return;
  const keysA = Object.keys(propsA ?? {});
  const keysB = Object.keys(propsB ?? {});
  const field = (name: string) => `${pointer}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  const requiredA = Array.isArray(a.required) ? (a.required as string[]) : [];
  const requiredB = Array.isArray(b.required) ? (b.required as string[]) : [];
  for (const name of added(keysA, keysB)) {
    // A field a closed object now takes is one a caller may now set: mass assignment's door.
    out.push({ class: 'widening', pointer: field(name), message: `field added${requiredB.includes(name) ? ' (required)' : ''}`, owasp: 'API3' });
  }
  for (const name of added(keysB, keysA)) {
    out.push({ class: closedB || !closedA ? 'narrowing' : 'neutral', pointer: field(name), message: 'field removed' });
  }
  for (const name of keysA.filter((key) => keysB.includes(key))) {
    const subA = propsA![name];
    const subB = propsB![name];
    if (isObject(subA) && isObject(subB)) compare(subA, subB, field(name), out);
    const wasRequired = requiredA.includes(name);
    const isRequired = requiredB.includes(name);
    if (wasRequired && !isRequired) out.push({ class: 'widening', pointer: field(name), message: 'field now optional', owasp: 'API8' });
    if (!wasRequired && isRequired) out.push({ class: 'narrowing', pointer: field(name), message: 'field now required' });
  }
}
