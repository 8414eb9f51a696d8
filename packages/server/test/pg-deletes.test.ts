/**
 * What deleting an application or an endpoint takes with it on PostgreSQL, where the attempt
 * log, message payloads and deliveries carry no foreign key to their message or endpoint
 * (migration 37: those keys were checked, and their rows locked, on every delivery and attempt
 * written). Deletions clear them through the endpoint's and the message's triggers instead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createIdGenerator } from '../src/core/ids.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import type { Store } from '../src/store/store.ts';
import { createTestDatabase, pgTestOptions, type TestDatabase } from './pg.ts';
import { testApp, testAttempt, testEndpoint, testIngestItem } from './stores.ts';

describe('deletions without foreign keys on the hot tables (postgres)', await pgTestOptions(), () => {
  let db: TestDatabase;
  let store: Store;
  let sql: pg.Client;
  const now = Date.now();
  const ids = createIdGenerator(() => now);

  before(async () => {
    db = await createTestDatabase('deletes');
    store = createPostgresStore({ url: db.url, secretBox: createSecretBox('test-key') });
    await store.migrate();
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  after(async () => {
    await sql?.end();
    await store?.close();
    await db?.drop();
  });

  const count = async (text: string, params: unknown[]) =>
    Number((await sql.query(`SELECT count(*)::int AS n FROM ${text}`, params)).rows[0].n);

  /** An application with one endpoint and `n` messages to it, each attempted once (a retry left). */
  async function appWithHistory(n: number) {
    const app = testApp(ids('app'), now);
    await store.insertApp(app);
    const endpoint = testEndpoint(ids('endpoint'), app.id, now);
    await store.insertEndpoint(endpoint);
    await store.ingest(
      Array.from({ length: n }, () =>
        testIngestItem(ids, app.id, now, { payload: '{"kept":"until deleted"}' }),
      ),
    );
    const { deliveries } = await store.claimDue({
      now,
      limit: 100,
      leaseMs: 30_000,
      perEndpoint: 100,
      skipEndpoints: [],
      onlyEndpoints: [endpoint.id],
    });
    assert.equal(deliveries.length, n);
    await store.completeDeliveries(
      deliveries.map((d) => ({
        deliveryId: d.id,
        leaseUntil: d.leaseUntil,
        attempt: { ...testAttempt(ids('attempt'), d, now), responseStatusCode: 500, status: 2 },
        next: { kind: 'retry', at: now + 60_000 },
      })),
      now,
    );
    return { app, endpoint, msgIds: deliveries.map((d) => d.msgId) };
  }

  test("an application's deletion leaves none of its payloads, deliveries or attempts", async () => {
    const gone = await appWithHistory(3);
    const kept = await appWithHistory(2);
    const rowsOf = async (h: Awaited<ReturnType<typeof appWithHistory>>) => ({
      payloads: await count('message_payload WHERE id = ANY($1)', [h.msgIds]),
      deliveries: await count('delivery WHERE msg_id = ANY($1)', [h.msgIds]),
      attempts: await count('attempt WHERE msg_id = ANY($1)', [h.msgIds]),
    });
    assert.deepEqual(await rowsOf(gone), { payloads: 3, deliveries: 3, attempts: 3 });
    await store.deleteApp(gone.app.id);
    assert.deepEqual(await rowsOf(gone), { payloads: 0, deliveries: 0, attempts: 0 });
    assert.deepEqual(await rowsOf(kept), { payloads: 2, deliveries: 2, attempts: 2 });
  });

  test('an attempt recorded while its endpoint is being deleted does not outlive it', async () => {
    const h = await appWithHistory(1);
    const [delivery] = (await sql.query('SELECT id FROM delivery WHERE msg_id = $1', [h.msgIds[0]])).rows;
    // A completion in progress: it holds the delivery's row and has logged its attempt, uncommitted.
    const completion = new pg.Client({ connectionString: db.url });
    await completion.connect();
    try {
      await completion.query('BEGIN');
      await completion.query('UPDATE delivery SET status = 2, attempts = attempts + 1 WHERE id = $1', [
        delivery.id,
      ]);
      await completion.query(
        `INSERT INTO attempt (id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code,
           response, response_headers, request_headers, request_body, duration_ms, trigger_type, created_at)
         VALUES ($1, $2, $3, $4, $5, 'http://127.0.0.1:1/hook', 0, 200, 'ok', '{}', '{}', NULL, 3, 0, $6)`,
        [ids('attempt'), delivery.id, h.msgIds[0], h.endpoint.id, h.app.id, now],
      );
      const deleting = store.deleteEndpoint(h.app.id, h.endpoint.id);
      // The deletion waits for the delivery's row.
      const deadline = Date.now() + 10_000;
      while ((await count("pg_locks WHERE NOT granted AND locktype = 'transactionid'", [])) === 0) {
        assert.ok(Date.now() < deadline, 'the deletion never waited for the completion');
        await new Promise((r) => setTimeout(r, 20));
      }
      await completion.query('COMMIT');
      await deleting;
    } finally {
      await completion.end();
    }
    assert.equal(await count('attempt WHERE endpoint_id = $1', [h.endpoint.id]), 0);
    assert.equal(await count('delivery WHERE endpoint_id = $1', [h.endpoint.id]), 0);
  });
});
