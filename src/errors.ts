/**
 * Errors thrown at definition time. A request never throws: it gets a Decision.
 * @module
 */

/** A policy (or an option of a rule factory) is malformed. `path` names the place in the policy object. */
export class PolicyError extends TypeError {
  readonly code = 'ERR_POLICY_INVALID';
  readonly path: string;
  readonly issues: readonly { path: string; message: string }[];

  constructor(issues: readonly { path: string; message: string }[]) {
    super(issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('\n'));
    this.name = 'PolicyError';
    this.issues = issues;
    this.path = issues[0]?.path ?? '';
  }
}

/** Throws a PolicyError for one problem at `path`. */
export function policyError(path: string, message: string): never {
  throw new PolicyError([{ path, message }]);
}

/**
 * Throws a PolicyError naming the first option a factory does not know: a misspelt option
 * (`jwk:` for `jwks:`) is named as such, not reported as whatever is then missing.
 */
export function refuseUnknownOptions(factory: string, options: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) policyError(`${factory}.${key}`, 'unknown key (a typo, or an option this version does not have)');
  }
}
