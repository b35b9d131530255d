/**
 * Schemas are any Standard Schema v1 (valibot, zod, arktype …): the engine only calls `~standard.validate`.
 * The interface is declared here, as the spec invites, so the core depends on no schema library.
 * @see https://standardschema.dev
 * @module
 */

/** The Standard Schema v1 interface (the subset the engine uses). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** The validated output type of a schema. */
export type InferOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : never;

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const standard = (value as StandardSchemaV1 | null)?.['~standard'];
  return typeof standard === 'object' && standard !== null && standard.version === 1 && typeof standard.validate === 'function';
}

/** One validation error, as sent in the RFC 9457 `errors` extension. */
export interface FieldError {
  /** Where: `body`, `query`, `params` or `headers`. */
  in: string;
  /** JSON Pointer into that part (`/address/zip`). */
  pointer: string;
  detail: string;
}

const escapePointer = (key: PropertyKey) => String(key).replaceAll('~', '~0').replaceAll('/', '~1');

/** Runs a schema; returns its output or the issues as field errors. */
export async function runSchema(
  schema: StandardSchemaV1,
  value: unknown,
  part: string,
): Promise<{ ok: true; value: unknown } | { ok: false; errors: FieldError[] }> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) return { ok: true, value: result.value };
  return {
    ok: false,
    errors: result.issues.map((issue) => ({
      in: part,
      pointer: (issue.path ?? []).map((item) => `/${escapePointer(typeof item === 'object' ? item.key : item)}`).join(''),
      detail: issue.message,
    })),
  };
}

/**
 * Keys present in `input` that a schema dropped from its `output`, as JSON pointers. A schema that
 * strips unknown keys silently (valibot's `object`, zod's default) would otherwise let `role` or
 * `isAdmin` ride along to a handler that spreads the raw body.
 */
export function droppedKeys(input: unknown, output: unknown, pointer = ''): string[] {
  if (!isPlainObject(input) || !isPlainObject(output)) {
    if (Array.isArray(input) && Array.isArray(output)) {
      return input.flatMap((item, i) => droppedKeys(item, output[i], `${pointer}/${i}`));
    }
    return [];
  }
  const dropped: string[] = [];
  for (const key in input) {
    if (!Object.hasOwn(input, key)) continue;
    const inner = input[key];
    // The pointer is spelled out only where it is needed: a dropped key, or one to look inside.
    if (!Object.hasOwn(output, key)) dropped.push(`${pointer}/${escapePointer(key)}`);
    else if (typeof inner === 'object' && inner !== null) dropped.push(...droppedKeys(inner, output[key], `${pointer}/${escapePointer(key)}`));
  }
  return dropped;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
