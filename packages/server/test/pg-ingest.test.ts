/**
 * PostgreSQL stores a batch of new messages without a transaction: a routing read, then one
 * statement (store/postgres/queue.ts). An application or endpoint deleted between the two fails
 * that statement on its foreign key with nothing stored, and the batch is routed again: the
 * message is stored once, to the endpoints that exist, and the API never sees the error.
 *
 * In a process that also delivers, that statement leases live deliveries to its dispatcher
 * (IngestHandoff) within the limit claims keep across processes: the endpoint's live leases are
 * counted under its claim lock, after waiting for a claim that holds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createIdGenerator } from '../src/core/ids.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { CLAIM_LOCK_CLASS } from '../src/store/postgres/claim.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import type { ClaimedDelivery, IngestHandoff, IngestItem, Store } from '../src/store/store.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions } from './pg.ts';
import { byFilters, testApp, testEndpoint, testIngestItem } from './stores.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

/** A migrated database, its store, and two more connections: one to hold locks, one to watch. */
async function openDatabase(label: string) {
  const db = await createTestDatabase(label);
  const store = createPostgresStore({ url: db.url, secretBox: createSecretBox(PG_SECRET_KEY) });
  await store.migrate();
  const other = new pg.Client({ connectionString: db.url });
  await other.connect();
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  return {
    store,
    other,
    watcher,
    async close() {
      await other.end();
      await watcher.end();
      await store.close();
      await db.drop();
    },
  };
}

