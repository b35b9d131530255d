/**
 * A rate-limit store in your own Redis (or Valkey, or Redis Cluster), over a native client such as
 * the official `redis` package (node-redis). Every algorithm and the refund run as one Lua script
 * (`EVALSHA`, sent again with `EVAL` when Redis answers `NOSCRIPT`), atomic per key, with the memory
 * store's exact semantics: the same calls at the same `now` give the same answers.
 *
 * Time: the script counts with the `now` the engine passes — a clock pinned with
 * `createEngine(policy, { now })` applies here as it does to the memory store — and never with
 * Redis's `TIME`. Only key expiry (two windows after the last use) runs on Redis's clock.
 *
 * This module imports no client library: it takes a client you made (anything with node-redis's
 * `evalSha` / `eval`), or a URL and the `createClient` function of node-redis, which it configures
 * to fail fast while Redis is unreachable.
 * @module
 */

import { FIRST_USE_SCRIPT, QUOTA_SCRIPT, RATE_LIMIT_SCRIPT, sha1Hex } from './redis-script.ts';
import type { BucketSpec, RateLimitResult, RateLimitStore } from './types.ts';

/** Keys and arguments of a script call, as node-redis's `eval` and `evalSha` take them. */
export interface RedisScriptCall {
  keys: string[];
  arguments: string[];
}

/**
 * What the store needs of a Redis client: node-redis's `RedisClientType` and `RedisClusterType` have
 * both methods (a cluster routes each call by its key). Another client fits behind a small object:
 * `{ evalSha: (sha, { keys, arguments: args }) => ioredis.evalsha(sha, keys.length, ...keys, ...args), … }`.
 */
export interface RedisScriptClient {
  evalSha(sha1: string, call: RedisScriptCall): Promise<unknown>;
  eval(script: string, call: RedisScriptCall): Promise<unknown>;
}

/** The options `redisStore({ url, createClient })` hands to `createClient`: node-redis's own names. */
export interface RedisConnectionOptions {
  /** `redis://`, or `rediss://` for TLS; credentials in the URL (`rediss://user:password@host:6380`). */
  url: string;
  /** Commands fail at once while the connection is down instead of waiting for it to come back. */
  disableOfflineQueue: true;
  /** A command not answered within this time fails, and one not yet sent is never sent. */
  commandOptions: { timeout: number };
  /** Commands waiting to be sent or answered, at most: beyond it a command fails at once. */
  commandsQueueMaxLength: number;
  socket: { connectTimeout: number };
}

