import { guard } from 'portcullis/deno';
import { otelObserver } from 'portcullis/otel';
import policy from './policy.ts';

// OTEL_DENO=true deno run --allow-net=127.0.0.1 --allow-env --allow-read otel-deno.ts
// Deno's built-in OpenTelemetry registers itself as the global providers: the observer records
// through them, and Deno exports over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT, http://localhost:4318 by default).
Deno.serve(
  { hostname: '127.0.0.1', port: Number(Deno.env.get('PORT') ?? 8787), onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}`) },
  guard(policy, (request, decision) => Response.json({ route: decision.route }), { env: { observer: otelObserver() } }),
);
