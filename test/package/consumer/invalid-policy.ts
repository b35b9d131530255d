// A policy with a mistake: lint must report it (exit 1), as the repository's own CLI tests expect.
import { definePolicy } from 'portcullis';

export default definePolicy({
  routes: {
    'GET /v1/users/:id': { authn: 'anonymous', allow: [{ owner: { param: 'userId' } }] },
  },
});
