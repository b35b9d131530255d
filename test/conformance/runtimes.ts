/**
 * The runtimes the conformance suite runs on. Each serves test/conformance/policy.ts through its
 * adapter; the server scripts in servers/ are its fixtures (the docs' examples are in docs/examples/).
 * @module
 */

import { headerLines, runtimeBinary, SOURCE_CONDITION, spawnServer, type RawRequest, type RawResponse, type Runtime } from './runtime.ts';
import { workerd } from './workerd.ts';

const server = (name: string) => `test/conformance/servers/${name}`;

const SOURCE = SOURCE_CONDITION;

/** Node: adapters/node.ts on node:http, real HTTP on 127.0.0.1. */
const node: Runtime = {
  name: 'node',
  start: () => spawnServer(process.execPath, [SOURCE, '--import', 'tsx', server('node.ts')]),
};

/** Bun: adapters/bun.ts under `Bun.serve`, the real binary from the npm package `bun`. */
const bun: Runtime = {
  name: 'bun',
  start: () => spawnServer(runtimeBinary('bun'), [SOURCE, server('bun.ts')]),
};

/** Deno: adapters/deno.ts under `Deno.serve`, the real binary from the npm package `deno`. */
const deno: Runtime = {
  name: 'deno',
  start: () =>
    spawnServer(runtimeBinary('deno'), ['run', SOURCE, '--no-prompt', '--allow-net=127.0.0.1', '--allow-read', server('deno.ts')], {
      DENO_NO_UPDATE_CHECK: '1',
    }),
};

/**
 * Hono: adapters/hono.ts driven in-process with `app.request()`. There is no connection, so the
 * runner's `getConnInfo` says what a server on 127.0.0.1 would: the client is 127.0.0.1.
 */
const hono: Runtime = {
  name: 'hono',
  async start() {
    const { createApp } = await import('./servers/hono.ts');
    const app = createApp(() => ({ remote: { address: '127.0.0.1', addressType: 'IPv4' } }));
    // The engine logs one JSON line per denial on stdout; in-process, keep them out of the test output.
    const log = console.log;
    console.log = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('{"time":')) return;
      log(...args);
    };
    return {
      async send({ method, target, headers, body }: RawRequest): Promise<RawResponse> {
        // The Request URL parser resolves `..` and `\` as Bun's and Deno's do before Hono runs; an
        // absolute-form target is the URL itself.
        const lines = headerLines(headers);
        const fields = new Headers();
        for (let i = 0; i < lines.length; i += 2) fields.append(lines[i]!, lines[i + 1]!);
        const response = await app.request(target.startsWith('/') ? `http://127.0.0.1${target}` : target, { method, headers: fields, body });
        return { status: response.status, headers: response.headers, body: await response.text() };
      },
      async stop() {
        console.log = log;
      },
    };
  },
};

/** Hono on a real Bun server (servers/hono-bun.ts), with `getConnInfo` from hono/bun. */
const honoBun: Runtime = {
  name: 'hono on bun',
  start: () => spawnServer(runtimeBinary('bun'), [SOURCE, server('hono-bun.ts')]),
};

/**
 * Hono on a real `@hono/node-server` (servers/hono-node.ts): there the middleware puts the policy's
 * headers on the ServerResponse instead of the Response, as the Node adapter does.
 */
const honoNode: Runtime = {
  name: 'hono on node',
  start: () => spawnServer(process.execPath, [SOURCE, '--import', 'tsx', server('hono-node.ts')]),
};

export const runtimes: Runtime[] = [
  node,
  bun,
  deno,
  hono,
  honoBun,
  honoNode,
  workerd,
];
