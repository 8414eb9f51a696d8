/**
 * Two builds of Hookline benchmarked side by side, alternated on the same machine:
 *
 *   node bench/ab.ts A B [--pairs N] [--keep] -- <npm run bench flags>
 *   node bench/ab.ts HEAD~1 . --pairs 4 -- --store sqlite --only e2e
 *
 * A and B are git revisions (a commit, a branch, `HEAD~1`), or `.` for this checkout as it is,
 * uncommitted changes included. Each revision is checked out into a worktree of its own under a
 * temporary directory: `node_modules` there links to this checkout's packages, the workspace's
 * own packages (`@hookline/*`) to the worktree's, and the dashboard's build is copied. The
 * revision's own `bench/run.ts` runs there with the flags after `--` and `--json`, N times for
 * each side, in the order A B, B A, A B, ...: a machine that speeds up or slows down during the
 * runs weighs on both sides alike.
 *
 * `--script FILE` measures with another program of `bench/` that takes `--json FILE`
 * (`sqlite-store.ts`: the SQLite store's CPU per delivery, without HTTP and far less noisy than
 * the server's phases; `pg-retention.ts`: a PostgreSQL retention pass's cost): this checkout's
 * copy of it is put into both worktrees, so both revisions are measured by the same program.
 *
 * At the end, for every figure both sides have: each run's value (a rate as its ratio of that
 * run's own ceiling, as `bench/compare.ts` compares them), the medians, the change of the
 * medians, and in how many pairs B did better. On a shared machine a single pair says little;
 * "B better in 4 of 4 pairs" says more than any one difference.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../packages/server/test/child.ts';
import { comparable, type Figure, fmtRatio, fmtValue, type RunFile, readRun } from './figures.ts';
import { median, wholeNumber } from './lib.ts';

const USAGE =
  "usage: node bench/ab.ts A B [--pairs N] [--keep] [--script FILE] -- <npm run bench flags, or the script's>";

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const own = dash === -1 ? args : args.slice(0, dash);
const benchFlags = dash === -1 ? [] : args.slice(dash + 1);
if (own.includes('--help') || own.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
let pairs = 3;
let keep = false;
/** The bench program each side runs (in `bench/`): each revision's own run.ts, or this checkout's `--script`. */
let script = 'run.ts';
const revs: string[] = [];
for (let i = 0; i < own.length; i++) {
  const a = own[i]!;
  if (a === '--pairs') pairs = wholeNumber('pairs', own[++i] ?? '');
  else if (a === '--keep') keep = true;
  else if (a === '--script') script = (own[++i] ?? '').replace(/^bench\//, '');
  else if (a.startsWith('--')) fail(`unknown flag ${a}\n${USAGE}`);
  else revs.push(a);
}
if (revs.length !== 2) fail(USAGE);
if (!existsSync(join(ROOT, 'bench', script))) fail(`--script: no bench/${script} in this checkout`);
if (benchFlags.includes('--json')) fail('--json is set by bench/ab.ts itself');

const git = (...gitArgs: string[]) => spawnSync('git', gitArgs, { cwd: ROOT, encoding: 'utf8' });

/** A side: the revision as given, the commit it names (null: this checkout), where it runs. */
interface Side {
  name: 'A' | 'B';
  rev: string;
  commit: string | null;
  dir: string;
  files: string[];
}

const work = mkdtempSync(join(tmpdir(), 'hookline-ab-'));
const worktrees: string[] = [];

function cleanUp() {
  if (keep) return;
  for (const dir of worktrees) git('worktree', 'remove', '--force', dir);
  rmSync(work, { recursive: true, force: true });
}

/** Links `node_modules` of a worktree to this checkout's, except the workspace's own packages. */
function linkModules(dir: string) {
  const from = join(ROOT, 'node_modules');
  const to = join(dir, 'node_modules');
  mkdirSync(to);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.name !== '@hookline') {
      symlinkSync(join(from, entry.name), join(to, entry.name));
      continue;
    }
    // npm links each workspace package by a relative path (../../packages/server): the same
    // link inside the worktree points at the worktree's copy.
    mkdirSync(join(to, '@hookline'));
    for (const pkg of readdirSync(join(from, '@hookline')))
      symlinkSync(readlinkSync(join(from, '@hookline', pkg)), join(to, '@hookline', pkg));
  }
}

