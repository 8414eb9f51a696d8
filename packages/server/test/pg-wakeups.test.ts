/**
 * Worker processes on PostgreSQL share the wake-ups of new work (store/postgres/notify.ts): each
 * is told at once of the endpoints it is first in line for among the connected dispatchers, and
 * of the others a little later, so that one notification does not make every worker claim.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createIdGenerator } from '../src/core/ids.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { openPostgres, type PostgresConnection } from '../src/store/postgres/connection.ts';
import { createNotifier, firstInLine } from '../src/store/postgres/notify.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { sql } from '../src/store/sql.ts';
import type { Store } from '../src/store/store.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';
import { testApp, testEndpoint, testIngestItem } from './stores.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

test('first in line: every process picks the same dispatcher, the split is even, one leaving moves only its share', () => {
  const ids = createIdGenerator(() => T0);
  const endpoints = Array.from({ length: 4000 }, () => ids('endpoint'));
  const four = [
    '6f1c2a52-9a43-4c11-8d0e-2b7f3e9a0c11',
    '0b9e7d44-1f2a-4b6c-9e3d-5a8c7b6e4f22',
    'c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e33',
    '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c44',
  ];
  const owners = endpoints.map((e) => firstInLine(four, e));
  // The order a process read them in does not matter.
  assert.deepEqual(
    endpoints.map((e) => firstInLine([...four].reverse(), e)),
    owners,
  );
  for (const d of four) {
    const n = owners.filter((o) => o === d).length;
    assert.ok(n > 800 && n < 1200, `${d} is first in line for ${n} of 4,000 (about 1,000)`);
  }
  // One goes away: only the endpoints it had move, spread over the three left.
  const three = four.slice(1);
  endpoints.forEach((e, i) => {
    const now = firstInLine(three, e);
    if (owners[i] !== four[0]) assert.equal(now, owners[i], `${e} stays where it was`);
    else assert.ok(three.includes(now!));
  });
  assert.equal(firstInLine([], endpoints[0]!), undefined);
});

describe('PostgreSQL wake-ups shared among dispatchers', await pgTestOptions(), () => {
  let db: TestDatabase;
  let publisher: Store;
  const workers: Store[] = [];
  const ids = createIdGenerator(() => T0);
  let appId: string;
  const endpointIds: string[] = [];

  const open = async () => {
    const s = createPostgresStore({ url: db.url, secretBox: createSecretBox(PG_SECRET_KEY) });
    workers.push(s);
    return s;
  };

  before(async () => {
    db = await createTestDatabase('wakeups');
    publisher = createPostgresStore({ url: db.url, secretBox: createSecretBox(PG_SECRET_KEY) });
    await publisher.migrate();
    appId = ids('app');
    await publisher.insertApp(testApp(appId, T0));
    for (let i = 0; i < 20; i++) {
      const e = testEndpoint(ids('endpoint'), appId, T0);
      await publisher.insertEndpoint(e);
      endpointIds.push(e.id);
    }
  });
  after(async () => {
    for (const w of workers) await w.close();
    await publisher?.close();
    await db?.drop();
  });

  /** One message to every endpoint, from the publisher's process. */
  async function publish() {
    const [r] = await publisher.ingest([testIngestItem(ids, appId, T0)]);
    assert.deepEqual(r, { ok: true, deliveries: 20 });
  }

  type Told = (string[] | undefined)[];
  /** What each listener was told after one publish, call by call, once every call is in. */
  async function round(calls: (readonly string[] | undefined)[][], settleMs = 400): Promise<Told[]> {
    for (const c of calls) c.length = 0;
    await publish();
    await new Promise((r) => setTimeout(r, settleMs));
    return calls.map((c) => c.map((ids) => (ids === undefined ? undefined : [...ids].sort())));
  }

  test('two dispatchers: each told at once of its own endpoints, later of the other’s; a plain listener of all at once', async () => {
    const a = await open();
    const b = await open();
    const calls: (readonly string[] | undefined)[][] = [[], [], []];
    const unsubscribe = [
      a.onDeliveriesQueued((ids) => calls[0]!.push(ids), { dispatcher: true }),
      b.onDeliveriesQueued((ids) => calls[1]!.push(ids), { dispatcher: true }),
      // Like a `hookline listen` session on an API process: not a dispatcher.
      a.onDeliveriesQueued((ids) => calls[2]!.push(ids)),
    ];
    const all = [...endpointIds].sort();
    // Until each has read that the other is connected (at connect, then every 2 s), both are
    // told of everything at once.
    let split: Told[] = [];
    for (let i = 0; i < 25; i++) {
      split = await round(calls);
      if (split[0]!.length === 2 && split[1]!.length === 2) break;
    }
    const [toA, toB, plain] = split;
    assert.equal(
      toA!.length,
      2,
      `a was told twice: its own at once, the others later (${JSON.stringify(toA)})`,
    );
    assert.equal(toB!.length, 2, `b likewise (${JSON.stringify(toB)})`);
    const [aOwn, aLater] = toA as string[][];
    const [bOwn, bLater] = toB as string[][];
    assert.deepEqual([...aOwn!, ...bOwn!].sort(), all, 'each endpoint is one dispatcher’s own');
    assert.deepEqual(aLater, bOwn, 'a hears of b’s endpoints later');
    assert.deepEqual(bLater, aOwn, 'b hears of a’s endpoints later');
    assert.deepEqual(plain, [all], 'a plain listener is told of every endpoint at once');
    // Who is told first is who leads: each endpoint is led by exactly the one told of it at once.
    for (const id of aOwn!) assert.deepEqual([a.leadsEndpoint!(id), b.leadsEndpoint!(id)], [true, false], id);
    for (const id of bOwn!) assert.deepEqual([a.leadsEndpoint!(id), b.leadsEndpoint!(id)], [false, true], id);

    // b's process goes away: a reads that (every 2 s) and is told of everything at once again.
    unsubscribe[1]!();
    await b.close();
    let alone: Told[] = [];
    for (let i = 0; i < 25; i++) {
      alone = await round(calls);
      // Told once, of everything: a round can also end between a's own endpoints and the rest,
      // told 250 ms later, while a has not yet read that b is gone.
      if (alone[0]!.length === 1 && alone[0]![0]?.length === all.length) break;
    }
    assert.deepEqual(alone[0], [all], 'alone, a is told of every endpoint at once');
    assert.deepEqual(alone[1], [], 'b, unsubscribed, hears nothing');
    assert.ok(
      endpointIds.every((id) => a.leadsEndpoint!(id)),
      'alone, a leads every endpoint',
    );
    unsubscribe[0]!();
    unsubscribe[2]!();
  });
});

