/**
 * Properties of the body parser: no input makes it throw; a prototype key (`__proto__`,
 * `constructor`, `prototype`) anywhere in a JSON or form body, in any spelling, is refused; nesting
 * deeper than the cap is refused; and it never takes more than the byte limit from the stream.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBody, type BodyResult } from '../../src/body.ts';
import { runs } from './settings.ts';

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];
const REASONS = ['validate.unsupported_media_type', 'validate.body_too_large', 'validate.malformed_body', 'validate.forbidden_key', 'validate.too_deep'];
const ALL_TYPES = ['application/json', 'application/problem+json', 'application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/** A JSON document as a tree, so keys can be spelled (escaped) freely and `__proto__` stays a plain key. */
type Tree =
  | { kind: 'leaf'; value: string | number | boolean | null }
  | { kind: 'array'; items: Tree[] }
  | { kind: 'object'; entries: { key: string; spelled: string; value: Tree }[] };

/** The JSON text of a string, each character plain or as a `\uXXXX` escape. */
const spelledString = (text: string) =>
  fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((escapes) =>
    [...text.split('')].map((char, i) => (escapes[i] ? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}` : JSON.stringify(char).slice(1, -1))).join(''),
  );

/**
 * Keys: anything but a prototype key, near misses included (they must be accepted). Mostly from a
 * small pool; within one object the keys are unique (a duplicate key is refused on its own, below).
 */
const safeKey = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom('a', 'b', '__proto', '__PROTO__', '__proto__ ', ' __proto__', 'constructors', 'Constructor', 'prototype\u0000', 'proto', '0', '', '{"[\\') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  )
  .filter((key) => !FORBIDDEN.includes(key));
const forbiddenKey = fc.constantFrom(...FORBIDDEN).chain((key) => spelledString(key).map((spelled) => ({ key, spelled })));

const leaf = fc.oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constantFrom('[', '{', '"', '\\', '}]"'));
const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthIdentifier: 'json', maxDepth: 4 },
    leaf.map((value) => ({ kind: 'leaf' as const, value })),
    fc.array(tie('tree'), { maxLength: 3, depthIdentifier: 'json' }).map((items) => ({ kind: 'array' as const, items })),
    fc
      .uniqueArray(fc.tuple(safeKey.chain((key) => spelledString(key).map((spelled) => ({ key, spelled }))), tie('tree')), {
        maxLength: 3,
        depthIdentifier: 'json',
        selector: ([{ key }]) => key,
      })
      .map((entries) => ({ kind: 'object' as const, entries: entries.map(([{ key, spelled }, value]) => ({ key, spelled, value })) })),
  ),
}));

function serialize(node: Tree): string {
  if (node.kind === 'leaf') return JSON.stringify(node.value);
  if (node.kind === 'array') return `[${node.items.map(serialize).join(',')}]`;
  return `{${node.entries.map(({ spelled, value }) => `"${spelled}":${serialize(value)}`).join(',')}}`;
}

/** Nesting depth as JSON counts it: a scalar is 0, `[]` is 1. */
const depth = (node: Tree): number =>
  node.kind === 'leaf' ? 0 : 1 + Math.max(0, ...(node.kind === 'array' ? node.items : node.entries.map((entry) => entry.value)).map(depth));

/** Every object node, for planting a key somewhere in the document. */
const objects = (node: Tree): Extract<Tree, { kind: 'object' }>[] =>
  node.kind === 'leaf' ? [] : node.kind === 'array' ? node.items.flatMap(objects) : [node, ...node.entries.flatMap((entry) => objects(entry.value))];

/** A document with a prototype key planted in one of its objects (or in a new one around it). */
const poisoned = fc.tuple(tree, forbiddenKey, tree, fc.nat(), fc.nat()).map(([base, { key, spelled }, value, which, at]) => {
  const document = structuredClone(base);
  const targets = objects(document);
  const entry = { key, spelled, value };
  if (targets.length === 0) return { kind: 'object' as const, entries: [{ key: 'data', spelled: 'data', value: document }, entry] } satisfies Tree;
  const target = targets[which % targets.length]!;
  target.entries.splice(at % (target.entries.length + 1), 0, entry);
  return document;
});

const post = (body: BodyInit | null, contentType: string | null, extra: Record<string, string> = {}) => {
  const headers = new Headers(extra);
  if (contentType !== null) headers.set('content-type', contentType);
  return new Request('https://api.test/v1/things', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
};
const parseJson = (text: string, maxDepth = 1000) => parseBody(post(text, 'application/json'), { types: ['application/json'], maxBytes: 1 << 20, maxDepth });

describe('parseBody', () => {
  it('never throws, whatever the bytes, media type and limits', async () => {
    const contentType = fc.oneof(
      fc.constantFrom(...ALL_TYPES, 'application/json; charset=utf-8', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'text/plain;charset="utf-8"'),
      fc.string({ unit: fc.constantFrom(...'abcjson/+-;= "\t,xmultipart'.split('')), maxLength: 30 }),
      fc.constant(null),
    );
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      tree.map((node) => new TextEncoder().encode(serialize(node))),
      fc.string({ unit: 'binary', maxLength: 100 }).map((text) => new TextEncoder().encode(text)),
      fc.constant(new TextEncoder().encode('--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n')),
    );
    await fc.assert(
      fc.asyncProperty(bytes, contentType, fc.subarray(ALL_TYPES, { minLength: 1 }), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 10 }), async (body, type, types, maxBytes, maxDepth) => {
        const result = await parseBody(post(body, type), { types, maxBytes, maxDepth });
        if (!result.ok) expect(REASONS).toContain(result.reason);
        else expect(result.bytes.byteLength).toBeLessThanOrEqual(maxBytes);
      }),
      runs(1500),
    );
  });

  it('accepts JSON without prototype keys (near misses included) and returns what JSON.parse returns', async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (document) => {
        const text = serialize(document);
        expect(await parseJson(text)).toMatchObject({ ok: true, value: JSON.parse(text) });
      }),
      runs(1000),
    );
  });

  it('refuses JSON with __proto__, constructor or prototype as a key at any depth, however the key is escaped', async () => {
    await fc.assert(
      fc.asyncProperty(poisoned, async (document) => {
        expect(await parseJson(serialize(document))).toMatchObject({ ok: false, reason: 'validate.forbidden_key' });
      }),
      runs(1500),
    );
  });

  it('refuses a key that appears twice in one object, however the second is spelled, unless a prototype key refuses it first', async () => {
    const doubled = fc.tuple(tree, safeKey, tree, tree, fc.nat()).chain(([base, key, first, second, which]) =>
      spelledString(key).map((spelled) => {
        const document = structuredClone(base);
        const targets = objects(document);
        const pair = [{ key, spelled: JSON.stringify(key).slice(1, -1), value: first }, { key, spelled, value: second }];
        if (targets.length === 0) return { kind: 'object' as const, entries: pair } satisfies Tree;
        const target = targets[which % targets.length]!;
        target.entries = [...target.entries.filter((entry) => entry.key !== key), ...pair];
        return document;
      }),
    );
    await fc.assert(
      fc.asyncProperty(doubled, async (document) => {
        expect(await parseJson(serialize(document))).toMatchObject({ ok: false, reason: expect.stringMatching(/^validate\.(duplicate_key|too_deep)$/) });
      }),
      runs(800),
    );
  });

  it('refuses nesting deeper than the cap, and only that', async () => {
    const nested = fc.tuple(tree, fc.array(fc.constantFrom('array', 'object'), { maxLength: 40 })).map(([inner, wrappers]) =>
      wrappers.reduce<Tree>((node, kind) => (kind === 'array' ? { kind, items: [node] } : { kind, entries: [{ key: 'k', spelled: 'k', value: node }] }), inner),
    );
    await fc.assert(
      fc.asyncProperty(nested, fc.integer({ min: 0, max: 48 }), async (document, cap) => {
        const result = await parseJson(serialize(document), cap);
        if (depth(document) > cap) expect(result).toMatchObject({ ok: false, reason: 'validate.too_deep' });
        else expect(result.ok).toBe(true);
      }),
      runs(1500),
    );
  });

  it('never takes more from the stream than the limit plus the chunk that crossed it, whatever Content-Length says', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 30 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 600 }),
        fc.option(fc.constantFrom('0', '1', '-1', 'abc', '1e9', ''), { nil: undefined }),
        async (chunkSizes, endless, maxBytes, declared) => {
          let pulled = 0;
          let pulls = 0;
          let cancelled = false;
          const stream = new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                if (!endless && pulls === chunkSizes.length) return controller.close();
                // A reader that ignores maxBytes fails here, fast, instead of filling the memory.
                if (pulled > 100_000) return controller.error(new Error('read 100 kB past a limit of at most 600 bytes: the body cap did not stop the reader'));
                const size = chunkSizes[pulls % Math.max(1, chunkSizes.length)] ?? 16;
                pulls++;
                pulled += size;
                controller.enqueue(new TextEncoder().encode('1'.repeat(size)));
              },
              cancel() {
                cancelled = true;
              },
            },
            { highWaterMark: 0 },
          );
          const result: BodyResult = await parseBody(post(stream, 'text/plain', declared === undefined ? {} : { 'content-length': declared }), {
            types: ['text/plain'],
            maxBytes,
            maxDepth: 32,
          });
          const total = chunkSizes.reduce((sum, size) => sum + size, 0);
          if (declared !== undefined && Number(declared) > maxBytes) {
            // A declared length over the limit is refused before a byte is read.
            expect(result).toMatchObject({ ok: false, reason: 'validate.body_too_large' });
            expect(pulled).toBe(0);
          } else if (endless || total > maxBytes) {
            expect(result).toMatchObject({ ok: false, reason: 'validate.body_too_large' });
            // It stopped at the first chunk that went over, and let the stream go.
            expect(pulled - (chunkSizes[(pulls - 1) % Math.max(1, chunkSizes.length)] ?? 16)).toBeLessThanOrEqual(maxBytes);
            expect(cancelled).toBe(true);
          } else {
            expect(result).toMatchObject({ ok: true });
            expect(pulled).toBe(total);
          }
        },
      ),
      runs(800),
    );
  });

  it('refuses a form field named __proto__, constructor or prototype, however it is percent-encoded', async () => {
    const field = fc.tuple(safeKey, fc.string({ maxLength: 6 }));
    const encode = (text: string, flags: boolean[]) => [...text].map((char, i) => (flags[i] ? `%${char.charCodeAt(0).toString(16)}` : encodeURIComponent(char))).join('');
    await fc.assert(
      fc.asyncProperty(
        fc.array(field, { maxLength: 4 }),
        fc.constantFrom(...FORBIDDEN),
        fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }),
        fc.nat(),
        async (fields, key, flags, at) => {
          const pairs = [...fields.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)];
          pairs.splice(at % (pairs.length + 1), 0, `${encode(key, flags)}=1`);
          const result = await parseBody(post(pairs.join('&'), 'application/x-www-form-urlencoded'), { types: ['application/x-www-form-urlencoded'], maxBytes: 4096, maxDepth: 32 });
          expect(result).toMatchObject({ ok: false, reason: 'validate.forbidden_key' });

          const form = new FormData();
          for (const [name, value] of fields) form.append(name, value);
          form.append(key, 'x');
          const encoded = new Response(form);
          const multipart = await parseBody(post(await encoded.arrayBuffer(), encoded.headers.get('content-type')), { types: ['multipart/form-data'], maxBytes: 1 << 16, maxDepth: 32 });
          expect(multipart).toMatchObject({ ok: false, reason: 'validate.forbidden_key' });
        },
      ),
      runs(400),
    );
  });
});
