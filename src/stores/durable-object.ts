/**
 * Rate limits in Cloudflare Durable Objects: every Worker isolate, in every location, counts in the
 * same object for a key. The object runs the memory store's algorithms on its transactional storage,
 * so counts survive the object being evicted or moved, and a Durable Object handles one event at a
 * time while it reads and writes its storage: each take is atomic.
 *
 * The replay cache (`firstUse`) lives there too: an object remembers a key until its expiry, and of
 * two gateways offered one key at once, the object answers one of them first.
 *
 * Time: the object counts with the `now` the engine passes (a pinned clock applies, as with the
 * memory store); only the clean-up of idle keys (two windows after their last use, a remembered
 * key a second after its expiry) runs on the object's own clock.
 *
 * This module imports nothing from `cloudflare:workers`: the namespace, stub and storage are typed
 * by the few members used, so it type-checks (and is tested) outside workerd too.
 * @module
 */

import type { BucketSpec, QuotaCounterSpec, QuotaPeriod, RateLimitResult, RateLimitStore } from './types.ts';

/** The part of a `DurableObjectStub` the store uses. */
export interface DurableObjectStubLike {
  fetch(input: string, init: RequestInit): Promise<Response>;
}

/** The part of a `DurableObjectNamespace` binding the store uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): DurableObjectStubLike;
}

/** The part of `DurableObjectStorage` the object uses. */
export interface DurableObjectStorageLike {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  delete(keys: string[]): Promise<number>;
  list<T>(options?: { prefix?: string }): Promise<Map<string, T>>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
}

/** The part of `DurableObjectState` the object uses. */
export interface DurableObjectStateLike {
  readonly storage: DurableObjectStorageLike;
}

/** Options of `durableObjectStore()`. */
export interface DurableObjectStoreOptions {
  /** The namespace binding of `RateLimitObject` (wrangler.toml `[[durable_objects.bindings]]`). */
  namespace: DurableObjectNamespaceLike;
  /**
   * How many objects one bucket's keys are spread over. Unset, every bucket and client key has an
   * object of its own: none is ever hot, and each is created near its client's first request. A
   * number keeps fewer objects, each warm and serving many keys (up to about a thousand requests per
   * second per object).
   * @default one object per key
   */
  shards?: number;
  /**
   * Most replay-cache keys (`firstUse`) one object remembers at once. A full object refuses new keys
   * until old ones expire, rather than forget one whose replay it must refuse. Matters with `shards`:
   * without, each key has an object of its own.
   * @default 100000
   */
  maxReplayKeys?: number;
}

type Operation = 'consume' | 'refund' | 'peek';

/** What the store asks the object. */
interface Call {
  op: Operation;
  bucket: BucketSpec;
  key: string;
  now: number;
}

/** What the store asks the object for a quota. */
interface QuotaCall {
  op: 'quota';
  quota: QuotaCounterSpec;
  key: string;
  period: QuotaPeriod;
}

/** What the store asks the object for the replay cache. */
interface SeenCall {
  op: 'first-use' | 'forget';
  key: string;
  /** `first-use`: until when the key is remembered, on the engine's clock. */
  expiresAt: number;
  /** The engine's clock. */
  now: number;
  /** Most keys the object remembers at once. */
  max: number;
}

/** A remembered key: until when on the engine's clock (`e`), and when the object may delete it. */
interface SeenState {
  e: number;
  expires: number;
}

/** The storage keys of the replay cache: apart from every bucket's (`<algorithm>\0…`) and quota's. */
const SEEN = 'seen\u0000';

function parseSeenCall(body: unknown): SeenCall | undefined {
  const call = body as Partial<SeenCall> | null;
  const valid =
    (call?.op === 'first-use' || call?.op === 'forget') &&
    typeof call.key === 'string' &&
    Number.isFinite(call.expiresAt) &&
    Number.isFinite(call.now) &&
    Number.isInteger(call.max) &&
    call.max! > 0;
  return valid ? (call as SeenCall) : undefined;
}

/** A quota's count: the period's start, the calls counted in it, and when the state may go. */
interface QuotaState {
  s: number;
  n: number;
  expires: number;
}

function parseQuotaCall(body: unknown): QuotaCall | undefined {
  const call = body as Partial<QuotaCall> | null;
  const valid =
    call?.op === 'quota' &&
    typeof call.key === 'string' &&
    typeof call.quota?.name === 'string' &&
    Number.isInteger(call.quota.limit) &&
    call.quota.limit > 0 &&
    Number.isFinite(call.period?.start) &&
    Number.isFinite(call.period?.end);
  return valid ? (call as QuotaCall) : undefined;
}

