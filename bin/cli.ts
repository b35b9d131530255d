/**
 * The `portcullis` command: argv, file loading and printing. What it prints is computed by the
 * library (portcullis/lint, portcullis/openapi, portcullis/testing), so it can be tested without a process.
 *
 * Exit codes: 0 fine; 1 lint errors, failed or missing spec cases, probe errors (a bypass), a diff
 * that widens access under --fail-on-widen; 2 usage
 * error, a file that does not load, or a probe that cannot start.
 * @module
 */

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { PolicyError } from '../src/errors.ts';
import { ALL_RULES, formatFindings, INVALID_POLICY_RULE, lintPolicy, OWASP_API_TOP_10, parsePath, summarize, toJsonReport, toSarif, type LintFinding, type LintTarget } from '../tools/lint/index.ts';
import { toOpenApi } from '../tools/openapi/index.ts';
import { FAMILIES, formatProbeReport, probe, ProbeSetupError, probeToSarif, toProbeJson, type ProbeCredentials, type ProbeFamily, type ProbeSender } from '../tools/probe/index.ts';
import { explain, formatExplanation, kitOptionsOf, policySourceOf, resolvePolicy, type PolicySource } from '../tools/testing/explain.ts';
import { createTestKit, runSpec, type CaseIdentity, type PolicySpec } from '../tools/testing/index.ts';
import type { JWK } from 'jose';
import { importModule } from './import-file.ts';
import { diffCommand, importCommand, replayCommand, type CliIo } from './review.ts';

const USAGE = `portcullis — policies as code

Usage:
  portcullis lint <policy-file> [--format text|json|sarif] [--target node|workers|deno|bun] [--now ISO] [--out file]
  portcullis test <dir> [--require-coverage]
  portcullis explain <policy-file> "<METHOD> <url>" [--header 'Name: value']… [--as '<claims json>'|anonymous]
                     [--api-key KEY] [--body '<json>'] [--ip 203.0.113.7] [--now ISO] [--json]
  portcullis openapi <policy-file> [--out file] [--title T] [--api-version V] [--server URL]…
  portcullis probe <base-url> --policy <policy-file> [--format text|json|sarif] [--out file]
                   [--token JWT | --login 'POST /path' --username U [--password P] | --credentials file]
                   [--signing-key private-jwk-file] [--subject ID] [--api-key KEY] [--other-id ID]
                   [--jwks file] [--fetch-jwks] [--trusted-proxy] [--aggressive]
                   [--max-requests N] [--timeout ms] [--http-port N] [--skip family,…]
  portcullis diff <old-policy> <new-policy> [--format text|json|markdown] [--fail-on-widen] [--out file]
  portcullis replay <events.jsonl|requests.har> --policy <policy-file> [--format text|json] [--client-ip IP]
                    [--examples N] [--out file]
  portcullis import <openapi.json|yaml> --out <policy.ts> [--from portcullis]
  portcullis rules      (every lint rule: id, severity, OWASP API Security Top 10 item)

A policy file default-exports the policy, a function (kit) => policy (the CLI calls it with a
throwaway test kit, whose key signs explain's --as tokens), or a spec (defineSpec).

probe sends attacks derived from the policy to <base-url> (its origin only; never a redirect) and
reports every answer the policy does not allow. Point it at a test deployment: a request that gets
through reaches the application. Secrets may come from the environment instead of argv:
PORTCULLIS_PROBE_TOKEN, PORTCULLIS_PROBE_PASSWORD, PORTCULLIS_PROBE_API_KEY.

Exit codes: 0 fine; 1 lint errors, failed spec cases, probe errors (a bypass) or, with
--fail-on-widen, a diff that widens access; 2 usage errors,
files that do not load, and a probe that cannot start (target unreachable, login failed).`;

class UsageError extends Error {}
/** A file that is missing or exports no policy: exit 2, without the usage text. */
class FileError extends UsageError {}

// By the package's own name: this file runs from bin/ in the repository and from dist/bin/ when installed.
const { version } = createRequire(import.meta.url)('portcullis/package.json') as { version: string };

