/**
 * From a path in the policy object to a line of the policy's source file, for editors and code
 * scanning. Best effort: a policy built by functions may not spell every key where it is used.
 * @module
 */

/** `routes["GET /v1/x"].allow[1]` → `['routes', 'GET /v1/x', 'allow', 1]` (the inverse of formatPath). */
export function parsePath(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  let rest = path;
  while (rest.length) {
    let match: RegExpExecArray | null;
    if ((match = /^\.?([A-Za-z_$][A-Za-z0-9_$]*)/.exec(rest))) keys.push(match[1]!);
    else if ((match = /^\[(\d+)\]/.exec(rest))) keys.push(Number(match[1]));
    else if ((match = /^\[("(?:[^"\\]|\\.)*")\]/.exec(rest))) keys.push(JSON.parse(match[1]!) as string);
    else break;
    rest = rest.slice(match[0].length);
  }
  return keys;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The index just past the bracket that closes the one at `open`, skipping strings and comments. */
function closing(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const char = source[i]!;
    if (char === '"' || char === "'" || char === '`') {
      for (i++; i < source.length && source[i] !== char; i++) if (source[i] === '\\') i++;
    } else if (char === '/' && source[i + 1] === '/') {
      i = source.indexOf('\n', i);
      if (i < 0) return source.length;
    } else if (char === '/' && source[i + 1] === '*') {
      i = source.indexOf('*/', i + 2) + 1;
      if (i <= 0) return source.length;
    } else if (char === '{' || char === '[' || char === '(') depth++;
    else if (char === '}' || char === ']' || char === ')') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return source.length;
}

/** The source with comments blanked out (same length, newlines kept), so a key in a comment is no key. */
function withoutComments(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (char === '"' || char === "'" || char === '`') {
      let end = i + 1;
      while (end < source.length && source[end] !== char) end += source[end] === '\\' ? 2 : 1;
      out += source.slice(i, end + 1);
      i = end;
    } else if (char === '/' && (source[i + 1] === '/' || source[i + 1] === '*')) {
      const end = source[i + 1] === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2) + 2;
      const stop = end < (source[i + 1] === '/' ? 0 : 2) ? source.length : end;
      out += source.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop - 1;
    } else {
      out += char;
    }
  }
  return out;
}

/**
 * The 1-based line where the deepest findable key of `keys` is written as a property in `source`.
 * Each key is looked for inside the object literal of the one before it; where a value is not
 * written inline (a constant, a function call), the line of the last key found is the answer.
 * Undefined when not even the first key is found.
 */
export function locate(text: string, keys: readonly (string | number)[]): number | undefined {
  const source = withoutComments(text);
  let found = -1;
  let from = 0;
  let to = source.length;
  for (const key of keys) {
    if (typeof key === 'number') continue;
    const name = escapeRegExp(key);
    const property = new RegExp(`(?:(['"\`])${name}\\1|(?<![\\w$.'"\`])${name})\\s*:\\s*`, 'g');
    property.lastIndex = from;
    const match = property.exec(source);
    if (!match || match.index >= to) break;
    found = match.index;
    const value = match.index + match[0].length;
    if (source[value] !== '{' && source[value] !== '[') break;
    from = value + 1;
    to = closing(source, value);
  }
  if (found < 0) return undefined;
  return source.slice(0, found).split('\n').length;
}