/** Waits (at most 2 s) until some connection to the database has run `LISTEN`. */
async function untilListening(conn: PostgresConnection): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await conn.query(
      sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
            AND query LIKE 'LISTEN%'`,
    );
    if (Number(rows[0]?.n ?? 0) > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a wake-up that could not be sent is sent again (PostgreSQL)', await pgTestOptions(), () => {
  test('the notification of new work fails twice, then reaches the other process', async () => {
    const db = await createTestDatabase('wakeup_retry');
    const sending = openPostgres({ url: db.url });
    const listening = openPostgres({ url: db.url });
    let failures = 2;
    let sends = 0;
    // The API process's pool, unable to reach the database for its first two notifications.
    const flaky: PostgresConnection = {
      ...sending,
      query: (q, c) => {
        sends++;
        if (failures-- > 0) return Promise.reject(new Error('connection terminated unexpectedly'));
        return sending.query(q, c);
      },
    };
    const sender = createNotifier(flaky);
    const listener = createNotifier(listening);
    const told: (readonly string[] | undefined)[] = [];
    const unsubscribe = listener.subscribe((ids) => told.push(ids));
    try {
      // Listening before anything is sent (the LISTEN connection opens on subscribe).
      await untilListening(listening);
      sender.soon(['ep_a']);
      sender.soon(['ep_b']);
      for (let i = 0; i < 300 && told.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(
        told.map((ids) => (ids === undefined ? ids : [...ids].sort())),
        [['ep_a', 'ep_b']],
        `told ${JSON.stringify(told)} after ${sends} sends`,
      );
      assert.equal(sends, 3, 'two failed, the third was sent');
    } finally {
      unsubscribe();
      await sender.close();
      await listener.close();
      await sending.end();
      await listening.end();
      await db.drop();
    }
  });
});

describe('deliveries a worker gives back wake the others (PostgreSQL)', await pgTestOptions(), () => {
  test('released by one process, announced to another for their endpoints', async () => {
    const db = await createTestDatabase('wakeup_release');
    const open = () => createPostgresStore({ url: db.url, secretBox: createSecretBox(PG_SECRET_KEY) });
    const stopping = open();
    const other = open();
    const ids = createIdGenerator(() => T0);
    try {
      await stopping.migrate();
      const appId = ids('app');
      await stopping.insertApp(testApp(appId, T0));
      const endpoint = testEndpoint(ids('endpoint'), appId, T0);
      await stopping.insertEndpoint(endpoint);
      await stopping.ingest([testIngestItem(ids, appId, T0), testIngestItem(ids, appId, T0)]);
      const { deliveries } = await stopping.claimDue({
        now: T0 + 1,
        limit: 10,
        leaseMs: 30_000,
        perEndpoint: 10,
        skipEndpoints: [],
      });
      assert.equal(deliveries.length, 2);
      // The other process listens from now on (the publish's notification is long gone).
      const told: (readonly string[] | undefined)[] = [];
      const unsubscribe = other.onDeliveriesQueued((endpointIds) => told.push(endpointIds));
      try {
        const probe = openPostgres({ url: db.url });
        try {
          await untilListening(probe);
        } finally {
          await probe.end();
        }
        // Whatever was announced before (the publish) is not what this test is about.
        await new Promise((r) => setTimeout(r, 50));
        told.length = 0;
        // A worker stopping gives back what it had not sent.
        await stopping.releaseDeliveries(
          deliveries.map((d) => d.id),
          T0 + 2,
        );
        for (let i = 0; i < 300 && told.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(told, [[endpoint.id]]);
      } finally {
        unsubscribe();
      }
    } finally {
      await stopping.close();
      await other.close();
      await db.drop();
    }
  });
});
