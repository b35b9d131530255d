/**
 * Properties of the path normalizer and the route matcher, checked on generated paths: nothing
 * throws, what is accepted is unambiguous, spellings that mean the same path decide alike, and no
 * path reaches a route that it does not spell.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizePath, parsePattern, RouteTable, type Match, type ParsedPattern } from '../../src/router.ts';
import { runs } from './settings.ts';

/** Characters a path segment may hold unencoded that every URL parser leaves alone (RFC 3986 pchar minus `;`). */
const PCHAR = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@";

const percent = (char: string, upper: boolean) => {
  const hex = char.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${upper ? hex.toUpperCase() : hex}`;
};

/** One spelling of a decoded segment: each pchar plain or percent-encoded (either hex case); anything else encoded. */
function spelling(segment: string): fc.Arbitrary<string> {
  const chars = [...segment];
  return fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: chars.length, maxLength: chars.length }).map((flags) =>
    chars
      .map((char, i) => {
        if (!PCHAR.includes(char)) return encodeURIComponent(char);
        const [encode, upper] = flags[i]!;
        return encode ? percent(char, upper) : char;
      })
      .join(''),
  );
}

/** Two independent spellings of the same decoded segments. */
const spellings = (segments: string[]) => fc.tuple(...segments.map(spelling)).map((parts) => `/${parts.join('/')}`);

/** Segments made of pchars, with dot segments now and then. */
const plainSegment = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: fc.constantFrom(...PCHAR), minLength: 1, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom('.', '..') },
);

/** Pieces attackers put in paths: dot segments, encoded separators, overlong and look-alike encodings, controls. */
const NASTY = [
  '/', '//', '.', '..', '%2e', '%2E', '%2e%2e', '.%2e', '%2e.', '%2f', '%2F', '%5c', '%5C', '\\', ';', '%3b', '%3B', '%00',
  '%0a', '%0d', '%09', '%7f', '%c2%85', '?', '#', '%', '%zz', '%2', '%c0%af', '%c0%ae', '%e0%80%af', '%ef%bc%8f', '%e2%88%95',
  '%252f', '%252e', '%u002f', 'admin', 'Admin', 'ADMIN', 'users', 'public', 'v1', '~', ':', '@', '*', ' ', '\t', '\u0000',
  '\u00e9', '\ud800', '\uff0e', 'http://h', 'https://', 'x',
];
const nastyPath = fc
  .array(fc.oneof(fc.constantFrom(...NASTY), fc.string({ unit: fc.constantFrom(...PCHAR), maxLength: 4 })), { maxLength: 12 })
  .map((pieces) => pieces.join(''));
const webPath = fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`));
const anyTarget = fc.oneof(
  nastyPath,
  nastyPath.map((path) => `/${path}`),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  webPath,
);

