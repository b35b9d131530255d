/**
 * An Upstash-REST-compatible HTTP server in front of a real Redis, so that `@upstash/redis` and
 * `@upstash/ratelimit` run unmodified against Debian's `redis-server` in tests (`@upstash/redis`
 * speaks REST only).
 *
 * The protocol, as `@upstash/redis` 1.39 uses it:
 * - `POST /` with a JSON array `["SET", "k", "v"]` → `{ "result": … }`, or `{ "error": "…" }` with 400.
 * - `POST /pipeline` with an array of commands → `[{ "result": … } | { "error": "…" }, …]` (200).
 * - `POST /multi-exec`: the same, run as one MULTI/EXEC transaction.
 * - `Authorization: Bearer <token>` on every request (401 otherwise).
 * - `Upstash-Encoding: base64` (the client's default): every string in a result is base64 of its
 *   bytes, except the status `OK`; integers stay numbers and nil stays null.
 *
 * One difference from Upstash's server had to be bridged: `@upstash/ratelimit`'s Lua scripts open with
 * `#!lua flags=allow-key-locking`, a flag Upstash accepts and Redis 7.0 refuses ("Unexpected flag in
 * script shebang"). The bridge drops that flag before Redis sees a script (Redis runs every script
 * atomically anyway) and answers EVALSHA / SCRIPT LOAD / SCRIPT EXISTS with the SHA1 of the script as
 * the client sent it, so the SDK's hard-coded hashes work.
 * @module
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createClient, ErrorReply, RESP_TYPES } from 'redis';

export interface UpstashBridge {
  /** `http://127.0.0.1:<port>`: `UPSTASH_REDIS_REST_URL` */
  readonly url: string;
  /** `UPSTASH_REDIS_REST_TOKEN` */
  readonly token: string;
  close(): Promise<void>;
}

export interface UpstashBridgeOptions {
  /** `redis://127.0.0.1:6379` */
  redisUrl: string;
  /** @default a random token */
  token?: string;
  /** Largest request body, bytes. @default 1 MiB */
  maxBodyBytes?: number;
}

type Command = string[];
type Outcome = { result: unknown } | { error: string };

/** Shebang flags Upstash's server accepts and Redis 7.0 refuses. */
const UPSTASH_ONLY_FLAGS = new Set(['allow-key-locking']);

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** The script with Upstash-only shebang flags removed (unchanged when it has none). */
function forRedis(script: string): string {
  const match = /^#!lua flags=([^\n]*)/.exec(script);
  if (!match) return script;
  const flags = match[1]!.split(',').map((flag) => flag.trim()).filter((flag) => flag && !UPSTASH_ONLY_FLAGS.has(flag));
  return `#!lua${flags.length ? ` flags=${flags.join(',')}` : ''}${script.slice(match[0].length)}`;
}

function encode(value: unknown, base64: boolean): unknown {
  if (Buffer.isBuffer(value)) return value.toString(base64 ? 'base64' : 'utf8');
  // Simple-string replies (status) arrive as strings.
  if (typeof value === 'string') return !base64 || value === 'OK' ? value : Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((item) => encode(item, base64));
  if (value instanceof ErrorReply) return value.message;
  if (typeof value === 'bigint') return Number(value);
  return value ?? null;
}

function asCommand(value: unknown): Command {
  if (!Array.isArray(value) || value.length === 0) throw new BadRequest('a command is a non-empty JSON array');
  // The client serialises non-strings with JSON (numbers, and null in the reset script).
  return value.map((part) => (typeof part === 'string' ? part : JSON.stringify(part)));
}

class BadRequest extends Error {}

