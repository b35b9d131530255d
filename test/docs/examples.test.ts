/**
 * The docs' examples (docs/examples/), run as a reader would run them: each server on its runtime
 * over real HTTP on 127.0.0.1, each spec through runSpec and through vitest with the example config,
 * the library examples called directly. test/docs/snippets.test.ts checks that the docs show these
 * files character for character, and type-checks them.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lintPolicy } from '../../tools/lint/index.ts';
import { runSpec, type PolicySpec } from '../../tools/testing/index.ts';
import { ROOT, runtimeBinary, SOURCE_CONDITION, spawnServer } from '../conformance/runtime.ts';

const example = (file: string) => join('docs/examples', file);
type Server = Awaited<ReturnType<typeof spawnServer>>;

/** A port that was free a moment ago: the origins must know theirs before they listen (it is their audience). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

const SOURCE = SOURCE_CONDITION;
const node = (file: string, env: Record<string, string> = {}) => spawnServer(process.execPath, [SOURCE, '--import', 'tsx', example(file)], { PORT: '0', ...env });

describe.each([
  ['node-server.ts', () => node('node-server.ts')],
  ['bun-server.ts', () => spawnServer(runtimeBinary('bun'), [SOURCE, example('bun-server.ts')], { PORT: '0' })],
  ['deno-server.ts', () => spawnServer(runtimeBinary('deno'), ['run', SOURCE, '--no-prompt', '--allow-net=127.0.0.1', '--allow-env=PORT', '--allow-read', example('deno-server.ts')], { PORT: '0', DENO_NO_UPDATE_CHECK: '1' })],
  ['hono-app.ts', () => node('hono-app.ts')],
])('%s, serving docs/examples/policy.ts', (_, start) => {
  let server: Server;
  beforeAll(async () => void (server = await start()), 40_000);
  afterAll(() => server?.stop());

  it('answers a public route over plain HTTP from loopback (allowLoopbackHttp), with the policy headers', async () => {
    const response = await server.send({ method: 'GET', target: '/v1/health' });
    expect(response.status).toBe(200);
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });

  it('refuses a protected route without a token: 401 problem+json with WWW-Authenticate', async () => {
    const response = await server.send({ method: 'GET', target: '/v1/users/u_alice' });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('www-authenticate')).toContain('Bearer realm="api"');
  });

  it('refuses what the policy does not name, and an ambiguous path', async () => {
    expect((await server.send({ method: 'GET', target: '/v1/admin' })).status).toBe(404);
    expect((await server.send({ method: 'GET', target: '/v1/users/%2e%2e%2fadmin' })).status).toBe(400);
  });
});

describe.each([
  ['gateway.ts', 'origin-node.ts'],
  ['gateway.ts', 'origin-express.ts'],
  ['gateway-node-transport.ts', 'origin-node.ts'],
])('%s in front of %s', (gatewayFile, originFile) => {
  const key = 'a-test-identity-key-of-at-least-32-bytes';
  let origin: Server;
  let gateway: Server;
  let originUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    originUrl = `http://127.0.0.1:${port}`;
    origin = await node(originFile, { PORT: String(port), PORTCULLIS_IDENTITY_KEY: key });
    gateway = await node(gatewayFile, { ORIGIN_URL: originUrl, PORTCULLIS_IDENTITY_KEY: key });
  }, 40_000);
  afterAll(async () => {
    await gateway?.stop();
    await origin?.stop();
  });

  it('forwards an allowed request, and the origin reads who it is from the verified assertion', async () => {
    const response = await gateway.send({ method: 'GET', target: '/v1/health', headers: { 'x-portcullis-identity': 'forged' } });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ caller: 'anonymous', roles: [] });
  });

  it('the origin refuses a request that did not come through the gateway', async () => {
    const response = await origin.send({ method: 'GET', target: '/v1/health' });
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toEqual({ error: 'identity.missing' });
  });
});

it("policy.ts, the README's policy, has no lint finding", async () => {
  const { default: policy } = await import('../../docs/examples/policy.ts');
  expect(lintPolicy(policy)).toEqual([]);
});

describe('in-code.ts', async () => {
  const { handle, check } = await import('../../docs/examples/in-code.ts');

  it('lets plain HTTP through only from loopback: anyone else gets a 308 to https, without the port', async () => {
    expect((await handle(new Request('http://127.0.0.1:8787/v1/health'), '127.0.0.1')).status).toBe(200);
    const redirect = await handle(new Request('http://api.example.com:8787/v1/health'), '203.0.113.7');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('https://api.example.com/v1/health');
  });

  it('evaluate: a denial becomes the problem response, an allow is undefined', async () => {
    expect((await check(new Request('https://api.example.com/v1/users/u_1'), '203.0.113.7'))?.status).toBe(401);
    expect(await check(new Request('https://api.example.com/v1/health'), '203.0.113.7')).toBeUndefined();
  });
});

describe('rate-limits.ts', () => {
  it('counts only failed logins: five 401s fill the bucket, successes cost nothing', async () => {
    const { engine } = await import('../../docs/examples/rate-limits.ts');
    const login = () => engine.evaluate(new Request('https://api.example.com/v1/auth/login', { method: 'POST' }), { peer: { address: '203.0.113.7' } });
    for (let i = 0; i < 10; i++) await (await login()).settle(200);
    for (let i = 0; i < 5; i++) await (await login()).settle(401);
    const sixth = await login();
    expect(sixth.kind === 'deny' && sixth.reason).toBe('ratelimit.exceeded');
  });
});

describe('report-only.ts', () => {
  it('lets a request the policy would refuse through, and says what enforcement would have answered', async () => {
    const { default: policy } = await import('../../docs/examples/report-only.ts');
    const { createEngine } = await import('../../src/index.ts');
    const decision = await createEngine(policy, { log: () => {} }).evaluate(new Request('https://api.example.com/v1/users/u_1', { method: 'DELETE' }), {});
    expect(decision.kind).toBe('allow');
    expect(decision.kind === 'allow' && decision.reported).toMatchObject({ status: 401 });
  });
});

describe('allowed-logging.ts', () => {
  it('logs a sample of the allowed requests as portcullis.allow, without query values it was not told to keep', async () => {
    const { default: policy } = await import('../../docs/examples/allowed-logging.ts');
    const { createEngine } = await import('../../src/index.ts');
    const events: { event: string; query?: string }[] = [];
    // A reader per request, so that the per-principal budget of 100 never refuses one.
    let n = 0;
    const reader = { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'success' as const, principal: { id: `u_${++n}`, roles: ['reader'], scopes: [], claims: {} } }) };
    const engine = createEngine({ ...policy, authn: { user: reader } }, { log: (event) => void events.push(event) });
    for (let i = 0; i < 400; i++) await engine.handle(new Request('https://api.example.com/v1/documents?page=2&q=secret'), {}, () => new Response('ok'));
    // One in ten, at random: 40 expected; far outside 10 to 90 only with odds below one in a billion.
    expect(events.length).toBeGreaterThan(10);
    expect(events.length).toBeLessThan(90);
    expect(new Set(events.map((event) => `${event.event} ${event.query}`))).toEqual(new Set(['portcullis.allow page=2&q']));
  });
});

describe('imported-policy.ts', () => {
  it('is what `portcullis import docs/examples/openapi.yaml` writes, and lint finds nothing in it', async () => {
    const { importOpenApi, parseOpenApiText } = await import('../../tools/import/index.ts');
    const { readFileSync } = await import('node:fs');
    const document = parseOpenApiText(readFileSync(join(ROOT, 'docs/examples/openapi.yaml'), 'utf8'), 'openapi.yaml');
    expect(importOpenApi(document, { file: 'docs/examples/openapi.yaml' }).source).toBe(readFileSync(join(ROOT, 'docs/examples/imported-policy.ts'), 'utf8'));
    const { default: policy } = await import('../../docs/examples/imported-policy.ts');
    expect(lintPolicy(policy)).toEqual([]);
  });
});

describe.each(['policy.spec.ts', 'documents.spec.ts'])('%s', (file) => {
  it('passes every case', async () => {
    const { default: spec } = (await import(`../../docs/examples/${file}`)) as { default: PolicySpec };
    const report = await runSpec(spec);
    expect(report.results.length).toBeGreaterThan(0);
    expect(report.failed.map((failure) => `${failure.name}: ${failure.message}`)).toEqual([]);
  });
});

it('vitest with the example config runs the specs through specs.test.ts and does not collect *.spec.ts', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', example(''), '--config', join(ROOT, 'test/docs/examples.vitest.config.ts'), '--reporter', 'verbose'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number];
  expect(output).toContain('specs.test.ts > policy.spec.ts');
  expect(output).toContain('specs.test.ts > documents.spec.ts');
  expect(output).not.toContain('No test suite found');
  expect(code).toBe(0);
}, 60_000);