describe('PostgreSQL ingest and deletions under it', await pgTestOptions(), () => {
  let opened: Awaited<ReturnType<typeof openDatabase>> | undefined;
  let store: Store;
  let other: pg.Client;
  let watcher: pg.Client;
  const ids = createIdGenerator(() => T0);

  before(async () => {
    opened = await openDatabase('ingest');
    ({ store, other, watcher } = opened);
  });
  after(() => opened?.close());

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

describe('PostgreSQL ingest handing deliveries to its dispatcher', await pgTestOptions(), () => {
  let opened: Awaited<ReturnType<typeof openDatabase>> | undefined;
  let store: Store;
  let other: pg.Client;
  let watcher: pg.Client;
  const ids = createIdGenerator(() => T0);
  const LIMIT = 4;

  before(async () => {
    opened = await openDatabase('handoff');
    ({ store, other, watcher } = opened);
  });
  after(() => opened?.close());

  /** A dispatcher that would take everything: what the database grants is all that limits it. */
  function greedy() {
    const seen = { offered: 0, got: [] as ClaimedDelivery[], gaveBack: [] as string[] };
    const handoff: IngestHandoff = {
      leaseMs: 30_000,
      perEndpoint: LIMIT,
      take: () => {
        seen.offered++;
        return true;
      },
      taken: (deliveries) => seen.got.push(...deliveries),
      untake: (endpointIds) => seen.gaveBack.push(...endpointIds),
    };
    return { handoff, seen };
  }

  async function endpointOf(over: Parameters<typeof testEndpoint>[3] = {}) {
    const appId = ids('app');
    await store.insertApp(testApp(appId, T0));
    const ep = testEndpoint(ids('endpoint'), appId, T0, over);
    await store.insertEndpoint(ep);
    return { appId, endpointId: ep.id };
  }

  const statuses = async (endpointId: string) =>
    (
      await other.query(
        'SELECT status, count(*)::int AS n FROM delivery WHERE endpoint_id = $1 GROUP BY status ORDER BY status',
        [endpointId],
      )
    ).rows.map((r) => [r.status, r.n]);

  test('leases what the endpoint has room for across processes, queues the rest for a claim', async () => {
    const { appId, endpointId } = await endpointOf();
    // Another process leased 3 of the endpoint's 4 (a claim with nothing handed over).
    await store.ingest([1, 2, 3].map(() => testIngestItem(ids, appId, T0)));
    const claim = await store.claimDue({
      now: T0,
      limit: 10,
      leaseMs: 60_000,
      perEndpoint: LIMIT,
      skipEndpoints: [],
    });
    assert.equal(claim.deliveries.length, 3);
    const { handoff: h, seen } = greedy();
    const items = [1, 2, 3].map((i) => testIngestItem(ids, appId, T0, { payload: `{"i":${i}}` }));
    const results = await store.ingest(items, h);
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, true, true],
    );
    assert.equal(seen.offered, 3);
    assert.equal(seen.got.length, 1, 'one leased: the endpoint had room for one more');
    assert.deepEqual(seen.gaveBack, [endpointId, endpointId], 'the slots of the other two given back');
    const [d] = seen.got;
    assert.equal(d!.msgId, items[0]!.message.id, 'the first of the batch');
    assert.equal(d!.payload, '{"i":1}');
    assert.equal(d!.leaseUntil, T0 + 30_000);
    assert.equal(d!.endpoint.url, 'http://127.0.0.1:1/hook');
    const { rows } = await other.query('SELECT status, next_attempt_at FROM delivery WHERE id = $1', [d!.id]);
    assert.deepEqual(rows[0], { status: 3, next_attempt_at: String(T0 + 30_000) });
    assert.deepEqual(await statuses(endpointId), [
      [1, 2],
      [3, 4],
    ]);
    // A claim keeps the same limit: nothing more may be leased until one is done.
    const next = await store.claimDue({
      now: T0,
      limit: 10,
      leaseMs: 60_000,
      perEndpoint: LIMIT,
      skipEndpoints: [],
    });
    assert.equal(next.deliveries.length, 0);
  });

  test('an ingest waits for a claim deciding for the endpoint, then counts what that claim leased', async () => {
    const { appId, endpointId } = await endpointOf();
    await store.ingest([1, 2, 3, 4].map(() => testIngestItem(ids, appId, T0)));
    // Another process's claim, holding the endpoint's claim lock, leases all four (not yet committed).
    await other.query('BEGIN');
    let committed = false;
    try {
      await other.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2))', [
        CLAIM_LOCK_CLASS,
        endpointId,
      ]);
      await other.query('UPDATE delivery SET status = 3, next_attempt_at = $2 WHERE endpoint_id = $1', [
        endpointId,
        T0 + 60_000,
      ]);
      const { handoff: h, seen } = greedy();
      const ingesting = store.ingest([testIngestItem(ids, appId, T0), testIngestItem(ids, appId, T0)], h);
      let waited = false;
      for (let i = 0; i < 250 && !waited; i++) {
        const { rows } = await watcher.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
        );
        waited = rows[0].n > 0;
        if (!waited) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(waited, 'the ingest waited for the claim lock');
      await other.query('COMMIT');
      committed = true;
      const results = await ingesting;
      assert.ok(results.every((r) => r.ok));
      // The claim committed after the ingest statement began; the count under the lock saw it.
      assert.equal(seen.offered, 2);
      assert.equal(seen.got.length, 0, 'the endpoint was at its limit once the claim committed');
      assert.deepEqual(seen.gaveBack, [endpointId, endpointId]);
    } finally {
      if (!committed) await other.query('ROLLBACK');
    }
    assert.deepEqual(await statuses(endpointId), [
      [1, 2],
      [3, 4],
    ]);
    // At its limit by a count without the lock, an endpoint is not waited for.
    await other.query('BEGIN');
    try {
      await other.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2))', [
        CLAIM_LOCK_CLASS,
        endpointId,
      ]);
      const { handoff: h, seen } = greedy();
      await store.ingest([testIngestItem(ids, appId, T0)], h);
      assert.equal(seen.got.length, 0);
    } finally {
      await other.query('COMMIT');
    }
  });

  test('only live deliveries to plain endpoints are offered; a duplicate eventId gives its slot back', async () => {
    const fifo = await endpointOf({ fifo: true });
    const rated = await endpointOf({ throttleRate: 10 });
    const plain = await endpointOf();
    const { handoff: h, seen } = greedy();
    await store.ingest(
      [
        testIngestItem(ids, fifo.appId, T0),
        testIngestItem(ids, rated.appId, T0),
        testIngestItem(ids, plain.appId, T0, {}, { dueAt: T0 + 60_000 }),
        testIngestItem(ids, plain.appId, T0, { orderingKey: 'k' }),
      ],
      h,
    );
    assert.equal(seen.offered, 0, 'FIFO, rate-limited, scheduled and keyed deliveries wait for a claim');
    const first = testIngestItem(ids, plain.appId, T0, { eventId: 'evt-1' });
    await store.ingest([first], greedy().handoff);
    const { handoff: again, seen: seenAgain } = greedy();
    const [dup] = await store.ingest([testIngestItem(ids, plain.appId, T0, { eventId: 'evt-1' })], again);
    assert.equal(dup!.ok, false);
    assert.equal(seenAgain.offered, 1);
    assert.equal(seenAgain.got.length, 0);
    assert.deepEqual(seenAgain.gaveBack, [plain.endpointId]);
  });
});
