import { describe, expect, it, test } from 'vitest';
import { formatPath } from '../../src/policy/define.ts';
import { locate, parsePath } from './locate.ts';

describe('parsePath', () => {
  test.each([
    [['routes', 'GET /v1/users/:id', 'allow', 1, 'owner', 'param']],
    [['cors', 'origins', 0]],
    [['versions', '/v0', 'sunset']],
    [['authn', 'user']],
    [['routes', 'GET /a"b\\c']],
  ])('inverts formatPath for %j', (keys) => {
    expect(parsePath(formatPath(keys))).toEqual(keys);
  });
});

const source = `import { definePolicy } from 'portcullis';
export default definePolicy({
  transport: { requireHttps: false },
  rateLimits: { api: { limit: 100, window: '1m' } },
  routes: {
    'GET /v1/a': { authn: 'anonymous' },
    'GET /v1/b': {
      authn: ['user'],
      // rateLimit: a comment is not a key
      rateLimit: ['api'],
    },
    "POST /v1/c": { authn: ['user'], allow: shared },
  },
});`;

describe('locate', () => {
  it('finds a nested key inside the object of the one before it', () => {
    expect(locate(source, ['transport', 'requireHttps'])).toBe(3);
    expect(locate(source, ['routes', 'GET /v1/b', 'rateLimit'])).toBe(10);
  });

  it('stops at the deepest key written in the file: an absent key is not found in the next route', () => {
    expect(locate(source, ['routes', 'GET /v1/a', 'rateLimit'])).toBe(6);
  });

  it('stops where a value is not written inline', () => {
    expect(locate(source, ['routes', 'POST /v1/c', 'allow', 0, 'roles'])).toBe(12);
  });

  it('is undefined when not even the first key is in the file', () => {
    expect(locate(source, ['cors', 'origins', 0])).toBeUndefined();
  });
});
