/**
 * The demo's monitoring promises, against the process `npm start` runs: Prometheus metrics on
 * METRICS_PORT scraped by a real Prometheus (Debian's `prometheus`) and queried in PromQL over its
 * HTTP API; the `failed_logins` alert on stdout; ECS logs with LOG_FORMAT=ecs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, freePort } from '../wait.ts';
import { spawnDemo, type DemoProcess } from './demo-process.ts';

const demos: DemoProcess[] = [];
const children: ChildProcess[] = [];
const directories: string[] = [];
afterEach(async () => {
  for (const demo of demos.splice(0)) await demo.stop();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});


/** Starts the demo as `npm start` does, on a free port; its stdout lines as they come. */
async function startDemo(env: Record<string, string>) {
  const demo = await spawnDemo({ TRUSTED_PROXIES: 'loopback', ...env });
  demos.push(demo);
  const lines = () => demo.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { base: demo.base, lines };
}

const login = (base: string, username: string, clientIp: string) =>
  fetch(`${base}/v1/auth/login`, {
    method: 'POST',
    // The loopback proxy is trusted: each request comes "from" another client address.
    headers: { 'content-type': 'application/json', 'x-forwarded-for': clientIp, 'x-forwarded-proto': 'https' },
    body: JSON.stringify({ username, password: 'not the password' }),
  });

describe('failed_logins alert', () => {
  it('ALERT_FAILED_LOGINS (10) failed logins for one username from 10 addresses: one portcullis.alert line on stdout', async () => {
    const { base, lines } = await startDemo({});
    for (let i = 1; i <= 9; i++) expect((await login(base, 'alice', `203.0.113.${i}`)).status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(lines().filter((line) => line.event === 'portcullis.alert')).toEqual([]);
    const tenth = await login(base, 'alice', '198.51.100.10');
    expect(tenth.status).toBe(401);
    const alert = await eventually(() => lines().find((line) => line.event === 'portcullis.alert'));
    expect(alert).toMatchObject({ alert: 'failed_logins', count: 10, window: '5m', lastRequestId: tenth.headers.get('x-request-id'), clientIp: '198.51.100.10' });
    expect(alert.key).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(alert)).not.toContain('alice');
    // More failures within the window raise nothing more.
    for (let i = 11; i <= 15; i++) await login(base, 'alice', `203.0.113.${i}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lines().filter((line) => line.event === 'portcullis.alert')).toHaveLength(1);
  }, 60_000);

  it('follows ALERT_FAILED_LOGINS, and counts each username apart', async () => {
    const { base, lines } = await startDemo({ ALERT_FAILED_LOGINS: '3' });
    for (let i = 1; i <= 2; i++) {
      await login(base, 'alice', `203.0.113.${i}`);
      await login(base, 'bob', `203.0.113.${i}`);
    }
    await login(base, 'bob', '203.0.113.9');
    const alert = await eventually(() => lines().find((line) => line.event === 'portcullis.alert'));
    expect(alert).toMatchObject({ alert: 'failed_logins', count: 3 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(lines().filter((line) => line.event === 'portcullis.alert')).toHaveLength(1);
  }, 60_000);
});

describe('METRICS_PORT', () => {
  it('serves portcullis_decisions_total; a real Prometheus scrapes it and PromQL counts the denial', async () => {
    const metricsPort = await freePort();
    const { base } = await startDemo({ METRICS_PORT: String(metricsPort) });
    expect((await fetch(`${base}/v1/users/u_alice`)).status).toBe(401);

    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const denials = text.split('\n').filter((line) => line.startsWith('portcullis_decisions_total{') && line.includes('outcome="deny"') && line.includes('reason="authn.required"'));
    expect(denials).toHaveLength(1);
    expect(denials[0]).toContain('http_route="GET /v1/users/:id"');
    expect(denials[0]).toMatch(/\} 1$/);
    expect(text).toMatch(/^portcullis_evaluate_duration_count\{/m);

    const directory = mkdtempSync(join(tmpdir(), 'portcullis-prometheus-'));
    directories.push(directory);
    const promPort = await freePort();
    writeFileSync(
      join(directory, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: portcullis', '    static_configs:', `      - targets: ['127.0.0.1:${metricsPort}']`, ''].join('\n'),
    );
    const prometheus = spawn(
      'prometheus',
      [`--config.file=${join(directory, 'prometheus.yml')}`, `--storage.tsdb.path=${join(directory, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(prometheus);
    let promLog = '';
    prometheus.stderr!.on('data', (chunk) => (promLog += chunk));

    const query = 'sum(portcullis_decisions_total{outcome="deny",reason="authn.required"})';
    const value = await eventually(async () => {
      const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(query)}`).catch(() => undefined);
      if (!response?.ok) return undefined;
      const body = (await response.json()) as { status: string; data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1];
    }, 40_000).catch((error) => {
      throw new Error(`${error}: Prometheus said ${promLog}`);
    });
    expect(value).toBe('1');
  }, 90_000);
});

describe('LOG_FORMAT=ecs', () => {
  it('writes the denial in Elastic Common Schema names', async () => {
    const { base, lines } = await startDemo({ LOG_FORMAT: 'ecs' });
    const response = await fetch(`${base}/v1/users/u_alice`);
    const line = await eventually(() => lines().find((entry) => (entry.http as { request?: { id?: string } } | undefined)?.request?.id === response.headers.get('x-request-id')));
    expect(line).toMatchObject({
      event: { action: 'portcullis.deny', reason: 'authn.required', outcome: 'failure' },
      http: { request: { method: 'GET' }, response: { status_code: 401 } },
      url: { path: '/v1/users/u_alice' },
      source: { ip: '127.0.0.1' },
    });
    expect(line['@timestamp']).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  }, 60_000);
});
