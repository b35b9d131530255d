/**
 * `portcullis/testing`: unit-test policies like code. Sign test tokens with a throwaway key the
 * policy under test trusts, make API keys, pin the clock, and run table-driven cases against a
 * policy without any server — from vitest, `bun test`, `deno test` or `portcullis test`.
 *
 * @example
 * ```ts
 * const spec = defineSpec({
 *   name: 'users API',
 *   policy: (kit) => usersPolicy({ jwks: kit.jwks }),
 *   cases: [{ request: 'GET /v1/users/u_bob', as: { sub: 'u_alice', roles: ['user'] }, expect: 403, reason: 'authz.denied' }],
 * });
 * const report = await runSpec(spec); // report.failed lists each failure with its trace
 * ```
 * @module
 */

export { createTestKit, DEFAULT_TEST_TIME, type TestKit, type TestKitOptions } from './kit.ts';
export {
  assertSpec,
  buildCaseRequest,
  createTestEngine,
  defineSpec,
  formatTrace,
  runSpec,
  type CaseIdentity,
  type CaseResult,
  type PolicyCase,
  type PolicySpec,
  type RouteCoverage,
  type SpecReport,
} from './spec.ts';
export { explain, formatExplanation, kitOptionsOf, policySourceOf, resolvePolicy } from './explain.ts';
export type { Explanation, ExplainOptions, PolicySource } from './explain.ts';
