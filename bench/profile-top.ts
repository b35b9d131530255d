/**
 * Where a stack's time goes: summarises a `.cpuprofile` written by `BENCH_PROFILE=<stack> npm run
 * bench` (or `node --cpu-prof`). Prints self time by package or source file, and the functions
 * with the most self and total time.
 *
 *   node --import tsx bench/profile-top.ts bench/profiles/portcullis-node-ES256-….cpuprofile [rows]
 * @module
 */

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts <file.cpuprofile> [rows]');
const rows = Number(rowsArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

/** `node_modules/<package>`, `src/…` of this repository, or node's internals. */
function place(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const repo = url.match(/\/(src|adapters|bench|policies)\/.*$/);
  return repo ? repo[0].slice(1) : url;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${place(url)}${url ? `:${lineNumber + 1}` : ''}`;
}

const self = new Map<string, number>();
const total = new Map<string, number>();
const places = new Map<string, number>();
let all = 0;
let idle = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
  const node = byId.get(id)!;
  all += delta;
  const name = node.callFrame.functionName;
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
    if (name === '(idle)') idle += delta;
    else places.set(name, (places.get(name) ?? 0) + delta);
    return;
  }
  self.set(label(node), (self.get(label(node)) ?? 0) + delta);
  places.set(place(node.callFrame.url), (places.get(place(node.callFrame.url)) ?? 0) + delta);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const key = label(byId.get(at)!);
    if (seen.has(key)) continue;
    seen.add(key);
    total.set(key, (total.get(key) ?? 0) + delta);
  }
});

const busy = all - idle;
const pct = (value: number) => `${((100 * value) / busy).toFixed(1).padStart(5)}%`;
const top = (map: Map<string, number>, count: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, count);

console.log(`${file}: ${(all / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)\n`);
console.log('self time by place');
for (const [name, value] of top(places, rows)) console.log(`  ${pct(value)}  ${name}`);
console.log('\nself time by function');
for (const [name, value] of top(self, rows)) console.log(`  ${pct(value)}  ${name}`);
console.log('\ntotal time by function (repository code)');
for (const [name, value] of top(new Map([...total].filter(([name]) => /\b(src|adapters)\//.test(name))), rows)) {
  console.log(`  ${pct(value)}  ${name}`);
}
