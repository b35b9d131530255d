/**
 * The review commands of the CLI: `diff` (two policies), `replay` (a log or a HAR under a policy)
 * and `import` (an OpenAPI document to a policy skeleton). bin/cli.ts dispatches to them and hands
 * over how it loads files and writes output, so that the exit codes and errors are the CLI's.
 * @module
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Policy } from '../src/policy/types.ts';
import { diffPolicies, diffToMarkdown, formatDiff, toDiffJson } from '../tools/diff/index.ts';
import { importOpenApi, parseOpenApiText } from '../tools/import/index.ts';
import { formatReplay, readReplayInput, replay } from '../tools/replay/index.ts';
import { kitOptionsOf, resolvePolicy, type PolicySource } from '../tools/testing/explain.ts';
import { createTestKit } from '../tools/testing/index.ts';

/** What the review commands borrow from the CLI. */
export interface CliIo {
  loadSource(file: string): Promise<PolicySource>;
  write(text: string, out: string | undefined): void;
  displayPath(file: string): string;
  /** An error that exits 2 with the usage text. */
  usage(message: string): Error;
  /** An error that exits 2 without it (a file that is missing or does not load). */
  file(message: string): Error;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function readText(file: string, io: CliIo): string {
  try {
    return readFileSync(resolve(file), 'utf8');
  } catch {
    throw io.file(`${file}: no such file`);
  }
}

/** `portcullis diff <old> <new> [--format text|json|markdown] [--fail-on-widen] [--out file]` */
export async function diffCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { format: { type: 'string', default: 'text' }, 'fail-on-widen': { type: 'boolean', default: false }, out: { type: 'string' } },
  });
  const [oldFile, newFile, ...extra] = positionals;
  if (!oldFile || !newFile || extra.length) throw io.usage('diff takes two policy files: the old one and the new one');
  const format = values.format!;
  if (!['text', 'json', 'markdown'].includes(format)) throw io.usage(`--format is text, json or markdown, not "${format}"`);
  const oldSource = await io.loadSource(oldFile);
  const newSource = await io.loadSource(newFile);
  // One kit for both: a policy that trusts the kit's key gets the same key on either side.
  const kit = await createTestKit(kitOptionsOf(newSource) ?? kitOptionsOf(oldSource));
  const changes = diffPolicies(await resolvePolicy(oldSource, kit), await resolvePolicy(newSource, kit));
  const files = { old: io.displayPath(oldFile), new: io.displayPath(newFile) };
  const output = format === 'json' ? JSON.stringify(toDiffJson(changes, files), null, 2) : format === 'markdown' ? diffToMarkdown(changes, files) : formatDiff(changes, files);
  io.write(output, values.out);
  return values['fail-on-widen'] && changes.some((c) => c.class === 'widening') ? 1 : 0;
}

/** `portcullis replay <events.jsonl | requests.har> --policy <file> [--format text|json] [--client-ip IP] [--out file]` */
export async function replayCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      policy: { type: 'string' },
      format: { type: 'string', default: 'text' },
      'client-ip': { type: 'string' },
      examples: { type: 'string', default: '3' },
      out: { type: 'string' },
    },
  });
  const [logFile, ...extra] = positionals;
  if (!logFile || extra.length) throw io.usage('replay takes one log file (security events as JSON lines, or a HAR)');
  if (!values.policy) throw io.usage('replay needs --policy <policy-file>');
  const format = values.format!;
  if (!['text', 'json'].includes(format)) throw io.usage(`--format is text or json, not "${format}"`);
  const examples = Number(values.examples);
  if (!Number.isInteger(examples) || examples < 0) throw io.usage(`--examples takes a whole number, not "${values.examples}"`);
  const text = readText(logFile, io);
  let input;
  try {
    input = readReplayInput(text, { clientIp: values['client-ip'], name: basename(logFile) });
  } catch (error) {
    throw io.file(`${logFile}: ${(error as Error).message}`);
  }
  const source = await io.loadSource(values.policy);
  const policy: Policy = await resolvePolicy(source, await createTestKit(kitOptionsOf(source)));
  const report = await replay(policy, input, { examples });
  io.write(format === 'json' ? JSON.stringify(report, null, 2) : formatReplay(report, { log: io.displayPath(logFile), policy: io.displayPath(values.policy) }), values.out);
  return 0;
}

/** `portcullis import <openapi.json|yaml> --out <policy.ts>` */
export async function importCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, from: { type: 'string' } } });
  const [documentFile, ...extra] = positionals;
  if (!documentFile || extra.length) throw io.usage('import takes one OpenAPI document (JSON or YAML)');
  if (!values.out) throw io.usage('import needs --out <policy.ts>');
  const text = readText(documentFile, io);
  let result;
  try {
    result = importOpenApi(parseOpenApiText(text, documentFile), { from: values.from, file: io.displayPath(documentFile) });
  } catch (error) {
    throw io.file(`${documentFile}: ${(error as Error).message}`);
  }
  writeFileSync(values.out, result.source);
  console.error(`wrote ${values.out}: ${plural(result.routes, 'route')}, ${plural(result.methods, 'authentication method')}${result.notes.length ? `\n${result.notes.map((note) => `  note: ${note}`).join('\n')}` : ''}`);
  return 0;
}