/**
 * One key's counters, as the memory store keeps them. Fixed/sliding window: a = window start,
 * b = count, c = previous count; token bucket: a = tokens, b = last refill. `expires` is the
 * object's clock time after which the state no longer matters.
 */
interface KeyState {
  a: number;
  b: number;
  c: number;
  expires: number;
}

/** Brings a key up to `now` (window roll, token refill): the units in use, and the reset. Mirrors memory.ts. */
function advance(bucket: BucketSpec, s: KeyState, now: number): { used: number; reset: number } {
  const { limit, windowMs } = bucket;
  if (bucket.algorithm === 'token-bucket') {
    const rate = limit / windowMs;
    s.a = Math.min(limit, s.a + Math.max(0, now - s.b) * rate);
    s.b = Math.max(s.b, now);
    const reset = now + Math.ceil((s.a >= 1 ? limit - s.a : 1 - s.a) / rate);
    return { used: limit - Math.floor(s.a), reset };
  }
  // A clock stepping backwards stays in the current window.
  const start = Math.max(s.a, Math.floor(now / windowMs) * windowMs);
  if (start !== s.a) {
    s.c = start - s.a === windowMs ? s.b : 0;
    s.b = 0;
    s.a = start;
  }
  if (bucket.algorithm === 'fixed-window') return { used: s.b, reset: start + windowMs };
  const overlap = 1 - Math.max(0, now - start) / windowMs;
  return { used: Math.floor(s.c * overlap) + s.b, reset: start + windowMs };
}

/** One call on one key's state (undefined: never seen). Returns the answer; `state` is updated in place. */
function apply(call: Call, state: KeyState | undefined, fresh: () => KeyState): { result?: Omit<RateLimitResult, 'limit'>; state?: KeyState } {
  const { op, bucket, now } = call;
  if (!state) {
    if (op === 'peek') return { result: { success: true, remaining: bucket.limit, reset: now + bucket.windowMs } };
    if (op === 'refund') return {};
    state = fresh();
  }
  const { used, reset } = advance(bucket, state, now);
  const answer = (success: boolean, inUse: number) => ({ success, remaining: Math.max(0, bucket.limit - inUse), reset });
  if (op === 'peek') return { result: answer(used < bucket.limit, used), state };
  if (op === 'refund') {
    if (bucket.algorithm === 'token-bucket') state.a = Math.min(bucket.limit, state.a + 1);
    else if (state.b > 0) state.b -= 1;
    else if (state.c > 0) state.c -= 1;
    return { state };
  }
  if (used >= bucket.limit) return { result: answer(false, used), state };
  if (bucket.algorithm === 'token-bucket') state.a -= 1;
  else state.b += 1;
  return { result: answer(true, used + 1), state };
}

const ALGORITHMS = new Set(['fixed-window', 'sliding-window', 'token-bucket']);

function parseCall(body: unknown): Call | undefined {
  const call = body as Partial<Call> | null;
  const bucket = call?.bucket as Partial<BucketSpec> | undefined;
  const valid =
    call &&
    (call.op === 'consume' || call.op === 'refund' || call.op === 'peek') &&
    typeof call.key === 'string' &&
    Number.isFinite(call.now) &&
    typeof bucket?.name === 'string' &&
    Number.isInteger(bucket.limit) &&
    bucket.limit! > 0 &&
    Number.isFinite(bucket.windowMs) &&
    bucket.windowMs! > 0 &&
    ALGORITHMS.has(bucket.algorithm!);
  return valid ? (call as Call) : undefined;
}

/**
 * The Durable Object that holds the counters. Export it from your Worker's entry module and bind it
 * in wrangler.toml; `durableObjectStore()` talks to it.
 *
 * @example
 * ```ts
 * // worker.ts
 * export { RateLimitObject } from 'portcullis/durable-objects';
 * export default gateway(policy, { engine: (env) => ({ rateLimitStore: durableObjectStore({ namespace: env.RATE_LIMITS }) }) });
 * ```
 */
export class RateLimitObject {
  readonly #storage: DurableObjectStorageLike;
  /** Whether a clean-up alarm is known to be set (read once per instance, then kept). */
  #alarmSet: boolean | undefined;
  /** How many keys the replay cache holds (counted once per instance, then kept). */
  #seenCount: number | undefined;
  /** When the first key of the replay cache expires, on the engine's clock, as of its last count. */
  #seenFullUntil = 0;

  constructor(state: DurableObjectStateLike, _env?: unknown) {
    this.#storage = state.storage;
  }

