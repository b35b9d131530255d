// `npx portcullis test specs`: a spec as a user writes it, against the consumer's policy.
import { defineSpec } from 'portcullis/testing';
import policy from '../policy.js';

export default defineSpec({
  name: 'consumer policy',
  policy,
  cases: [
    { request: 'GET /v1/health', expect: 200 },
    { request: 'GET /v1/users/42', expect: 401 },
  ],
});
