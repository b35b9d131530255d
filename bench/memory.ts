/**
 * Bytes per tracked key of `memoryStore({ maxKeys: 1_000_000 })` holding 1,000,000 distinct IPv4
 * client keys: heap and ArrayBuffer memory after a full GC, before and after. Run with
 * `--expose-gc`. Prints one JSON line: `{ "bytes_per_key", "keys" }`.
 * @module
 */

import { memoryStore } from '../src/index.ts';
import type { BucketSpec } from '../src/stores/types.ts';
import { RATE_LIMIT } from './scenario.ts';

const KEYS = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function used(): number {
  gc!();
  gc!();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** The i-th of 2^32 distinct addresses, spread over the space (an odd multiplier is a bijection mod 2^32). */
function ipv4(i: number): string {
  const n = Math.imul(i + 1, 2654435761) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

const bucket: BucketSpec = { name: 'api', limit: 100, windowMs: RATE_LIMIT.windowMs, algorithm: 'sliding-window' };
const now = Date.now();
const before = used();
const store = memoryStore({ maxKeys: KEYS });
// The key the engine builds for a per-IP bucket.
for (let i = 0; i < KEYS; i++) await store.consume(bucket, `ip:${ipv4(i)}`, now);
const after = used();
if (store.size !== KEYS) throw new Error(`the store holds ${store.size} keys, not ${KEYS}`);
console.log(JSON.stringify({ bytes_per_key: Math.round((after - before) / KEYS), keys: store.size }));
