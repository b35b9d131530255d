// The conformance policy in front of a real origin through `forwardTo`, on whichever runtime runs
// this file (node --import tsx, bun, deno run): `forward.ts <origin URL> [enforce|report]`. On Node,
// FORWARD_TRANSPORT=node forwards through `nodeTransport()` instead of fetch.
// The forwarding cases (test/conformance/forwarding.test.ts) check what that origin receives.
import { definePolicy, forwardTo } from 'portcullis';
import { policy } from '../policy.ts';

interface Runtimes {
  Bun?: { serve(options: { hostname: string; port: number; fetch: unknown }): { url: URL } };
  Deno?: { args: string[]; serve(options: { hostname: string; port: number; onListen(address: { hostname: string; port: number }): void }, handler: unknown): unknown };
}
const runtime = globalThis as Runtimes;

const [origin, mode = 'enforce'] = runtime.Deno ? runtime.Deno.args : process.argv.slice(2);
if (!origin || (mode !== 'enforce' && mode !== 'report')) throw new Error('usage: forward.ts <origin URL> [enforce|report]');

// `report` mode lets every denial through to the handler: forwardTo alone must then keep a
// malformed target (`//host/…`) from leaving for another host.
const served = definePolicy({ ...policy, ...(mode === 'report' ? { mode: 'report' as const } : {}) });
const options = { forwardCredential: ['user'], forwardHeaders: ['x-tenant-id'] };

if (runtime.Bun) {
  const { guard } = await import('portcullis/bun');
  const server = runtime.Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: guard(served, forwardTo(origin, options)) });
  console.error(`listening on ${server.url.origin}`);
} else if (runtime.Deno) {
  const { guard } = await import('portcullis/deno');
  runtime.Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ hostname, port }) => console.error(`listening on http://${hostname}:${port}`) }, guard(served, forwardTo(origin, options)));
} else {
  const { nodeTransport, serve } = await import('portcullis/node');
  // Unset: serve()'s own node:http client; `node`: a named nodeTransport(); `fetch`: Node's fetch.
  const chosen = process.env.FORWARD_TRANSPORT;
  const via = chosen === 'node' ? { transport: nodeTransport() } : chosen === 'fetch' ? { fetch: (input: URL, init: RequestInit) => fetch(input, init) } : {};
  const gateway = await serve(served, forwardTo(origin, { ...options, ...via }), { port: 0 });
  console.error(`listening on ${gateway.url}`);
}
