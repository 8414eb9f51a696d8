/**
 * Upgrading a database that holds received requests: the migration that moves their bytes out of
 * `inbound_event` into `inbound_body` (SQLite 22, PostgreSQL 20) keeps every body, header and
 * content type, and a body retention had already emptied still reads as expunged, at its time.
 * Each store is taken to the version before, given two requests by hand, then migrated by the
 * store itself. On PostgreSQL, the partition of what came before partitioning stays where it
 * holds something (migration 21).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { createSecretBox } from '../src/core/secret-box.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite/migrations.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../src/store/store.ts';
import { tempDir } from './helpers.ts';
import { createDatabaseBefore, PG_SECRET_KEY, pgTestOptions } from './pg.ts';

const box = createSecretBox(PG_SECRET_KEY);
const KEPT = 'msg_2Nf1Yx3oVh8Jm0RkqW4sLb7Tz9a';
const EMPTIED = 'msg_2Nf1Yx3oVh8Jm0RkqW4sLb7Tz9b';
const HEADERS = [
  ['content-type', 'application/x-www-form-urlencoded'],
  ['x-provider-signature', 'sig=abc'],
];
const BODY = Buffer.from('a=1&b=%E2%9C%93\x00\xff');

/** The rows an older Hookline wrote: an app, a source, one request kept and one emptied. */
const OLD_ROWS = [
  `INSERT INTO app (id, uid, name, throttle_rate, metadata, created_at, updated_at)
   VALUES ('app_1', NULL, 'Old', NULL, '{}', 1, 1)`,
  `INSERT INTO source (id, name, app_id, description, verification, forward_secrets, created_at, updated_at)
   VALUES ('src_1', 'old-source', 'app_1', '', '{}', '[]', 1, 1)`,
];

async function checkUpgraded(store: Store) {
  const kept = await store.getInboundEvent('src_1', KEPT);
  assert.ok(kept);
  assert.deepEqual(kept.headers, HEADERS);
  assert.deepEqual(kept.body, BODY, 'the bytes, exactly');
  assert.equal(kept.contentType, 'application/x-www-form-urlencoded');
  assert.equal(kept.bodyExpungedAt, null);
  const emptied = await store.getInboundEvent('src_1', EMPTIED);
  assert.ok(emptied);
  assert.equal(emptied.body.length, 0);
  assert.deepEqual(emptied.headers, []);
  assert.equal(emptied.bodyExpungedAt, 5_000);
  const list = await store.listInboundEvents(
    'src_1',
    {},
    { limit: 10, after: null, before: null, order: 'desc' },
  );
  assert.deepEqual(
    list.items.map((e) => [e.id, e.body.length]),
    [
      [EMPTIED, 0],
      [KEPT, BODY.length],
    ],
  );
}

describe('inbound request bytes move to inbound_body on upgrade (sqlite)', () => {
  test('every body, header and content type is kept; an emptied one stays expunged', async () => {
    const path = join(tempDir('hookline-bodymig-'), 'hookline.db');
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)');
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version < 22)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(
        m.version,
        m.name,
      );
    }
    for (const q of OLD_ROWS) db.exec(q);
    const insert = db.prepare(
      `INSERT INTO inbound_event (id, source_id, status, event_type, content_type, headers, body, received_at, body_expunged_at)
       VALUES (?, 'src_1', 'accepted', 'old.event', 'application/x-www-form-urlencoded', ?, ?, 1000, ?)`,
    );
    insert.run(KEPT, JSON.stringify(HEADERS), BODY, null);
    insert.run(EMPTIED, '[]', Buffer.alloc(0), 5_000);
    db.close();

    const store = createSqliteStore({ path, secretBox: box });
    try {
      await store.migrate();
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
  });
});

describe('inbound request bytes move to inbound_body on upgrade (postgres)', await pgTestOptions(), () => {
  let drop: (() => Promise<void>) | undefined;
  after(() => drop?.());

  test('every body, header and content type is kept; an emptied one stays expunged', async () => {
    const { database, client: c } = await createDatabaseBefore('bodymig', 20);
    drop = database.drop;
    try {
      for (const q of OLD_ROWS) await c.query(q);
      const insert = `INSERT INTO inbound_event (id, source_id, status, event_type, content_type, headers, body, received_at, body_expunged_at)
        VALUES ($1, 'src_1', 'accepted', 'old.event', 'application/x-www-form-urlencoded', $2, $3, 1000, $4)`;
      await c.query(insert, [KEPT, JSON.stringify(HEADERS), BODY, null]);
      await c.query(insert, [EMPTIED, '[]', Buffer.alloc(0), 5_000]);
    } finally {
      await c.end();
    }

    const store = createPostgresStore({ url: database.url, secretBox: box });
    try {
      await store.migrate();
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
    // Migration 21 keeps the partition of what came before partitioning when it holds something
    // (these requests), and drops it when it is empty (this database stored no attempt).
    const after = new pg.Client({ connectionString: database.url });
    await after.connect();
    try {
      const exists = async (t: string) =>
        (await after.query('SELECT to_regclass($1) IS NOT NULL AS ok', [t])).rows[0].ok as boolean;
      assert.ok(await exists('inbound_body_before_partitions'));
      assert.equal(await exists('attempt_before_partitions'), false);
      const today = `attempt_${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
      assert.ok(await exists(today), 'today has a partition of its own');
    } finally {
      await after.end();
    }
  });
});
