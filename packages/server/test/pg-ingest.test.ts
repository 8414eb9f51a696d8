/**
 * PostgreSQL stores a batch of new messages without a transaction: a routing read, then one
 * statement (store/postgres/queue.ts). An application or endpoint deleted between the two fails
 * that statement on its foreign key with nothing stored, and the batch is routed again: the
 * message is stored once, to the endpoints that exist, and the API never sees the error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createIdGenerator } from '../src/core/ids.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import type { IngestItem, Store } from '../src/store/store.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';
import { byFilters, testApp, testEndpoint, testIngestItem } from './stores.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

describe('PostgreSQL ingest and deletions under it', await pgTestOptions(), () => {
  let db: TestDatabase;
  let store: Store;
  let other: pg.Client;
  let watcher: pg.Client;
  const ids = createIdGenerator(() => T0);

  before(async () => {
    db = await createTestDatabase('ingest');
    store = createPostgresStore({ url: db.url, secretBox: createSecretBox(PG_SECRET_KEY) });
    await store.migrate();
    other = new pg.Client({ connectionString: db.url });
    await other.connect();
    watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
  });
  after(async () => {
    await other?.end();
    await watcher?.end();
    await store?.close();
    await db?.drop();
  });

  async function appWithEndpoints(): Promise<{ appId: string; kept: string; doomed: string }> {
    const appId = ids('app');
    await store.insertApp(testApp(appId, T0));
    const kept = testEndpoint(ids('endpoint'), appId, T0);
    const doomed = testEndpoint(ids('endpoint'), appId, T0);
    await store.insertEndpoint(kept);
    await store.insertEndpoint(doomed);
    return { appId, kept: kept.id, doomed: doomed.id };
  }

  /** A message to every matching endpoint; `routed` counts the routings. */
  function item(appId: string, routed: { n: number }): IngestItem {
    return testIngestItem(
      ids,
      appId,
      T0,
      { payload: '{"a":1}' },
      {
        route: (eps, message) => {
          routed.n++;
          return byFilters(eps, message);
        },
      },
    );
  }

  /**
   * Runs `ingest` while another transaction has deleted a row (not yet committed): the routing
   * read still sees the row, the statement's foreign key check waits for that transaction, and
   * the transaction commits once the statement is seen waiting.
   */
  async function ingestWhileDeleting(deleteSql: string, id: string, items: IngestItem[]) {
    await other.query('BEGIN');
    await other.query(deleteSql, [id]);
    const ingesting = store.ingest(items);
    let waited = false;
    try {
      for (let i = 0; i < 250 && !waited; i++) {
        const { rows } = await watcher.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO message%'`,
        );
        waited = rows[0].n > 0;
        if (!waited) await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await other.query('COMMIT');
    }
    assert.ok(waited, 'the storing statement waited for the deleting transaction');
    return ingesting;
  }

  const deliveriesOf = async (msgId: string) =>
    (await watcher.query('SELECT endpoint_id FROM delivery WHERE msg_id = $1', [msgId])).rows.map(
      (r) => r.endpoint_id as string,
    );

  test('an endpoint deleted between routing and storing: routed again, stored once to the rest', async () => {
    const { appId, kept, doomed } = await appWithEndpoints();
    const routed = { n: 0 };
    const it = item(appId, routed);
    const [result] = await ingestWhileDeleting('DELETE FROM endpoint WHERE id = $1', doomed, [it]);
    assert.deepEqual(result, { ok: true, deliveries: 1 });
    assert.equal(routed.n, 2, 'routed twice: before the deletion and after');
    assert.deepEqual(await deliveriesOf(it.message.id), [kept]);
    const { rows } = await watcher.query('SELECT count(*)::int AS n FROM message WHERE id = $1', [
      it.message.id,
    ]);
    assert.equal(rows[0].n, 1);
  });

  test('an application deleted between routing and storing: its messages are app_not_found', async () => {
    const { appId } = await appWithEndpoints();
    const routed = { n: 0 };
    const items = [item(appId, routed), item(appId, routed)];
    const results = await ingestWhileDeleting('DELETE FROM app WHERE id = $1', appId, items);
    assert.deepEqual(results, [
      { ok: false, reason: 'app_not_found' },
      { ok: false, reason: 'app_not_found' },
    ]);
    assert.equal(routed.n, 2, 'routed once each, before the deletion; after it there is no app to route to');
    const { rows } = await watcher.query('SELECT count(*)::int AS n FROM message WHERE app_id = $1', [appId]);
    assert.equal(rows[0].n, 0);
  });
});
