/**
 * `portcullis report` end to end: the demo runs as `npm start` runs it, in its own process, with its
 * standard output and error captured in one file (`> events.jsonl 2>&1`, banner included); the test
 * sends it a mix of refused and allowed requests, stops it, runs the real CLI on the capture, and opens
 * the page in Debian's Chromium. The page must draw its charts without a console error or a single
 * network request, and show the totals of the input — counted here straight from the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateKeyPair, SignJWT } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portcullis, ROOT } from '../cli/run.ts';
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium } from './chromium.ts';
import { clearOfWindowEdge } from '../wait.ts';

let dir: string;
let browser: Browser;
let demo: ChildProcess | undefined;
let events: string;
let report: string;
let cliOutput: string;

/** The demo's gateway, started as `npm start` starts it, its output going to `file` (stdout and stderr). */
async function startDemoProcess(file: string, env: Record<string, string>): Promise<string> {
  const output = openSync(file, 'w');
  demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'policies/demo-gateway.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', output, output],
  });
  closeSync(output);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(file, 'utf8'))?.[1];
    if (url) return url;
    if (demo.exitCode !== null) throw new Error(`the demo exited (${demo.exitCode}):\n${readFileSync(file, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the demo did not start within 60 s:\n${readFileSync(file, 'utf8')}`);
}

async function stopDemo() {
  if (!demo || demo.exitCode !== null) return;
  const exited = new Promise((resolve) => demo!.once('exit', resolve));
  demo.kill('SIGTERM');
  await exited;
}

/** A request target sent as is (fetch would percent-encode it first). */
function rawGet(base: string, target: string): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname: url.hostname, port: url.port, path: target, method: 'GET', agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode!));
    });
    req.once('error', reject).end();
  });
}