/** Imports a TypeScript or JavaScript module by path (the launcher chooses how: bin/import-file.ts). */
async function importFile(file: string): Promise<Record<string, unknown>> {
  const path = resolve(file);
  try {
    statSync(path);
  } catch {
    throw new FileError(`${file}: no such file`);
  }
  return importModule(path);
}

/** The policy source a file exports. A PolicyError its definePolicy throws while loading propagates. */
async function loadSource(file: string): Promise<PolicySource> {
  const exports = await importFile(file);
  try {
    return policySourceOf(exports, file);
  } catch (error) {
    throw new FileError((error as Error).message);
  }
}

/** A path as SARIF and editors want it: relative to the working directory, forward slashes. */
const displayPath = (file: string) => relative(process.cwd(), resolve(file)).split(sep).join('/');

function write(text: string, out: string | undefined) {
  if (out) writeFileSync(out, text.endsWith('\n') ? text : `${text}\n`);
  else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function lint(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { format: { type: 'string', default: 'text' }, target: { type: 'string', default: 'node' }, now: { type: 'string' }, out: { type: 'string' } },
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length) throw new UsageError('lint takes one policy file');
  const format = values.format!;
  if (!['text', 'json', 'sarif'].includes(format)) throw new UsageError(`--format is text, json or sarif, not "${format}"`);
  const target = values.target as LintTarget;
  if (!['node', 'workers', 'deno', 'bun'].includes(target)) throw new UsageError(`--target is node, workers, deno or bun, not "${target}"`);
  if (values.now !== undefined && Number.isNaN(Date.parse(values.now))) throw new UsageError(`--now "${values.now}" is not an ISO 8601 time`);

  let findings: LintFinding[];
  try {
    const source = await loadSource(file);
    const policy = await resolvePolicy(source, await createTestKit(kitOptionsOf(source)));
    findings = lintPolicy(policy, { now: values.now, target });
  } catch (error) {
    // definePolicy threw while the file loaded: its issues are the findings.
    if (!(error instanceof PolicyError)) throw error;
    const owasp = OWASP_API_TOP_10[INVALID_POLICY_RULE.owasp];
    findings = error.issues.map((issue) => ({ rule: INVALID_POLICY_RULE.id, severity: 'error', path: issue.path, keys: parsePath(issue.path), message: issue.message, fix: INVALID_POLICY_RULE.fix, owasp }));
  }
  const source = { file: displayPath(file), text: readFileSync(resolve(file), 'utf8') };
  const output =
    format === 'json'
      ? JSON.stringify(toJsonReport(findings, source), null, 2)
      : format === 'sarif'
        ? JSON.stringify(toSarif(findings, { ...source, toolVersion: version }), null, 2)
        : formatFindings(findings, source);
  write(output, values.out);
  return summarize(findings).errors ? 1 : 0;
}

/** `*.spec.ts` files under a directory, sorted, skipping node_modules and dot directories. */
function specFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) out.push(...specFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.spec.ts')) out.push(path);
  }
  return out;
}

async function test(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'require-coverage': { type: 'boolean', default: false } } });
  const [dir, ...extra] = positionals;
  if (!dir || extra.length) throw new UsageError('test takes one directory');
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new FileError(`${dir}: not a directory`);
  const files = specFiles(dir.replace(/\/+$/, ''));
  let passed = 0;
  let failed = 0;
  let gaps = 0;
  for (const file of files) {
    const spec = (await importFile(file)).default as PolicySpec | undefined;
    if (!spec || typeof spec !== 'object' || !('cases' in spec)) {
      console.log(`✗ ${displayPath(file)}: the default export is not a spec (defineSpec({ name, policy, cases }))`);
      failed++;
      continue;
    }
    const report = await runSpec(spec);
    console.log(`${displayPath(file)} — ${report.name}`);
    for (const result of report.results) {
      console.log(`  ${result.ok ? '✓' : '✗'} ${result.name}`);
      if (!result.ok) console.log(`    ${result.message!.replaceAll('\n', '\n    ')}`);
    }
    if (!report.results.length) console.log('  ✗ no case ran: a spec without cases proves nothing');
    passed += report.results.length - report.failed.length;
    failed += report.failed.length + (report.results.length ? 0 : 1);
    const uncovered = report.coverage.filter((route) => !route.allowed || !route.denied);
    gaps += uncovered.length;
    for (const route of uncovered) {
      const missing = [!route.allowed && 'allowed', !route.denied && 'denied'].filter(Boolean).join(' or ');
      console.log(`  ! ${route.route}: no ${missing} case`);
    }
    if (!uncovered.length && report.coverage.length) console.log(`  every route (${report.coverage.length}) has an allowed and a denied case`);
  }
  if (!files.length) console.log(`✗ no *.spec.ts file under ${dir}`);
  const coverageFails = values['require-coverage'] && gaps > 0;
  console.log(`\n${passed} passed, ${failed} failed${gaps ? ` (${gaps} route${gaps === 1 ? '' : 's'} not fully specified)` : ''}`);
  return failed || passed === 0 || coverageFails ? 1 : 0;
}

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UsageError(`--header "${text}" is not "Name: value"`);
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

