/**
 * `hookline` with PostgreSQL, as operators run it: the secret key is required, and several
 * `hookline migrate` runs at once (a deploy starting many processes) migrate exactly once.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import pg from 'pg';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.ts';
import { type HooklineChild, MAIN, spawnHookline } from './child.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions } from './pg.ts';

describe('hookline CLI on PostgreSQL', await pgTestOptions(), () => {
  test('serve refuses to start without HOOKLINE_SECRET_KEY, saying why', () => {
    const r = spawnSync(process.execPath, [MAIN, 'serve'], {
      env: {
        ...process.env,
        HOOKLINE_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
        HOOKLINE_SECRET_KEY: '',
        HOOKLINE_PORT: '0',
      },
      timeout: 20_000,
    });
    assert.equal(r.status, 2, r.stderr.toString());
    assert.match(r.stderr.toString(), /HOOKLINE_SECRET_KEY is required with PostgreSQL/);
  });

  test('three concurrent `hookline migrate` runs on an empty database migrate once', async (t) => {
    const db = await createTestDatabase('migrate', { schema: false });
    t.after(() => db.drop());
    const run = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, [MAIN, 'migrate'], {
          env: {
            ...process.env,
            HOOKLINE_DATABASE_URL: db.url,
            HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
            HOOKLINE_LOG_LEVEL: 'silent',
          },
        });
        let out = '';
        p.stdout.on('data', (c: Buffer) => {
          out += c.toString();
        });
        p.stderr.on('data', (c: Buffer) => {
          out += c.toString();
        });
        p.on('exit', (code) => resolve({ code, out }));
      });
    const results = await Promise.all([run(), run(), run()]);
    for (const r of results) {
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /up to date/);
    }
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(
        rows.map((r) => r.version),
        POSTGRES_MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await c.end();
    }
  });

  test('processes starting together on a new database agree on one generated admin token', async (t) => {
    const db = await createTestDatabase('token');
    const procs: HooklineChild[] = [];
    t.after(async () => {
      await Promise.all(procs.map((p) => p.stop()));
      await db.drop();
    });
    const env = {
      HOOKLINE_DATABASE_URL: db.url,
      HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
      HOOKLINE_ADMIN_TOKEN: '',
      HOOKLINE_ROLE: 'api',
      HOOKLINE_LOG_LEVEL: 'warn',
    };
    procs.push(
      ...(await Promise.all([spawnHookline({ env }), spawnHookline({ env }), spawnHookline({ env })])),
    );
    const printed = procs
      .map((p) => /Admin token \(shown once; keep it\): (hl_admin_\S+)/.exec(p.output())?.[1])
      .filter((x) => x !== undefined);
    assert.equal(printed.length, 1, 'exactly one process printed the token');
    for (const p of procs) {
      const res = await fetch(`${p.url}/api/v1/app`, { headers: { authorization: `Bearer ${printed[0]}` } });
      assert.equal(res.status, 200, 'every process accepts it');
    }
  });
});