/** The mix of traffic an operator's gateway sees: callers without or with bad credentials, the wrong user, a guessing client, a flood. */
async function sendTraffic(base: string) {
  const json = { 'content-type': 'application/json' };
  // A client behind the trusted (loopback) proxy, over https as the proxy says.
  const from = (ip: string) => ({ 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });
  const login = (username: string, password: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/auth/login`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify({ username, password }) });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });

  // Allowed: a health check, logins, each user reading their own record, alice on the deprecated v0.
  expect((await get('/v1/health')).status).toBe(200);
  const alice = ((await (await login('alice', 'correct horse battery staple')).json()) as { token: string }).token;
  const bob = ((await (await login('bob', 'hunter2 hunter2 hunter2')).json()) as { token: string }).token;
  expect((await get('/v1/users/u_alice', { authorization: `Bearer ${alice}` })).status).toBe(200);
  expect((await get('/v1/users/u_alice', { authorization: `Bearer ${bob}` })).status).toBe(200);
  expect((await get('/v0/users/u_alice', { authorization: `Bearer ${alice}` })).status).toBe(200);

  // No credentials; a bad token; a token signed by someone else's key.
  expect((await get('/v1/users/u_alice')).status).toBe(401);
  expect((await get('/v1/reports')).status).toBe(401);
  expect((await get('/v1/users/u_alice', { authorization: 'Bearer not.a.token' })).status).toBe(401);
  const { privateKey } = await generateKeyPair('ES256');
  const forged = await new SignJWT({ roles: ['admin'] })
    .setProtectedHeader({ alg: 'ES256', kid: 'attacker' })
    .setSubject('u_bob')
    .setIssuer('https://demo.portcullis.dev')
    .setAudience('portcullis-demo')
    .setExpirationTime('5m')
    .sign(privateKey);
  expect((await get('/v1/users/u_bob', { authorization: `Bearer ${forged}` })).status).toBe(401);

  // The wrong user: alice reading and deleting bob, also through the deprecated v0.
  expect((await get('/v1/users/u_bob', { authorization: `Bearer ${alice}` })).status).toBe(403);
  expect((await get('/v0/users/u_bob', { authorization: `Bearer ${alice}` })).status).toBe(403);
  expect((await fetch(`${base}/v1/users/u_bob`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } })).status).toBe(403);

  // Password guessing against alice from two addresses: LOGIN_RATE_LIMIT (3) failures each, then 429.
  for (const ip of ['198.51.100.7', '198.51.100.8']) {
    for (let i = 0; i < 3; i++) expect((await login('alice', `guess ${i}`, from(ip))).status).toBe(401);
    expect((await login('alice', 'guess 3', from(ip))).status).toBe(429);
  }

  // A flood from one address: RATE_LIMIT (10) answered, then 429s.
  for (let i = 0; i < 10; i++) expect((await get('/v1/health', from('203.0.113.50'))).status).toBe(200);
  for (let i = 0; i < 4; i++) expect((await get('/v1/health', from('203.0.113.50'))).status).toBe(429);

  // Probing: an unknown path with markup in it, a wrong method.
  expect(await rawGet(base, '/v1/<script>alert(1)</script>')).toBe(404);
  expect((await fetch(`${base}/v1/health`, { method: 'DELETE' })).status).toBe(405);
}

/** What the input holds, counted without the report's code: lines, non-JSON lines, events per kind. */
function countInput(text: string) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const kinds: Record<string, number> = {};
  let notJson = 0;
  for (const line of lines) {
    if (!line.trim()) continue;
    let record: { event?: unknown };
    try {
      record = JSON.parse(line) as { event?: unknown };
    } catch {
      notJson++;
      continue;
    }
    if (typeof record.event === 'string' && record.event.startsWith('portcullis.')) {
      const kind = record.event.slice('portcullis.'.length);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
  }
  return { lines: lines.length, notJson, kinds, events: Object.values(kinds).reduce((sum, count) => sum + count, 0) };
}

/** Opens a report in a fresh page, recording console messages, page errors and every request. */
async function openReport(file: string) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  const dialogs: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('request', (req) => requests.push(req.url()));
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => document.documentElement.dataset.charts !== undefined, undefined, { timeout: 10_000 });
  return { page, problems, requests, dialogs };
}

const cell = (page: Page, total: string) => page.locator(`[data-total="${total}"]`).textContent();
const tableColumn = (page: Page, table: string, column: number) =>
  page.locator(`table[data-table="${table}"] tbody tr`).evaluateAll((rows, i) => rows.map((row) => row.children[i]?.textContent ?? ''), column);

beforeAll(async () => {
  await ensureChromium();
  dir = await mkdtemp(join(tmpdir(), 'portcullis-report-'));
  events = join(dir, 'events.jsonl');
  report = join(dir, 'report.html');
  // Small limits so a few requests reach them; the demo's failed-login alert and sampling of allowed
  // requests (every one) where the demo has them.
  // The traffic counts the demo's 15-minute buckets out on the real clock: inside one window.
  await clearOfWindowEdge(15 * 60_000, 30_000);
  const base = await startDemoProcess(events, { LOGIN_RATE_LIMIT: '3', RATE_LIMIT: '10', ALERT_FAILED_LOGINS: '5', LOG_ALLOWED: '1' });
  try {
    await sendTraffic(base);
  } finally {
    await stopDemo();
  }
  const result = await portcullis('report', events, '--out', report, '--policy', 'policies/demo.ts');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  cliOutput = result.stdout;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await stopDemo();
  await browser?.close();
  // PORTCULLIS_REPORT_KEEP=<dir> keeps the capture, the report and a screenshot for a person to look at.
  const keep = process.env.PORTCULLIS_REPORT_KEEP;
  if (keep && report) {
    mkdirSync(keep, { recursive: true });
    for (const file of [events, report]) copyFileSync(file, join(keep, file.slice(dir.length + 1)));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('portcullis report on the demo\'s own log, in Chromium', () => {
  it('captured a real log: the banner, and the refusals the traffic caused', () => {
    const input = countInput(readFileSync(events, 'utf8'));
    expect(input.notJson).toBeGreaterThan(3);
    expect(input.kinds.deny).toBeGreaterThanOrEqual(15);
    const text = readFileSync(events, 'utf8');
    for (const reason of ['authn.required', 'authn.malformed_token', 'authz.denied', 'ratelimit.exceeded', 'route.not_found', 'route.method_not_allowed']) {
      expect(text).toContain(`"reason":"${reason}"`);
    }
  });

  it('prints a summary that names the skipped lines and what was refused', () => {
    const input = countInput(readFileSync(events, 'utf8'));
    expect(cliOutput).toContain(`${input.lines} lines read: ${input.events} events`);
    expect(cliOutput).toContain(`skipped ${input.notJson} lines that are not JSON (first at line 1)`);
    expect(cliOutput).toMatch(/top denial reasons: ratelimit\.exceeded \(6\)/);
    expect(cliOutput).toMatch(/rate limited: 6, peak \d at/);
    // The policy deprecates /v0: alice's refusal there, and her allowed read when allowed requests are sampled.
    const v0 = readFileSync(events, 'utf8').split('\n').filter((line) => line.includes('"path":"/v0/')).length;
    expect(v0).toBeGreaterThanOrEqual(1);
    expect(cliOutput).toContain(`deprecated-version traffic: ${v0} (GET /v0/users/:id: ${v0})`);
    expect(cliOutput).toMatch(/wrote .*report\.html \(\d+\.\d kB\)/);
  });

  it('renders with no console error and no network request, and draws every chart', async () => {
    const { page, problems, requests } = await openReport(report);
    expect(problems).toEqual([]);
    expect(requests).toEqual([pathToFileURL(report).href]);
    const containers = await page.locator('[data-chart]').count();
    expect(containers).toBeGreaterThanOrEqual(6);
    expect(await page.evaluate(() => document.documentElement.dataset.charts)).toBe(String(containers));
    // uPlot draws on a canvas inside each chart's container.
    expect(await page.locator('[data-chart] canvas').count()).toBe(containers);
    for (const id of ['decisions', 'reasons', 'ips', 'principals', 'paths', 'auth', 'deprecated']) {
      const box = await page.locator(`[data-chart="${id}"] canvas`).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.width * box!.height, id).toBeGreaterThan(10_000);
    }
    // Something was drawn: the decisions canvas is not blank.
    const inked = await page.locator('[data-chart="decisions"] canvas').evaluate((canvas: HTMLCanvasElement) => {
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) count++;
      return count;
    });
    expect(inked).toBeGreaterThan(1000);
    if (process.env.PORTCULLIS_REPORT_KEEP) await page.screenshot({ path: join(process.env.PORTCULLIS_REPORT_KEEP, 'report.png'), fullPage: true });
    await page.close();
  });

  it('shows the totals of the input, and tables that add up to them', async () => {
    const input = countInput(readFileSync(events, 'utf8'));
    const { page } = await openReport(report);
    for (const kind of ['deny', 'report', 'error', 'allow', 'notice', 'alert']) expect(await cell(page, kind), kind).toBe(String(input.kinds[kind] ?? 0));
    expect(await cell(page, 'events')).toBe(String(input.events));
    expect(await cell(page, 'lines')).toBe(String(input.lines));
    expect(await cell(page, 'not-json')).toBe(String(input.notJson));

    const sum = (values: string[]) => values.reduce((total, value) => total + Number(value.replace(/,/g, '')), 0);
    const decisions = await page.locator('table[data-table="decisions"] tbody tr:last-child td').allTextContents();
    expect(decisions).toEqual(['total', String(input.kinds.deny ?? 0), String(input.kinds.report ?? 0), String(input.kinds.error ?? 0), String(input.kinds.allow ?? 0)]);
    expect(sum(await tableColumn(page, 'reasons', 1))).toBe(input.kinds.deny);
    expect(sum(await tableColumn(page, 'ips', 1))).toBe(input.kinds.deny);
    expect(sum(await tableColumn(page, 'paths', 1))).toBe(input.kinds.deny);
    expect(await tableColumn(page, 'principals', 0)).toEqual(['user:u_alice']);
    expect(await tableColumn(page, 'deprecated', 0)).toEqual(['GET /v0/users/:id', 'total']);
    await page.close();
  });

  it('shows a <script> from a path as text and never runs it', async () => {
    const hostile = join(dir, 'hostile.jsonl');
    const payload = '/v1/</script><script>window.__pwned=1;alert(1)</script><img src=x onerror="window.__pwned=2">';
    writeFileSync(
      hostile,
      `${readFileSync(events, 'utf8')}${JSON.stringify({ time: new Date().toISOString(), event: 'portcullis.deny', reason: 'route.not_found', status: 404, method: 'GET', path: payload, route: null, clientIp: '<b>198.51.100.66</b>', requestId: 'x' })}\n`,
    );
    const hostileReport = join(dir, 'hostile.html');
    expect((await portcullis('report', hostile, '--out', hostileReport)).code).toBe(0);
    const { page, problems, requests, dialogs } = await openReport(hostileReport);
    expect(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
    expect(requests).toEqual([pathToFileURL(hostileReport).href]);
    expect(await tableColumn(page, 'paths', 0)).toContain(payload);
    expect(await tableColumn(page, 'ips', 0)).toContain('<b>198.51.100.66</b>');
    expect(await page.locator('img').count()).toBe(0);
    await page.close();
  });
});
