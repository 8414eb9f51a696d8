/**
 * The layers' shape: no import cycles (type-only imports included), and the imports the layering
 * forbids stay absent. The cycle check is also `npm run check`'s last step.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findCycles, importGraph } from '../../../scripts/check-cycles.ts';
import { tempDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_SRC = join(ROOT, 'packages/server/src');
const DASHBOARD_SRC = join(ROOT, 'packages/dashboard/src');

function files(dir: string, tree: Record<string, string>): void {
  for (const [name, text] of Object.entries(tree)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

describe('check-cycles', () => {
  test('finds a cycle made only of type imports, across folders', () => {
    const dir = tempDir();
    files(dir, {
      'api/server.ts': "import type { Ctx } from './context.ts';\nexport type Server = { ctx: Ctx };\n",
      'api/context.ts':
        "import type {\n  Receive,\n} from '../inbound/receive.ts';\nexport type Ctx = Receive;\n",
      'inbound/receive.ts':
        "import type { Server } from '../api/server.ts';\nexport type Receive = Server;\n",
      'leaf.ts': 'export const x = 1;\n',
    });
    const cycles = findCycles([dir]);
    assert.equal(cycles.length, 1);
    assert.deepEqual(
      cycles[0]!.files.map((f) => relative(dir, f)),
      ['api/context.ts', 'api/server.ts', 'inbound/receive.ts'],
    );
    assert.equal(cycles[0]!.example.length, 4, 'three files, back to the first');
  });

  test('counts import() types and re-exports; ignores imports in comments and strings', () => {
    const dir = tempDir();
    files(dir, {
      'a.ts': "export type B = import('./b.ts').B;\n",
      'b.ts': "export * from './c.ts';\nexport type B = 1;\n",
      'c.ts': "// import { a } from './a.ts';\n/* import './a.ts'; */\nexport const s = \"from './a.ts'\";\n",
    });
    assert.deepEqual(findCycles([dir]), []);
    writeFileSync(join(dir, 'c.ts'), "export type { B } from './a.ts';\n");
    assert.equal(findCycles([dir]).length, 1);
  });
});

describe('Hookline layering', () => {
  test('no import cycle in the server or the dashboard', () => {
    const cycles = findCycles([SERVER_SRC, DASHBOARD_SRC]);
    assert.deepEqual(
      cycles.map((c) => c.example.map((f) => relative(ROOT, f)).join(' -> ')),
      [],
    );
  });

  test('route files and the inbound gateway take ApiContext from api/context.ts, not the server', () => {
    const graph = importGraph([SERVER_SRC]);
    const server = join(SERVER_SRC, 'api/server.ts');
    const importers = [...graph]
      .filter(([, to]) => to.includes(server))
      .map(([from]) => relative(ROOT, from));
    assert.deepEqual(importers, ['packages/server/src/hookline.ts']);
  });

  test('the API takes header policy from delivery/headers.ts, not from the dispatcher', () => {
    const graph = importGraph([SERVER_SRC]);
    const dispatcher = join(SERVER_SRC, 'delivery/dispatcher.ts');
    const fromApi = [...graph]
      .filter(([from, to]) => from.startsWith(join(SERVER_SRC, 'api')) && to.includes(dispatcher))
      .map(([from]) => relative(ROOT, from));
    assert.deepEqual(fromApi, []);
  });

  test('sources and endpoints share destination rules through api/destination-rules.ts', () => {
    const graph = importGraph([SERVER_SRC]);
    const imports = (f: string) => (graph.get(join(SERVER_SRC, f)) ?? []).map((t) => relative(SERVER_SRC, t));
    assert.equal(imports('api/source.ts').includes('api/endpoint.ts'), false);
    assert.ok(imports('api/source.ts').includes('api/destination-rules.ts'));
    assert.ok(imports('api/endpoint.ts').includes('api/destination-rules.ts'));
  });

  test('the configuration imports nothing from the inbound gateway (IP ranges live in core/)', () => {
    const graph = importGraph([SERVER_SRC]);
    const fromConfig = (graph.get(join(SERVER_SRC, 'config.ts')) ?? []).map((t) => relative(SERVER_SRC, t));
    assert.deepEqual(
      fromConfig.filter((t) => !t.startsWith('core/')),
      [],
    );
  });
  test('the dashboard takes only types and core/enums.ts from the server, all through its api.ts', () => {
    const found: string[] = [];
    for (const name of readdirSync(DASHBOARD_SRC, { recursive: true }) as string[]) {
      if (!/\.tsx?$/.test(name)) continue;
      const text = readFileSync(join(DASHBOARD_SRC, name), 'utf8');
      for (const m of text.matchAll(/^(import|export)( type)?\b[^;]*?from '([^']*\/server\/[^']*)'/gm)) {
        found.push(`${name}: ${m[1]}${m[2] ?? ''} ${m[3]}`);
      }
    }
    assert.deepEqual(found.sort(), [
      'api.ts: export ../../server/src/core/enums.ts',
      'api.ts: import type ../../server/src/api/endpoint-extras-schemas.ts',
      'api.ts: import type ../../server/src/api/overview-schemas.ts',
      'api.ts: import type ../../server/src/api/schemas.ts',
      'api.ts: import type ../../server/src/api/sending-schemas.ts',
    ]);
  });

  test('the response schemas the dashboard reads stand on dependency-free modules only', () => {
    const graph = importGraph([SERVER_SRC]);
    const reached = new Set<string>();
    const visit = (f: string) => {
      if (reached.has(f)) return;
      reached.add(f);
      for (const t of graph.get(f) ?? []) visit(t);
    };
    visit(join(SERVER_SRC, 'api/schemas.ts'));
    visit(join(SERVER_SRC, 'api/overview-schemas.ts'));
    visit(join(SERVER_SRC, 'api/sending-schemas.ts'));
    assert.deepEqual([...reached].map((f) => relative(SERVER_SRC, f)).sort(), [
      'api/overview-schemas.ts',
      'api/schemas.ts',
      'api/sending-schemas.ts',
      'core/enums.ts',
      'core/formats.ts',
    ]);
    for (const f of reached) {
      const packages = [...readFileSync(f, 'utf8').matchAll(/from '([^.][^']*)'/g)].map((m) => m[1]);
      assert.deepEqual(
        packages.filter((p) => p !== 'typebox'),
        [],
        `${relative(SERVER_SRC, f)} imports only typebox`,
      );
    }
  });
});
