/**
 * How the CLI imports the user's policy and spec files. By default a plain `import()`, for a process
 * whose loader already runs TypeScript (the repository's launcher registers tsx); the installed
 * command hands the files to jiti instead (bin/portcullis.ts).
 * @module
 */

import { pathToFileURL } from 'node:url';

export type ModuleImporter = (path: string) => Promise<Record<string, unknown>>;

let importer: ModuleImporter = async (path) => (await import(pathToFileURL(path).href)) as Record<string, unknown>;

/** Imports the module at an absolute path with the importer in use. */
export const importModule = (path: string): Promise<Record<string, unknown>> => importer(path);

/** Replaces the importer; the launcher calls it before the CLI runs. */
export function useImporter(next: ModuleImporter): void {
  importer = next;
}
