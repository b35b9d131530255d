/**
 * `npm run bench`: the stacks side by side — portcullis against bare node:http, Hono and Express, and as a gateway.
 *
 * Every stack is a separate process on 127.0.0.1, loaded by wrk (Debian's, when installed) or by
 * autocannon from this process, with the same connections and durations, in interleaved slices (A B C D E, B C D E A, …) so that machine
 * noise hits all stacks alike. Then the in-process figures (evaluate, jose floor, memory store) in
 * fresh processes of their own. Prints a table and writes bench/results.json.
 *
 * Environment: BENCH_SECONDS (measured seconds per stack in the main ES256 run, default 12; the
 * HS256 and cold-token runs are scaled from it), BENCH_CONNECTIONS (default 32), BENCH_STACKS
 * (comma-separated subset of the five stacks, `bridge` (run by default), `portcullis-open` and `portcullis-node-native`), BENCH_RUNS (subset of `es256,cold,hs256,store,inprocess`;
 * `store` runs portcullis-node on the memory store and on redisStore with a local redis-server; `gateway`
 * puts each of BENCH_GATEWAYS in front of a bare node:http origin; `scale` times evaluate() and compiling
 * at 10 to 10,000 routes; `otel` times evaluate() with telemetry off, on without an SDK, and on with the SDK), BENCH_PROFILE
 * (comma-separated stacks to run under `node --cpu-prof`, profiles in bench/profiles/), BENCH_LOAD
 * (`wrk` or `autocannon`; wrk when it is on the PATH: a C client in its own process takes less of
 * the cores from the servers than autocannon in this one. A new token per request always uses autocannon).
 * `node --import tsx bench/profile-top.ts <profile>` summarises a profile.
 * @module
 */

import { execFile, execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startRedisServer } from '../test/redis/redis-server.ts';
import { runtimeBinary } from '../test/conformance/runtime.ts';
import { startHaproxy } from './haproxy.ts';
import { AUDIENCE, HOST, ISSUER, ORIGIN, PATH, type Alg, type StackKey } from './scenario.ts';

const STACKS = ['bare', 'hono', 'express', 'portcullis-node', 'portcullis-hono'] as const;
/**
 * Run only when named in BENCH_STACKS: `bridge`, portcullis-node's Request/Response bridge and headers
 * without the policy; `portcullis-open`, portcullis-node on an anonymous route (the pipeline, no checks);
 * `portcullis-node-native`, portcullis-node checking every signature with `nodeCrypto()`; `hono-open`,
 * the Hono app portcullis-hono runs in, answering with the same headers and no middleware.
 */
const REFERENCES = ['bridge', 'portcullis-open', 'portcullis-node-native', 'hono-open'] as const;
type StackName = (typeof STACKS)[number] | (typeof REFERENCES)[number];
/**
 * The gateway run: client → gateway → the `bare` stack as origin, on loopback. `direct` is the
 * origin alone; `node-proxy` node:http in and out with no checks; `haproxy` HAProxy with the policy
 * it can say (bench/stacks/gateway/haproxy.ts).
 */
const GATEWAYS = ['direct', 'node-proxy', 'portcullis-node', 'portcullis-node-fetch', 'portcullis-bun', 'haproxy'] as const;
type GatewayName = (typeof GATEWAYS)[number];
const COLD_STACKS: StackName[] = ['portcullis-node', 'hono', 'portcullis-node-native'];
const BASELINES: StackName[] = ['bare', 'hono', 'express'];
const PORTCULLIS: StackName[] = ['portcullis-node', 'portcullis-hono'];

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these. */
const CLOCK_TICKS = 100;
const SLICE_S = 3;
const seconds = positive('BENCH_SECONDS', 12);
const connections = positive('BENCH_CONNECTIONS', 32);
const mainRounds = Math.max(1, Math.round(seconds / SLICE_S));
const hsRounds = Math.max(1, Math.round(mainRounds / 2));
const coldRounds = Math.max(1, Math.round((mainRounds * 3) / 4));
// The bridge runs by default: the CPU targets are ratios to it.
const selected = list('BENCH_STACKS', [...STACKS, 'bridge']) as StackName[];
const profiled = new Set(list('BENCH_PROFILE', []));
const runs = new Set(list('BENCH_RUNS', ['es256', 'cold', 'hs256', 'store', 'gateway', 'inprocess', 'scale', 'otel']));
const loader = loadGenerator();
const gateways = list('BENCH_GATEWAYS', [...GATEWAYS]) as GatewayName[];
const profileable = [...STACKS, ...REFERENCES, ...GATEWAYS.map((name) => `gateway-${name}`)];
for (const name of [...selected, ...profiled]) {
  if (!profileable.includes(name)) throw new TypeError(`unknown stack "${name}"; stacks: ${profileable.join(', ')}`);
}
for (const name of gateways) {
  if (!GATEWAYS.includes(name)) throw new TypeError(`unknown gateway "${name}"; gateways: ${GATEWAYS.join(', ')}`);
}
// Debian's HAProxy is the gateway run's C anchor: say how to get it before any load runs.
if (runs.has('gateway') && gateways.includes('haproxy') && !onPath('haproxy')) {
  throw new TypeError('the gateway run compares with HAProxy, which is not installed: apt-get install -y haproxy (or leave it out: BENCH_GATEWAYS=direct,node-proxy,portcullis-node)');
}
/**
 * Distinct tokens of the cold run, used in turn. More than the verified-token cache holds (10,000
 * by default), so that with LRU eviction no token is still cached when it comes round again.
 */
