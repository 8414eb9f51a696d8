/**
 * Compares two bench runs written with `npm run bench -- --json FILE`:
 *
 *   node bench/compare.ts before.json after.json
 *
 * Prints a Markdown table with every figure of either run: its value in A and B and the change.
 * Rates are compared by their ratio of each run's own ceiling (the ceiling itself moves between
 * runs on a shared machine); everything else by value. A change is marked `better` or `worse`
 * when it goes more than 5 % either way, since smaller moves are within this machine's noise.
 */
import { comparable, type Figure, fmtRatio, fmtValue, type RunFile, readRun } from './figures.ts';

const [fileA, fileB] = process.argv.slice(2);
if (!fileA || !fileB) {
  console.error('usage: node bench/compare.ts A.json B.json');
  process.exit(2);
}

const a = readRun(fileA);
const b = readRun(fileB);
const byKey = (run: RunFile) => new Map(run.figures.map((f) => [f.key, f]));
const A = byKey(a);
const B = byKey(b);
const keys = [...A.keys(), ...[...B.keys()].filter((k) => !A.has(k))];

function cell(f: Figure | undefined): string {
  if (!f) return '—';
  const ratio = f.ofCeiling !== undefined && f.key !== 'ceiling' ? ` (${fmtRatio(f.ofCeiling)})` : '';
  const met = f.target ? (f.target.met ? ' ✓' : ' ✗') : '';
  return `${fmtValue(f.value, f.unit)}${ratio}${met}`;
}

function change(fa: Figure | undefined, fb: Figure | undefined): string {
  const x = comparable(fa);
  const y = comparable(fb);
  if (!fa || !fb || !Number.isFinite(x) || !Number.isFinite(y) || x === 0) return '';
  const pct = (y / x - 1) * 100;
  const better = (fb.better === 'higher' ? pct : -pct) > 5;
  const worse = (fb.better === 'higher' ? -pct : pct) > 5;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(0)} %${better ? ' better' : worse ? ' worse' : ''}`;
}

console.log(
  `A: ${fileA} — \`${a.command}\`, ${a.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${a.seconds} s`,
);
console.log(
  `B: ${fileB} — \`${b.command}\`, ${b.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${b.seconds} s`,
);
console.log(
  "Rates: value (ratio of that run's ceiling); the change compares the ratios. ✓/✗: target met or not.\n",
);
console.log('| figure | A | B | change |');
console.log('|---|--:|--:|--:|');
for (const k of keys) {
  const fa = A.get(k);
  const fb = B.get(k);
  console.log(`| ${(fb ?? fa)!.label} | ${cell(fa)} | ${cell(fb)} | ${change(fa, fb)} |`);
}
const met = (run: RunFile) => {
  const t = run.figures.filter((f) => f.target);
  return `${t.filter((f) => f.target!.met && Number.isFinite(f.value)).length} of ${t.length}`;
};
console.log(`\nTargets met: A ${met(a)}, B ${met(b)}.`);
