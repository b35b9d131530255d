import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { guard } from 'portcullis/bun';
import { otelObserver } from 'portcullis/otel';
import policy from './policy.ts';

// The same SDK as on Node: Bun runs its exporters (here Prometheus text on its own port).
const exporter = new PrometheusExporter({ host: '127.0.0.1', port: Number(process.env.METRICS_PORT ?? 9464) });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT ?? 8787),
  fetch: guard(policy, (request, decision) => Response.json({ route: decision.route }), { env: { observer: otelObserver() } }),
});
console.log(`listening on ${server.url.origin}`);
