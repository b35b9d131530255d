/**
 * `portcullis report <events.jsonl> --out report.html`: reads the log line by line, aggregates it,
 * writes the page with the chart library (uPlot, a dependency of the package) read from
 * node_modules and inlined, and prints the summary.
 * @module
 */

import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import type { Policy } from '../src/policy/types.ts';
import { aggregate, createEventReader, formatSummary, renderReport, type ChartLibrary, type DeprecatedVersion } from '../tools/report/index.ts';
import { FileError, UsageError } from './errors.ts';

/** The browser build and stylesheet of uPlot, as installed with the package. */
async function chartLibrary(): Promise<ChartLibrary> {
  const require = createRequire(import.meta.url);
  try {
    const [script, css] = await Promise.all(
      // readFile, not open(): a FileHandle left to the garbage collector prints a warning on stderr.
      ['uplot/dist/uPlot.iife.min.js', 'uplot/dist/uPlot.min.css'].map((file) => readFile(require.resolve(file), 'utf8')),
    );
    return { script: script!, css: css! };
  } catch (error) {
    throw new FileError(`the chart library uplot (a dependency of portcullis) cannot be read: ${(error as Error).message}; reinstall portcullis`);
  }
}

/** The versions a policy deprecates, with the dates the report compares request times with. */
export function deprecatedVersionsOf(policy: Policy): DeprecatedVersion[] {
  return Object.entries(policy.versions ?? {}).flatMap(([prefix, version]) =>
    version.deprecation === undefined ? [] : [{ prefix, deprecation: Date.parse(version.deprecation), ...(version.sunset !== undefined && { sunset: Date.parse(version.sunset) }) }],
  );
}

/** Reads the log line by line (a log can be larger than one string may be). */
async function readLog(file: string) {
  let isFile = false;
  try {
    isFile = (await stat(file)).isFile();
  } catch (error) {
    throw new FileError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read (${(error as NodeJS.ErrnoException).code})`}`);
  }
  if (!isFile) throw new FileError(`${file}: not a file`);
  const reader = createEventReader();
  try {
    const handle = await open(file, 'r');
    try {
      for await (const line of handle.readLines({ encoding: 'utf8', autoClose: false })) reader.add(line);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new FileError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return reader.result();
}

/**
 * The `report` command. `loadPolicy` loads a policy file as the other commands do.
 * @example
 * await reportCommand(['events.jsonl', '--out', 'report.html'], loadPolicy); // 0
 */
export async function reportCommand(argv: string[], loadPolicy: (file: string) => Promise<Policy>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, policy: { type: 'string' }, top: { type: 'string' } },
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length) throw new UsageError('report takes one events file (the gateway\'s JSON lines, e.g. its captured stdout)');
  if (!values.out) throw new UsageError('report needs --out <file.html>');
  const top = values.top === undefined ? 10 : Number(values.top);
  if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top takes a whole number of at least 1, not "${values.top}"`);

  const deprecatedVersions = values.policy ? deprecatedVersionsOf(await loadPolicy(values.policy)) : [];
  const log = await readLog(file);
  const data = aggregate(log, { deprecatedVersions, top });
  const html = await renderReport(data, {
    library: await chartLibrary(),
    source: file,
    deprecatedNote: values.policy ? `Versions from ${values.policy}.` : undefined,
  });
  try {
    await writeFile(values.out, html);
  } catch (error) {
    throw new FileError(`--out ${values.out}: cannot write (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  console.log(formatSummary(data));
  console.log(`wrote ${values.out} (${(Buffer.byteLength(html) / 1024).toFixed(1)} kB)`);
  return 0;
}
