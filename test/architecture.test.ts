/**
 * The import graph of `src/`, `adapters/` and `tools/`, read from the sources: imports flow one way.
 *
 * A static scan, not a bundler: every `import … from '…'`, `export … from '…'` and `import('…')`
 * with a relative specifier in a non-test `.ts` file (type-only imports included: a cycle of types
 * is still a knot a reader has to untie). Package imports (`jose`, `valibot`) are not edges.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const SPECIFIER = /(?:^|[\s;])(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !/\.(test|type-test)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** File → the repository files it imports (paths relative to the repository root). */
function importGraph(dirs: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of dirs.flatMap(sourceFiles)) {
    const text = readFileSync(join(root, file), 'utf8');
    const targets = [...text.matchAll(SPECIFIER)]
      .map((match) => match[1] ?? match[2] ?? match[3]!)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => relative(root, join(root, dirname(file), specifier)));
    for (const target of targets) {
      if (!existsSync(join(root, target))) throw new Error(`${file} imports ${target}, which the scan cannot find`);
    }
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle, once, as the list of files around it (Tarjan's strongly connected components). */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const edges = (graph: Map<string, string[]>) => [...graph].flatMap(([from, targets]) => targets.map((to) => ({ from, to })));

describe('the import graph', () => {
  const graph = importGraph(['src', 'adapters', 'tools']);

  it('reads the imports it claims to', () => {
    expect(graph.get('src/engine.ts')).toContain('src/decision.ts');
    expect(graph.get('tools/lint/index.ts')).toContain('tools/lint/lint.ts');
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
  });

  it('has no cycle in src/, adapters/ or tools/', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps src/ free of adapters/: the core does not know its runtimes', () => {
    expect(edges(graph).filter(({ from, to }) => from.startsWith('src/') && to.startsWith('adapters/'))).toEqual([]);
  });

  it('keeps src/ and adapters/ free of tools/: lint, probe, openapi and testing consume the engine', () => {
    expect(edges(graph).filter(({ from, to }) => !from.startsWith('tools/') && to.startsWith('tools/'))).toEqual([]);
  });

  it('keeps the stages below the engine: no stage imports engine.ts', () => {
    expect(edges(graph).filter(({ from, to }) => from.startsWith('src/stages/') && to === 'src/engine.ts')).toEqual([]);
  });

  it('keeps the policy and authentication layers below the stages', () => {
    const upward = edges(graph).filter(({ from, to }) => /^src\/(policy|authn)\//.test(from) && to.startsWith('src/stages/'));
    expect(upward).toEqual([]);
  });

  it('lets index.ts files only re-export', () => {
    const withCode = [...graph.keys()]
      .filter((file) => file.endsWith('/index.ts'))
      .filter((file) => {
        const code = readFileSync(join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
        return code.split(/;\s*/).map((statement) => statement.trim()).some((statement) => statement !== '' && !/^export\b[\s\S]*\bfrom\s*['"][^'"]+['"]$/.test(statement));
      });
    expect(withCode).toEqual([]);
  });
});
