import { describe, expect, it, test } from 'vitest';
import { parseBody, withBodyTimeouts } from './body.ts';

const json = (text: string) =>
  parseBody(new Request('https://api.test/v1/things', { method: 'POST', body: text, headers: { 'content-type': 'application/json' } }), {
    types: ['application/json'],
    maxBytes: 4096,
    maxDepth: 8,
  });

describe('parseBody: prototype keys in JSON', () => {
  test.each([
    ['{"__proto__":{"isAdmin":true}}', '__proto__'],
    ['{"a":[{"constructor":{"prototype":{}}}]}', 'constructor'],
    ['{"\\u005f_proto__":1}', '__proto__'],
    ['{"prototype" \n\t :1}', 'prototype'],
    // Found by test/fuzz/body.test.ts: the duplicate " __proto__" replaces the value holding the
    // key, so a reviver never saw it; the forwarded bytes still carried it.
    ['[{" __proto__":{"__proto__":[]}," __proto__":null}]', '__proto__'],
    ['{"a":{"constructor":{}},"a":1}', 'constructor'],
  ])('refuses %s', async (text, key) => {
    expect(await json(text)).toEqual({ ok: false, reason: 'validate.forbidden_key', detail: `the key "${key}" is not accepted` });
  });

  test.each([
    ['{"note":"__proto__"}'],
    ['["constructor", "prototype"]'],
    ['{"a":"\\"__proto__\\":1"}'],
    ['{"__proto__x":1," constructor":2,"Prototype":3}'],
  ])('accepts %s: the words as values or parts of keys are not keys', async (text) => {
    expect(await json(text)).toMatchObject({ ok: true, value: JSON.parse(text) });
  });

  test('says malformed, not forbidden, for broken JSON that mentions a prototype key', async () => {
    expect(await json('{"__proto__":')).toMatchObject({ ok: false, reason: 'validate.malformed_body' });
  });
});

describe('parseBody: duplicate keys in JSON', () => {
  // Parsers disagree on which duplicate wins: the gateway would validate one value and the origin
  // act on the other.
  test.each([
    ['{"role":"user","role":"admin"}', 'role'],
    ['{"a":1,"b":{"x":1,"x":2}}', 'x'],
    ['[{"id":1},{"id":2,"name":"n","id":3}]', 'id'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"a" : 1 , "a" : 1}', 'a'],
  ])('refuses %s', async (text, key) => {
    expect(await json(text)).toEqual({ ok: false, reason: 'validate.duplicate_key', detail: `the key "${key}" appears twice in one object` });
  });

  test.each([
    ['{"a":{"a":{"a":1}}}'],
    ['[{"id":1},{"id":2}]'],
    ['{"a":["a","a"],"b":"a"}'],
    ['{"x":{"k":1},"y":{"k":2}}'],
  ])('accepts %s: the same key in different objects, or as a value, is no duplicate', async (text) => {
    expect(await json(text)).toMatchObject({ ok: true, value: JSON.parse(text) });
  });
});

describe('parseBody: content codings', () => {
  const parse = (type: string, coding: string) =>
    parseBody(new Request('https://api.test/v1/things', { method: 'POST', body: '{"a":1}', headers: { 'content-type': type, 'content-encoding': coding } }), {
      types: [type],
      maxBytes: 4096,
      maxDepth: 8,
    });

  it.each(['gzip', 'br', 'deflate, gzip'])('refuses a body it parses in the coding %s: it checked the bytes as sent, the origin would decode them', async (coding) => {
    expect(await parse('application/json', coding)).toMatchObject({ ok: false, reason: 'validate.unsupported_media_type' });
    expect(await parse('application/x-www-form-urlencoded', coding)).toMatchObject({ ok: false, reason: 'validate.unsupported_media_type' });
  });

  it('takes identity, and passes another allowlisted type in any coding as the bytes it does not read', async () => {
    expect(await parse('application/json', 'identity')).toMatchObject({ ok: true, value: { a: 1 } });
    expect(await parse('application/octet-stream', 'gzip')).toMatchObject({ ok: true });
  });
});

