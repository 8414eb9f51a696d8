/**
 * Fails when the relative imports between TypeScript files form a cycle.
 *
 *   node scripts/check-cycles.ts [dir ...]      (default: packages/server/src packages/dashboard/src)
 *
 * Every kind of import counts, `import type` and `import('./x').T` included: a type-only cycle
 * still ties the files' layers together, so one cannot be read, tested or moved without the
 * other. Prints each cycle (one per strongly connected group of files) and exits 1, or prints
 * nothing and exits 0. No dependencies: a small scanner over the source text is enough because
 * the project's imports are plain static specifiers.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const EXTENSIONS = ['.ts', '.tsx'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (EXTENSIONS.some((e) => name.endsWith(e)) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * The text with comments blanked out, strings kept (so `// import x from 'y'` in a comment is not
 * an edge, and `'//'` inside a string does not start a comment).
 */
function withoutComments(text: string): string {
  return text.replace(
    /('(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g,
    (match, str: string | undefined) => str ?? match.replace(/[^\n]/g, ' '),
  );
}

const IMPORT_PATTERNS = [
  // import x from '…', import type { X } from '…', export { x } from '…', export * from '…'
  /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  // import '…' (side effects only)
  /^[ \t]*import\s*['"]([^'"]+)['"]/gm,
  // import('…'): a dynamic import, or a type written as import('…').Name
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

function specifiers(text: string): string[] {
  const clean = withoutComments(text);
  const found: string[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of clean.matchAll(pattern)) found.push(m[1]!);
  }
  return found;
}

/** The file a relative specifier names, or undefined for packages and unresolvable paths. */
function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return undefined;
  const base = resolve(dirname(from), spec);
  const candidates = [
    base,
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.jsx$/, '.tsx'),
    ...EXTENSIONS.map((e) => base + e),
    ...EXTENSIONS.map((e) => join(base, `index${e}`)),
  ];
  return candidates.find((c) => EXTENSIONS.some((e) => c.endsWith(e)) && existsSync(c));
}

export function importGraph(dirs: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of sourceFiles(resolve(dir))) {
      const targets = specifiers(readFileSync(file, 'utf8'))
        .map((s) => resolveImport(file, s))
        .filter((t): t is string => t !== undefined);
      graph.set(file, [...new Set(targets)]);
    }
  }
  return graph;
}

/** Strongly connected groups of two or more files, or one file that imports itself (Tarjan). */
function cyclicGroups(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];

  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) groups.push(group);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return groups;
}

/** A shortest cycle through `start` that stays inside `group` (breadth-first search). */
function shortestCycle(graph: Map<string, string[]>, group: string[], start: string): string[] {
  const inGroup = new Set(group);
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of graph.get(v) ?? []) {
      if (!inGroup.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!);
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

export interface CycleReport {
  /** Every file in the strongly connected group, sorted. */
  files: string[];
  /** One shortest cycle through the group's first file, ending where it starts. */
  example: string[];
}

export function findCycles(dirs: string[]): CycleReport[] {
  const graph = importGraph(dirs);
  return cyclicGroups(graph).map((group) => {
    const files = [...group].sort();
    return { files, example: shortestCycle(graph, group, files[0]!) };
  });
}

if (import.meta.main) {
  const dirs = process.argv.slice(2);
  const roots = dirs.length > 0 ? dirs : ['packages/server/src', 'packages/dashboard/src'];
  const cycles = findCycles(roots);
  const rel = (f: string) => relative(process.cwd(), f);
  for (const { files, example } of cycles) {
    console.log(`import cycle: ${example.map(rel).join(' -> ')}`);
    if (files.length > example.length - 1) {
      console.log(`  (${files.length} files tied together: ${files.map(rel).join(', ')})`);
    }
  }
  if (cycles.length > 0) {
    console.log(`${cycles.length} import cycle(s); move the shared piece into a module both sides import`);
    process.exit(1);
  }
}
