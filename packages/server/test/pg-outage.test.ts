/**
 * Database outage: Hookline reaches PostgreSQL through a TCP proxy this test controls. Messages
 * are published before, during and after the proxy cuts every connection, then while it
 * silently stops forwarding (a partition). While the database
 * is unreachable the API answers 503 `service_unavailable` (a coded JSON error, not a hang, never
 * a 202); once the proxy is restored the worker resumes on its own and every message that got
 * a 202 reaches the receiver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSecretBox } from '../src/core/secret-box.ts';
import { openPostgres } from '../src/store/postgres/connection.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { sql } from '../src/store/sql.ts';
import { StoreUnavailableError } from '../src/store/store-errors.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import {
  createTestDatabase,
  PG_SECRET_KEY,
  type PgProxy,
  pgTestOptions,
  startPgProxy,
  type TestDatabase,
} from './pg.ts';

const MESSAGES = 240;

describe('PostgreSQL outage', await pgTestOptions(), () => {
  let db: TestDatabase;
  let proxy: PgProxy;
  let server: TestServer;
  let receiver: TestReceiver;

  before(async () => {
    db = await createTestDatabase('outage');
    proxy = await startPgProxy();
    receiver = await startReceiver();
    // Slow enough that deliveries are in flight when the connections are cut.
    receiver.fallback = { status: 200, body: 'ok', delayMs: 20 };
    server = await startHookline({
      env: {
        HOOKLINE_DATABASE_URL: proxy.url(db.name),
        HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
        HOOKLINE_DATABASE_CONNECT_TIMEOUT: '1',
        HOOKLINE_DATABASE_STATEMENT_TIMEOUT: '2',
        HOOKLINE_DELIVERY_TIMEOUT: '1',
        HOOKLINE_RETRY_SCHEDULE: '0.2,0.5,1,2,5',
      },
    });
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
    await proxy?.close();
    await db?.drop();
  });

  test('503 while the database is down, nothing accepted is lost, delivery resumes by itself', {
    timeout: 90_000,
  }, async (t) => {
    const app = await server.call('POST', '/api/v1/app', { name: 'Outage', uid: 'outage' });
    assert.equal(app.status, 201);
    const ep = await server.call('POST', '/api/v1/app/outage/endpoint', { url: `${receiver.url}/hook` });
    assert.equal(ep.status, 201);

    const accepted = new Set<string>();
    const unavailable: unknown[] = [];
    const publish = async (i: number) => {
      // A request that hangs fails the test (the abort is a guard, not a measurement).
      const res = await fetch(`${server.url}/api/v1/app/outage/msg`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ eventType: 'outage.test', payload: { i } }),
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await res.json()) as { id: string; code?: string };
      if (res.status === 202) accepted.add(body.id);
      else if (res.status === 503) unavailable.push(body);
      else assert.fail(`unexpected ${res.status}: ${JSON.stringify(body)}`);
    };

    let i = 0;
    const third = MESSAGES / 3;
    // Before the outage.
    for (; i < third; i++) await publish(i);
    // The outage: every connection is reset; new ones are refused.
    proxy.cut();
    const health = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(health.status, 503, 'health reports the database down');
    for (; i < 2 * third; i++) await publish(i);
    assert.ok(unavailable.length >= third - 1, `the API refused messages while down (${unavailable.length})`);
    for (const body of unavailable) {
      assert.equal((body as { code: string }).code, 'service_unavailable');
      assert.equal(typeof (body as { detail: string }).detail, 'string');
    }
    // Back: the API and the worker recover without a restart.
    proxy.restore();
    const resumeDeadline = Date.now() + 30_000;
    for (; i < MESSAGES; i++) {
      await publish(i);
      if (accepted.size === 0 && Date.now() > resumeDeadline) assert.fail('the API did not recover');
    }
    assert.ok(accepted.size >= 2 * third - 1, `messages accepted after the restore (${accepted.size})`);

    // A partition: the database stops answering but nothing is closed. Timeouts (connect 1 s,
    // statement 2 s) turn it into 503s too; no request hangs and none is accepted.
    proxy.stall();
    const acceptedBefore = accepted.size;
    const refusedBefore = unavailable.length;
    for (let k = 0; k < 3; k++) await publish(MESSAGES + k);
    assert.equal(accepted.size, acceptedBefore, 'nothing accepted while the database does not answer');
    assert.equal(unavailable.length, refusedBefore + 3, 'each request got a 503');
    proxy.restore();
    const stallDeadline = Date.now() + 30_000;
    while (accepted.size === acceptedBefore) {
      assert.ok(Date.now() < stallDeadline, 'the API did not recover after the partition');
      await publish(MESSAGES + 3);
      await new Promise((r) => setTimeout(r, 100));
    }

    const deadline = Date.now() + 60_000;
    const received = () => new Set(receiver.requests.map((r) => String(r.headers['webhook-id'])));
    while (Date.now() < deadline && [...accepted].some((id) => !received().has(id))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const missing = [...accepted].filter((id) => !received().has(id));
    t.diagnostic(
      `${accepted.size} accepted, ${unavailable.length} refused with 503 while down, ${receiver.requests.length} requests received`,
    );
    assert.deepEqual(missing, [], 'every accepted message was delivered');
    // Outcomes that could not be recorded during the outage are recorded once it is over.
    let stats = await server.call('GET', `/api/v1/app/outage/endpoint/${ep.body.id}/stats`);
    const statsDeadline = Date.now() + 40_000;
    while (stats.body.success < accepted.size && Date.now() < statsDeadline) {
      await new Promise((r) => setTimeout(r, 200));
      stats = await server.call('GET', `/api/v1/app/outage/endpoint/${ep.body.id}/stats`);
    }
    t.diagnostic(`endpoint stats: ${JSON.stringify(stats.body)}`);
    assert.deepEqual(stats.body, { success: accepted.size, pending: 0, sending: 0, fail: 0, canceled: 0 });
  });

  test('a statement left unanswered fails at the read deadline and its connection is replaced', {
    timeout: 30_000,
  }, async () => {
    // Statement timeout 300 ms: the client gives up 1 s after that. The pool's one connection is
    // open and idle when the partition starts, so only the deadline can end the statement.
    const conn = openPostgres({
      url: proxy.url(db.name),
      poolSize: 1,
      connectTimeoutMs: 1000,
      statementTimeoutMs: 300,
    });
    try {
      assert.equal((await conn.one(sql`SELECT 1 AS one`))?.one, 1);
      proxy.stall();
      const started = Date.now();
      await assert.rejects(conn.one(sql`SELECT 2 AS two`), (err: unknown) => {
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.match(err.message, /Query read timeout/);
        return true;
      });
      // Not before the deadline (the statement itself would have been cancelled at 300 ms).
      assert.ok(Date.now() - started >= 1_250, `failed after ${Date.now() - started} ms`);
      // Inside a transaction too; the transaction's connection is closed, not rolled back.
      await assert.rejects(
        conn.tx((c) => conn.query(sql`SELECT 3`, c)),
        (err: unknown) => err instanceof StoreUnavailableError,
      );
      proxy.restore();
      // The stalled connections were closed: the pool's next one works.
      assert.equal((await conn.one(sql`SELECT 4 AS four`))?.four, 4);
    } finally {
      proxy.restore();
      await conn.end();
    }
  });

  test('a worker’s LISTEN connection comes back after an outage and wakes it again', {
    timeout: 60_000,
  }, async () => {
    const secretBox = createSecretBox(PG_SECRET_KEY);
    const direct = createPostgresStore({ url: db.url, secretBox });
    const viaProxy = createPostgresStore({ url: proxy.url(db.name), secretBox, connectTimeoutMs: 1000 });
    try {
      let wakes = 0;
      viaProxy.onDeliveriesQueued(() => wakes++);
      const app = await direct.getApp('outage');
      assert.ok(app, 'the first test created the application');
      const publishUntilWoken = async (what: string) => {
        const start = wakes;
        const deadline = Date.now() + 20_000;
        while (wakes === start) {
          assert.ok(Date.now() < deadline, `no notification ${what}`);
          const message = {
            id: `msg_listen${Date.now()}${Math.random().toString(36).slice(2, 8)}`,
            appId: app.id,
            eventId: null,
            eventType: 'outage.listen',
            payload: '{}',
            channels: null,
            tags: null,
            createdAt: Date.now(),
          };
          await direct.ingest([
            {
              message,
              dueAt: Date.now() + 3_600_000,
              route: (eps) => eps.map((e) => e.id),
              newDeliveryId: () => `dlv_${message.id.slice(4)}`,
            },
          ]);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      await publishUntilWoken('before the outage');
      proxy.cut();
      await new Promise((r) => setTimeout(r, 1500));
      proxy.restore();
      // The first wake-up may be the listener's own "look for work" after it reconnects; the
      // second needs a notification that came through the new LISTEN connection.
      await publishUntilWoken('after the outage: the listener did not reconnect');
      await publishUntilWoken('after the outage: LISTEN was not restored');
    } finally {
      await viaProxy.close();
      await direct.close();
    }
  });
});