const COLD_POOL = 25_000;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new TypeError(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** BENCH_LOAD, or wrk when it is installed. */
function loadGenerator(): 'wrk' | 'autocannon' {
  const wanted = process.env.BENCH_LOAD;
  if (wanted !== undefined && wanted !== '' && wanted !== 'wrk' && wanted !== 'autocannon') throw new TypeError(`BENCH_LOAD must be wrk or autocannon, got "${wanted}"`);
  let installed = true;
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    // wrk --version prints its banner and exits 1: only a missing binary is absent.
    installed = (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  if (wanted === 'wrk' && !installed) throw new TypeError('BENCH_LOAD=wrk, but wrk is not installed (apt-get install -y wrk)');
  return (wanted as 'wrk' | 'autocannon' | undefined) || (installed ? 'wrk' : 'autocannon');
}

function onPath(command: string): boolean {
  try {
    execFileSync(command, ['-v'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

function list(name: string, fallback: string[]): string[] {
  const raw = process.env[name];
  return raw ? raw.split(',').map((item) => item.trim()).filter(Boolean) : fallback;
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens: the private key never leaves this process.

interface Signer {
  key: StackKey;
  sign(claims: { sub: string; roles: string[]; jti?: string }): Promise<string>;
}

async function signer(alg: Alg): Promise<Signer> {
  let signingKey: CryptoKey | Uint8Array;
  let key: StackKey;
  if (alg === 'ES256') {
    const pair = await generateKeyPair('ES256', { extractable: true });
    signingKey = pair.privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
    key = { alg, publicJwk };
  } else {
    const secret = randomBytes(32).toString('base64url');
    signingKey = new TextEncoder().encode(secret);
    key = { alg, secret };
  }
  return {
    key,
    sign: ({ sub, roles, jti }) => {
      const jwt = new SignJWT({ roles })
        .setProtectedHeader(alg === 'ES256' ? { alg, kid: 'bench', typ: 'JWT' } : { alg, typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('1h');
      if (jti) jwt.setJti(jti);
      return jwt.sign(signingKey);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Stack processes.

interface Stack {
  name: StackName | `gateway:${GatewayName}`;
  /** What the smoke check asks: the answer only, the answer and the headers, or every denial too. @default by name */
  checks?: 'answer' | 'headers' | 'all';
  /** How the results name it: the stack, or the stack with its rate-limit store (`portcullis-node+redis`). */
  id: string;
  url: string;
  child: ChildProcess;
  /** A process the stack depends on (redis-server), whose CPU time counts per request as well. */
  storePid?: number;
  /** Its CPU time is read from /proc (a process that is not Node: HAProxy), not asked over IPC. */
  foreign?: boolean;
}

/** Starts a stack; `store` runs it on redisStore with the redis-server at `store.url`. */
async function start(name: StackName, key: StackKey, store?: { url: string; pid: number }): Promise<Stack> {
  const native = name === 'portcullis-node-native';
  const env = { BENCH_KEY: JSON.stringify(key), ...(store && { BENCH_REDIS_URL: store.url }), ...(native && { BENCH_CRYPTO: 'native' }) };
  const { child, port } = await forkStack(name, `./stacks/${native ? 'portcullis-node' : name}.ts`, env);
  return { name, id: store ? `${name}+redis` : name, url: `http://${HOST}:${port}`, child, storePid: store?.pid };
}

/** Forks a stack's file with `env`, under `--cpu-prof` when BENCH_PROFILE names it, and waits for its port. */
async function forkStack(name: string, file: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const execArgv = ['--import', 'tsx'];
  if (profiled.has(name)) {
    // One folder per run: node writes a profile per thread (tsx's loader has one of its own).
    const dir = here(`./profiles/${name}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const child = fork(here(file), [], {
    execArgv,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    // Security events of the smoke checks' denials go to stdout: not part of the report.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no port after 30 s`)), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { port: number }).port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening`));
    });
  });
  child.removeAllListeners('exit');
  return { child, port };
}

/** CPU time (user + system) a stack process has used, µs, asked over IPC. */
function stackCpu(stack: Stack): Promise<number> {
  if (stack.foreign) return Promise.resolve(processCpu(stack.child.pid!));
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const cpu = (message as { cpu?: { user: number; system: number } }).cpu;
      if (!cpu) return;
      stack.child.off('message', onMessage);
      resolve(cpu.user + cpu.system);
    };
    stack.child.on('message', onMessage);
    stack.child.send('cpu');
  });
}

/** CPU time (user + system) of another process, µs, from /proc/<pid>/stat (Linux). */
function processCpu(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
}

async function stop(stack: Stack): Promise<void> {
  if (stack.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => stack.child.once('exit', () => resolve()));
  if (stack.foreign) stack.child.kill('SIGTERM');
  else stack.child.send('stop');
  const timer = setTimeout(() => stack.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Smoke checks: every stack does the same work, or the comparison means nothing.

interface Tokens {
  owner: string;
  stranger: string;
  admin: string;
}

/** The tokens of the smoke checks: the owner of /users/42, another user, an admin. */
async function smokeTokens(keys: Signer): Promise<Tokens> {
  return {
    owner: await keys.sign({ sub: '42', roles: ['user'] }),
    stranger: await keys.sign({ sub: '7', roles: ['user'] }),
    admin: await keys.sign({ sub: '7', roles: ['admin'] }),
  };
}

async function check(stack: Stack, tokens: Tokens): Promise<void> {
  const get = (path: string, token?: string) =>
    fetch(stack.url + path, { headers: { origin: ORIGIN, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const fail = (what: string) => {
    throw new Error(`${stack.name}: ${what}`);
  };
  const ok = await get(PATH, tokens.owner);
  const body = await ok.json();
  if (ok.status !== 200 || body?.id !== '42') fail(`GET ${PATH} answered ${ok.status} ${JSON.stringify(body)}`);
  const headersOnly = stack.name === 'bridge' || stack.name === 'portcullis-open' || stack.name === 'hono-open';
  const checks = stack.checks ?? (stack.name === 'bare' ? 'answer' : headersOnly ? 'headers' : 'all');
  if (checks === 'answer') return;
  if (ok.headers.get('access-control-allow-origin') !== ORIGIN) fail('no CORS header for the allowed origin');
  if (ok.headers.get('x-content-type-options') !== 'nosniff') fail('no security headers');
  if (checks === 'headers') return; // checks nothing, by design
  const expect = async (path: string, token: string | undefined, wanted: (status: number) => boolean, what: string) => {
    const response = await get(path, token);
    await response.arrayBuffer();
    if (!wanted(response.status)) fail(`${what}: answered ${response.status}`);
  };
  await expect('/users/7?fields=name', tokens.owner, (status) => status === 403, 'another user');
  await expect('/users/7?fields=name', tokens.admin, (status) => status === 200, 'an admin');
  await expect('/users/42?fields=name&role=admin', tokens.owner, (status) => status === 400 || status === 422, 'an unknown query key');
  await expect(PATH, undefined, (status) => status === 401, 'no token');
  await expect(PATH, tokens.stranger.slice(0, -4) + 'AAAA', (status) => status === 401, 'a forged signature');
}

// ---------------------------------------------------------------------------------------------
// Load.

interface Tally {
  requests: number;
  seconds: number;
  latencies: number[];
  /** p50 and p99 of each wrk slice, ms (wrk reports percentiles, not the latencies). */
  percentiles: { p50: number; p99: number }[];
  /** req/s of each slice: their spread shows how noisy the machine was. */
  slices: number[];
  non2xx: number;
  errors: number;
  /** CPU time of the stack process over the tallied slices, µs. */
  cpuUs: number;
  /** CPU time of its store process (redis-server), µs. */
  storeCpuUs: number;
}

const tallies = new Map<string, Tally>();

function tally(key: string): Tally {
  let found = tallies.get(key);
  if (!found) tallies.set(key, (found = { requests: 0, seconds: 0, latencies: [], percentiles: [], slices: [], non2xx: 0, errors: 0, cpuUs: 0, storeCpuUs: 0 }));
  return found;
}

/** One slice of load on one stack, tallied under `record` (a warm-up is not tallied). */
async function load(stack: Stack, duration: number, token: string | (() => string), record: string | undefined): Promise<void> {
  if (loader === 'wrk' && typeof token === 'string') return loadWithWrk(stack, duration, token, record);
  const headers = { origin: ORIGIN, authorization: typeof token === 'string' ? `Bearer ${token}` : '' };
  const options: autocannon.Options = { url: stack.url + PATH, connections, duration, headers };
  if (typeof token !== 'string') {
    // A new token on every request: the request is rebuilt each time (the same cost for every stack).
    options.requests = [
      {
        setupRequest: (request) => {
          request.headers = { ...request.headers, authorization: `Bearer ${token()}` };
          return request;
        },
      },
    ];
  }
  const into = record ? tally(record) : undefined;
  const cpuBefore = into ? await stackCpu(stack) : 0;
  const storeCpuBefore = into && stack.storePid ? processCpu(stack.storePid) : 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    // Latencies in ms as floats (autocannon's own histogram keeps whole milliseconds).
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (!into) return;
      if (statusCode >= 200 && statusCode < 300) into.latencies.push(responseTime);
      else into.non2xx++;
    });
  });
  if (!into) return;
  into.cpuUs += (await stackCpu(stack)) - cpuBefore;
  if (stack.storePid) into.storeCpuUs += processCpu(stack.storePid) - storeCpuBefore;
  into.requests += result['2xx'];
  into.seconds += result.duration;
  into.slices.push(Math.round(result['2xx'] / result.duration));
  into.errors += result.errors + result.timeouts;
}

interface WrkSummary {
  requests: number;
  non2xx: number;
  errors: number;
  duration_s: number;
  p50_ms: number;
  p99_ms: number;
}

/** One slice with wrk (one thread, `connections` connections), tallied as `load` does. */
async function loadWithWrk(stack: Stack, duration: number, token: string, record: string | undefined): Promise<void> {
  const into = record ? tally(record) : undefined;
  const cpuBefore = into ? await stackCpu(stack) : 0;
  const storeCpuBefore = into && stack.storePid ? processCpu(stack.storePid) : 0;
  const args = ['-t1', `-c${connections}`, `-d${duration}s`, '-H', `origin: ${ORIGIN}`, '-H', `authorization: Bearer ${token}`, '-s', here('./wrk-report.lua'), stack.url + PATH];
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile('wrk', args, (error, out) => (error ? reject(error) : resolve(out))),
  );
  if (!into) return;
  into.cpuUs += (await stackCpu(stack)) - cpuBefore;
  if (stack.storePid) into.storeCpuUs += processCpu(stack.storePid) - storeCpuBefore;
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as WrkSummary;
  into.requests += summary.requests;
  into.seconds += summary.duration_s;
  into.slices.push(Math.round(summary.requests / summary.duration_s));
  into.percentiles.push({ p50: summary.p50_ms, p99: summary.p99_ms });
  into.non2xx += summary.non2xx;
  into.errors += summary.errors;
}

interface Figures {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** req/s of each slice, in the order run. */
  rps_slices: number[];
  /** CPU time of the stack process per answered request, µs. */
  cpu_us: number;
}

function figures(key: string): Omit<Figures, 'rps_slices'> & { slices: number[]; non2xx: number; errors: number; store_cpu_us: number } {
  const { requests, seconds, latencies, percentiles, slices, non2xx, errors, cpuUs, storeCpuUs } = tally(key);
  const sorted = Float64Array.from(latencies).sort();
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  // wrk's slices give percentiles only: their mean over the slices.
  const at = (q: number) =>
    percentiles.length ? mean(percentiles.map((slice) => (q === 0.5 ? slice.p50 : slice.p99))) : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
  const round = (value: number, digits: number) => Number(value.toFixed(digits));
  const perRequest = (us: number) => round(us / Math.max(1, requests + non2xx), 1);
  return {
    rps: Math.round(requests / seconds),
    p50_ms: round(at(0.5), 2),
    p99_ms: round(at(0.99), 2),
    slices,
    non2xx,
    errors,
    cpu_us: perRequest(cpuUs),
    store_cpu_us: perRequest(storeCpuUs),
  };
}

/** Rounds of slices over `stacks`, each round starting one stack later. */
async function rounds(stacks: Stack[], rounds: number, token: string | (() => string), label: string): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < stacks.length; i++) {
      const stack = stacks[(round + i) % stacks.length]!;
      process.stderr.write(`  ${label} round ${round + 1}/${rounds}: ${stack.id}\n`);
      await load(stack, SLICE_S, token, `${label}:${stack.id}`);
    }
  }
}

async function warmUp(stacks: Stack[], duration: number, token: string | (() => string)): Promise<void> {
  for (const stack of stacks) await load(stack, duration, token, undefined);
}

// ---------------------------------------------------------------------------------------------
// In-process figures, each in a fresh process.

function runScript(file: string, execArgv: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = fork(here(file), [], { execArgv: [...execArgv, '--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${file} exited with ${code}`));
      const last = out.trim().split('\n').at(-1) ?? '';
      resolve(JSON.parse(last) as Record<string, unknown>);
    });
  });
}

// ---------------------------------------------------------------------------------------------

async function phase(alg: Alg, label: string, mainRoundCount: number, withCold: boolean) {
  const keys = await signer(alg);
  const tokens = await smokeTokens(keys);
  process.stderr.write(`${alg}: starting ${selected.join(', ')}\n`);
  const stacks = await Promise.all(selected.map((name) => start(name, keys.key)));
  try {
    for (const stack of stacks) await check(stack, tokens);
    process.stderr.write(`${alg}: smoke checks passed; warming up\n`);
    if (runs.has(label)) {
      await warmUp(stacks, 2, tokens.owner);
      await rounds(stacks, mainRoundCount, tokens.owner, label);
    }
    const cold = stacks.filter((stack) => COLD_STACKS.includes(stack.name as StackName));
    if (withCold && cold.length) {
      process.stderr.write(`${alg}: signing ${COLD_POOL} distinct tokens for the cold run\n`);
      const pool: string[] = [];
      for (let i = 0; i < COLD_POOL; i++) pool.push(await keys.sign({ sub: '42', roles: ['user'], jti: `cold-${i}` }));
      let next = 0;
      const rotate = () => pool[next++ % pool.length]!;
      await warmUp(cold, 1, rotate);
      await rounds(cold, coldRounds, rotate, `${label}-cold`);
    }
  } finally {
    await Promise.all(stacks.map(stop));
  }
}

/** The store run: portcullis-node on the memory store and on redisStore (a local redis-server), in the same interleaved slices. */
async function storePhase(roundCount: number) {
  const keys = await signer('ES256');
  const tokens = await smokeTokens(keys);
  const redis = await startRedisServer();
  process.stderr.write(`store: portcullis-node on the memory store and on redisStore (redis-server on port ${redis.port})\n`);
  const stacks = await Promise.all([start('portcullis-node', keys.key), start('portcullis-node', keys.key, { url: redis.url, pid: redis.process.pid! })]);
  try {
    for (const stack of stacks) await check(stack, tokens);
    await warmUp(stacks, 2, tokens.owner);
    await rounds(stacks, roundCount, tokens.owner, 'store');
  } finally {
    await Promise.all(stacks.map(stop));
    await redis.stop();
  }
}

/** Starts a gateway in front of `origin` (`direct` is the origin itself). */
async function startGateway(name: GatewayName, key: StackKey, origin: Stack): Promise<Stack> {
  const id = name;
  if (name === 'direct') return { ...origin, name: `gateway:${name}`, id, checks: 'answer' };
  const env = { BENCH_KEY: JSON.stringify(key), BENCH_ORIGIN: origin.url };
  if (name === 'haproxy' || name === 'portcullis-bun') {
    const { child, port } = name === 'haproxy' ? await startHaproxy(key, origin.url) : await startBun(here('./stacks/gateway/portcullis-bun.ts'), env);
    return { name: `gateway:${name}`, id, url: `http://${HOST}:${port}`, child, foreign: true };
  }
  const file = `./stacks/gateway/${name === 'portcullis-node-fetch' ? 'portcullis-node' : name}.ts`;
  const { child, port } = await forkStack(`gateway-${name}`, file, { ...env, ...(name === 'portcullis-node-fetch' && { BENCH_TRANSPORT: 'fetch' }) });
  return { name: `gateway:${name}`, id, url: `http://${HOST}:${port}`, child, checks: name === 'node-proxy' ? 'answer' : 'all' };
}

/** Starts a stack file under the `bun` binary of node_modules; it prints `{"port":…}` on stdout. */
async function startBun(file: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(runtimeBinary('bun'), [file], { env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bun ${file}: no port after 30 s`)), 30_000);
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /\{"port":(\d+)\}/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bun ${file} exited with ${code} before listening`));
    });
  });
  child.removeAllListeners('exit');
  // Security events of the smoke checks' denials go to stdout: not part of the report.
  child.stdout!.resume();
  return { child, port };
}

/** The gateway run: each gateway in front of one bare origin, in interleaved slices; the origin's own CPU is not counted. */
async function gatewayPhase(roundCount: number) {
  const keys = await signer('ES256');
  const tokens = await smokeTokens(keys);
  const origin = await start('bare', keys.key);
  process.stderr.write(`gateway: ${gateways.join(', ')} in front of a bare node:http origin (${origin.url})\n`);
  const stacks: Stack[] = [];
  try {
    for (const name of gateways) stacks.push(await startGateway(name, keys.key, origin));
    for (const stack of stacks) await check(stack, tokens);
    await warmUp(stacks, 2, tokens.owner);
    await rounds(stacks, roundCount, tokens.owner, 'gateway');
  } finally {
    await Promise.all(stacks.filter((stack) => stack.child !== origin.child).map(stop));
    await stop(origin);
  }
}

const startedAt = Date.now();
const loadAtStart = loadavg()[0]!;
if (loadAtStart > 0.5) {
  process.stderr.write(`warning: load average ${loadAtStart.toFixed(1)} before the start: other processes share these cores, expect noise\n`);
}
process.stderr.write(
  `portcullis bench: ${connections} connections, ${SLICE_S} s slices; ES256 ${mainRounds} rounds, cold ${coldRounds}, HS256 ${hsRounds}\n`,
);
if (runs.has('es256') || runs.has('cold')) await phase('ES256', 'es256', mainRounds, runs.has('cold'));
if (runs.has('hs256')) await phase('HS256', 'hs256', hsRounds, false);
if (runs.has('store')) await storePhase(mainRounds);
if (runs.has('gateway')) await gatewayPhase(mainRounds);

let evaluate: Record<string, unknown> = {
  warm_us: null,
  cold_us: null,
  cold_native_us: null,
  jose_us: null,
  cold_x8_us: null,
  cold_native_x8_us: null,
  jose_x8_us: null,
  cold_x8_cpu_us: null,
  jose_x8_cpu_us: null,
  apikey_us: null,
  apikey_native_us: null,
};
let memoryBytesPerKey: unknown = null;
if (runs.has('inprocess')) {
  process.stderr.write('in-process: engine.evaluate() and jose.jwtVerify\n');
  evaluate = await runScript('./evaluate.ts', []);
  process.stderr.write('in-process: memory store at 1,000,000 keys\n');
  memoryBytesPerKey = (await runScript('./memory.ts', ['--expose-gc'])).bytes_per_key;
}
let tokenCache: Record<string, unknown> = { cache_size: null, miss_us: null, hit_us: null, heap_mb: null };
if (runs.has('scale')) {
  process.stderr.write('in-process: the verified-token cache under 1,000 to 1,000,000 distinct tokens\n');
  tokenCache = await runScript('./token-cache.ts', []);
}
let scale: Record<string, unknown> = { evaluate_us: null, compile_ms: null };
if (runs.has('scale')) {
  process.stderr.write('in-process: evaluate() and compile at 10, 100, 1,000 and 10,000 routes\n');
  scale = await runScript('./scale.ts', []);
}

let telemetry: Record<string, unknown> = { off_us: null, api_no_sdk_us: null, sdk_metrics_us: null, sdk_metrics_spans_us: null };
if (runs.has('otel')) {
  process.stderr.write('in-process: evaluate() with telemetry off, on without an SDK, on with the OpenTelemetry SDK\n');
  telemetry = await runScript('./otel.ts', []);
}

// ---------------------------------------------------------------------------------------------
// Report.

function section(label: string, names: readonly StackName[]) {
  const stacks: Record<string, Figures> = {};
  for (const name of names) {
    if (!tallies.has(`${label}:${name}`)) continue;
    const { rps, p50_ms, p99_ms, slices, non2xx, errors, cpu_us } = figures(`${label}:${name}`);
    if (non2xx || errors) throw new Error(`${label} ${name}: ${non2xx} non-2xx answers and ${errors} errors under load`);
    stacks[name] = { rps, p50_ms, p99_ms, rps_slices: slices, cpu_us };
  }
  const ratios = ratiosOf(stacks, 'rps');
  return { stacks, ratios, cpu_ratios: ratiosOf(stacks, 'cpu_us') };
}

/**
 * Each portcullis stack's figure divided by each baseline's (and the bridge's) in the same run:
 * `rps` (higher is better) or `cpu_us`, CPU per request (lower is better).
 */
function ratiosOf(stacks: Record<string, Figures>, field: 'rps' | 'cpu_us'): Record<string, Record<string, number>> {
  const ratios: Record<string, Record<string, number>> = {};
  for (const ours of PORTCULLIS) {
    if (!stacks[ours]) continue;
    ratios[ours] = {};
    for (const base of field === 'rps' ? BASELINES : [...BASELINES, ...REFERENCES]) {
      if (stacks[base]) ratios[ours][base] = Number((stacks[ours][field] / stacks[base][field]).toFixed(2));
    }
    if (!Object.keys(ratios[ours]).length) delete ratios[ours];
  }
  return ratios;
}

function table(title: string, stacks: Record<string, Figures>, ratios: Record<string, Record<string, number>>, cpuRatios: Record<string, Record<string, number>> = {}) {
  if (!Object.keys(stacks).length) return '';
  const lines = [
    `\n${title}`,
    `${'stack'.padEnd(18)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'CPU µs/req'.padStart(12)}   req/s of the slices (min–max)`,
  ];
  for (const [name, { rps, p50_ms, p99_ms, rps_slices, cpu_us }] of Object.entries(stacks)) {
    const spread = `${Math.min(...rps_slices)}–${Math.max(...rps_slices)}`;
    lines.push(`${name.padEnd(18)}${String(rps).padStart(9)}${p50_ms.toFixed(2).padStart(9)}${p99_ms.toFixed(2).padStart(9)}${cpu_us.toFixed(1).padStart(12)}   ${spread}`);
  }
  const line = (label: string, against: Record<string, number>) => label + Object.entries(against).map(([base, ratio]) => `${base} ${ratio.toFixed(2)}×`).join(', ');
  for (const [ours, against] of Object.entries(ratios)) lines.push(line(`${ours} req/s ÷ `, against));
  for (const [ours, against] of Object.entries(cpuRatios)) lines.push(line(`${ours} CPU/req ÷ `, against));
  return lines.join('\n');
}

const es256 = section('es256', [...STACKS, ...REFERENCES]);
const hs256 = section('hs256', [...STACKS, ...REFERENCES]);
const coldStacks = section('es256-cold', COLD_STACKS).stacks;
const cold: { stacks: Record<string, Figures>; ratios: Record<string, Record<string, number>>; pool: number } = {
  stacks: coldStacks,
  ratios: Object.fromEntries(
    (['portcullis-node', 'portcullis-node-native'] as const)
      .filter((name) => coldStacks[name] && coldStacks.hono)
      .map((name) => [name, { hono: Number((coldStacks[name]!.rps / coldStacks.hono!.rps).toFixed(2)) }]),
  ),
  pool: COLD_POOL,
};

/** The store run's figures: memory and Redis side by side, CPU of the gateway and of redis-server per request. */
function storeSection() {
  const stacks: Record<string, Figures & { store_cpu_us: number }> = {};
  for (const id of ['portcullis-node', 'portcullis-node+redis']) {
    if (!tallies.has(`store:${id}`)) continue;
    const { rps, p50_ms, p99_ms, slices, non2xx, errors, cpu_us, store_cpu_us } = figures(`store:${id}`);
    if (non2xx || errors) throw new Error(`store ${id}: ${non2xx} non-2xx answers and ${errors} errors under load`);
    stacks[id] = { rps, p50_ms, p99_ms, rps_slices: slices, cpu_us, store_cpu_us };
  }
  const memory = stacks['portcullis-node'];
  const redis = stacks['portcullis-node+redis'];
  return { stacks, redis_vs_memory_rps: memory && redis ? Number((redis.rps / memory.rps).toFixed(2)) : null };
}
const store = storeSection();

/** The gateway run's figures: `{ rps, p50_ms, p99_ms, cpu_us }` per gateway, and what each adds over the origin alone. */
function gatewaySection() {
  const stacks: Record<string, Figures & { added_p50_ms?: number; added_p99_ms?: number }> = {};
  for (const id of GATEWAYS) {
    if (!tallies.has(`gateway:${id}`)) continue;
    const { rps, p50_ms, p99_ms, slices, non2xx, errors, cpu_us } = figures(`gateway:${id}`);
    if (non2xx || errors) throw new Error(`gateway ${id}: ${non2xx} non-2xx answers and ${errors} errors under load`);
    stacks[id] = { rps, p50_ms, p99_ms, cpu_us, rps_slices: slices };
  }
  const direct = stacks.direct;
  for (const [id, figures] of Object.entries(stacks)) {
    if (!direct || id === 'direct') continue;
    figures.added_p50_ms = Number((figures.p50_ms - direct.p50_ms).toFixed(2));
    figures.added_p99_ms = Number((figures.p99_ms - direct.p99_ms).toFixed(2));
  }
  return stacks;
}
const gateway = gatewaySection();

function gatewayTable(): string {
  if (!Object.keys(gateway).length) return '';
  const lines = [
    `\nGateway: client → gateway → bare node:http origin, ES256 warm token (${mainRounds * SLICE_S} s per stack, ${connections} connections)`,
    `${'gateway'.padEnd(24)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'+p50 ms'.padStart(9)}${'+p99 ms'.padStart(9)}${'gateway CPU µs/req'.padStart(21)}`,
  ];
  for (const [id, { rps, p50_ms, p99_ms, added_p50_ms, added_p99_ms, cpu_us }] of Object.entries(gateway)) {
    const added = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(2)).padStart(9);
    lines.push(`${id.padEnd(24)}${String(rps).padStart(9)}${p50_ms.toFixed(2).padStart(9)}${p99_ms.toFixed(2).padStart(9)}${added(added_p50_ms)}${added(added_p99_ms)}${cpu_us.toFixed(1).padStart(21)}`);
  }
  const ours = gateway['portcullis-node'];
  for (const base of ['node-proxy', 'haproxy', 'portcullis-node-fetch']) {
    if (ours && gateway[base]) lines.push(`portcullis-node gateway CPU/req ÷ ${base}: ${(ours.cpu_us / gateway[base].cpu_us).toFixed(2)}×`);
  }
  return lines.join('\n');
}