/**
 * Starts the bridge on a free port of 127.0.0.1.
 * @example
 * const bridge = await startUpstashBridge({ redisUrl: 'redis://127.0.0.1:6379' });
 * const redis = new Redis({ url: bridge.url, token: bridge.token });
 */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const expected = Buffer.from(`Bearer ${token}`);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  // Commands fail at once while Redis is down (no offline queue), as a REST call to a dead database does.
  // Once connected, a lost connection is retried every 100 ms (Redis may come back); a Redis that
  // cannot be reached at start fails the start.
  let connected = false;
  const client = createClient({
    url: options.redisUrl,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5_000, reconnectStrategy: (_retries: number, cause: Error) => (connected ? 100 : cause) },
  });
  client.on('error', () => {
    // Connection errors surface as failed commands; the client reconnects on its own.
  });
  await client.connect();
  connected = true;
  const redis = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  /** SHA1 of a script as the client sent it → SHA1 of the script Redis runs. */
  const shas = new Map<string, string>();

  /** Rewrites script commands for Redis; the answer is translated back by `answer`. */
  function translate(command: Command): { command: Command; answer?: (reply: unknown) => unknown } {
    const name = command[0]!.toUpperCase();
    if ((name === 'EVAL' || name === 'EVAL_RO') && command[1] !== undefined) {
      const script = forRedis(command[1]);
      if (script !== command[1]) shas.set(sha1(command[1]), sha1(script));
      return { command: [command[0]!, script, ...command.slice(2)] };
    }
    if ((name === 'EVALSHA' || name === 'EVALSHA_RO') && command[1] !== undefined) {
      return { command: [command[0]!, shas.get(command[1].toLowerCase()) ?? command[1], ...command.slice(2)] };
    }
    if (name === 'SCRIPT' && command[1]?.toUpperCase() === 'LOAD' && command[2] !== undefined) {
      const original = sha1(command[2]);
      const script = forRedis(command[2]);
      if (script !== command[2]) shas.set(original, sha1(script));
      return { command: ['SCRIPT', 'LOAD', script], answer: () => original };
    }
    if (name === 'SCRIPT' && command[1]?.toUpperCase() === 'EXISTS') {
      return { command: ['SCRIPT', 'EXISTS', ...command.slice(2).map((sha) => shas.get(sha.toLowerCase()) ?? sha)] };
    }
    return { command };
  }

  async function run(command: Command): Promise<Outcome> {
    const { command: sent, answer } = translate(command);
    try {
      const reply = await redis.sendCommand(sent);
      return { result: answer ? answer(reply) : reply };
    } catch (error) {
      if (error instanceof ErrorReply) return { error: error.message };
      throw error;
    }
  }

  async function transaction(commands: Command[]): Promise<Outcome[]> {
    const multi = redis.multi();
    const translated = commands.map(translate);
    for (const { command } of translated) multi.addCommand(command);
    let replies: unknown[];
    try {
      replies = await multi.exec();
    } catch (error) {
      // A command failed while executing: the others ran (Redis has no rollback); report each.
      if (error instanceof ErrorReply && 'replies' in error && Array.isArray(error.replies)) replies = error.replies;
      else throw error;
    }
    return replies.map((reply, i) => (reply instanceof ErrorReply ? { error: reply.message } : { result: translated[i]!.answer?.(reply) ?? reply }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const auth = Buffer.from(req.headers.authorization ?? '');
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) return send(401, { error: 'Unauthorized' });
    if (req.method !== 'POST') return send(405, { error: 'Method Not Allowed' });
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const path = new URL(req.url ?? '/', 'http://bridge').pathname.replace(/\/+$/, '') || '/';

    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) return send(413, { error: 'request body too large' });
      chunks.push(chunk);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(400, { error: 'body is not JSON' });
    }

    const encoded = (outcome: Outcome) => ('error' in outcome ? outcome : { result: encode(outcome.result, base64) });
    try {
      if (path === '/') {
        const outcome = await run(asCommand(body));
        return send('error' in outcome ? 400 : 200, encoded(outcome));
      }
      if (path === '/pipeline' || path === '/multi-exec') {
        if (!Array.isArray(body) || body.length === 0) throw new BadRequest('a pipeline is a non-empty JSON array of commands');
        const commands = body.map(asCommand);
        const outcomes = path === '/pipeline' ? await Promise.all(commands.map(run)) : await transaction(commands);
        return send(200, outcomes.map(encoded));
      }
      return send(404, { error: `no such endpoint: ${path}` });
    } catch (error) {
      if (error instanceof BadRequest) return send(400, { error: error.message });
      if (error instanceof ErrorReply) return send(400, { error: error.message });
      // Redis unreachable (down, reconnecting): the database is unavailable.
      return send(503, { error: `redis unavailable: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      client.destroy();
    },
  };
}
