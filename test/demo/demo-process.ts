/**
 * The demo as `npm start` runs it, in a child process on a free port, for tests that read what it
 * writes: its stdout (the security events, one JSON line each) is kept apart from the banner.
 * @module
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface DemoProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** Everything the demo wrote to stdout so far. */
  stdout(): string;
  /** SIGTERM, and the exit awaited (nothing when it has exited already). */
  stop(): Promise<void>;
}

/** Starts `policies/demo-gateway.ts` with `env` over the inherited environment (`PORT=0`); resolves once it listens. */
export async function spawnDemo(env: Record<string, string>): Promise<DemoProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'policies/demo-gateway.ts'], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  const base = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${stderr}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  return { child, base, stdout: () => stdout, stop };
}