function storeTable(): string {
  if (!Object.keys(store.stacks).length) return '';
  const lines = [
    `\nRate-limit store: portcullis-node, ES256 warm token (${mainRounds * SLICE_S} s per store, ${connections} connections)`,
    `${'store'.padEnd(24)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'gateway CPU µs/req'.padStart(21)}${'redis CPU µs/req'.padStart(19)}`,
  ];
  for (const [id, { rps, p50_ms, p99_ms, cpu_us, store_cpu_us }] of Object.entries(store.stacks)) {
    const name = id === 'portcullis-node' ? 'memory' : 'redis (redisStore)';
    lines.push(
      `${name.padEnd(24)}${String(rps).padStart(9)}${p50_ms.toFixed(2).padStart(9)}${p99_ms.toFixed(2).padStart(9)}${cpu_us.toFixed(1).padStart(21)}${(id === 'portcullis-node' ? '–' : store_cpu_us.toFixed(1)).padStart(19)}`,
    );
  }
  if (store.redis_vs_memory_rps !== null) lines.push(`redis req/s ÷ memory req/s: ${store.redis_vs_memory_rps.toFixed(2)}×`);
  return lines.join('\n');
}

const results = {
  stacks: es256.stacks,
  store,
  evaluate,
  memory_store_bytes_per_key: memoryBytesPerKey,
  ratios: es256.ratios,
  /** CPU per request of each portcullis stack ÷ a baseline's, same run (lower is better). */
  cpu_ratios: es256.cpu_ratios,
  hs256,
  cold,
  gateway,
  scale,
  telemetry,
  token_cache: tokenCache,
  meta: {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    load_average_at_start: Number(loadAtStart.toFixed(2)),
    connections,
    load_generator: loader,
    slice_s: SLICE_S,
    rounds: { es256: mainRounds, hs256: hsRounds, cold: coldRounds },
    total_s: Math.round((Date.now() - startedAt) / 1000),
  },
};

