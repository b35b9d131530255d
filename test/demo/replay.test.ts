/**
 * `portcullis replay` on the demo's own traffic: the demo runs as `npm start` runs it, with
 * LOG_ALLOWED=1 (every allowed request logged), real requests go through it, its stdout is the log,
 * and the CLI decides that log again under a stricter copy of the demo policy.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplayReport } from '../../tools/replay/index.ts';
import { portcullis } from '../cli/run.ts';
import { spawnDemo, type DemoProcess } from './demo-process.ts';

const API_KEY = 'pk_demo_replay_0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'portcullis-replay-'));
let demo: DemoProcess;
let base: string;

beforeAll(async () => {
  demo = await spawnDemo({ LOG_ALLOWED: '1', DEMO_API_KEY: API_KEY, TRUSTED_PROXIES: 'loopback' });
  base = demo.base;
}, 30_000);

afterAll(async () => {
  await demo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const login = async (username: string, password: string) =>
  fetch(`${base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
const bearer = (token: string, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as object), authorization: `Bearer ${token}` } });

/** The traffic, and the log lines it leaves on stdout (one per request). */
async function sendTraffic(): Promise<string> {
  const statuses: number[] = [];
  const send = async (path: string, init?: RequestInit) => statuses.push((await fetch(`${base}${path}`, init)).status);
  await send('/v1/health');
  await send('/v1/health?verbose=1&token=s3cret');
  const alice = ((await (await login('alice', 'correct horse battery staple')).json()) as { token: string }).token;
  const bob = ((await (await login('bob', 'hunter2 hunter2 hunter2')).json()) as { token: string }).token;
  statuses.push((await login('alice', 'wrong password')).status);
  await send('/v1/users/u_alice', bearer(alice));
  await send('/v1/users/u_alice', bearer(bob));
  await send('/v1/users/u_bob', bearer(alice));
  await send('/v1/reports', { headers: { 'x-api-key': API_KEY } });
  await send('/v1/reports', bearer(alice));
  await send('/v1/users/u_alice');
  await send('/v1/status');
  await send('/v1/users/u_alice', bearer(alice, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Alice A' }) }));
  await send('/v1/users/u_nobody', bearer(bob, { method: 'DELETE' }));
  expect(statuses).toEqual([200, 200, 401, 200, 200, 403, 200, 403, 401, 404, 200, expect.any(Number)]);
  // Events are written when the response is settled: wait for all 14 lines.
  for (let i = 0; i < 50 && demo.stdout().trim().split('\n').filter((line) => line.startsWith('{')).length < 14; i++) await new Promise((r) => setTimeout(r, 100));
  return demo.stdout();
}

describe('replay of the demo\'s logged traffic under a stricter policy', () => {
  let log = '';
  let report: ReplayReport;

  beforeAll(async () => {
    log = await sendTraffic();
    writeFileSync(join(dir, 'events.jsonl'), log);
    const result = await portcullis('replay', join(dir, 'events.jsonl'), '--policy', 'test/fixtures/review/demo-stricter.ts', '--format', 'json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    report = JSON.parse(result.stdout) as ReplayReport;
  }, 60_000);

  it('logs allowed requests without tokens, passwords, API keys or query values', () => {
    const events = log.trim().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.filter((event) => event.event === 'portcullis.allow')).toHaveLength(10);
    expect(events.find((event) => event.query)).toMatchObject({ path: '/v1/health', query: 'verbose&token', principalKind: 'anonymous' });
    expect(events.find((event) => event.route === 'GET /v1/reports' && event.event === 'portcullis.allow')).toMatchObject({ principal: 'service:svc_demo', scopes: ['reports:read'] });
    for (const secret of ['s3cret', 'correct horse', 'hunter2', API_KEY, 'Bearer', 'eyJ']) expect(log).not.toContain(secret);
  });

  it('counts every request: changed, unchanged, or undecidable', () => {
    expect(report).toMatchObject({ replayed: 14, changed: 5, unchanged: 3, undecidable: 6, skipped: 0 });
  });

  it('reports each change grouped by route and reason, with counts', () => {
    const groups = report.changes.map(({ route, change, before, after, count }) => `${route}: ${change} ${before} → ${after} ×${count}`);
    expect(groups.sort()).toEqual([
      'GET /v1/health: allow→deny allow → authn.required ×2',
      'GET /v1/reports: reason authz.denied → authn.required ×1',
      'GET /v1/status: deny→allow route.not_found → allow ×1',
      'GET /v1/users/:id: allow→deny allow → authz.denied ×1',
    ]);
    const own = report.changes.find((group) => group.route === 'GET /v1/users/:id')!;
    expect(own.examples).toEqual([
      expect.objectContaining({ method: 'GET', path: '/v1/users/u_alice', principal: 'user:u_alice', before: expect.objectContaining({ outcome: 'allow', status: 200 }), after: expect.objectContaining({ outcome: 'deny', reason: 'authz.denied', status: 403 }) }),
    ]);
  });

  it('says which requests it cannot decide, and why, instead of guessing', () => {
    const groups = report.undecidableBecause.map(({ route, why, count }) => `${route} ×${count}: ${why}`);
    expect(groups.sort()).toEqual([
      // The API key's daily quota counts per key: the log names the principal, not the key.
      'GET /v1/reports ×1: the log lacks the claim "keyId"',
      'GET /v1/users/:id ×1: the log lacks the roles and scopes of the principal (a denial logs only its id)',
      'PATCH /v1/users/:id ×1: the log lacks the body the route validates',
      'POST /v1/auth/login ×3: the log lacks the body the route validates',
    ]);
  });

  it('finds no change when the log is replayed under the policy that wrote it', async () => {
    const result = await portcullis('replay', join(dir, 'events.jsonl'), '--policy', 'policies/demo.ts');
    expect(result.code).toBe(0);
    // Alice's refused report: an admin would have been let through, and a denial does not log roles.
    expect(result.stdout).toContain('14 replayed: 0 changed, 7 unchanged, 7 undecidable');
    expect(result.stdout).toContain('events.jsonl:10  GET /v1/reports as user:u_alice from 127.0.0.1: 403 authz.denied');
    expect(result.stdout).toContain('No decision changes.');
  });
});
