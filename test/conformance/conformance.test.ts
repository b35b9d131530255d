/**
 * One suite, every runtime: the cases of cases.ts, in order, against a fresh server per runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cases, COMMON_HEADERS, type Case } from './cases.ts';
import type { RawResponse, Runtime } from './runtime.ts';
import { runtimes } from './runtimes.ts';

/** What differs between a response and a case's expectation, as readable lines. */
function differences(response: RawResponse, expected: NonNullable<Case['byRuntime']>[string]): string[] {
  const problems: string[] = [];
  if (response.status !== expected.status) problems.push(`status ${response.status}, expected ${expected.status}`);
  for (const [name, want] of Object.entries({ ...(expected.byServer ? {} : COMMON_HEADERS), ...expected.headers })) {
    const got = response.headers.get(name);
    const ok = want === null ? got === null : want instanceof RegExp ? got !== null && want.test(got) : got === want;
    if (!ok) problems.push(`header ${name}: ${got === null ? 'absent' : JSON.stringify(got)}, expected ${want === null ? 'absent' : String(want)}`);
  }
  if (expected.cookies) {
    const got = response.headers.getSetCookie();
    if (JSON.stringify(got) !== JSON.stringify(expected.cookies)) problems.push(`Set-Cookie lines ${JSON.stringify(got)}, expected ${JSON.stringify(expected.cookies)}`);
  }
  for (const secret of expected.bodyExcludes ?? []) {
    if (response.body.includes(secret)) problems.push(`body contains "${secret}"`);
  }
  return problems;
}

describe.each(runtimes)('$name', (runtime: Runtime) => {
  let server: Awaited<ReturnType<Runtime['start']>> | undefined;

  beforeAll(async () => {
    server = await runtime.start();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it.each(cases)('$name', async ({ request: usualRequest, expect: usual, byRuntime, requestByRuntime }) => {
    if (!server) throw new Error(`${runtime.name} did not start`);
    const request = requestByRuntime?.[runtime.name] ?? usualRequest;
    const expected = byRuntime?.[runtime.name] ?? usual;
    const response = await server.send(request);
    const context = `${request.method} ${request.target} → ${response.status} ${response.body.slice(0, 300)}`;
    expect(differences(response, expected), context).toEqual([]);
    if (expected.json) expect(JSON.parse(response.body), context).toMatchObject(expected.json);
  });
});
