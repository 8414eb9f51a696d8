/**
 * Summarizes a `.cpuprofile` (from `node --cpu-prof`, or `npm run bench -- --cpu-prof`): the
 * functions with the most self time and the most inclusive time, as shares of the samples.
 *
 *   node bench/profile-summary.ts <file.cpuprofile> [top=30]
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

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const perNode = new Map<number, number>();
profile.samples.forEach((id, i) => {
  perNode.set(id, (perNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...perNode.values()].reduce((a, b) => a + b, 0);

const label = (n: ProfileNode) => {
  const f = n.callFrame;
  const where = f.url.replace(/.*node_modules\//, '').replace(/.*\/packages\/server\/src\//, 'src/');
  return `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
};
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, t] of perNode) {
  const k = label(byId.get(id)!);
  self.set(k, (self.get(k) ?? 0) + t);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const key = label(byId.get(cur)!);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + t);
  }
}
const show = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`${(total / 1e6).toFixed(2)} s sampled in ${file}`);
console.log('\nself time:');
console.log(show(self));
console.log('\ninclusive time:');
console.log(show(inclusive));
