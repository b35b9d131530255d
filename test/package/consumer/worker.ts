// A Worker in front of an origin, as a user deploys it: bundled by wrangler (its esbuild, workerd conditions).
import { definePolicy } from 'portcullis';
import { gateway } from 'portcullis/cloudflare';
import { otelObserver } from 'portcullis/otel';

export default gateway(
  definePolicy({
    clientIp: { trustedProxies: ['cloudflare'] },
    routes: { 'GET /v1/health': { authn: 'anonymous' } },
  }),
  // The OpenTelemetry API bundles for workerd: no Node-only import on the way.
  { engine: () => ({ observer: otelObserver() }) },
);
