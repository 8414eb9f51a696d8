/**
 * `hookline` with PostgreSQL, as operators run it: the secret key is required, and several
 * `hookline migrate` runs at once (a deploy starting many processes) migrate exactly once.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import pg from 'pg';
import { createSecretBox } from '../src/core/secret-box.ts';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
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

  test('with HOOKLINE_MIGRATE_ON_START=false, serve refuses an unmigrated database and says to run migrate', async (t) => {
    const db = await createTestDatabase('nomigrate', { schema: false });
    t.after(() => db.drop());
    const r = spawnSync(process.execPath, [MAIN, 'serve'], {
      env: {
        ...process.env,
        HOOKLINE_DATABASE_URL: db.url,
        HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
        HOOKLINE_MIGRATE_ON_START: 'false',
        HOOKLINE_PORT: '0',
        HOOKLINE_LOG_LEVEL: 'silent',
      },
      timeout: 20_000,
    });
    assert.equal(r.status, 2, r.stderr.toString());
    assert.match(r.stderr.toString(), /migration\(s\) behind .* run `hookline migrate` first/);
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

  test('a database of the first schema version upgrades in place; its endpoints become http endpoints', async (t) => {
    const db = await createTestDatabase('upgrade', { schema: false });
    t.after(() => db.drop());
    const box = createSecretBox(PG_SECRET_KEY);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const first = POSTGRES_MIGRATIONS[0]!;
      await c.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)',
      );
      await c.query(first.sql);
      await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [
        first.version,
        first.name,
      ]);
      await c.query(
        `INSERT INTO app (id, uid, name, throttle_rate, metadata, created_at, updated_at)
         VALUES ('app_old', NULL, 'old', NULL, '{}', 1, 1)`,
      );
      await c.query(
        `INSERT INTO endpoint (id, app_id, uid, url, description, disabled, event_types, channels, throttle_rate,
           metadata, headers, secrets, svix_headers, failing_since, created_at, updated_at)
         VALUES ('ep_old', 'app_old', NULL, 'http://127.0.0.1:1/', '', false, NULL, NULL, NULL, '{}', '{}', $1,
           false, NULL, 1, 1)`,
        [box.seal(JSON.stringify([{ key: 'whsec_c2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2g=', expiresAt: null }]))],
      );
    } finally {
      await c.end();
    }
    const store = createPostgresStore({ url: db.url, secretBox: box });
    t.after(() => store.close());
    await store.migrate();
    const ep = await store.getEndpoint('app_old', 'ep_old');
    assert.equal(ep?.kind, 'http');
    assert.equal(ep?.url, 'http://127.0.0.1:1/');
    assert.equal(await store.nextDueAt({ excludeKinds: ['listen'] }), null);
    const page = await store.listSources({ limit: 10, after: null, before: null, order: 'asc' });
    assert.deepEqual(page.items, [], 'the inbound tables exist');
    await store.migrate();
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

  test('ids and names sort byte by byte whatever the database locale (COLLATE "C")', async (t) => {
    const db = await createTestDatabase('collate');
    t.after(() => db.drop());
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        table_name: string;
        column_name: string;
        collation_name: string | null;
      }>(
        `SELECT table_name, column_name, collation_name FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type = 'text'
           AND (column_name IN ('id', 'uid', 'duplicate_of') OR column_name LIKE '%\\_id' ESCAPE '\\'
                OR (table_name = 'event_type' AND column_name = 'name'))`,
      );
      assert.ok(rows.length >= 20, `found ${rows.length} id columns`);
      const notC = rows
        .filter((r) => r.collation_name !== 'C')
        .map((r) => `${r.table_name}.${r.column_name}`);
      assert.deepEqual(notC, [], 'every id column compares bytes (KSUIDs mix upper and lower case)');
    } finally {
      await client.end();
    }
  });
});
