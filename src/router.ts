/**
 * The route table: `"METHOD /path/:param"` patterns and strict path normalization.
 *
 * The gateway and the origin must read a path the same way, or a path that one side sees as
 * `/public` and the other as `/admin` walks past the policy. So every spelling that servers
 * disagree on (encoded slashes, backslashes, dot segments, empty segments, `;` parameters, NUL)
 * is refused with 400 instead of being "fixed".
 * @module
 */

/** HTTP methods a route may name. */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type Method = (typeof METHODS)[number];

/** A route pattern, parsed. */
export interface ParsedPattern {
  method: Method;
  path: string;
  /** Literal segments as strings, params as `{ param }`. */
  segments: ({ literal: string } | { param: string })[];
  params: string[];
}

const SEGMENT_LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,=@]+$/;
const PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `"GET /v1/users/:id"`; returns an error message instead of throwing. */
export function parsePattern(pattern: string): ParsedPattern | string {
  const space = pattern.indexOf(' ');
  if (space < 0) return 'a route is "METHOD /path", e.g. "GET /v1/users/:id"';
  const method = pattern.slice(0, space);
  const path = pattern.slice(space + 1);
  if (!(METHODS as readonly string[]).includes(method)) return `unknown method "${method}" (one of ${METHODS.join(', ')})`;
  if (!path.startsWith('/')) return `the path "${path}" must start with /`;
  const segments: ParsedPattern['segments'] = [];
  const params: string[] = [];
  if (path !== '/') {
    for (const segment of path.slice(1).split('/')) {
      if (segment.startsWith(':')) {
        if (!PARAM.test(segment)) return `"${segment}" is not a valid param name`;
        const name = segment.slice(1);
        if (params.includes(name)) return `param ":${name}" appears twice`;
        params.push(name);
        segments.push({ param: name });
      } else if (segment === '.' || segment === '..' || !SEGMENT_LITERAL.test(segment)) {
        return `"${segment}" is not a valid path segment`;
      } else {
        segments.push({ literal: segment });
      }
    }
  }
  return { method: method as Method, path, segments, params };
}

/** Result of normalizing a request target. */
export type NormalizedPath = { ok: true; segments: string[] } | { ok: false; why: string };

/**
 * Splits a raw request path into decoded segments, refusing every ambiguous spelling.
 * `target` is the path as received (before any URL parser resolved dot segments).
 */
export function normalizePath(target: string, maxLength: number): NormalizedPath {
  if (target.length > maxLength) return { ok: false, why: 'path too long' };
  let path = target;
  // Origin form (`/path`), the usual case, cannot be absolute form (`http://host/path`).
  const absolute = path.charCodeAt(0) === 0x2f ? null : /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(path);
  if (absolute) {
    // URL parsers read `http:///v1/health` as host `v1` and path `/health`, and `\` in the authority
    // as `/`: we would route one path and forward another.
    if (!/^[\x21-\x5b\x5d-\x7e]+$/.test(absolute[1]!)) return { ok: false, why: 'malformed authority' };
    path = path.slice(absolute[0].length);
    if (!path.startsWith('/')) path = `/${path}`; // `http://host?q` is the root
  }
  const query = path.indexOf('?');
  if (query >= 0) path = path.slice(0, query);
  const fragment = path.indexOf('#');
  if (fragment >= 0) path = path.slice(0, fragment);
  if (!path.startsWith('/')) return { ok: false, why: 'path must start with /' };
  if (path === '/') return { ok: true, segments: [] };
  // Raw characters outside printable ASCII, backslashes and `;` parameters.
  if (/[^\x21-\x7e]|\\|;/.test(path)) return { ok: false, why: 'forbidden character in path' };
  const segments: string[] = [];
  for (const raw of path.slice(1).split('/')) {
    if (raw === '') return { ok: false, why: 'empty path segment' };
    let segment = raw;
    if (raw.includes('%')) {
      try {
        segment = decodeURIComponent(raw);
      } catch {
        return { ok: false, why: 'malformed percent-encoding' };
      }
      // Decoding must not create a separator, a control character, or a dot segment.
      if (/[/\\;\x00-\x1f\x7f-\x9f]/.test(segment)) return { ok: false, why: 'encoded separator or control character' };
    }
    if (segment === '.' || segment === '..') return { ok: false, why: 'dot segment' };
    segments.push(segment);
  }
  return { ok: true, segments };
}

/** A compiled route with its policy attached. */
export interface RouteEntry<R> {
  pattern: string;
  parsed: ParsedPattern;
  route: R;
}

export type Match<R> =
  | { kind: 'found'; entry: RouteEntry<R>; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allow: string[] }
  | { kind: 'not_found' };

interface Node<R> {
  literals: Map<string, Node<R>>;
  param: Node<R> | undefined;
  routes: Map<string, RouteEntry<R>>;
}

