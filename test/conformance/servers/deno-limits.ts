// The conformance policy on Deno with short body timeouts, for test/conformance/body-failures.test.ts.
import { guard } from 'portcullis/deno';
import { echoHandler, policy } from '../policy.ts';

Deno.serve(
  { hostname: '127.0.0.1', port: 0, onListen: ({ hostname, port }) => console.error(`listening on http://${hostname}:${port}`) },
  guard(policy, echoHandler, { bodyIdleTimeoutMs: 300, bodyTimeoutMs: 1_000 }),
);
