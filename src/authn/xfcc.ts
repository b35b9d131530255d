/**
 * Envoy's `X-Forwarded-Client-Cert` header: elements separated by `,`, each a list of `key=value`
 * pairs separated by `;`, a value double-quoted (with `\` escapes) when it holds `,`, `;` or `=`.
 * @module
 * @see https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert
 */

/** One element: each key (lowercase) with its values in order (`URI` and `DNS` may repeat). */
export type XfccElement = ReadonlyMap<string, readonly string[]>;

/** The elements of an XFCC header, or undefined when it breaks the grammar. */
export function parseXfcc(header: string): XfccElement[] | undefined {
  const elements: XfccElement[] = [];
  let element = new Map<string, string[]>();
  let i = 0;
  for (;;) {
    const equals = header.indexOf('=', i);
    if (equals < 0) return undefined;
    const key = header.slice(i, equals).trim().toLowerCase();
    if (!/^[a-z]+$/.test(key)) return undefined;
    i = equals + 1;
    let value = '';
    if (header[i] === '"') {
      for (i++; ; i++) {
        const char = header[i];
        if (char === undefined) return undefined; // unterminated quote
        if (char === '"') break;
        if (char === '\\') {
          i++;
          if (header[i] === undefined) return undefined;
        }
        value += header[i];
      }
      i++;
    } else {
      while (i < header.length && header[i] !== ';' && header[i] !== ',') {
        if (header[i] === '"') return undefined;
        value += header[i++];
      }
    }
    const values = element.get(key);
    if (values) values.push(value);
    else element.set(key, [value]);
    if (i >= header.length) break;
    const separator = header[i++];
    if (separator === ',') {
      elements.push(element);
      element = new Map();
    } else if (separator !== ';') {
      return undefined; // text after a closing quote
    }
  }
  elements.push(element);
  return elements;
}