const tables = [
  table(`ES256, warm token (${mainRounds * SLICE_S} s per stack, ${connections} connections)`, es256.stacks, es256.ratios, es256.cpu_ratios),
  table(`ES256, a new token every request (${coldRounds * SLICE_S} s per stack, pool of ${COLD_POOL})`, cold.stacks, cold.ratios),
  table(`HS256, warm token (${hsRounds * SLICE_S} s per stack)`, hs256.stacks, hs256.ratios, hs256.cpu_ratios),
  storeTable(),
  gatewayTable(),
];
console.log(tables.filter(Boolean).join('\n'));
const us = (value: unknown) => (typeof value === 'number' ? `${value.toFixed(2)} µs` : 'skipped');
console.log(
  `\nin-process, median per request: evaluate() warm ${us(evaluate.warm_us)}, cold ${us(evaluate.cold_us)} (native crypto ${us(evaluate.cold_native_us)}); jose.jwtVerify ${us(evaluate.jose_us)}` +
    `\n  with 8 in flight (wall time per request): evaluate() cold ${us(evaluate.cold_x8_us)} (native crypto ${us(evaluate.cold_native_x8_us)}); jose.jwtVerify ${us(evaluate.jose_x8_us)}` +
    `\n  with 8 in flight (the process's CPU time per request, every thread): evaluate() cold ${us(evaluate.cold_x8_cpu_us)}; jose.jwtVerify ${us(evaluate.jose_x8_cpu_us)}` +
    `\n  an API-key request: ${us(evaluate.apikey_us)} (native crypto ${us(evaluate.apikey_native_us)})`,
);
const byRoutes = (values: unknown, unit: string) =>
  values && typeof values === 'object' ? Object.entries(values).map(([routes, value]) => `${routes} routes ${value} ${unit}`).join(', ') : 'skipped';
