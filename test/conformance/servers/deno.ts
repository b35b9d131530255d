// The conformance policy and echo application on the Deno adapter: `deno run --allow-net=127.0.0.1 --allow-read servers/deno.ts`.
import { guard } from 'portcullis/deno';
import { echoHandler, policy } from '../policy.ts';

Deno.serve(
  { hostname: '127.0.0.1', port: 0, onListen: ({ hostname, port }) => console.error(`listening on http://${hostname}:${port}`) },
  guard(policy, echoHandler),
);
