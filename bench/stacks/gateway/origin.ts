/**
 * Where a gateway stack forwards to: the bare `node:http` origin the runner started (BENCH_ORIGIN).
 * @module
 */

/** The origin the runner passed in `BENCH_ORIGIN`, `http://127.0.0.1:<port>`. */
export function originFromEnv(): URL {
  const raw = process.env.BENCH_ORIGIN;
  if (!raw) throw new Error('BENCH_ORIGIN is not set: gateway stacks are started by bench/run.ts');
  return new URL(raw);
}
