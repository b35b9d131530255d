/**
 * Field paths of a response rule (`items[].secret`): their grammar, checked by `definePolicy` and
 * followed by the response stage.
 * @module
 */

/** The reader that stands for "the caller who owns the record" rather than a role. */
export const OWNER_READER = 'owner';

/** One step of a field path: a key of an object, or every element of an array (`[]`). */
export type FieldStep = { readonly key: string } | { readonly each: true };

/**
 * The steps of a field path (`items[].secret` → key items, each element, key secret), or why the
 * path is malformed. A key is any text without `.`, `[` or `]`; an answer that is itself an array
 * starts with `[]` (`[].email`); the last step names a key.
 */
export function parseFieldPath(path: string): FieldStep[] | string {
  const steps: FieldStep[] = [];
  const parts = path.split('.');
  for (const [i, part] of parts.entries()) {
    const match = /^([^.[\]]*)((?:\[\])*)$/.exec(part);
    if (!match) return `"${part}" is not a key (no "[" or "]" except a trailing "[]" for every element of an array)`;
    const [, key, brackets] = match as unknown as [string, string, string];
    if (key === '' && !(i === 0 && brackets)) return 'has an empty key (write paths such as email, address.street or items[].secret)';
    if (key !== '') steps.push({ key });
    for (let n = 0; n < brackets.length / 2; n++) steps.push({ each: true });
  }
  if ('each' in steps[steps.length - 1]!) return `ends in "[]": name the array itself ("${path.replace(/(\[\])+$/, '')}") to protect all of it`;
  return steps;
}
