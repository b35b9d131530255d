/**
 * The one way the in-process benches time `evaluate()`: a batch of Requests, built before the clock
 * starts, evaluated one after another. Every request must be allowed: a denial means the bench
 * measures a refusal, not the path it names, and throws.
 * @module
 */

import type { Engine, EvaluateContext } from '../src/index.ts';

/** µs per request of evaluating `requests` in turn through `engine`. */
export async function timeEvaluations(engine: Engine, requests: readonly Request[], context: EvaluateContext, label = 'evaluate'): Promise<number> {
  const start = performance.now();
  for (const each of requests) {
    const decision = await engine.evaluate(each, context);
    if (decision.kind !== 'allow') throw new Error(`${label}: denied: ${decision.reason}`);
  }
  return ((performance.now() - start) * 1000) / requests.length;
}
