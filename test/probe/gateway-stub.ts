/**
 * Test infrastructure: stands in for `portcullis/cloudflare` when test/probe/worker.ts bundles
 * policies/worker.ts for `portcullis probe`. The Worker's `gateway(factory)` becomes a function that
 * calls the factory with the bindings in PROBE_WORKER_BINDINGS (JSON) — the very policy the Worker
 * on workerd builds from the same bindings.
 * @module
 */

import type { Policy } from '../../src/index.ts';

export { binding } from '../../adapters/cloudflare.ts';

export function gateway<Env>(factory: (env: Env) => Policy | Promise<Policy>) {
  return () => factory(JSON.parse(process.env.PROBE_WORKER_BINDINGS ?? '{}') as Env);
}
