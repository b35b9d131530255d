/**
 * docs/monitoring.md's examples, run as a reader would run them. The alerts policy raises its
 * alerts in ECS lines. OpenTelemetry: on Node and Bun with
 * the SDK and its Prometheus exporter (scraped here), on Deno with Deno's built-in OpenTelemetry
 * exporting OTLP to a collector stand-in on 127.0.0.1 (its protobuf bodies are searched for the
 * metric and attribute names, which protobuf keeps as plain UTF-8).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runtimeBinary, SOURCE_CONDITION, spawnServer } from '../conformance/runtime.ts';
import { eventually, freePort } from '../wait.ts';

const example = (file: string) => join('docs/examples', file);
type Server = Awaited<ReturnType<typeof spawnServer>>;
const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) await server.stop();
});



describe.each([
  ['otel-node.ts', (env: Record<string, string>) => spawnServer(process.execPath, [SOURCE_CONDITION, '--import', 'tsx', example('otel-node.ts')], env)],
  ['otel-bun.ts', (env: Record<string, string>) => spawnServer(runtimeBinary('bun'), [SOURCE_CONDITION, example('otel-bun.ts')], env)],
])('%s', (_, start) => {
  it('serves portcullis_decisions_total with the denial of a request without credentials', async () => {
    const metricsPort = await freePort();
    const server = await start({ PORT: '0', METRICS_PORT: String(metricsPort) });
    servers.push(server);
    expect((await server.send({ method: 'GET', target: '/v1/users/u_alice' })).status).toBe(401);
    const denial = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return text.split('\n').find((line) => line.startsWith('portcullis_decisions_total{') && line.includes('reason="authn.required"'));
    });
    expect(denial).toContain('outcome="deny"');
    expect(denial).toContain('http_route="GET /v1/users/:id"');
  }, 60_000);
});

describe('otel-deno.ts (OTEL_DENO=true)', () => {
  it("records through Deno's built-in OpenTelemetry: the metrics and the server span's attributes reach the OTLP endpoint", async () => {
    const bodies: { path: string; body: Buffer }[] = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push({ path: request.url ?? '', body: Buffer.concat(chunks) });
        response.end();
      });
    }).listen(0, '127.0.0.1');
    await once(collector, 'listening');
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
      const server = await spawnServer(
        runtimeBinary('deno'),
        ['run', SOURCE_CONDITION, '--no-prompt', '--allow-net=127.0.0.1', '--allow-env', '--allow-read', example('otel-deno.ts')],
        { PORT: '0', DENO_NO_UPDATE_CHECK: '1', OTEL_DENO: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_METRIC_EXPORT_INTERVAL: '500' },
      );
      servers.push(server);
      expect((await server.send({ method: 'GET', target: '/v1/users/u_alice' })).status).toBe(401);
      const has = (path: string, ...texts: string[]) => bodies.some((entry) => entry.path === path && texts.every((text) => entry.body.includes(text)));
      await eventually(() => (has('/v1/metrics', 'portcullis.decisions', 'authn.required', 'GET /v1/users/:id') ? true : undefined));
      await eventually(() => (has('/v1/traces', 'portcullis.decision', 'portcullis.reason', 'authn.required') ? true : undefined));
    } finally {
      collector.close();
    }
  }, 60_000);
});

describe('alerts.ts', () => {
  it('raises failed_logins once, as an ECS line on stdout, after 10 failed logins for one username from 10 addresses', async () => {
    const { engine } = await import('../../docs/examples/alerts.ts');
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      for (let i = 1; i <= 12; i++) {
        const body = JSON.stringify({ username: 'alice', password: `guess ${i}` });
        const request = new Request('https://api.example.com/v1/auth/login', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const decision = await engine.evaluate(request, { peer: { address: `203.0.113.${i}` } });
        expect(decision.kind).toBe('allow');
        await decision.settle(401);
      }
    } finally {
      spy.mockRestore();
    }
    const alerts = lines.map((line) => JSON.parse(line)).filter((document) => document.event.kind === 'alert');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ event: { action: 'portcullis.alert' }, portcullis: { alert: 'failed_logins', count: 10, window: '5m' }, source: { ip: '203.0.113.10' } });
  });
});