function parseIdentity(text: string | undefined, apiKey: string | undefined): CaseIdentity | undefined {
  if (apiKey !== undefined) return { apiKey };
  if (text === undefined) return undefined;
  if (text === 'anonymous') return 'anonymous';
  try {
    const claims = JSON.parse(text) as unknown;
    if (typeof claims === 'object' && claims !== null && !Array.isArray(claims)) return claims as CaseIdentity;
  } catch {
    // reported below
  }
  throw new UsageError(`--as takes JSON claims such as '{"sub":"u_alice","roles":["user"]}', or "anonymous"`);
}

async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      header: { type: 'string', short: 'H', multiple: true },
      as: { type: 'string' },
      'api-key': { type: 'string' },
      body: { type: 'string' },
      ip: { type: 'string' },
      now: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [file, request, ...extra] = positionals;
  if (!file || !request || extra.length) throw new UsageError('explain takes a policy file and one "METHOD url" argument');
  if (values.now !== undefined && Number.isNaN(Date.parse(values.now))) throw new UsageError(`--now "${values.now}" is not an ISO 8601 time`);
  const source = await loadSource(file);
  let explanation;
  try {
    explanation = await explain(source, {
      request,
      headers: (values.header ?? []).map(parseHeader),
      as: parseIdentity(values.as, values['api-key']),
      body: values.body,
      clientIp: values.ip,
      now: values.now,
    });
  } catch (error) {
    if (error instanceof TypeError && !(error instanceof PolicyError)) throw new UsageError(error.message);
    throw error;
  }
  if (values.json) {
    const { decision } = explanation;
    const { settle: _settle, request: _request, headers, ...rest } = decision as typeof decision & { request?: Request };
    console.log(JSON.stringify({ ...explanation, decision: { ...rest, headers: Object.fromEntries(headers) } }, null, 2));
  } else {
    console.log(formatExplanation(explanation));
  }
  return 0;
}

async function openapi(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, title: { type: 'string' }, 'api-version': { type: 'string' }, server: { type: 'string', multiple: true } },
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length) throw new UsageError('openapi takes one policy file');
  const source = await loadSource(file);
  const policy = await resolvePolicy(source, await createTestKit(kitOptionsOf(source)));
  const document = toOpenApi(policy, { title: values.title, version: values['api-version'], servers: values.server });
  write(JSON.stringify(document, null, 2), values.out);
  if (values.out) console.error(`wrote ${values.out}: ${Object.keys(document.paths as object).length} paths`);
  return 0;
}

