import { describe, expect, it } from 'vitest';
import { apiKey } from './authn/api-key.ts';
import { oauth2Introspection } from './authn/introspection.ts';
import { jwt } from './authn/jwt.ts';
import { PolicyError } from './errors.ts';

const thrown = (build: () => unknown): PolicyError => {
  try {
    build();
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error('did not throw');
};

describe('a misspelt factory option is named as an unknown key, before anything it then lacks', () => {
  it.each([
    ['jwt()', 'jwk', () => jwt({ jwk: { keys: [] }, algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' } as never)],
    ['apiKey()', 'key', () => apiKey({ key: {} } as never)],
    ['oauth2Introspection()', 'audiences', () => oauth2Introspection({ endpoint: 'https://id.example.com/introspect', clientId: 'c', clientSecret: 's', audiences: ['api'] } as never)],
  ])('%s refuses %s', (factory, key, build) => {
    const error = thrown(build);
    expect(error.path).toBe(`${factory}.${key}`);
    expect(error.message).toBe(`${factory}.${key}: unknown key (a typo, or an option this version does not have)`);
  });
});
