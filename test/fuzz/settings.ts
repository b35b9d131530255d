/**
 * fast-check settings shared by the fuzz suite: a fixed seed, so a failure in CI replays the same way
 * on a laptop (fast-check prints the seed and the path of the counterexample), and bounded runs, so
 * the whole folder stays within a few seconds. `FUZZ_SEED=<n>` tries another seed; `FUZZ_RUNS=<k>`
 * multiplies every run count for a longer local session.
 */
import type { Parameters } from 'fast-check';

export const SEED = Number(process.env.FUZZ_SEED ?? 20260309);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);

/** Parameters for one property: the suite's seed and `numRuns` runs (times FUZZ_RUNS). */
export function runs<T>(numRuns: number): Parameters<T> {
  return { seed: SEED, numRuns: Math.max(1, Math.round(numRuns * SCALE)) };
}
