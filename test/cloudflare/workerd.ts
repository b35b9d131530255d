/**
 * Test infrastructure: runs a Worker entry on workerd (Miniflare) the way `wrangler dev` would —
 * bundled by esbuild with the Workers export conditions, with wrangler.toml's compatibility date,
 * flags and vars (read by wrangler's own config reader) — and sends it raw HTTP requests.
 * @module
 */

import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare, type WorkerOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface WorkerdOptions {
  /** The Worker entry. @default wrangler.toml's `main` */
  entry?: string;
  /** Bindings over wrangler.toml's vars: the origin URL, secrets. `undefined` removes a var. */
  bindings?: Record<string, string | undefined>;
  /**
   * The URL the Worker sees (`request.url`): the public origin the client reached over HTTPS at the
   * edge. workerd's own socket is plain HTTP on 127.0.0.1.
   * @default 'https://api.example.com'
   */
  publicUrl?: string;
  /** A Worker (ES module source) that receives the gateway's outbound fetches, e.g. to serve a JWKS. */
  outbound?: { script: string; bindings?: Record<string, string> };
}

export interface RunningWorker {
  /** workerd's HTTP socket, `http://127.0.0.1:<port>`. */
  url: URL;
  /** Lines the Worker wrote to stdout/stderr (console.log: the security events). */
  logs: string[];
  /** A request with an exact request target, as Cloudflare's edge would pass it on: CF-Connecting-IP is set. */
  send(request: { method?: string; target: string; headers?: Record<string, string> | string[]; body?: string }, clientIp?: string): Promise<RawReply>;
  stop(): Promise<void>;
}

export interface RawReply {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * Bundles `entry` as wrangler does for Workers (ESM, `workerd`/`worker`/`browser` export conditions),
 * with `portcullis` itself resolved to its sources (the `@portcullis/source` condition), not dist/.
 */
export async function bundleWorker(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['@portcullis/source', 'workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** Starts the Worker on workerd. */
export async function startWorkerd(options: WorkerdOptions = {}): Promise<RunningWorker> {
  const config = unstable_getMiniflareWorkerOptions(`${ROOT}wrangler.toml`);
  const script = await bundleWorker(options.entry ?? config.main!);
  const bindings: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...(config.workerOptions.bindings as Record<string, string>), ...options.bindings })) {
    if (value !== undefined) bindings[name] = value;
  }
  const logs: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      logs.push(...lines.filter(Boolean));
    });
  };

  const gateway: WorkerOptions = {
    name: 'gateway',
    modules: true,
    script,
    compatibilityDate: config.workerOptions.compatibilityDate,
    compatibilityFlags: config.workerOptions.compatibilityFlags,
    bindings,
    ...(options.outbound ? { outboundService: 'outbound' } : {}),
  };
  const workers: WorkerOptions[] = [gateway];
  if (options.outbound) {
    workers.push({ name: 'outbound', modules: true, script: options.outbound.script, compatibilityDate: gateway.compatibilityDate, bindings: options.outbound.bindings });
  }
  const mf = new Miniflare({
    workers,
    host: '127.0.0.1',
    port: 0,
    upstream: options.publicUrl ?? 'https://api.example.com',
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      collect(stdout);
      collect(stderr);
    },
  });
  const url = await mf.ready;

  return {
    url,
    logs,
    send: (request, clientIp = '127.0.0.1') => sendRaw(url, request, clientIp),
    stop: () => mf.dispose(),
  };
}

/**
 * Sends a request over HTTP/1.1 to workerd's socket with the target exactly as given. The runner
 * stands where Cloudflare's edge stands: it overwrites CF-Connecting-IP with the client address.
 */
function pairs(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < lines.length; i += 2) out[lines[i]!] = lines[i + 1]!;
  return out;
}

function sendRaw(url: URL, request: { method?: string; target: string; headers?: Record<string, string> | string[]; body?: string }, clientIp: string): Promise<RawReply> {
  const given = Array.isArray(request.headers) ? request.headers : Object.entries(request.headers ?? {}).flat();
  const headers: string[] = [];
  for (let i = 0; i < given.length; i += 2) {
    if (given[i]!.toLowerCase() !== 'cf-connecting-ip') headers.push(given[i]!, given[i + 1]!);
  }
  headers.push('cf-connecting-ip', clientIp);
  if (request.body !== undefined && !headers.some((name, i) => i % 2 === 0 && name.toLowerCase() === 'content-length')) {
    headers.push('content-length', String(Buffer.byteLength(request.body)));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      // node:http adds its own Host to an object of headers, never to a list of lines.
      { host: url.hostname, port: url.port, path: request.target, method: request.method ?? 'GET', headers: Array.isArray(request.headers) ? headers : pairs(headers), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const out = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          resolve({ status: res.statusCode!, headers: out, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(request.body);
  });
}
