/**
 * `npm run apikey [-- <prefix>]`: prints a new API key and its SHA-256 hash. Give the key to the
 * client once; put only the hash in the policy (`apiKey({ keys: { '<hash>': { principal: … } } })`).
 * @module
 */

import { generateApiKey } from '../src/index.ts';

const prefix = process.argv[2] ?? 'pk_live_';
if (!/^[A-Za-z0-9_]{0,32}$/.test(prefix)) {
  console.error(`apikey: the prefix "${prefix}" must be letters, digits and underscores (e.g. pk_live_)`);
  process.exit(2);
}
const { key, hash } = await generateApiKey(prefix);
console.log(`key:  ${key}\nhash: ${hash}`);
console.error('Store the hash in the policy; the key is shown only now.');
