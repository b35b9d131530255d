/**
 * `npm run apikey [-- <prefix>]`: prints a new API key, its SHA-256 hash, and the pattern secret
 * scanners can match keys of that prefix with. Give the key to the client once; put only the hash
 * in the policy (`apiKey({ keys: { '<hash>': { principal: … } } })`).
 * @module
 */

import { generateApiKey } from '../src/index.ts';
import { API_KEY_PREFIX } from '../src/authn/api-key-format.ts';

// A trailing underscore (`pk_live_`, the older spelling) is the separator, not part of the prefix.
const prefix = (process.argv[2] ?? 'pk_live').replace(/_$/, '');
if (!API_KEY_PREFIX.test(prefix) || prefix.length > 32) {
  console.error(`apikey: the prefix "${prefix}" must be up to 32 letters, digits and single underscores, starting with a letter (e.g. pk_live)`);
  process.exit(2);
}
const { key, hash } = await generateApiKey({ prefix });
console.log(`key:     ${key}\nhash:    ${hash}\npattern: \\b${prefix}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}\\b`);
console.error('Store the hash in the policy; the key is shown only now. The pattern is for secret scanners.');
