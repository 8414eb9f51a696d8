/**
 * `npm run build`: turns the TypeScript workspaces into the installable packages, under build/:
 * - build/receiver: @hookline/receiver (ESM JavaScript, .d.ts, source maps), for Node >= 20
 *   and Web-standard runtimes (the `./web` entry);
 * - build/hookline: the server and CLI (bin `hookline`) with the built dashboard.
 * Each gets a package.json derived from its workspace's, with `exports`, `bin` and `files`
 * pointing at the JavaScript. `npm pack build/receiver` (see scripts/release-check.ts) packs one.
 * The dashboard is built by `npm install` (the root `prepare` script); run it first when missing.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, globSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BUILD_DIR = join(root, 'build');
const tsc = join(root, 'node_modules', '.bin', 'tsc');

type Json = Record<string, unknown>;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Json;
const writeJson = (path: string, value: unknown) =>
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

function compile(project: string): void {
  execFileSync(tsc, ['-p', join(root, project)], { stdio: 'inherit', cwd: root });
}

/** What every published package.json carries over from its workspace's. */
function publishedFields(source: Json): Json {
  const { name, version, description, license, keywords } = source;
  return {
    name,
    version,
    description,
    license,
    ...(keywords ? { keywords } : {}),
    repository: { type: 'git', url: 'git+https://github.com/hookline/hookline.git' },
    type: 'module',
  };
}

function buildReceiver(): void {
  const out = join(BUILD_DIR, 'receiver');
  compile('packages/receiver/tsconfig.build.json');
  const source = readJson(join(root, 'packages/receiver/package.json'));
  const entry = (name: string) => ({ types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` });
  writeJson(join(out, 'package.json'), {
    ...publishedFields(source),
    engines: { node: '>=20' },
    sideEffects: false,
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: {
      '.': entry('index'),
      './web': entry('web'),
      './node': entry('middleware/node'),
      './express': entry('middleware/express'),
      './fastify': entry('middleware/fastify'),
      './hono': entry('middleware/hono'),
      './idempotency': entry('idempotency'),
      './vectors.json': './vectors.json',
      './package.json': './package.json',
    },
    files: ['dist', 'vectors.json', 'README.md'],
    dependencies: source.dependencies,
  });
  cpSync(join(root, 'packages/receiver/README.md'), join(out, 'README.md'));
  cpSync(join(root, 'packages/receiver/vectors.json'), join(out, 'vectors.json'));
}

function buildServer(): void {
  const out = join(BUILD_DIR, 'hookline');
  compile('packages/server/tsconfig.build.json');
  // Worker scripts are loaded by URL, which the compiler does not rewrite.
  for (const file of globSync('dist/src/**/*.js', { cwd: out })) {
    const path = join(out, file);
    const text = readFileSync(path, 'utf8');
    const rewritten = text.replace(
      /new URL\('(\.{1,2}\/[^']+)\.ts', import\.meta\.url\)/g,
      "new URL('$1.js', import.meta.url)",
    );
    if (rewritten !== text) writeFileSync(path, rewritten);
  }
  chmodSync(join(out, 'dist/src/cli/bin.js'), 0o755);
  const dashboard = join(root, 'packages/dashboard/dist');
  if (!existsSync(join(dashboard, 'index.html'))) {
    throw new Error('packages/dashboard/dist is missing: run `npm run build -w @hookline/dashboard` first');
  }
  // dist/src/api/dashboard.js serves ../../../dashboard/dist, as in the repository.
  cpSync(dashboard, join(out, 'dashboard/dist'), { recursive: true });
  const source = readJson(join(root, 'packages/server/package.json'));
  const receiver = readJson(join(root, 'packages/receiver/package.json'));
  const dependencies = { ...(source.dependencies as Json), '@hookline/receiver': `^${receiver.version}` };
  writeJson(join(out, 'package.json'), {
    ...publishedFields(source),
    // The server's floor is its dependencies' (undici 8 needs Node >= 22.19).
    engines: source.engines,
    bin: { hookline: './dist/src/cli/bin.js' },
    main: './dist/src/index.js',
    types: './dist/src/index.d.ts',
    exports: {
      '.': { types: './dist/src/index.d.ts', default: './dist/src/index.js' },
      './package.json': './package.json',
    },
    files: ['dist', 'dashboard/dist', 'README.md', 'CHANGELOG.md'],
    dependencies,
  });
  cpSync(join(root, 'README.md'), join(out, 'README.md'));
  cpSync(join(root, 'CHANGELOG.md'), join(out, 'CHANGELOG.md'));
}

export function buildPackages(): void {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  buildReceiver();
  buildServer();
}

if (import.meta.filename === process.argv[1]) {
  buildPackages();
  console.log(`built ${join(BUILD_DIR, 'receiver')} and ${join(BUILD_DIR, 'hookline')}`);
}
