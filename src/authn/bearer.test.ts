/**
 * `bearerToken()`: one spelling per credential. What the Fetch API hands us (Headers joins
 * repeated headers with ", " and trims the ends) is part of the specification.
 */
import { describe, expect, it } from 'vitest';
import { bearerToken, type Extracted } from './bearer.ts';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl';

function headersWith(...values: string[]): Headers {
  const headers = new Headers();
  for (const value of values) headers.append('authorization', value);
  return headers;
}

describe('bearerToken()', () => {
  it.each<{ name: string; values: string[]; expected: Extracted }>([
    { name: 'no Authorization header', values: [], expected: { kind: 'absent' } },
    { name: 'the canonical "Bearer <token>"', values: [`Bearer ${TOKEN}`], expected: { kind: 'token', token: TOKEN } },
    { name: 'a lowercase scheme', values: [`bearer ${TOKEN}`], expected: { kind: 'token', token: TOKEN } },
    { name: 'an uppercase scheme', values: [`BEARER ${TOKEN}`], expected: { kind: 'token', token: TOKEN } },
    { name: 'a b64token with "~+/" and trailing "="', values: ['Bearer abc~+/xyz=='], expected: { kind: 'token', token: 'abc~+/xyz==' } },
    { name: 'a trailing space, which Headers trims', values: [`Bearer ${TOKEN} `], expected: { kind: 'token', token: TOKEN } },
    { name: 'another scheme (Basic)', values: ['Basic dXNlcjpwYXNz'], expected: { kind: 'absent' } },
    { name: 'a scheme that merely starts with "Bearer"', values: [`Bearerx ${TOKEN}`], expected: { kind: 'absent' } },
    { name: 'the scheme alone', values: ['Bearer'], expected: { kind: 'invalid' } },
    { name: 'the scheme and a space, which Headers trims to the scheme alone', values: ['Bearer '], expected: { kind: 'invalid' } },
    { name: 'two spaces before the token', values: [`Bearer  ${TOKEN}`], expected: { kind: 'invalid' } },
    { name: 'a tab before the token', values: [`Bearer \t${TOKEN}`], expected: { kind: 'invalid' } },
    { name: 'a space inside the token', values: [`Bearer ${TOKEN} extra`], expected: { kind: 'invalid' } },
    { name: '"=" in the middle of the token', values: ['Bearer abc=def'], expected: { kind: 'invalid' } },
    { name: 'a comma in the token', values: [`Bearer ${TOKEN},x`], expected: { kind: 'invalid' } },
    { name: 'non-ASCII in the token', values: ['Bearer abcé'], expected: { kind: 'invalid' } },
    { name: 'two Authorization headers with the same token', values: [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`], expected: { kind: 'invalid' } },
    { name: 'two Authorization headers with different tokens', values: [`Bearer ${TOKEN}`, 'Bearer other'], expected: { kind: 'invalid' } },
  ])('reads $name as $expected.kind', ({ values, expected }) => {
    expect(bearerToken(headersWith(...values))).toEqual(expected);
  });

  it('never trims or rewrites the token it returns', () => {
    const result = bearerToken(headersWith('Bearer a.b.c='));
    expect(result).toEqual({ kind: 'token', token: 'a.b.c=' });
  });
});