const byTokens = (values: unknown, unit: string) =>
  values && typeof values === 'object' ? Object.entries(values).map(([count, value]) => `${count} tokens ${value} ${unit}`).join(', ') : 'skipped';
console.log(`scale: evaluate() ${byRoutes(scale.evaluate_us, 'µs')}\n  compile ${byRoutes(scale.compile_ms, 'ms')}`);
console.log(
  `telemetry, evaluate() warm: off ${us(telemetry.off_us)}; otelObserver() without an SDK ${us(telemetry.api_no_sdk_us)}; ` +
    `with the SDK's metrics ${us(telemetry.sdk_metrics_us)}; metrics and a span per request ${us(telemetry.sdk_metrics_spans_us)}`,
);
console.log(`token cache (${tokenCache.cache_size ?? '-'} entries): new token ${byTokens(tokenCache.miss_us, 'µs')}\n  seen token ${byTokens(tokenCache.hit_us, 'µs')}\n  heap ${byTokens(tokenCache.heap_mb, 'MB')}`);
console.log(`memory store: ${typeof memoryBytesPerKey === 'number' ? `${memoryBytesPerKey} bytes per key at 1,000,000 keys` : 'skipped'}`);
writeFileSync(here('./results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote bench/results.json (${results.meta.total_s} s)`);
