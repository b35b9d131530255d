/**
 * The public read API, specified: anonymous reads within per-IP budgets, a strict write path.
 * Runs under `npx portcullis test policies` and vitest (policies/specs.test.ts).
 */
import { defineSpec } from '../tools/testing/index.ts';
import policy from './public-read.ts';

const isbn = '9780141036144';
// Editors sign in with a second factor (amr), which the write path requires.
const editor = { sub: 'u_eve', roles: ['editor'], amr: ['pwd', 'otp'] };
const admin = { sub: 'u_ann', roles: ['admin'], amr: ['pwd', 'hwk'] };
const book = { isbn, title: 'Nineteen Eighty-Four', authors: ['aut_orwell1'], language: 'en' };

export default defineSpec({
  name: 'public read API',
  // Pinned: /v0 is deprecated (since 2026-09-01) and not yet gone (2027-12-31).
  kit: { now: '2026-11-24T12:00:00Z' },
  policy,
  cases: [
    { request: 'GET /v1/books', expect: 200 },
    { request: 'GET /v1/books?page=2&language=fr', expect: 200 },
    { name: 'an unknown filter', request: 'GET /v1/books?include=drafts', expect: 422, reason: 'validate.invalid' },
    { name: 'a page number that is not one', request: 'GET /v1/books?page=-1', expect: 422, reason: 'validate.invalid' },

    { request: `GET /v1/books/${isbn}`, expect: 200 },
    { name: 'not an ISBN', request: "GET /v1/books/1'%20OR%20'1'='1", expect: 422, reason: 'validate.invalid' },

    // Search allows 5 queries per 10 s per address: the sixth from one address is refused.
    { name: 'five searches from one address', request: 'GET /v1/search?q=orwell', clientIp: '198.51.100.77', repeat: 5, expect: 200 },
    { name: 'a sixth search from one address', request: 'GET /v1/search?q=orwell', clientIp: '198.51.100.77', repeat: 6, expect: 429, reason: 'ratelimit.exceeded' },
    { name: 'a one-letter search', request: 'GET /v1/search?q=a', expect: 422, reason: 'validate.invalid' },

    { request: 'GET /v1/authors/aut_orwell1', expect: 200 },
    { request: 'GET /v1/authors/orwell', expect: 422, reason: 'validate.invalid' },

    { request: { method: 'POST', path: '/v1/books', body: book }, as: editor, expect: 200 },
    { name: 'an anonymous write', request: { method: 'POST', path: '/v1/books', body: book }, expect: 401, reason: 'authn.required' },
    { name: 'an editor without a second factor', request: { method: 'POST', path: '/v1/books', body: book }, as: { sub: 'u_eve', roles: ['editor'], amr: ['pwd'] }, expect: 401, reason: 'authn.mfa_required' },
    { name: 'a reader account writes', request: { method: 'POST', path: '/v1/books', body: book }, as: { sub: 'u_rae', roles: ['reader'], amr: ['otp'] }, expect: 403, reason: 'authz.denied' },
    { name: 'a book with a field the schema does not know', request: { method: 'POST', path: '/v1/books', body: { ...book, featured: true } }, as: editor, expect: 422, reason: 'validate.invalid' },
    { name: 'a body over 16 KiB', request: { method: 'POST', path: '/v1/books', body: { ...book, title: 'x'.repeat(17000) } }, as: editor, expect: 413, reason: 'validate.body_too_large' },
    { name: 'a prototype-pollution key', request: { method: 'POST', path: '/v1/books', body: `{"__proto__":{"admin":true},"isbn":"${isbn}"}` }, as: editor, expect: 400 },

    { request: { method: 'PUT', path: `/v1/books/${isbn}`, body: { ...book, isbn: undefined } }, as: editor, expect: 200 },
    { name: 'an admin is an editor too', request: { method: 'PUT', path: `/v1/books/${isbn}`, body: book }, as: admin, expect: 200 },
    { name: 'a replacement without authors', request: { method: 'PUT', path: `/v1/books/${isbn}`, body: { title: 'x', language: 'en' } }, as: editor, expect: 422, reason: 'validate.invalid' },

    { request: `DELETE /v1/books/${isbn}`, as: admin, expect: 200 },
    { name: 'an editor deletes (admins only)', request: `DELETE /v1/books/${isbn}`, as: editor, expect: 403, reason: 'authz.denied' },

    { name: 'v0 still answers, announcing its end', request: `GET /v0/books/${isbn}`, expect: 200, headers: { sunset: 'Fri, 31 Dec 2027 00:00:00 GMT', link: '<https://open-catalog.example/docs/v1-migration>; rel="deprecation"' } },
    { name: 'v0 validates like v1', request: 'GET /v0/books/123', expect: 422, reason: 'validate.invalid' },

    {
      name: 'the widget may read cross-origin, without credentials',
      request: { method: 'GET', path: `/v1/books/${isbn}`, headers: { origin: 'https://widget.open-catalog.example' } },
      expect: 200,
      headers: { 'access-control-allow-origin': 'https://widget.open-catalog.example', 'access-control-allow-credentials': null },
    },
  ],
});
