/**
 * A public read API: an open book catalogue. Anyone may read, without an account, within a per-IP
 * budget (search, the expensive query, has a tighter one). Writing is the strict path: editors
 * only, with a token that proves multi-factor sign-in, a schema for every body, small bodies, and a
 * per-editor budget. The old /v0 read path is deprecated and announces its sunset.
 * Specified in public-read.spec.ts.
 * @module
 */

import * as v from 'valibot';
import { definePolicy, jwt } from '../src/index.ts';

export const CATALOG_ISSUER = 'https://id.open-catalog.example';
export const CATALOG_AUDIENCE = 'catalog-api';

/** ISBN-13, digits only. */
const Isbn = v.pipe(v.string(), v.regex(/^97[89][0-9]{10}$/, 'must be an ISBN-13 (13 digits)'));
const IsbnParams = v.strictObject({ isbn: Isbn });

export const BookListQuery = v.strictObject({
  page: v.optional(v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,3}$/, 'must be a page number'))),
  language: v.optional(v.pipe(v.string(), v.regex(/^[a-z]{2}$/, 'must be an ISO 639-1 code'))),
});

export const SearchQuery = v.strictObject({
  q: v.pipe(v.string(), v.minLength(2), v.maxLength(100)),
});

export const Book = v.strictObject({
  isbn: Isbn,
  title: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(300)),
  authors: v.pipe(v.array(v.pipe(v.string(), v.regex(/^aut_[a-z0-9]{6,20}$/))), v.minLength(1), v.maxLength(20)),
  language: v.pipe(v.string(), v.regex(/^[a-z]{2}$/)),
  published: v.optional(v.pipe(v.string(), v.isoDate())),
});

/** A full replacement, minus the id, which is the path's. */
export const BookReplacement = v.strictObject({ ...Book.entries, isbn: v.optional(Isbn) });

const editors = [{ roles: ['editor'] }];

export default definePolicy({
  clientIp: { trustedProxies: ['cloudflare'] },
  transport: { requireHttps: true, hsts: { maxAge: 31536000, includeSubDomains: true } },
  // The catalogue's own site and its embeddable widget; no credentials travel cross-origin.
  cors: { origins: ['https://open-catalog.example', 'https://widget.open-catalog.example'], credentials: false, maxAge: 86400 },
  authn: {
    editor: jwt({
      jwksUrl: 'https://id.open-catalog.example/.well-known/jwks.json',
      algorithms: ['EdDSA', 'ES256'],
      issuer: CATALOG_ISSUER,
      audience: CATALOG_AUDIENCE,
      requireMfa: true,
      maxLifetime: 900,
    }),
  },
  roleHierarchy: { admin: ['editor'] },
  rateLimits: {
    reads: { limit: 300, window: '1m', by: 'ip' },
    search: { limit: 5, window: '10s', by: 'ip' },
    writes: { limit: 30, window: '1m', by: 'principal' },
  },
  limits: { maxBodyBytes: 16 * 1024 },
  versions: {
    '/v0': { deprecation: '2026-09-01', sunset: '2027-12-31', link: 'https://open-catalog.example/docs/v1-migration' },
  },
  routes: {
    'GET /v1/books': { authn: 'anonymous', rateLimit: ['reads'], query: BookListQuery },
    'GET /v1/books/:isbn': { authn: 'anonymous', rateLimit: ['reads'], params: IsbnParams },
    'GET /v1/search': { authn: 'anonymous', rateLimit: ['reads', 'search'], query: SearchQuery, description: 'Full-text search: the expensive query, with its own per-IP budget.' },
    'GET /v1/authors/:authorId': { authn: 'anonymous', rateLimit: ['reads'], params: v.strictObject({ authorId: v.pipe(v.string(), v.regex(/^aut_[a-z0-9]{6,20}$/)) }) },
    'POST /v1/books': { authn: ['editor'], allow: editors, rateLimit: ['writes'], body: Book },
    'PUT /v1/books/:isbn': { authn: ['editor'], allow: editors, rateLimit: ['writes'], params: IsbnParams, body: BookReplacement },
    'DELETE /v1/books/:isbn': { authn: ['editor'], allow: [{ roles: ['admin'] }], rateLimit: ['writes'], params: IsbnParams },
    'GET /v0/books/:isbn': { authn: 'anonymous', rateLimit: ['reads'], params: IsbnParams, description: 'Deprecated: use GET /v1/books/:isbn.' },
  },
});
