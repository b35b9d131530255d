import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { serve } from 'portcullis/node';
import { otelObserver } from 'portcullis/otel';
import policy from './policy.ts';

// Register the SDK first: otelObserver() takes the global MeterProvider as it is when called.
// Any exporter does (OTLP to a collector, most often); this one serves Prometheus text on its own port.
const exporter = new PrometheusExporter({ host: '127.0.0.1', port: Number(process.env.METRICS_PORT ?? 9464) });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));

const gateway = await serve(policy, (request, decision) => Response.json({ route: decision.route }), {
  port: Number(process.env.PORT ?? 8787),
  env: { observer: otelObserver() },
});
console.log(`listening on ${gateway.url}`);
