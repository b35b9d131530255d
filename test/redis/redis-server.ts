/**
 * A real `redis-server` (Debian's package) for tests: on a free port of 127.0.0.1, with no
 * persistence, stopped (or killed, to simulate an outage) by the test that started it.
 * @module
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly process: ChildProcess;
  /** SIGKILL, as a crash: no shutdown, connections reset. Resolves when the process is gone. */
  kill(): Promise<void>;
  /** Graceful stop; resolves when the process is gone. */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'redis-server (the Debian package "redis-server") is required by the Redis tests and could not be installed; ' +
  'install it with: apt-get update && apt-get install -y redis-server';

let installed: boolean | undefined;

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function aptInstall(): boolean {
  // A lock timeout: several test files may start at once, and only one apt-get can hold dpkg's lock.
  const install = () =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', 'redis-server'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  if (install()) return true;
  spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { stdio: 'ignore' });
  return install();
}

/** Makes sure `redis-server` exists: installs Debian's package when missing, or throws saying what to install. */
export function ensureRedisServer(): void {
  if (installed) return;
  if (!hasRedisServer() && !(aptInstall() && hasRedisServer())) throw new Error(INSTALL_HINT);
  installed = true;
}

/** A free TCP port of 127.0.0.1 (free when probed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface RedisServerOptions {
  /** A port of your choice: a restart on the port of a killed server. @default a free port */
  port?: number;
  /** More `redis-server` arguments, e.g. `['--requirepass', 'secret']`. */
  args?: string[];
}

async function startOnce(port: number, args: string[]): Promise<RedisServer> {
  const child = spawn(
    'redis-server',
    // No RDB snapshots, no AOF: nothing is written anywhere, and a killed server comes back empty.
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir(), '--daemonize', 'no', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A test process that dies must not leave a server behind.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  child.once('exit', () => process.off('exit', reap));

  // Ready once it says so: the line is logged only after the port is bound (a taken port makes it exit).
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on port ${port} within 10 s: ${output.trim()}`));
    }, 10_000);
    const onData = () => {
      if (!output.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited on port ${port}: ${output.trim()}`));
    });
  });

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: child,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** Starts a `redis-server` on a free loopback port (installing Debian's package first if missing). */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  ensureRedisServer();
  const args = options.args ?? [];
  if (options.port !== undefined) return startOnce(options.port, args);
  let lastError: unknown;
  // The free port may be taken between our probe and redis-server's bind: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOnce(await freePort(), args);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