interface Candidate<R> {
  node: Node<R>;
  /** The path's values for the params on the way to `node`, in order. */
  values: string[];
}

const newNode = <R>(): Node<R> => ({ literals: new Map(), param: undefined, routes: new Map() });

/**
 * The params of a matched route, on an object with no prototype (a param may be named `__proto__`,
 * and `params.constructor` must not be something the path never said). Built as an ordinary object
 * and then cut from its prototype, which keeps V8's fast properties; a `__proto__` param is defined
 * as an own property rather than assigned (assigning would set the prototype).
 */
function bind<R>(entry: RouteEntry<R>, values: readonly string[]): Record<string, string> {
  const names = entry.parsed.params;
  const params: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    if (names[i] === '__proto__') Object.defineProperty(params, '__proto__', { value: values[i], enumerable: true, writable: true, configurable: true });
    else params[names[i]!] = values[i]!;
  }
  return Object.setPrototypeOf(params, null) as Record<string, string>;
}

/** A segment trie: literal segments win over params, matching is case-sensitive and exact. */
export class RouteTable<R> {
  readonly #root = newNode<R>();
  readonly #headFromGet: boolean;

  constructor(entries: Iterable<RouteEntry<R>>, options: { headFromGet: boolean }) {
    this.#headFromGet = options.headFromGet;
    for (const entry of entries) {
      let node = this.#root;
      for (const segment of entry.parsed.segments) {
        if ('literal' in segment) {
          let next = node.literals.get(segment.literal);
          if (!next) node.literals.set(segment.literal, (next = newNode()));
          node = next;
        } else {
          node = node.param ??= newNode();
        }
      }
      node.routes.set(entry.parsed.method, entry);
    }
  }

  /**
   * Finds the route for a method and normalized path segments. Literal segments win over params,
   * per method: with `GET /users/me` and `DELETE /users/:id`, `DELETE /users/me` is the second route,
   * as the origin's router sees it.
   */
  match(method: string, segments: readonly string[]): Match<R> {
    // Fast path: the literal-first walk is the first candidate the full search would find; when it
    // reaches a route of this method, that is the answer.
    const greedy = this.#greedy(segments);
    if (greedy) {
      const entry = greedy.node.routes.get(method) ?? (method === 'HEAD' && this.#headFromGet ? greedy.node.routes.get('GET') : undefined);
      if (entry) return { kind: 'found', entry, params: bind(entry, greedy.values) };
    }
    const candidates = this.#candidates(segments);
    if (candidates.length === 0) return { kind: 'not_found' };
    for (const { node, values } of candidates) {
      const entry = node.routes.get(method) ?? (method === 'HEAD' && this.#headFromGet ? node.routes.get('GET') : undefined);
      if (!entry) continue;
      return { kind: 'found', entry, params: bind(entry, values) };
    }
    return { kind: 'method_not_allowed', allow: this.#allowed(candidates) };
  }

  /** The methods a path answers, as listed in `Allow`. */
  allowedFor(segments: readonly string[]): string[] | undefined {
    const candidates = this.#candidates(segments);
    return candidates.length === 0 ? undefined : this.#allowed(candidates);
  }

  #allowed(candidates: readonly Candidate<R>[]): string[] {
    const methods = new Set(candidates.flatMap(({ node }) => [...node.routes.keys()]));
    if (this.#headFromGet && methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  }

  /** The literal-first path through the trie, without backtracking; undefined when it dead-ends. */
  #greedy(segments: readonly string[]): Candidate<R> | undefined {
    let node: Node<R> = this.#root;
    const values: string[] = [];
    for (const segment of segments) {
      const literal = node.literals.get(segment);
      if (literal) node = literal;
      else if (node.param && segment !== '') {
        values.push(segment);
        node = node.param;
      } else return undefined;
    }
    return node.routes.size > 0 ? { node, values } : undefined;
  }

  /** Every node with routes that the segments reach, most specific (literals first) first. */
  #candidates(segments: readonly string[]): Candidate<R>[] {
    const found: Candidate<R>[] = [];
    this.#walk(this.#root, 0, segments, [], found);
    return found;
  }

  /** Each trie node is reached by one path only, so the walk is linear in the size of the table. */
  #walk(node: Node<R>, i: number, segments: readonly string[], values: string[], found: Candidate<R>[]): void {
    if (i === segments.length) {
      if (node.routes.size > 0) found.push({ node, values: [...values] });
      return;
    }
    const segment = segments[i]!;
    const literal = node.literals.get(segment);
    if (literal) this.#walk(literal, i + 1, segments, values, found);
    // A param never binds an empty segment: `/users/` is not `/users/:id` with id "".
    if (node.param && segment !== '') {
      values.push(segment);
      this.#walk(node.param, i + 1, segments, values, found);
      values.pop();
    }
  }
}