  async fetch(request: Request): Promise<Response> {
    if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
    const body: unknown = await request.json().catch(() => undefined);
    const quotaCall = parseQuotaCall(body);
    if (quotaCall) return this.#takeQuota(quotaCall);
    const seenCall = parseSeenCall(body);
    if (seenCall) return seenCall.op === 'first-use' ? this.#firstUse(seenCall) : this.#forget(seenCall);
    const call = parseCall(body);
    if (!call) return new Response('bad rate-limit call', { status: 400 });
    const { bucket, key, now } = call;
    const id = `${bucket.algorithm}\u0000${bucket.name}\u0000${key}`;
    // Only storage is awaited between this read and the write below: the object's input gate keeps
    // every other request out meanwhile, so no take can slip between them.
    const stored = await this.#storage.get<KeyState>(id);
    const fresh = (): KeyState =>
      bucket.algorithm === 'token-bucket'
        ? { a: bucket.limit, b: now, c: 0, expires: 0 }
        : { a: Math.floor(now / bucket.windowMs) * bucket.windowMs, b: 0, c: 0, expires: 0 };
    const { result, state } = apply(call, stored, fresh);
    if (state) {
      state.expires = Date.now() + 2 * bucket.windowMs + 1000;
      await this.#storage.put(id, state);
      await this.#scheduleCleanUp(state.expires);
    }
    return result ? Response.json(result) : new Response(null, { status: 204 });
  }

  /** Counts one call in a quota's period, as memoryStore's takeQuota does. */
  async #takeQuota({ quota, key, period }: QuotaCall): Promise<Response> {
    const id = `quota\u0000${quota.name}\u0000${key}`;
    const state = (await this.#storage.get<QuotaState>(id)) ?? { s: period.start, n: 0, expires: 0 };
    // A new period starts from zero; a call from an earlier one counts in the period stored.
    if (period.start > state.s) Object.assign(state, { s: period.start, n: 0 });
    const success = state.n < quota.limit;
    if (success) state.n += 1;
    // Kept until the period is over, plus an hour for lagging clocks (measured on the object's clock).
    state.expires = Date.now() + Math.max(0, period.end - period.start) + 3600_000;
    await this.#storage.put(id, state);
    await this.#scheduleCleanUp(state.expires);
    return Response.json({ success, remaining: Math.max(0, quota.limit - state.n), reset: period.end });
  }

