/**
 * `npm run release:check`: builds both packages (scripts/build-packages.ts), packs them with
 * `npm pack` and checks what the tarballs hold: every `exports`/`bin` target, no TypeScript
 * sources or tests, relative imports that resolve inside the package, no static `node:` import
 * in @hookline/receiver (it runs on Web-standard runtimes), no import of a package that is not
 * among its dependencies (devDependencies are not installed), matching semver versions and a
 * CHANGELOG entry. Exits 1 listing every problem.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_DIR, buildPackages } from './build-packages.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface PackedPackage {
  readonly name: string;
  readonly version: string;
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  /** Paths inside the package. */
  readonly files: readonly string[];
  readonly size: number;
}

/** Packs build/<dir> into `destination`. */
function pack(dir: string, destination: string): PackedPackage {
  const out = execFileSync(
    'npm',
    ['pack', '--json', '--pack-destination', destination, join(BUILD_DIR, dir)],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const [info] = JSON.parse(out) as {
    name: string;
    version: string;
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  if (!info) throw new Error(`npm pack ${dir} printed nothing`);
  return {
    name: info.name,
    version: info.version,
    tarball: join(destination, info.filename),
    files: info.files.map((file) => file.path),
    size: info.size,
  };
}

/** Builds and packs both packages into `destination`. */
export function buildAndPack(destination: string): { receiver: PackedPackage; hookline: PackedPackage } {
  buildPackages();
  mkdirSync(destination, { recursive: true });
  return { receiver: pack('receiver', destination), hookline: pack('hookline', destination) };
}

/** Static imports and re-exports, side-effect imports and import('...') of a string literal. */
const BARE_IMPORT =
  /^\s*(?:import|export)\s[^;]*?\sfrom\s*'([^']+)'|^\s*import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** Every problem with the packed packages; empty when they are fit to publish. */
export function checkPackages(packed: { receiver: PackedPackage; hookline: PackedPackage }): string[] {
  const problems: string[] = [];
  for (const [dir, pkg] of [
    ['receiver', packed.receiver],
    ['hookline', packed.hookline],
  ] as const) {
    const files = new Set(pkg.files);
    const manifest = JSON.parse(readFileSync(join(BUILD_DIR, dir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const need = (path: string, why: string) => {
      const clean = posix.normalize(path.replace(/^\.\//, ''));
      if (!files.has(clean)) problems.push(`${pkg.name}: ${clean} (${why}) is not in the tarball`);
    };
    const dependencies = (manifest.dependencies ?? {}) as Record<string, string>;
    if (!SEMVER.test(pkg.version)) problems.push(`${pkg.name}: version ${pkg.version} is not semver`);
    for (const field of ['devDependencies', 'scripts', 'workspaces', 'private'])
      if (field in manifest) problems.push(`${pkg.name}: package.json has ${field}`);
    need('package.json', 'the manifest');
    need('README.md', 'the documentation');
    const targets = (value: unknown, where: string): void => {
      if (typeof value === 'string') need(value, where);
      else if (value && typeof value === 'object')
        for (const [key, inner] of Object.entries(value)) targets(inner, `${where} ${key}`);
    };
    targets(manifest.exports, 'exports');
    targets(manifest.bin ?? {}, 'bin');
    targets(manifest.main, 'main');
    targets(manifest.types, 'types');
    for (const file of pkg.files) {
      if (file.endsWith('.ts') && !file.endsWith('.d.ts'))
        problems.push(`${pkg.name}: ships TypeScript source ${file}`);
      if (/(^|\/)(test|tests|scripts|node_modules)\//.test(file) || /tsconfig/.test(file))
        problems.push(`${pkg.name}: ships ${file}, which is not part of the package`);
      if (!file.endsWith('.js')) continue;
      const text = readFileSync(join(BUILD_DIR, dir, file), 'utf8');
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = posix.normalize(posix.join(posix.dirname(file), match[1]!));
        if (!files.has(target))
          problems.push(`${pkg.name}: ${file} imports ${match[1]}, which is not in the tarball`);
      }
      if (/new URL\('[^']+\.ts'/.test(text)) problems.push(`${pkg.name}: ${file} loads a .ts file by URL`);
      // What the code loads at run time must be installed with it: a Node built-in, the package
      // itself or one of its `dependencies` (never a devDependency).
      for (const match of text.matchAll(BARE_IMPORT)) {
        const specifier = (match[1] ?? match[2] ?? match[3])!;
        if (specifier.startsWith('.') || specifier.startsWith('node:') || isBuiltin(specifier)) continue;
        const parts = specifier.split('/');
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
        if (name !== pkg.name && !(name in dependencies))
          problems.push(`${pkg.name}: ${file} imports ${specifier}, which is not in its dependencies`);
      }
      if (dir === 'receiver' && /^import [^;]*from 'node:/m.test(text))
        problems.push(`${pkg.name}: ${file} imports a node: module (the Web entry must load without them)`);
    }
  }
  const receiver = packed.receiver;
  const hookline = packed.hookline;
  if (receiver.name !== '@hookline/receiver') problems.push(`the receiver package is named ${receiver.name}`);
  if (hookline.name !== 'hookline') problems.push(`the server package is named ${hookline.name}`);
  if (receiver.version !== hookline.version)
    problems.push(`versions differ: @hookline/receiver ${receiver.version}, hookline ${hookline.version}`);
  for (const path of ['dist/web.js', 'dist/web.d.ts', 'dist/index.js.map', 'vectors.json'])
    if (!receiver.files.includes(path)) problems.push(`@hookline/receiver: ${path} is missing`);
  for (const path of ['dashboard/dist/index.html', 'dist/src/index.d.ts', 'CHANGELOG.md'])
    if (!hookline.files.includes(path)) problems.push(`hookline: ${path} is missing`);
  const main = readFileSync(join(BUILD_DIR, 'hookline/dist/src/cli/bin.js'), 'utf8');
  if (!main.startsWith('#!/usr/bin/env node\n'))
    problems.push('hookline: the bin has no #!/usr/bin/env node line');
  const source = readFileSync(join(root, 'packages/server/src/hookline.ts'), 'utf8');
  const version = /export const VERSION = '([^']+)'/.exec(source)?.[1];
  if (version !== hookline.version)
    problems.push(`hookline.ts says VERSION ${version}, package.json ${hookline.version}`);
  const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
  if (!changelog.includes(`\n## ${hookline.version}`) && !changelog.includes('\n## Unreleased'))
    problems.push(`CHANGELOG.md has no section for ${hookline.version}`);
  return problems;
}

if (import.meta.filename === process.argv[1]) {
  const packed = buildAndPack(join(BUILD_DIR, 'tarballs'));
  const problems = checkPackages(packed);
  for (const pkg of [packed.receiver, packed.hookline])
    console.log(
      `${pkg.name}@${pkg.version}: ${pkg.files.length} files, ${(pkg.size / 1024).toFixed(0)} kB -> ${pkg.tarball}`,
    );
  if (problems.length > 0) {
    console.error(`release:check found ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    process.exit(1);
  }
  console.log('release:check: both packages are fit to publish');
}