/** Decodes `%XX` byte by byte, ignoring what is not an escape: how a lenient server reads a segment. */
const lenientDecode = (raw: string) => raw.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** Does this raw origin-form path contain a dot segment, an empty segment or a separator that is not a `/`? */
function ambiguous(target: string): boolean {
  const path = target.split(/[?#]/)[0]!;
  if (path === '/') return false;
  if (/[\\;]/.test(path)) return true;
  return path
    .slice(1)
    .split('/')
    .some((raw) => {
      const segment = lenientDecode(raw);
      return raw === '' || segment === '.' || segment === '..' || /[/\\;\x00-\x1f]/.test(segment);
    });
}

function parsed(pattern: string): ParsedPattern {
  const result = parsePattern(pattern);
  if (typeof result === 'string') throw new Error(`${pattern}: ${result}`);
  return result;
}

const PATTERNS = [
  'GET /',
  'GET /v1/health',
  'GET /v1/users/me',
  'GET /v1/users/:id',
  'PATCH /v1/users/:id',
  'DELETE /v1/users/:id',
  'GET /v1/orgs/:org/members/:member',
  'GET /files/:name/raw',
  'GET /public/:file',
  'GET /admin/users',
  'DELETE /admin/users/:id',
];
const table = new RouteTable(
  PATTERNS.map((pattern) => ({ pattern, parsed: parsed(pattern), route: pattern })),
  { headFromGet: true },
);
const METHODS = ['GET', 'HEAD', 'PATCH', 'DELETE', 'POST', 'OPTIONS'];

/** The path a found match stands for, rebuilt from its pattern and params. */
function spelledBy(match: Extract<Match<string>, { kind: 'found' }>): string[] {
  return match.entry.parsed.segments.map((segment) => ('literal' in segment ? segment.literal : match.params[segment.param]!));
}

const normalize = (target: string) => normalizePath(target, 2048);

describe('normalizePath', () => {
  it('never throws, and what it accepts is a list of unambiguous segments', () => {
    fc.assert(
      fc.property(anyTarget, fc.integer({ min: 0, max: 4096 }), (target, maxLength) => {
        const result = normalizePath(target, maxLength);
        if (!result.ok) return;
        expect(target.length).toBeLessThanOrEqual(maxLength);
        for (const segment of result.segments) {
          expect(segment).not.toBe('');
          expect(segment).not.toBe('.');
          expect(segment).not.toBe('..');
          expect(segment).not.toMatch(/[/\\;\x00-\x1f\x7f-\x9f]/);
        }
      }),
      runs(3000),
    );
  });

  it('refuses every origin-form path with a dot segment, an empty segment, or an encoded or unusual separator', () => {
    fc.assert(
      fc.property(nastyPath.map((path) => `/${path}`), (target) => {
        if (ambiguous(target)) expect(normalize(target)).toMatchObject({ ok: false });
      }),
      runs(3000),
    );
  });

  it('reads accepted paths as a WHATWG URL parser followed by per-segment decoding does', () => {
    fc.assert(
      fc.property(fc.oneof(nastyPath.map((path) => `/${path}`), webPath), (target) => {
        const result = normalize(target);
        if (!result.ok) return;
        const pathname = new URL(`http://gateway.test${target}`).pathname;
        const theirs = pathname === '/' ? [] : pathname.slice(1).split('/').map(decodeURIComponent);
        expect(theirs).toEqual(result.segments);
      }),
      runs(3000),
    );
  });

  it('decides alike on every spelling of the same segments (percent-encoding, hex case)', () => {
    fc.assert(
      fc.property(
        fc.array(plainSegment, { minLength: 1, maxLength: 6 }).chain((segments) => fc.tuple(fc.constant(segments), spellings(segments), spellings(segments))),
        ([segments, one, other]) => {
          const plain = normalize(`/${segments.join('/')}`);
          expect(normalize(one)).toEqual(plain);
          expect(normalize(other)).toEqual(plain);
          expect(plain.ok).toBe(!segments.some((segment) => segment === '.' || segment === '..'));
        },
      ),
      runs(2000),
    );
  });

  it('accepts its own canonical spelling of any accepted path and reads it back unchanged', () => {
    fc.assert(
      fc.property(anyTarget, (target) => {
        const result = normalize(target);
        if (!result.ok) return;
        const canonical = `/${result.segments.map(encodeURIComponent).join('/')}`;
        expect(normalize(canonical)).toEqual(result);
      }),
      runs(3000),
    );
  });
});

describe('RouteTable.match', () => {
  /** A pattern with its params filled by arbitrary text (including separators, dots and non-ASCII). */
  const filled = fc
    .constantFrom(...PATTERNS)
    .chain((pattern) =>
      fc.tuple(
        fc.constant(parsed(pattern)),
        fc.array(fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.constantFrom('me', '..', '.', 'users', 'a/b', 'a%2fb')), {
          minLength: 2,
          maxLength: 2,
        }),
      ),
    )
    .map(([pattern, values]) => {
      let next = 0;
      return { pattern, segments: pattern.segments.map((segment) => ('literal' in segment ? segment.literal : values[next++]!)) };
    })
    .chain(({ pattern, segments }) => fc.tuple(fc.constant(pattern), fc.constant(segments), spellings(segments), spellings(segments)));

  it('finds, for any spelling, a route whose pattern spells exactly the normalized segments', () => {
    fc.assert(
      fc.property(filled, fc.constantFrom(...METHODS), ([pattern, segments, one, other], method) => {
        const normalized = normalize(one);
        expect(normalize(other)).toEqual(normalized);
        if (!normalized.ok) return;
        expect(normalized.segments).toEqual(segments);
        const match = table.match(method, normalized.segments);
        // Every filled pattern names a path the table knows: never a 404.
        expect(match.kind).not.toBe('not_found');
        if (match.kind === 'found') {
          expect(spelledBy(match)).toEqual(normalized.segments);
          if (pattern.params.length === 0 && method === pattern.method) expect(match.entry.parsed).toEqual(pattern);
        }
      }),
      runs(2000),
    );
  });

  it('sends the canonical re-encoding of a matched path to the same route with the same params', () => {
    fc.assert(
      fc.property(fc.oneof(filled.map(([, , one]) => one), anyTarget), fc.constantFrom(...METHODS), (target, method) => {
        const normalized = normalize(target);
        if (!normalized.ok) return;
        const match = table.match(method, normalized.segments);
        if (match.kind !== 'found') return;
        expect(spelledBy(match)).toEqual(normalized.segments);
        const again = normalize(`/${normalized.segments.map(encodeURIComponent).join('/')}`);
        expect(again.ok && table.match(method, again.segments)).toEqual(match);
      }),
      runs(2000),
    );
  });

  it('lets no generated path reach an admin route unless it spells /admin/users plainly', () => {
    /**
     * Requests aimed at the admin routes: `GET|HEAD /admin/users` or `DELETE /admin/users/<id>`, with
     * `admin` and `users` in any percent-spelling or now and then a look-alike, behind a prefix that
     * dot segments might undo, with a query or a fragment. Most of them reach an admin route, so the
     * assertions below run on most inputs.
     */
    const aimed = fc
      .tuple(
        fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom('..', '.', '%2e%2e', '%2E.', 'public', 'x', ''), { minLength: 1, maxLength: 2 }) }),
        fc.oneof({ weight: 6, arbitrary: spelling('admin') }, { weight: 1, arbitrary: fc.constantFrom('Admin', 'admin.', 'admin%20', 'admin%00', '%2fadmin', '%5cadmin', 'admin%2fusers', 'adm%C4%B1n') }),
        fc.oneof({ weight: 6, arbitrary: spelling('users') }, { weight: 1, arbitrary: fc.constantFrom('Users', 'users;x', 'users%2f', '', '..', '%2e') }),
        fc.oneof(
          fc.constantFrom('GET', 'HEAD').map((method) => ({ method, rest: [] as string[] })),
          fc
            .oneof({ weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...PCHAR), minLength: 1, maxLength: 6 }) }, { weight: 1, arbitrary: fc.constantFrom('..', '%2e%2e', '.', '') })
            .map((id) => ({ method: 'DELETE', rest: [id] })),
        ),
        fc.constantFrom('', '?x=1', '#f', '?next=/admin/users'),
      )
      .map(([prefix, adminSegment, usersSegment, { method, rest }, suffix]) => [`/${[...prefix, adminSegment, usersSegment, ...rest].join('/')}${suffix}`, method] as const);
    /** Any path, and segment soups of admin look-alikes and dot segments. */
    const nasty = fc.oneof(
      nastyPath.map((path) => `/${path}`),
      fc
        .array(
          fc.constantFrom(
            ...['admin', 'Admin', 'ADMIN', '%61dmin', '%41dmin', 'admin.', 'admin%20', 'admin%00', 'users', 'Users', 'user%73'],
            ...['..', '.', '%2e%2e', '%2e', '.%2E', 'public', 'x', '%2fadmin', 'admin%2fusers', '%5cadmin', 'users;x', ''],
          ),
          {
            minLength: 1,
            maxLength: 6,
          },
        )
        .map((segments) => `/${segments.join('/')}`),
    );
    const requests = fc.oneof({ weight: 3, arbitrary: aimed }, fc.tuple(nasty, fc.constantFrom(...METHODS)));
    const settings = runs<[readonly [string, string]]>(4000);
    let reached = 0;
    fc.assert(
      fc.property(requests, ([target, method]) => {
        const normalized = normalize(target);
        if (!normalized.ok) return;
        const match = table.match(method, normalized.segments);
        if (match.kind !== 'found' || !match.entry.pattern.includes(' /admin/')) return;
        reached++;
        expect(ambiguous(target)).toBe(false);
        const raw = target.split(/[?#]/)[0]!.slice(1).split('/');
        expect(raw.slice(0, 2).map(lenientDecode)).toEqual(['admin', 'users']);
      }),
      settings,
    );
    // A property that holds because nothing reaches the branch proves nothing.
    expect(reached).toBeGreaterThan(settings.numRuns! / 4);
  });
});
