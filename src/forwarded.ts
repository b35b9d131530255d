/**
 * The RFC 7239 `Forwarded` header, read by its grammar: a list of elements, each a `;`-separated
 * list of `name=value` pairs whose value is a token or a quoted-string (RFC 7230 §3.2.6).
 *
 * A real tokenizer, not `split(',')`: a quoted value may hold `,`, `;`, `=` and escaped quotes, so
 * splitting would let a client-written value cut the elements a trusted proxy appended after it.
 * @module
 */

/** One `forwarded-element`: its parameters, names in lowercase, values unquoted. */
export type ForwardedElement = ReadonlyMap<string, string>;

/** RFC 7230 tchar: `!#$%&'*+-.^_`|~`, digits and letters. */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** qdtext and the characters a quoted-pair may escape (RFC 7230 §3.2.6): tab, space, visible, obs-text. */
const isQuotable = (code: number) => code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff);

/**
 * The elements of a `Forwarded` field value, left to right (several header lines arrive joined by
 * `, `, which is the same list). `undefined` when the value breaks the grammar anywhere — an
 * unterminated quote, a stray character, a parameter twice in one element — because then nobody can
 * say where the client-written part ends and what the proxies appended begins.
 * Empty list elements (`a, , b`) are skipped, as RFC 7230 §7 asks.
 *
 * @example
 * parseForwarded('for="[2001:db8::1]:4711";proto=https, for=192.0.2.60');
 * // [Map { for → '[2001:db8::1]:4711', proto → 'https' }, Map { for → '192.0.2.60' }]
 */
export function parseForwarded(value: string): ForwardedElement[] | undefined {
  const elements: ForwardedElement[] = [];
  let element = new Map<string, string>();
  let i = 0;
  const skipSpace = () => {
    while (value[i] === ' ' || value[i] === '\t') i++;
  };

  for (;;) {
    skipSpace();
    // A pair, or nothing (`;;` and `,,` are allowed empty).
    if (i < value.length && value[i] !== ';' && value[i] !== ',') {
      const nameStart = i;
      while (i < value.length && TCHAR.test(value[i]!)) i++;
      if (i === nameStart || value[i] !== '=') return undefined;
      const name = value.slice(nameStart, i).toLowerCase();
      i++;
      const parsed = value[i] === '"' ? quotedString(value, i) : token(value, i);
      if (!parsed) return undefined;
      i = parsed.end;
      // RFC 7239 §4: a parameter occurs at most once per element; parsers would disagree on which counts.
      if (element.has(name)) return undefined;
      element.set(name, parsed.text);
      skipSpace();
    }
    if (i >= value.length || value[i] === ',') {
      if (element.size) elements.push(element);
      element = new Map();
      if (i >= value.length) return elements;
    } else if (value[i] !== ';') {
      return undefined;
    }
    i++;
  }
}

function token(value: string, start: number): { text: string; end: number } | undefined {
  let end = start;
  while (end < value.length && TCHAR.test(value[end]!)) end++;
  return end === start ? undefined : { text: value.slice(start, end), end };
}

/** A quoted-string starting at the `"` at `start`: its text without quotes and escapes. */
function quotedString(value: string, start: number): { text: string; end: number } | undefined {
  let text = '';
  for (let i = start + 1; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"') return { text, end: i + 1 };
    if (c === '\\') {
      i++;
      if (i >= value.length || !isQuotable(value.charCodeAt(i))) return undefined;
      text += value[i];
    } else if (isQuotable(value.charCodeAt(i))) {
      text += c;
    } else {
      return undefined;
    }
  }
  return undefined; // no closing quote
}