function prepare(name: 'A' | 'B', rev: string): Side {
  if (rev === '.') return { name, rev, commit: null, dir: ROOT, files: [] };
  const parsed = git('rev-parse', '--verify', '--quiet', `${rev}^{commit}`);
  if (parsed.status !== 0) throw new Error(`${name}: "${rev}" is not a revision of this repository`);
  const commit = parsed.stdout.trim();
  const dir = join(work, name);
  const added = git('worktree', 'add', '--detach', dir, commit);
  if (added.status !== 0) throw new Error(`${name}: git worktree add failed: ${added.stderr.trim()}`);
  worktrees.push(dir);
  linkModules(dir);
  const dist = join(ROOT, 'packages/dashboard/dist');
  if (existsSync(dist)) cpSync(dist, join(dir, 'packages/dashboard/dist'), { recursive: true });
  // Measured by this checkout's program, whatever the revision has.
  if (script !== 'run.ts') cpSync(join(ROOT, 'bench', script), join(dir, 'bench', script));
  const lock = git('show', `${commit}:package-lock.json`);
  if (lock.status === 0 && lock.stdout !== readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))
    console.warn(
      `${name}: ${rev}'s package-lock.json differs from this checkout's; it runs with this checkout's node_modules`,
    );
  return { name, rev, commit, dir, files: [] };
}

/** Runs the side's own bench once; resolves with its JSON file. */
function runOnce(side: Side, round: number): Promise<string> {
  const file = join(work, `${side.name}-${round}.json`);
  console.log(
    `\n== ${side.name} (${side.rev}${side.commit ? ` = ${side.commit.slice(0, 10)}` : ''}), run ${round}: node bench/${script} ${benchFlags.join(' ')}`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`bench/${script}`, ...benchFlags, '--json', file], {
      cwd: side.dir,
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 && existsSync(file)
        ? resolve(file)
        : reject(new Error(`${side.name} run ${round} ended with ${signal ?? `exit code ${code}`}`)),
    );
  });
}

function report(a: Side, b: Side) {
  const runsA = a.files.map(readRun);
  const runsB = b.files.map(readRun);
  const keyed = (runs: RunFile[]) => runs.map((r) => new Map(r.figures.map((f) => [f.key, f])));
  const A = keyed(runsA);
  const B = keyed(runsB);
  const describe = (s: Side) => `${s.rev}${s.commit ? ` (${s.commit.slice(0, 10)})` : ' (this checkout)'}`;
  console.log(`\nA: ${describe(a)}   B: ${describe(b)}   ${pairs} pair(s), alternated`);
  console.log(`Flags: ${benchFlags.join(' ') || '(none)'}`);
  // A `--script` without a ceiling (the store alone) has none to print.
  if ([...runsA, ...runsB].some((r) => Number.isFinite(r.ceiling)))
    console.log(
      `Ceilings: A ${runsA.map((r) => fmtValue(r.ceiling, '/s')).join(', ')}; B ${runsB.map((r) => fmtValue(r.ceiling, '/s')).join(', ')}`,
    );
  console.log(
    'Rates as ratios of their own run\'s ceiling. "B better": pairs (run i of A with run i of B) where B did better.\n',
  );
  console.log('| figure | A runs | B runs | median A | median B | change | B better |');
  console.log('|---|--:|--:|--:|--:|--:|--:|');
  const row = (f: Figure, label: string, xs: number[], ys: number[], show: (x: number) => string) => {
    const ma = median(xs);
    const mb = median(ys);
    const pct = Number.isFinite(ma) && Number.isFinite(mb) && ma !== 0 ? (mb / ma - 1) * 100 : Number.NaN;
    const wins = xs.filter((x, i) => (f.better === 'higher' ? ys[i]! > x : ys[i]! < x)).length;
    const list = (v: number[]) => v.map(show).join(' / ');
    console.log(
      `| ${label} | ${list(xs)} | ${list(ys)} | ${show(ma)} | ${show(mb)} | ${Number.isFinite(pct) ? `${pct >= 0 ? '+' : ''}${pct.toFixed(0)} %` : ''} | ${wins} of ${pairs} |`,
    );
  };
  for (const [key, f] of A[0]!) {
    if (key === 'ceiling' || !B.every((m) => m.has(key)) || !A.every((m) => m.has(key))) continue;
    const isRate = f.ofCeiling !== undefined;
    row(
      f,
      f.label,
      A.map((m) => comparable(m.get(key))),
      B.map((m) => comparable(m.get(key))),
      (x) => (isRate ? fmtRatio(x) : fmtValue(x, f.unit)),
    );
    // A ceiling that moved between the runs moves every ratio: the rate itself, beside it.
    if (isRate)
      row(
        f,
        `${f.label} (per second)`,
        A.map((m) => m.get(key)!.value),
        B.map((m) => m.get(key)!.value),
        (x) => fmtValue(x, f.unit),
      );
  }
  if (keep) console.log(`\nRuns and worktrees kept in ${work}`);
}

process.on('SIGINT', () => {
  cleanUp();
  process.exit(130);
});
try {
  const a = prepare('A', revs[0]!);
  const b = prepare('B', revs[1]!);
  for (let i = 1; i <= pairs; i++) {
    const order = i % 2 === 1 ? [a, b] : [b, a];
    for (const side of order) side.files.push(await runOnce(side, i));
  }
  report(a, b);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  cleanUp();
}
