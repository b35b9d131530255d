/**
 * `portcullis explain`: the real CLI evaluates one request against a policy file and prints the
 * decision, its reasons, headers and trace. Tokens from --as are signed by the CLI's test kit,
 * which the policy (a function of the kit, or a jwksUrl the kit answers for) trusts.
 */
import { describe, expect, it, test } from 'vitest';
import { EXAMPLE_KEYS } from '../../policies/internal.ts';
import { portcullis } from './run.ts';

const alice = JSON.stringify({ sub: 'u_alice', roles: ['user'] });
const bob = JSON.stringify({ sub: 'u_bob', roles: ['admin'] });

describe('portcullis explain', () => {
  it('explains a denial: status, reason, the rules that failed, headers and the trace', async () => {
    const { code, stdout } = await portcullis('explain', 'policies/demo.ts', 'GET /v1/users/u_bob', '--as', alice, '--ip', '203.0.113.7');
    expect(code).toBe(0);
    expect(stdout).toContain('GET https://127.0.0.1/v1/users/u_bob  (client 203.0.113.7)');
    expect(stdout).toContain('deny  403 authz.denied  GET /v1/users/:id');
    expect(stdout).toContain('  reasons: allow[0]: authz.role_missing; allow[1]: authz.not_owner');
    expect(stdout).toContain('  x-frame-options: DENY');
    expect(stdout).toMatch(/trace:\n  normalize pass   client 203\.0\.113\.7 over https\n/);
    expect(stdout).toContain('  authn     pass   user:u_alice');
    expect(stdout).toContain('  authz     deny   allow[0]: authz.role_missing; allow[1]: authz.not_owner');
    expect(stdout).toContain('events:\n  portcullis.deny authz.denied 403');
  });

  it('explains an allow: the route, the principal and its roles', async () => {
    const { code, stdout } = await portcullis('explain', 'policies/demo.ts', 'GET /v1/users/u_alice', '--as', bob);
    expect(code).toBe(0);
    expect(stdout).toContain('allow  GET /v1/users/:id');
    expect(stdout).toContain('  principal: user:u_bob  roles admin');
    expect(stdout).toContain('  authz     pass   allow[0]');
  });

  it('sends --header values: an allowed Origin gets its CORS headers', async () => {
    const { stdout } = await portcullis('explain', 'policies/demo.ts', 'GET https://localhost/v1/health', '--header', 'Origin: https://app.example.com');
    expect(stdout).toContain('GET https://localhost/v1/health');
    expect(stdout).toContain('allow  GET /v1/health');
    expect(stdout).toContain('  access-control-allow-origin: https://app.example.com');
    expect(stdout).toContain('  access-control-allow-credentials: true');
  });

  it('evaluates at --now: after the sunset, v0 is gone', async () => {
    const { stdout } = await portcullis('explain', 'policies/demo.ts', 'GET /v0/users/u_alice', '--as', alice, '--now', '2027-07-01T00:00:00Z');
    expect(stdout).toContain('deny  410 version.sunset  GET /v0/users/:id');
    expect(stdout).toContain('  sunset: Tue, 01 Jun 2027 00:00:00 GMT');
  });

  it('signs --as tokens a jwksUrl policy trusts, and explains a bad body', async () => {
    const claims = JSON.stringify({ sub: 'u_eve', roles: ['editor'], amr: ['otp'] });
    const { stdout } = await portcullis('explain', 'policies/public-read.ts', 'POST /v1/books', '--as', claims, '--body', '{"isbn":"9780141036144","title":"1984","authors":[],"language":"en"}');
    expect(stdout).toContain('deny  422 validate.invalid  POST /v1/books');
    expect(stdout).toContain('  authn     pass   editor:u_eve');
    expect(stdout).toContain('  error: body/authors');
  });

  it('sends --api-key in the policy\'s key header', async () => {
    const { stdout } = await portcullis('explain', 'policies/internal.ts', 'GET /internal/v1/transfers/trf_00000042', '--api-key', EXAMPLE_KEYS.reporting.key);
    expect(stdout).toContain('allow  GET /internal/v1/transfers/:transferId');
    expect(stdout).toContain('  principal: service:svc_reporting  scopes ledger:read');
  });

  it('prints the decision as JSON with --json', async () => {
    const { code, stdout } = await portcullis('explain', 'policies/saas.ts', 'GET /v1/me', '--json');
    expect(code).toBe(0);
    const { decision, events } = JSON.parse(stdout);
    expect(decision).toMatchObject({ kind: 'deny', status: 401, reason: 'authn.required', route: 'GET /v1/me' });
    expect(decision.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(decision.trace.at(-1)).toEqual({ stage: 'authn', outcome: 'deny', detail: 'authn.required' });
    expect(events).toHaveLength(1);
  });

  test.each([
    [['explain', 'policies/demo.ts'], 'explain takes a policy file and one "METHOD url" argument'],
    [['explain', 'policies/demo.ts', 'GET /v1/health', '--as', '{not json'], '--as takes JSON claims'],
    [['explain', 'policies/demo.ts', 'GET /v1/health', '--header', 'no-colon'], 'is not "Name: value"'],
    [['explain', 'policies/demo.ts', 'FETCH'], 'the request is "METHOD /path"'],
    [['explain', 'policies/demo.ts', 'GET ftp://example.com/x'], 'is neither a path'],
    [['explain', 'policies/demo.ts', 'GET /v1/health', '--now', 'yesterday'], '--now "yesterday" is not an ISO 8601 time'],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const { code, stderr } = await portcullis(...args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});