  /**
   * Remembers a key unless it is remembered, as memoryStore's firstUse does. Only storage is awaited
   * between the read and the write: the input gate keeps a second offer of the key out meanwhile.
   */
  async #firstUse({ key, expiresAt, now, max }: SeenCall): Promise<Response> {
    const id = SEEN + key;
    const stored = await this.#storage.get<SeenState>(id);
    if (stored && stored.e > now) return Response.json({ first: false });
    // Full: refuse the key (fail closed) rather than forget one whose replay must be refused.
    if (!stored && (await this.#seenKeys(now, max)) >= max) return Response.json({ first: false });
    const state: SeenState = { e: expiresAt, expires: Date.now() + Math.max(0, expiresAt - now) + 1000 };
    await this.#storage.put(id, state);
    if (!stored) this.#seenCount! += 1;
    this.#seenFullUntil = Math.min(this.#seenFullUntil, expiresAt);
    await this.#scheduleCleanUp(state.expires);
    return Response.json({ first: true });
  }

  async #forget({ key }: SeenCall): Promise<Response> {
    const deleted = await this.#storage.delete([SEEN + key]);
    if (this.#seenCount !== undefined) this.#seenCount -= deleted;
    return Response.json({ first: false });
  }

  /**
   * How many keys the replay cache holds; when `max` or more, after deleting those expired at `now`.
   * A full cache is listed again only once its first key has expired: a flood of new keys against
   * a full object costs a read each, not a list.
   */
  async #seenKeys(now: number, max: number): Promise<number> {
    if (this.#seenCount !== undefined && (this.#seenCount < max || now < this.#seenFullUntil)) return this.#seenCount;
    const entries = await this.#storage.list<SeenState>({ prefix: SEEN });
    const { stale, next } = await this.#deleteStale(entries, (state) => state.e, now);
    this.#seenFullUntil = next;
    return (this.#seenCount = entries.size - stale.length);
  }

  /** Forgets keys idle for two windows (their state equals a fresh key's), and remembered keys past their expiry. */
  async alarm(): Promise<void> {
    const { stale, next } = await this.#deleteStale(await this.#storage.list<KeyState | QuotaState | SeenState>(), (state) => state.expires, Date.now());
    if (this.#seenCount !== undefined) this.#seenCount -= stale.filter((id) => id.startsWith(SEEN)).length;
    this.#alarmSet = next !== Infinity;
    if (this.#alarmSet) await this.#storage.setAlarm(next);
  }

  /** Deletes the entries whose time (`timeOf`) is `now` or earlier: their ids, and the earliest time of the others. */
  async #deleteStale<T>(entries: Map<string, T>, timeOf: (state: T) => number, now: number): Promise<{ stale: string[]; next: number }> {
    const stale: string[] = [];
    let next = Infinity;
    for (const [id, state] of entries) {
      if (timeOf(state) <= now) stale.push(id);
      else next = Math.min(next, timeOf(state));
    }
    // The storage API deletes at most 128 keys per call.
    for (let i = 0; i < stale.length; i += 128) await this.#storage.delete(stale.slice(i, i + 128));
    return { stale, next };
  }

  async #scheduleCleanUp(at: number): Promise<void> {
    this.#alarmSet ??= (await this.#storage.getAlarm()) !== null;
    if (this.#alarmSet) return;
    this.#alarmSet = true;
    await this.#storage.setAlarm(at);
  }
}

/** FNV-1a: spreads keys over shards (a choice of object, not a security boundary). */
function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

/**
 * A rate-limit store in Durable Objects: one global limit for every isolate of the Worker.
 * Failures (an object overloaded or reset) and slow answers are the engine's: the policy's
 * `onStoreError` decides (503 by default), after `rateLimiting.storeTimeoutMs` at most.
 *
 * @example
 * ```ts
 * import { gateway } from 'portcullis/cloudflare';
 * import { durableObjectStore } from 'portcullis/durable-objects';
 * export { RateLimitObject } from 'portcullis/durable-objects';
 *
 * export default gateway(policy, { engine: (env: Env) => ({ rateLimitStore: durableObjectStore({ namespace: env.RATE_LIMITS }) }) });
 * ```
 * @see https://developers.cloudflare.com/durable-objects/
 */
export function durableObjectStore(options: DurableObjectStoreOptions): RateLimitStore {
  const { namespace, shards } = options;
  if (shards !== undefined && !(Number.isInteger(shards) && shards > 0)) throw new TypeError('durableObjectStore: shards must be a positive integer');
  const maxReplayKeys = options.maxReplayKeys ?? 100_000;
  if (!Number.isInteger(maxReplayKeys) || maxReplayKeys < 1) throw new TypeError('durableObjectStore: maxReplayKeys must be a positive integer');

  /** One call to the object named `name`: its answer, or a throw when it failed. */
  async function post(name: string, call: Call | QuotaCall | SeenCall): Promise<Response> {
    const response = await namespace.get(namespace.idFromName(name)).fetch('https://rate-limit.portcullis/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(call),
    });
    if (!response.ok) throw new Error(`rate-limit object answered ${response.status}: ${await response.text()}`);
    return response;
  }

  function send(op: Operation, bucket: BucketSpec, key: string, now: number): Promise<Response> {
    // The bucket name is URI-encoded (no `:`), so no name/key pair can spell another bucket's object.
    const name = `${encodeURIComponent(bucket.name)}:${shards === undefined ? key : shardOf(key, shards)}`;
    const { name: bucketName, limit, windowMs, algorithm } = bucket;
    return post(name, { op, bucket: { name: bucketName, limit, windowMs, algorithm }, key, now });
  }

  /** One call on the replay cache; a key's object is named `:seen:…`, which no bucket's encoded name begins with. */
  async function seen(op: SeenCall['op'], key: string, expiresAt: number, now: number): Promise<boolean> {
    const name = `:seen:${shards === undefined ? key : shardOf(key, shards)}`;
    const { first } = (await (await post(name, { op, key, expiresAt, now, max: maxReplayKeys })).json()) as { first: boolean };
    return first === true;
  }

  async function check(op: 'consume' | 'peek', bucket: BucketSpec, key: string, now: number): Promise<RateLimitResult> {
    const { success, remaining, reset } = (await (await send(op, bucket, key, now)).json()) as Omit<RateLimitResult, 'limit'>;
    return { success, limit: bucket.limit, remaining, reset };
  }

  return {
    name: 'durable-object',
    consume: (bucket, key, now) => check('consume', bucket, key, now),
    peek: (bucket, key, now) => check('peek', bucket, key, now),
    async refund(bucket, key, now) {
      await send('refund', bucket, key, now);
    },
    firstUse: (key, expiresAt, now) => seen('first-use', key, expiresAt, now),
    async forget(key) {
      await seen('forget', key, 0, 0);
    },
    async takeQuota(quota, key, period) {
      // `:quota:` keeps a quota's objects apart from a bucket's of the same name.
      const name = `${encodeURIComponent(quota.name)}:quota:${shards === undefined ? key : shardOf(key, shards)}`;
      const response = await post(name, { op: 'quota', quota: { name: quota.name, limit: quota.limit }, key, period: { start: period.start, end: period.end } });
      const { success, remaining, reset } = (await response.json()) as Omit<RateLimitResult, 'limit'>;
      return { success, limit: quota.limit, remaining, reset };
    },
  };
}
