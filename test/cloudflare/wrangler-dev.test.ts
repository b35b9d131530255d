/**
 * `npx wrangler dev`, as the README says to run it: wrangler.toml's Worker (policies/worker.ts)
 * served locally over HTTPS by the pinned wrangler and workerd, in front of a real origin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:https';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nodeBinary } from '../conformance/runtime.ts';
import { startOrigin, type RunningOrigin } from './origin.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IDENTITY_KEY = 'wrangler-dev-identity-key-0123456789abcdef';

let origin: RunningOrigin;
let wrangler: ChildProcess;
let base: string;

beforeAll(async () => {
  origin = await startOrigin(IDENTITY_KEY);
  const vars = { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY, API_KEYS: '{}' };
  // Wrangler 4 refuses Node < 22: it runs on the pinned Node 24 whatever Node runs the suite.
  wrangler = spawn(
    nodeBinary('node24'),
    [
      join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--port', '0', '--inspector-port', '0',
      '--persist-to', mkdtempSync(join(tmpdir(), 'portcullis-wrangler-')),
      // In a real setup the two secrets come from .dev.vars; --var keeps the test from writing one.
      ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    ],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const ready = /Ready on (https:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]!);
      }
    };
    wrangler.stdout!.on('data', onData);
    wrangler.stderr!.on('data', onData);
    wrangler.once('exit', (code) => reject(new Error(`wrangler dev exited with ${code}:\n${output}`)));
  });
}, 90_000);

afterAll(async () => {
  if (wrangler && wrangler.exitCode === null && wrangler.signalCode === null) {
    const exited = once(wrangler, 'exit');
    wrangler.kill('SIGINT');
    await exited;
  }
  await origin?.close();
});

/** GET over HTTPS; wrangler dev's certificate is self-signed. */
function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(`${base}${path}`, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

it('serves wrangler.toml\'s Worker: public routes reach the origin with a verified assertion', async () => {
  const before = origin.received.length;
  const reply = await get('/v1/health');
  expect(reply.status).toBe(200);
  expect(origin.received.slice(before)).toMatchObject([{ target: '/v1/health', identity: { ok: true, identity: { sub: 'anonymous', client_ip: '127.0.0.1' } } }]);
});

it('and refuses protected ones without credentials', async () => {
  const reply = await get('/v1/reports');
  expect([reply.status, JSON.parse(reply.body).code]).toEqual([401, 'authn.required']);
});
