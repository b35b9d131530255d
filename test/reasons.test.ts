/**
 * REASONS is complete: every reason code the engine, the authenticators, the proxy and the adapters
 * can put in a denial has its own row (status and title), so docs/reason-codes.md, generated from the
 * table, lists every `code` a caller can receive.
 *
 * The codes are collected by a static scan, not by running requests: every quoted string literal
 * shaped like a reason code (`'family.snake_case'`) in the non-test `.ts` files of `src/` and
 * `adapters/`. Reason codes are always written as such literals (`deny(x, 'route.not_found', …)`,
 * `{ kind: 'failure', reason: 'authn.key_revoked' }`, `return 'authn.token_expired'`,
 * `problemResponse('origin.unavailable', …)`), so a new code cannot hide from the scan. A literal
 * of that shape that is not a reason code must be named in NOT_REASONS below, with why.
 * `tools/` is not scanned: lint and probe literals are finding ids (`cors.null_origin`) that share
 * the namespace but are never a request's answer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REASONS, reasonInfo } from '../src/decision.ts';

const root = new URL('..', import.meta.url).pathname;

/** Literals of a reason code's shape that are something else. */
const NOT_REASONS: Record<string, string> = {
  'portcullis.*': 'log event names (portcullis.deny, portcullis.error, …)',
  'identity.*': "the identity assertion's verifier results, returned to the origin's code, never a gateway answer",
  'cors.origins': 'a policy path in a definePolicy error message',
  'cors.credentials': 'a policy path in a definePolicy error message',
  'ratelimit.store_error': 'the reason of a portcullis.error log line; the request gets ratelimit.unavailable or passes',
  'http.route': 'an OpenTelemetry attribute name (portcullis/otel)',
  'authn.jwks_key_skipped': 'the reason of a notice about an unusable key in a JWKS; no request is answered with it',
};

const CODE_LITERAL = /(['"])([a-z]+\.[a-z][a-z_]*)\1/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !/\.(test|type-test)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** Every reason-shaped literal, with the files it occurs in. */
function literals(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('adapters')]) {
    for (const [, , code] of readFileSync(join(root, file), 'utf8').matchAll(CODE_LITERAL)) {
      found.set(code!, [...(found.get(code!) ?? []), relative(root, join(root, file))]);
    }
  }
  return found;
}

const isExcluded = (code: string) => code in NOT_REASONS || `${code.slice(0, code.indexOf('.'))}.*` in NOT_REASONS;

describe('REASONS', () => {
  const found = literals();
  const emitted = [...found.keys()].filter((code) => !isExcluded(code)).sort();

  it('the scan finds the codes of every stage (it reads the sources it claims to)', () => {
    for (const code of ['request.malformed_path', 'route.not_found', 'authn.token_expired', 'authn.key_revoked', 'authn.token_inactive', 'authz.not_owner', 'validate.too_deep', 'ratelimit.exceeded', 'origin.unavailable', 'gateway.misconfigured']) {
      expect(emitted).toContain(code);
    }
  });

  it('has a row for every reason code the code base can emit', () => {
    const missing = emitted.filter((code) => !(code in REASONS)).map((code) => `${code} (${[...new Set(found.get(code))].join(', ')})`);
    expect(missing, 'add these to REASONS in src/decision.ts (or to NOT_REASONS here if they are not reason codes)').toEqual([]);
  });

  it('names no exclusion that no longer occurs', () => {
    const stale = Object.keys(NOT_REASONS).filter((name) =>
      name.endsWith('.*') ? ![...found.keys()].some((code) => code.startsWith(name.slice(0, -1))) : !found.has(name),
    );
    expect(stale).toEqual([]);
  });

  it('keeps the family statuses as a fail-closed net for a code that is not listed', () => {
    expect(reasonInfo('authn.some_future_code')).toEqual({ status: 401, title: 'Unauthorized' });
    expect(reasonInfo('authz.some_future_code')).toEqual({ status: 403, title: 'Forbidden' });
    expect(reasonInfo('nonsense.code')).toEqual({ status: 500, title: 'Internal server error' });
  });
});
