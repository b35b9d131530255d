/**
 * Imported by `portcullis import` from docs/examples/openapi.yaml (Notes 1.0.0).
 * Before it guards anything: resolve each TODO (who may call each route, the real issuers and keys),
 * then run `portcullis lint` on this file.
 * @module
 */

import { definePolicy, jwt } from 'portcullis';
import { jsonSchema } from 'portcullis/json-schema';

export default definePolicy({
  authn: {
    idp: jwt({
      // TODO: the identity provider's keys, issuer and audience (the document does not say them all).
      jwksUrl: "https://id.example.com/.well-known/jwks.json",
      issuer: "https://id.example.com",
      audience: "TODO",
      algorithms: ["ES256"],
    }),
  },
  // TODO: budgets that fit the traffic you expect.
  rateLimits: {
    perCaller: { limit: 600, window: '1m', by: 'principal' },
  },
  // TODO: the largest body a route needs.
  limits: { maxBodyBytes: 64 * 1024 },
  routes: {
    "GET /v1/notes": {
      authn: ["idp"],
      // TODO: who may call? 'authenticated' admits every caller the methods accept.
      allow: 'authenticated',
      rateLimit: ["perCaller"],
      query: jsonSchema({"type":"object","properties":{"limit":{"type":"integer","minimum":1,"maximum":50}}}, { coerce: 'strings' }),
      description: "The caller's notes",
    },
    "POST /v1/notes": {
      authn: ["idp"],
      // TODO: who may call? 'authenticated' admits every caller the methods accept.
      allow: 'authenticated',
      rateLimit: ["perCaller"],
      body: jsonSchema({"type":"object","required":["text"],"properties":{"text":{"type":"string","maxLength":500,"pattern":"^[^\\x00-\\x1f]*$"}}}),
    },
    "DELETE /v1/notes/:noteId": {
      authn: ["idp"],
      // TODO: who may call? Admins only until decided.
      allow: [{"roles":["admin"]}],
      rateLimit: ["perCaller"],
      params: jsonSchema({"type":"object","properties":{"noteId":{"type":"string","pattern":"^n_[a-z0-9]{8}$"}},"required":["noteId"]}, { coerce: 'strings' }),
    },
  },
});