/** The connection a `createClient` returns: node-redis's client. */
export interface RedisConnection extends RedisScriptClient {
  connect(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  destroy(): unknown;
}

interface RedisStoreCommonOptions {
  /**
   * Prefix of every key. A key is `<prefix>:{<bucket>:<client key>}:<algorithm>`: the braces are a
   * Redis Cluster hash tag, so everything of one bucket and client lives on one slot.
   * @default 'portcullis'
   */
  prefix?: string;
}

/** `redisStore({ client })`: a client you made, connected and closed by you. */
export interface RedisStoreClientOptions extends RedisStoreCommonOptions {
  /**
   * A connected node-redis client or cluster. Make it with `disableOfflineQueue: true`: otherwise a
   * request's command waits in the client's queue while Redis is down, and runs after the outage
   * although its request was long answered.
   */
  client: RedisScriptClient;
  url?: never;
  createClient?: never;
}

/** `redisStore({ url, createClient })`: the store makes, connects and (on `close()`) closes the client. */
export interface RedisStoreUrlOptions extends RedisStoreCommonOptions {
  client?: never;
  /** `redis://[user:password@]host[:port][/db]`, or `rediss://…` for TLS. */
  url: string;
  /**
   * node-redis's `createClient` (`import { createClient } from 'redis'`), or a function that adds
   * options of your own (a CA for TLS) before calling it. Called once, with the options above.
   */
  createClient: (options: RedisConnectionOptions) => RedisConnection;
  /** Longest wait for one Redis command, ms; keep it at or below the policy's `storeTimeoutMs`. @default 1000 */
  commandTimeoutMs?: number;
  /** Longest wait for a connection, ms. @default 5000 */
  connectTimeoutMs?: number;
  /**
   * Commands in flight at most. A Redis that hangs without closing the connection (a stopped process,
   * a network partition) answers nothing until TCP gives up; meanwhile every request adds a command
   * that waits for its reply. Beyond this bound they fail at once instead of piling up in memory.
   * @default 10000
   */
  maxQueuedCommands?: number;
  /**
   * Connection errors (each refused reconnection attempt while Redis is down). Requests that fail
   * meanwhile are logged by the engine (`ratelimit.unavailable`) either way.
   * @default ignored
   */
  onConnectionError?: (error: Error) => void;
}

export type RedisStoreOptions = RedisStoreClientOptions | RedisStoreUrlOptions;

/** A Redis store; `close()` closes the client the store made from a URL (a client you passed stays open). */
export interface RedisStore extends RateLimitStore {
  close(): Promise<void>;
}

const ALGORITHM_SUFFIX: Record<BucketSpec['algorithm'], string> = { 'fixed-window': 'fw', 'sliding-window': 'sw', 'token-bucket': 'tb' };

/** `%`, `{` and `}` percent-encoded: a client key cannot end the hash tag early or spell another key. */
const escapeTag = (text: string) => text.replace(/[%{}]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

/** A script and its SHA-1, which EVALSHA names it by (computed once, asynchronously). */
interface LoadedScript {
  source: string;
  sha: string | undefined;
  ready: Promise<string>;
}

function loadedScript(source: string): LoadedScript {
  const script: LoadedScript = { source, sha: undefined, ready: sha1Hex(source) };
  script.ready.then((hex) => (script.sha = hex));
  return script;
}

/** `remember`: the value noted under the key, or this one, noted for one window. Rare (once per alert window): plain EVAL. */
const REMEMBER_SCRIPT = `local noted = redis.call('GET', KEYS[1])
if noted then return noted end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`;

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** A client made from a URL, and a promise of its first connection attempt's outcome. */
function connect(options: RedisStoreUrlOptions): { client: RedisConnection; attempted: Promise<void> } {
  const commandTimeoutMs = options.commandTimeoutMs ?? 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const maxQueuedCommands = options.maxQueuedCommands ?? 10_000;
  for (const [name, value] of [['commandTimeoutMs', commandTimeoutMs], ['connectTimeoutMs', connectTimeoutMs], ['maxQueuedCommands', maxQueuedCommands]] as const) {
    if (!(value > 0)) throw new TypeError(`redisStore: ${name} must be a positive number`);
  }
  const client = options.createClient({
    url: options.url,
    disableOfflineQueue: true,
    commandOptions: { timeout: commandTimeoutMs },
    commandsQueueMaxLength: maxQueuedCommands,
    socket: { connectTimeout: connectTimeoutMs },
  });
  const onError = options.onConnectionError ?? (() => {});
  let attempted!: () => void;
  const attempt = new Promise<void>((resolve) => (attempted = resolve));
  // Without a listener, an 'error' event (Redis unreachable) would end the process.
  client.on('error', (error) => {
    attempted();
    onError(error);
  });
  client.on('ready', () => attempted());
  // Not awaited: a gateway starts while Redis is down, answers by its policy's onStoreError meanwhile,
  // and the client keeps reconnecting (node-redis backs off up to 2 s between attempts).
  client.connect().catch(onError);
  return { client, attempted: attempt };
}

/**
 * Rate limits in Redis shared by every gateway that uses the same Redis: one script call per check.
 *
 * Failures are the engine's to decide: a command that fails or outlasts `rateLimiting.storeTimeoutMs`
 * is a store failure, answered by the policy's `onStoreError` (503 by default).
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { redisStore } from 'portcullis/redis';
 *
 * const store = redisStore({ url: process.env.REDIS_URL!, createClient });
 * const engine = createEngine(policy, { rateLimitStore: store });
 * ```
 * @see https://redis.io/docs/latest/develop/interact/programmability/eval-intro/
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const prefix = options.prefix ?? 'portcullis';
  if (/[{}]/.test(prefix)) throw new TypeError('redisStore: prefix must not contain { or } (the hash tag is the store`s)');
  const owned = options.client ? undefined : connect(options as RedisStoreUrlOptions);
  const client: RedisScriptClient = owned?.client ?? options.client!;
  // Until the first connection attempt ends, calls wait for it (a fresh gateway's first requests);
  // from then on a disconnected client fails them at once (no offline queue).
  let connecting = owned !== undefined;
  owned?.attempted.then(() => (connecting = false));
  const rateLimit = loadedScript(RATE_LIMIT_SCRIPT);
  const firstUse = loadedScript(FIRST_USE_SCRIPT);
  const quotaScript = loadedScript(QUOTA_SCRIPT);
  // The bucket name is URI-encoded (no `:`), so no name/key pair can spell another bucket's key.
  const keyOf = (bucket: BucketSpec, key: string) => `${prefix}:{${encodeURIComponent(bucket.name)}:${escapeTag(key)}}`;

  async function evaluate(script: LoadedScript, call: RedisScriptCall): Promise<unknown> {
    if (connecting) await owned!.attempted;
    try {
      return await client.evalSha(script.sha ?? (await script.ready), call);
    } catch (error) {
      // A restarted (or another cluster node's) Redis has not seen the script: EVAL sends and caches it.
      if (isNoScript(error)) return client.eval(script.source, call);
      throw error;
    }
  }

  function run(operation: 'consume' | 'refund' | 'peek', bucket: BucketSpec, key: string, now: number): Promise<unknown> {
    return evaluate(rateLimit, {
      keys: [`${keyOf(bucket, key)}:${ALGORITHM_SUFFIX[bucket.algorithm]}`],
      arguments: [operation, bucket.algorithm, String(bucket.limit), String(bucket.windowMs), String(now)],
    });
  }

  function resultOf(reply: unknown, limit: number): RateLimitResult {
    if (!Array.isArray(reply) || reply.length !== 3) throw new TypeError(`redisStore: unexpected script reply ${JSON.stringify(reply)}`);
    return { success: Number(reply[0]) === 1, limit, remaining: Number(reply[1]), reset: Number(String(reply[2])) };
  }

  async function check(operation: 'consume' | 'peek', bucket: BucketSpec, key: string, now: number): Promise<RateLimitResult> {
    return resultOf(await run(operation, bucket, key, now), bucket.limit);
  }

  return {
    name: 'redis',
    consume: (bucket, key, now) => check('consume', bucket, key, now),
    peek: (bucket, key, now) => check('peek', bucket, key, now),
    async refund(bucket, key, now) {
      await run('refund', bucket, key, now);
    },
    async firstUse(key, expiresAt, now) {
      // Its own key space (`seen`, no hash tag needed: one key per call); at least 1 ms to live.
      const ttl = String(Math.max(1, Math.ceil(expiresAt - now)));
      const reply = await evaluate(firstUse, { keys: [`${prefix}:seen:${key}`], arguments: ['first', ttl] });
      return Number(reply) === 1;
    },
    async forget(key) {
      await evaluate(firstUse, { keys: [`${prefix}:seen:${key}`], arguments: ['forget', '0'] });
    },
    async takeQuota(quota, key, period, now) {
      const reply = await evaluate(quotaScript, {
        // `quota` after the name keeps a quota's counter apart from a bucket of the same name.
        keys: [`${prefix}:{${encodeURIComponent(quota.name)}:${escapeTag(key)}}:quota`],
        arguments: [String(quota.limit), String(period.start), String(period.end), String(now)],
      });
      return resultOf(reply, quota.limit);
    },
    async remember(bucket, key, value) {
      if (connecting) await owned!.attempted;
      const call = { keys: [`${keyOf(bucket, key)}:note`], arguments: [value, String(bucket.windowMs)] };
      return String(await client.eval(REMEMBER_SCRIPT, call));
    },
    async close() {
      owned?.client.destroy();
    },
  };
}