/** Reads a JSON file an option names (a JWK, a JWKS, credentials). */
function readJson(file: string, option: string): unknown {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch {
    throw new FileError(`${option} ${file}: no such file`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FileError(`${option} ${file}: not JSON`);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function positiveInteger(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`${option} takes a positive whole number, not "${value}"`);
  return number;
}

/**
 * A sender that puts the target on the wire exactly as written (fetch would resolve `..`, `%2e%2e`
 * and `\` first): node:http(s) with the request target as given, no redirects followed.
 */
function rawSender(): ProbeSender {
  return (url, init) =>
    new Promise((resolvePromise, reject) => {
      const match = /^(https?):\/\/([^/]+)(\/.*)$/.exec(url);
      if (!match) return reject(new TypeError(`not an absolute URL: ${url}`));
      const [, scheme, authority, path] = match as unknown as [string, string, string, string];
      const { hostname, port } = new URL(`${scheme}://${authority}`);
      const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.from(init.body);
      const headers: Record<string, string> = { ...init.headers };
      if (body) headers['content-length'] = String(body.byteLength);
      const send = scheme === 'https' ? httpsRequest : httpRequest;
      const req = send({ hostname: hostname.replace(/^\[|\]$/g, ''), port, path, method: init.method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < 64 * 1024) chunks.push(chunk);
          size += chunk.byteLength;
        });
        res.on('end', () => {
          const out = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          resolvePromise({ status: res.statusCode!, headers: out, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      req.setTimeout(init.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${init.timeoutMs} ms`), { name: 'TimeoutError' })));
      req.on('error', reject);
      req.end(body);
    });
}

/** The credentials of `probe`: a --credentials file, overridden by options and the environment. */
function probeCredentials(values: Record<string, string | boolean | undefined>): { credentials: ProbeCredentials; otherId?: string } {
  const file = typeof values.credentials === 'string' ? readJson(values.credentials, '--credentials') : {};
  if (!isObject(file)) throw new UsageError('--credentials: the file holds a JSON object: { token?, login?, signingKey?, subject?, apiKey?, otherId? }');
  const string = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  const credentials: ProbeCredentials = {};
  credentials.token = string(values.token) ?? string(process.env.PORTCULLIS_PROBE_TOKEN) ?? string(file.token);
  credentials.apiKey = string(values['api-key']) ?? string(process.env.PORTCULLIS_PROBE_API_KEY) ?? string(file.apiKey);
  credentials.subject = string(values.subject) ?? string(file.subject);
  const fileLogin = isObject(file.login) ? file.login : {};
  const route = string(values.login) ?? string(fileLogin.route);
  if (route) {
    const username = string(values.username) ?? string(fileLogin.username);
    const password = string(values.password) ?? string(process.env.PORTCULLIS_PROBE_PASSWORD) ?? string(fileLogin.password);
    if (!username || !password) throw new UsageError('--login needs --username and a password (--password or PORTCULLIS_PROBE_PASSWORD)');
    credentials.login = { route, username, password };
  } else if (values.username !== undefined || values.password !== undefined) {
    throw new UsageError('--username and --password go with --login');
  }
  const signingKey = typeof values['signing-key'] === 'string' ? readJson(values['signing-key'], '--signing-key') : file.signingKey;
  if (signingKey !== undefined) {
    if (!isObject(signingKey) || typeof signingKey.kty !== 'string') throw new UsageError('--signing-key: the file holds a private JWK');
    credentials.signingKey = signingKey;
  }
  return { credentials, otherId: string(values['other-id']) ?? string(file.otherId) };
}

async function probeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      policy: { type: 'string' },
      format: { type: 'string', default: 'text' },
      out: { type: 'string' },
      token: { type: 'string' },
      login: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      credentials: { type: 'string' },
      'signing-key': { type: 'string' },
      subject: { type: 'string' },
      'api-key': { type: 'string' },
      'other-id': { type: 'string' },
      jwks: { type: 'string' },
      'fetch-jwks': { type: 'boolean', default: false },
      'trusted-proxy': { type: 'boolean', default: false },
      aggressive: { type: 'boolean', default: false },
      'max-requests': { type: 'string' },
      timeout: { type: 'string' },
      'http-port': { type: 'string' },
      skip: { type: 'string' },
    },
  });
  const [baseUrl, ...extra] = positionals;
  if (!baseUrl || extra.length) throw new UsageError('probe takes one base URL (http:// or https://)');
  if (!values.policy) throw new UsageError('probe needs --policy <policy-file>');
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new UsageError(`"${baseUrl}" is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`the base URL must be http:// or https://, not ${base.protocol}`);
  const format = values.format!;
  if (!['text', 'json', 'sarif'].includes(format)) throw new UsageError(`--format is text, json or sarif, not "${format}"`);
  const maxRequests = positiveInteger(values['max-requests'], '--max-requests');
  const timeoutMs = positiveInteger(values.timeout, '--timeout');
  const httpPort = positiveInteger(values['http-port'], '--http-port');
  const skip = values.skip === undefined ? [] : values.skip.split(',').map((name) => name.trim());
  const unknown = skip.filter((name) => !(FAMILIES as readonly string[]).includes(name));
  if (unknown.length) throw new UsageError(`--skip: unknown famil${unknown.length > 1 ? 'ies' : 'y'} ${unknown.join(', ')} (one of ${FAMILIES.join(', ')})`);
  const { credentials, otherId } = probeCredentials(values);
  let jwks: { keys: JWK[] } | undefined;
  if (values.jwks !== undefined) {
    const read = readJson(values.jwks, '--jwks');
    const keys = isObject(read) && Array.isArray(read.keys) ? read.keys : isObject(read) && typeof read.kty === 'string' ? [read] : undefined;
    if (!keys) throw new UsageError('--jwks: the file holds a JWKS ({ "keys": [...] }) or one public JWK');
    jwks = { keys: keys as JWK[] };
  }

  const source = await loadSource(values.policy);
  const kit = await createTestKit(kitOptionsOf(source));
  const policy = await resolvePolicy(source, kit);
  let report;
  try {
    report = await probe(policy, {
      baseUrl,
      credentials,
      otherId,
      trustedProxy: values['trusted-proxy'],
      aggressive: values.aggressive,
      maxRequests,
      timeoutMs,
      httpPort,
      jwks,
      fetchJwks: values['fetch-jwks'],
      // A policy function was given the CLI's throwaway test key: it is not the deployment's.
      ignoreKeys: [kit.publicJwk],
      rawSend: rawSender(),
      skip: skip as ProbeFamily[],
    });
  } catch (error) {
    if (error instanceof ProbeSetupError) throw new FileError(error.message);
    throw error;
  }
  const file = displayPath(values.policy);
  const output =
    format === 'json'
      ? JSON.stringify(toProbeJson(report, { file }), null, 2)
      : format === 'sarif'
        ? JSON.stringify(probeToSarif(report, { file, text: readFileSync(resolve(values.policy), 'utf8'), toolVersion: version }), null, 2)
        : formatProbeReport(report, { file });
  write(output, values.out);
  if (values.out && format !== 'text') console.error(`wrote ${values.out}: ${report.findings.length} findings, ${report.requests} requests`);
  return report.summary.errors ? 1 : 0;
}

function rules(): number {
  for (const rule of ALL_RULES) {
    const owasp = OWASP_API_TOP_10[rule.owasp];
    console.log(`${rule.id.padEnd(34)} ${rule.severity.padEnd(7)} ${owasp.id.padEnd(9)} ${rule.title}`);
  }
  return 0;
}

const reviewIo: CliIo = { loadSource, write, displayPath, usage: (message) => new UsageError(message), file: (message) => new FileError(message) };

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'lint':
      return lint(rest);
    case 'test':
      return test(rest);
    case 'explain':
      return explainCommand(rest);
    case 'openapi':
      return openapi(rest);
    case 'probe':
      return probeCommand(rest);
    case 'diff':
      return diffCommand(rest, reviewIo);
    case 'replay':
      return replayCommand(rest, reviewIo);
    case 'import':
      return importCommand(rest, reviewIo);
    case 'rules':
      return rules();
    case '--version':
    case '-v':
      console.log(version);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || String((error as { code?: unknown } | null)?.code).startsWith('ERR_PARSE_ARGS')) {
    console.error(`portcullis: ${(error as Error).message}${error instanceof FileError ? '' : `\n\n${USAGE}`}`);
  } else if (error instanceof PolicyError) {
    console.error(`portcullis: the policy is invalid (definePolicy):\n${error.message}`);
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  }
  process.exitCode = 2;
}
// Engines may hold timers (caches, stores); the command is done.
process.exit(process.exitCode);