describe('parseBody: numbers out of range', () => {
  it.each(['{"qty":1e400}', '{"a":[1,{"b":-1E999}]}', `{"n":${'9'.repeat(400)}}`])('refuses %s: it parses to Infinity, and would be forwarded as null', async (text) => {
    expect(await json(text)).toMatchObject({ ok: false, reason: 'validate.malformed_body' });
  });

  it.each(['{"qty":1e300}', '{"t":true,"f":false,"e":"1e400"}', '{"x":1.5e-400}', `{"n":${'9'.repeat(300)}}`])('takes %s', async (text) => {
    expect(await json(text)).toMatchObject({ ok: true });
  });
});

describe('parseBody: a body stream that fails', () => {
  /** A request whose body sends one chunk, then fails with `error`. */
  const failing = (error: unknown, signal?: AbortSignal) =>
    new Request('https://api.test/v1/things', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"user":'));
        },
        pull(controller) {
          controller.error(error);
        },
      }),
      signal,
      duplex: 'half',
    } as RequestInit);
  const parse = (request: Request) => parseBody(request, { types: ['application/json'], maxBytes: 4096, maxDepth: 8 });

  test.each([
    ['a TimeoutError (a body timeout)', new DOMException('slow', 'TimeoutError'), 'client.timeout'],
    ['an AbortError (Bun, the connection closed)', new DOMException('closed', 'AbortError'), 'client.aborted'],
    ['a BadResource (Deno, the connection closed)', Object.assign(new Error('gone'), { name: 'BadResource' }), 'client.aborted'],
    ['any other error of the runtime (Deno, broken chunked framing)', new Error('invalid HTTP/1 request'), 'request.malformed_framing'],
    ['a thrown non-error', 'nope', 'request.malformed_framing'],
  ])('is the client\'s doing, not a server error: %s → %s', async (_name, error, reason) => {
    expect(await parse(failing(error))).toMatchObject({ ok: false, reason });
  });

  it('is client.aborted, whatever the error, once the request signal says the client left (Node)', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await parse(failing(new Error('aborted'), controller.signal))).toMatchObject({ ok: false, reason: 'client.aborted' });
  });

  it('still throws when our own code had already used the body: that is a bug, not the client', async () => {
    const request = new Request('https://api.test/v1/things', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    await request.text();
    await expect(parse(request)).rejects.toThrow(TypeError);
  });
});

describe('withBodyTimeouts', () => {
  const options = { types: ['application/json'], maxBytes: 4096, maxDepth: 8 };
  /** A request whose body sends `chunks`, one every `everyMs`. */
  const paced = (chunks: string[], everyMs: number) => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, everyMs));
        if (i < chunks.length) controller.enqueue(new TextEncoder().encode(chunks[i++]));
        else controller.close();
      },
    });
    return new Request('https://api.test/v1/things', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
  };

  it('passes a body that arrives in time, and a request without a body as it is', async () => {
    const result = await parseBody(withBodyTimeouts(paced(['{"a":', '1}'], 5), { idleMs: 200, totalMs: 1_000 }), options);
    expect(result).toMatchObject({ ok: true, value: { a: 1 } });
    const get = new Request('https://api.test/v1/things');
    expect(withBodyTimeouts(get, { idleMs: 200, totalMs: 1_000 })).toBe(get);
  });

  test.each([
    ['pauses longer than idleMs', 100, { idleMs: 30, totalMs: 0 }],
    ['trickles past totalMs', 10, { idleMs: 0, totalMs: 60 }],
  ])('fails a body that %s with client.timeout', async (_case, everyMs, timeouts) => {
    const chunks = Array.from({ length: 20 }, () => ' ');
    expect(await parseBody(withBodyTimeouts(paced(chunks, everyMs), timeouts), options)).toMatchObject({ ok: false, reason: 'client.timeout' });
  });
});
