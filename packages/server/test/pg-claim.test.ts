/**
 * PostgreSQL's claim never waits on another worker (see store/postgres/claim.ts): an endpoint
 * another claim is serving is skipped, an endpoint row another transaction holds does not stop
 * a claim for an unlimited endpoint, a busy endpoint another worker is first in line for is
 * left to it until its work has waited, and the claim function refuses to run where its limits
 * could not be exact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createIdGenerator } from '../src/core/ids.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { DeliveryStatus, type Endpoint } from '../src/core/types.ts';
import { CLAIM_LOCK_CLASS } from '../src/store/postgres/claim.ts';
import { openPostgres } from '../src/store/postgres/connection.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { prepared, sql } from '../src/store/sql.ts';
import type { Store } from '../src/store/store.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';
import { byFilters, testApp, testAttempt, testEndpoint, testIngestItem } from './stores.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

describe('PostgreSQL claims never wait', await pgTestOptions(), () => {
  let db: TestDatabase;
  let store: Store;
  let other: pg.Client;
  const ids = createIdGenerator(() => T0);

  before(async () => {
    db = await createTestDatabase('claim');
    // A claim that waited for a lock would hit this and fail the test instead of hanging it.
    store = createPostgresStore({
      url: db.url,
      secretBox: createSecretBox(PG_SECRET_KEY),
      statementTimeoutMs: 3000,
    });
    await store.migrate();
    other = new pg.Client({ connectionString: db.url });
    await other.connect();
  });
  after(async () => {
    await other?.end();
    await store?.close();
    await db?.drop();
  });

  /** An application with endpoints `a` and `b` (no limits), each with `n` due deliveries. */
  async function twoEndpoints(n: number): Promise<{ a: string; b: string }> {
    const appId = ids('app');
    await store.insertApp(testApp(appId, T0));
    const endpoint = (eventType: string): Endpoint =>
      testEndpoint(ids('endpoint'), appId, T0, { eventTypes: [eventType] });
    const a = endpoint('a');
    const b = endpoint('b');
    await store.insertEndpoint(a);
    await store.insertEndpoint(b);
    await store.ingest(
      ['a', 'b'].flatMap((eventType) =>
        Array.from({ length: n }, () => testIngestItem(ids, appId, T0, { eventType }, { route: byFilters })),
      ),
    );
    return { a: a.id, b: b.id };
  }
  const claim = (now: number) =>
    store
      .claimDue({ now, limit: 100, leaseMs: 30_000, perEndpoint: 10, skipEndpoints: [] })
      .then((c) => c.deliveries);

  test('an endpoint another claim is serving is skipped; the batch fills from the others', async () => {
    const { a, b } = await twoEndpoints(5);
    // Another process's claim holds endpoint a (the lock a claim takes while it decides a's limits).
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2))', [CLAIM_LOCK_CLASS, a]);
    try {
      const got = await claim(T0 + 1);
      assert.deepEqual(
        got.map((d) => d.endpointId),
        Array(5).fill(b),
      );
    } finally {
      await other.query('COMMIT');
    }
    const after = await claim(T0 + 1);
    assert.deepEqual(
      after.map((d) => d.endpointId),
      Array(5).fill(a),
      'its holder is gone: a is served',
    );
  });

  test('an endpoint row held by another transaction does not stop a claim for it', async () => {
    const { a } = await twoEndpoints(3);
    // What a completion writing this endpoint's health (or an API update) holds.
    await other.query('BEGIN');
    await other.query('SELECT 1 FROM endpoint WHERE id = $1 FOR NO KEY UPDATE', [a]);
    try {
      const got = await claim(T0 + 1);
      assert.equal(got.filter((d) => d.endpointId === a).length, 3);
    } finally {
      await other.query('COMMIT');
    }
  });

  test('a busy endpoint another worker is first in line for is left to it until its oldest due delivery has waited', async () => {
    const claimDeferring = (now: number, endpointId: string) =>
      store.claimDue({
        now,
        limit: 100,
        leaseMs: 30_000,
        perEndpoint: 10,
        skipEndpoints: [],
        deferEndpoints: [endpointId],
        deferMs: 10_000,
        deferHot: 2,
      });
    const of = (c: { deliveries: { endpointId: string }[] }, id: string) =>
      c.deliveries.filter((d) => d.endpointId === id).length;
    /** Leases `n` of the endpoint's deliveries, as its first in line would. */
    const serve = async (endpointId: string, n: number) => {
      const served = await store.claimDue({
        now: T0 + 1,
        limit: n,
        leaseMs: 30_000,
        perEndpoint: 10,
        skipEndpoints: [],
        onlyEndpoints: [endpointId],
      });
      assert.equal(of(served, endpointId), n);
    };

    // One of a's deliveries in flight, fewer than deferHot: a quiet endpoint is anyone's.
    const quiet = await twoEndpoints(6);
    await serve(quiet.a, 1);
    const any = await claimDeferring(T0 + 2, quiet.a);
    assert.equal(of(any, quiet.a), 5, 'not busy: claimed at once');
    assert.equal(of(any, quiet.b), 6);

    // Two in flight: busy, its first in line is serving it.
    const busy = await twoEndpoints(6);
    await serve(busy.a, 2);
    const early = await claimDeferring(T0 + 5_000, busy.a);
    assert.equal(of(early, busy.a), 0, 'due at T0, looked at 5 s later: left');
    assert.equal(of(early, busy.b), 6, 'b, not deferred, is claimed as before');
    assert.equal(early.blockedUntil, T0 + 10_000, 'the claim says when the wait ends');
    const late = await claimDeferring(T0 + 10_000, busy.a);
    assert.equal(of(late, busy.a), 4, 'waited 10 s (its first in line is behind or stalled): taken');
  });

  test('the claim is planned once per connection; its plans read one endpoint’s due rows in order and lock its picks by id', async () => {
    const { rows } = await other.query(`SELECT proconfig FROM pg_proc WHERE proname = 'hookline_claim'`);
    assert.deepEqual(
      rows.map((r) => r.proconfig),
      [['plan_cache_mode=force_generic_plan', 'jit=off', 'enable_bitmapscan=off', 'enable_seqscan=off']],
    );
    // A backlog of one endpoint the statistics do not know of yet (no ANALYZE since it was
    // written): an endpoint back after an outage. Generic plans made from those statistics must
    // still read its due rows in due order from its index, never all of them at once.
    const { a } = await twoEndpoints(3);
    await other.query(
      `INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type, created_at, updated_at)
       SELECT 'dlv_backlog_' || lpad(i::text, 6, '0'), d.msg_id, d.app_id, d.endpoint_id, 1, 0, $2::bigint + i, 0, $2::bigint, $2::bigint
       FROM (SELECT * FROM delivery WHERE endpoint_id = $1 LIMIT 1) d, generate_series(1, 3000) AS i`,
      [a, T0 - 10_000],
    );
    const { plans, stop } = await explainAll(other);
    try {
      // Several calls: PL/pgSQL would switch plans after the fifth.
      for (let i = 0; i < 7; i++) {
        const { rows: got } = await other.query(
          `SELECT id FROM hookline_claim($1, 30000, 4, 1000, '{}', NULL, '{}', $1, 1050, '{}', 1, false, 2, 10000, '', 16, 256, 2000, '{}', 0, 1)
           WHERE id IS NOT NULL`,
          [T0 + 1],
        );
        assert.equal(got.length, 4);
      }
    } finally {
      await stop();
    }
    const turns = plans.filter((p) => p.includes('ORDER BY o.endpoint_id, o.next_attempt_at, o.id LIMIT'));
    assert.equal(turns.length, 7, 'the round robin ran in every call');
    for (const p of turns) assert.match(p, /Index Scan using delivery_endpoint_due on delivery o/);
    // The picks are locked by their ids, not found again among all due rows (the backlog's 3,000).
    const leases = plans.filter((p) => p.includes('leased AS ('));
    assert.equal(leases.length, 7, 'every call leased');
    for (const p of leases) {
      const scans = [...p.matchAll(/Index Scan using (\w+) on delivery l_1/g)].map((m) => m[1]);
      assert.deepEqual(scans, ['delivery_pkey'], p);
    }
    for (const p of plans) {
      assert.doesNotMatch(p, /Bitmap Heap Scan|JIT:|Seq Scan on delivery/);
    }
  });

  test('the claim function runs only under READ COMMITTED, where each of its steps sees the others’ leases', async () => {
    await other.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      await assert.rejects(
        other.query(
          `SELECT * FROM hookline_claim(0, 1, 10, 10, '{}', NULL, '{}', 0, 1050, '{}', 1, false, 2, 10000, '', 40, 256, 2000, '{}', 0, 1)`,
        ),
        /READ COMMITTED/,
      );
    } finally {
      await other.query('ROLLBACK');
    }
  });
});

describe('a claim that raced another worker says so (PostgreSQL)', await pgTestOptions(), () => {
  // Another worker's claim that commits while this one runs (between its read of the due window,
  // its endpoints' room and its leases) must leave this one either leasing what is still due or
  // saying "look again now" (`blockedUntil` at or before its `now`). A claim that leased nothing
  // and said nothing made its worker sleep until its idle poll (5 s) with work due: the stall
  // `npm run bench` caught with two workers on PostgreSQL (docs/benchmarks.md).
  const NOW = T0 + 1_000;
  const claimOf = (store: Store, limit: number, perEndpoint: number) =>
    store.claimDue({ now: NOW, limit, leaseMs: 30_000, perEndpoint, skipEndpoints: [] });
  /** The `n` oldest due deliveries' ids, as another worker's claim would lease them. */
  const oldest = async (other: pg.Client, n: number) =>
    (
      await other.query<{ id: string }>(
        'SELECT id FROM delivery WHERE status = 1 ORDER BY next_attempt_at, id LIMIT $1',
        [n],
      )
    ).rows.map((r) => r.id);
  /** Leases `leased` as another worker's claim would (SENDING until a later time). */
  const leaseElsewhere = (other: pg.Client, leased: string[]) =>
    other.query('UPDATE delivery SET status = 3, next_attempt_at = $2 WHERE id = ANY($1::text[])', [
      leased,
      NOW + 30_000,
    ]);
  /**
   * Waits until some backend of the database waits as `where` says (bounded: 20 s). `other` is
   * usually inside a transaction, where PostgreSQL keeps the first look at pg_stat_activity until
   * the transaction ends: the snapshot is dropped before each look, or a claim that reached its
   * wait after the first look is never seen (a full CI run: the claim's statement timed out).
   */
  async function waitUntilWaiting(other: pg.Client, where: string): Promise<void> {
    for (let i = 0; i < 2_000; i++) {
      await other.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await other.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND ${where}`,
      );
      if ((rows[0]?.n ?? 0) > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no backend waited (${where})`);
  }

  test('deliveries of its window that another claim leased meanwhile are not picked: it leases the ones still due', () =>
    withOwnDatabase('claim_window_race', async ({ store, other }) => {
      const { endpoint, queue } = await oneEndpoint(store);
      // 20 due within the last LIVE_MS (live traffic): read by the claim's due window.
      await queue(Array.from({ length: 20 }, (_, i) => T0 + 500 + i));
      const taken = await oldest(other, 10);
      // The claim reads its window, then waits for the endpoint's application row (held here)
      // while another worker leases the 10 oldest and commits.
      await other.query('BEGIN');
      await other.query('LOCK TABLE app IN ACCESS EXCLUSIVE MODE');
      const claiming = claimOf(store, 10, 20);
      await waitUntilWaiting(other, "wait_event_type = 'Lock'");
      await leaseElsewhere(other, taken);
      await other.query('COMMIT');
      const got = await claiming;
      const ids = got.deliveries.map((d) => d.id);
      assert.equal(ids.length, 10, `leased ${ids.length}, said blockedUntil ${got.blockedUntil}`);
      assert.deepEqual(
        ids.filter((id) => taken.includes(id)),
        [],
      );
      assert.ok(got.deliveries.every((d) => d.endpointId === endpoint.id));
    }));

  test('picks held by another transaction when it leases make it say "look again now"', () =>
    withOwnDatabase('claim_skip_locked', async ({ store, other }) => {
      const { queue } = await oneEndpoint(store);
      // Due long ago: read by the claim's turns, not as live traffic.
      await queue(Array.from({ length: 20 }, (_, i) => T0 - 60_000 + i));
      await other.query('BEGIN');
      try {
        // The 10 oldest, held as a completion or a release in progress would hold them.
        await other.query('SELECT id FROM delivery WHERE id = ANY($1::text[]) FOR UPDATE', [
          await oldest(other, 10),
        ]);
        const got = await claimOf(store, 10, 20);
        assert.equal(got.deliveries.length, 0, 'its picks were all held');
        assert.ok(
          got.blockedUntil !== null && got.blockedUntil <= NOW,
          `10 due and none leased, yet blockedUntil ${got.blockedUntil}`,
        );
        // 15 picked to fill the endpoint's limit of 15, 5 of them leased: the other 10 are due.
        const some = await claimOf(store, 15, 15);
        assert.equal(some.deliveries.length, 5);
        assert.ok(
          some.blockedUntil !== null && some.blockedUntil <= NOW,
          `5 of 15 picks leased, yet blockedUntil ${some.blockedUntil}`,
        );
      } finally {
        await other.query('ROLLBACK');
      }
    }));

  test('an endpoint another claim filled between its look and its lock makes it say "look again now"', () =>
    withOwnDatabase('claim_room_race', async ({ store, other }) => {
      const { queue } = await oneEndpoint(store);
      await queue(Array.from({ length: 30 }, (_, i) => T0 - 60_000 + i));
      const taken = await oldest(other, 20);
      // A pause in the claim after it has read the endpoints' room and before it locks them: the
      // rate lookup it makes per endpoint sleeps once (this test's database only).
      await other.query('CREATE TABLE claim_pause (ms integer)');
      await other.query(`INSERT INTO claim_pause VALUES (300)`);
      await other.query(`CREATE OR REPLACE FUNCTION hookline_rate_of(endpoint_rate integer, app_rate integer,
          endpoint_kind text, chat_kinds text[], chat_rate integer) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
        DECLARE v integer;
        BEGIN
          DELETE FROM claim_pause RETURNING ms INTO v;
          IF v IS NOT NULL THEN PERFORM pg_sleep(v / 1000.0); END IF;
          RETURN CASE WHEN endpoint_rate IS NOT NULL THEN endpoint_rate
                      WHEN endpoint_kind = ANY(chat_kinds) THEN chat_rate ELSE app_rate END;
        END $$`);
      const claiming = claimOf(store, 10, 20);
      await waitUntilWaiting(other, "wait_event = 'PgSleep'");
      // Meanwhile another worker leases 20, the endpoint's limit: 10 stay due.
      await leaseElsewhere(other, taken);
      const got = await claiming;
      assert.equal(got.deliveries.length, 0, 'the endpoint had no room left');
      assert.ok(
        got.blockedUntil !== null && got.blockedUntil <= NOW,
        `10 due behind another worker's leases, yet blockedUntil ${got.blockedUntil}`,
      );
    }));

  test('two workers claiming live traffic at once: every claim that leaves due work says so, none is claimed twice', () =>
    withOwnDatabase('claim_race_live', async ({ store, other, url }) => {
      const second = createPostgresStore({ url, secretBox: createSecretBox(PG_SECRET_KEY) });
      try {
        const { queue } = await oneEndpoint(store);
        // 1,500 deliveries falling due 1 ms apart (live traffic at 1,000/s), from a moment ahead.
        const COUNT = 1_500;
        const start = Date.now() + 1_000;
        const ids = createIdGenerator();
        await queue(Array.from({ length: COUNT }, (_, i) => start + i));
        await new Promise((r) => setTimeout(r, Math.max(0, start - Date.now())));
        const seen = new Set<string>();
        const silent: string[] = [];
        let claims = 0;
        // Each worker claims (small batches: more claims, more chances to race) and completes at
        // once, until everything is delivered (bounded: 30 s).
        const work = async (s: Store) => {
          const deadline = start + 30_000;
          while (seen.size < COUNT && Date.now() < deadline) {
            const now = Date.now();
            const c = await s.claimDue({
              now,
              limit: 10,
              leaseMs: 30_000,
              perEndpoint: 20,
              skipEndpoints: [],
            });
            claims++;
            for (const d of c.deliveries) {
              assert.ok(!seen.has(d.id), `${d.id} claimed twice`);
              seen.add(d.id);
            }
            if (c.deliveries.length < 10 && c.blockedUntil === null && c.filled.length === 0) {
              // It says nothing is left that it could take: nothing due at its time is pending.
              const { rows } = await other.query(
                'SELECT count(*)::int AS n FROM delivery WHERE status = 1 AND next_attempt_at <= $1',
                [now],
              );
              if (Number(rows[0]?.n) > 0)
                silent.push(`${rows[0]?.n} due left by a claim of ${c.deliveries.length}`);
            }
            if (c.deliveries.length > 0) {
              const at = Date.now();
              await s.completeDeliveries(
                c.deliveries.map((d) => ({
                  deliveryId: d.id,
                  leaseUntil: d.leaseUntil,
                  attempt: testAttempt(ids('attempt'), d, at),
                  next: { kind: 'success' as const },
                })),
                at,
              );
            } else await new Promise((r) => setTimeout(r, 2));
          }
        };
        await Promise.all([work(store), work(second)]);
        assert.equal(seen.size, COUNT, `${seen.size} of ${COUNT} delivered in ${claims} claims`);
        assert.deepEqual(silent, [], `of ${claims} claims`);
      } finally {
        await second.close();
      }
    }));
});

/** A database of its own, migrated, with a store and a second client on it; dropped after `fn`. */
async function withOwnDatabase(
  label: string,
  fn: (t: { store: Store; other: pg.Client; url: string }) => Promise<void>,
): Promise<void> {
  const db = await createTestDatabase(label);
  const store = createPostgresStore({ url: db.url, secretBox: createSecretBox(PG_SECRET_KEY) });
  const other = new pg.Client({ connectionString: db.url });
  try {
    await store.migrate();
    await other.connect();
    await fn({ store, other, url: db.url });
  } finally {
    await other.end();
    await store.close();
    await db.drop();
  }
}

/**
 * From now on, the plan of every statement `client` runs, nested ones included (auto_explain),
 * until `stop()` (for a client other tests use after this one).
 */
async function explainAll(client: pg.Client): Promise<{ plans: string[]; stop(): Promise<void> }> {
  const plans: string[] = [];
  const onNotice = (n: { message?: string }) => plans.push(n.message ?? '');
  client.on('notice', onNotice);
  await client.query(`LOAD 'auto_explain'`);
  for (const set of [
    'auto_explain.log_min_duration = 0',
    'auto_explain.log_nested_statements = on',
    'auto_explain.log_level = notice',
  ])
    await client.query(`SET ${set}`);
  return {
    plans,
    async stop() {
      await client.query('RESET ALL');
      client.off('notice', onNotice);
    },
  };
}

/**
 * One application with one endpoint (no limits) in `store`, and `queue(dueAts)`, which stores one
 * message created at T0 for it per due time.
 */
async function oneEndpoint(store: Store) {
  const ids = createIdGenerator(() => T0);
  const appId = ids('app');
  await store.insertApp(testApp(appId, T0));
  const endpoint = testEndpoint(ids('endpoint'), appId, T0);
  await store.insertEndpoint(endpoint);
  const queue = (dueAts: readonly number[]) =>
    store.ingest(
      dueAts.map((dueAt) => testIngestItem(ids, appId, T0, { eventType: 'queue.test' }, { dueAt })),
    );
  return { endpoint, queue };
}

/** The queue goes quiet: every delivery done, then analyzed (partial indexes of open ones count 0 rows). */
async function analyzeQuiet(other: pg.Client): Promise<void> {
  await other.query('UPDATE delivery SET status = $1', [DeliveryStatus.success]);
  await other.query('ANALYZE delivery');
}

describe('the claim reads payloads from its messages’ days only (PostgreSQL)', await pgTestOptions(), () => {
  test('picks published over three days come with their payloads; the other days are not opened', () =>
    withOwnDatabase('claimdays', async ({ store, other }) => {
      const DAY = 86_400_000;
      const day0 = Date.parse('2026-04-01T12:00:00Z');
      const days = [day0, day0 + DAY, day0 + 2 * DAY];
      // Day partitions of those days and the days around them (a database keeping history).
      await other.query('SELECT hookline_partitions_ahead($1, 6)', [day0 - 3 * DAY]);
      const appId = createIdGenerator(() => day0)('app');
      await store.insertApp(testApp(appId, day0));
      const endpoint = testEndpoint(createIdGenerator(() => day0)('endpoint'), appId, day0);
      await store.insertEndpoint(endpoint);
      const sent = new Map<string, string>();
      for (const [i, at] of days.entries()) {
        const ids = createIdGenerator(() => at);
        const it = testIngestItem(
          ids,
          appId,
          at,
          { eventType: 'day.test', payload: JSON.stringify({ day: i }) },
          { dueAt: day0 },
        );
        sent.set(it.message.id, it.message.payload);
        await store.ingest([it]);
      }
      const stored = await other.query(
        `SELECT tableoid::regclass::text AS part FROM message_payload WHERE id = ANY($1) ORDER BY id`,
        [[...sent.keys()]],
      );
      const partitions = stored.rows.map((r) => r.part as string);
      assert.equal(new Set(partitions).size, 3, `one partition a day: ${partitions}`);

      const { plans } = await explainAll(other);
      const { rows } = await other.query(
        `SELECT msg_id, payload FROM hookline_claim($1, 30000, 10, 1000, '{}', NULL, '{}', $1, 1050, '{}', 1, false, 2, 10000, '', 40, 256, 2000, '{}', 0, 1)
         WHERE id IS NOT NULL`,
        [days[2]! + 1],
      );
      assert.deepEqual(
        new Map(rows.map((r) => [r.msg_id as string, r.payload as string])),
        sent,
        'every pick with its own payload',
      );
      const lease = plans.find((p) => p.includes('leased AS ('));
      assert.ok(lease, 'the leasing statement was explained');
      const opened = [...lease.matchAll(/on (message_payload_\w+)/g)].map((m) => m[1]!);
      assert.deepEqual([...new Set(opened)].sort(), [...new Set(partitions)].sort(), lease);
      assert.match(lease, /Subplans Removed/);
      // The bounds are read through the picks' primary keys, never by walking every delivery's
      // message id (delivery_msg) from either end.
      const bounds = plans.find((p) => /max\(\(?d\.msg_id/.test(p));
      assert.ok(bounds, 'the bounds statement was explained');
      assert.deepEqual(
        [...bounds.matchAll(/Index Scan using (\w+) on delivery/g)].map((m) => m[1]),
        ['delivery_pkey'],
        bounds,
      );
    }));
});

describe('the next due time is read in due order (PostgreSQL)', await pgTestOptions(), () => {
  test('statistics taken while nothing was open do not turn it into a scan and a sort', () =>
    withOwnDatabase('nextdue', async ({ store, other }) => {
      const { endpoint, queue } = await oneEndpoint(store);
      // A history of finished deliveries, analyzed while none was open: every partial index of
      // open deliveries counts 0 rows. Then some open ones.
      await queue(Array(500).fill(T0));
      await analyzeQuiet(other);
      for (const at of [T0 + 5000, T0 + 3000, T0 + 4000]) await queue([at]);

      const { plans } = await explainAll(other);
      const next = async (after: number, only: string[] | null) =>
        Number(
          (await other.query('SELECT hookline_next_due($1, $2, $3) AS t', [after, ['listen'], only])).rows[0]
            .t,
        );
      assert.equal(await next(T0, null), T0 + 3000);
      assert.equal(await next(T0 + 3000, null), T0 + 4000);
      assert.equal(await next(T0, [endpoint.id]), T0 + 3000);
      assert.equal(await next(T0 + 4000, [endpoint.id]), T0 + 5000);
      const reads = plans.filter((p) => p.includes('FROM delivery d'));
      assert.equal(reads.length, 4, 'every call explained');
      for (const p of reads) {
        assert.doesNotMatch(p, /Sort|Seq Scan|Bitmap/, p);
        const scans = [...p.matchAll(/Index Scan using (\w+) on delivery d/g)].map((m) => m[1]);
        assert.equal(scans.length, 1, p);
        assert.ok(scans[0] === 'delivery_due' || scans[0] === 'delivery_endpoint_due', p);
      }
    }));
});

describe('the claim reads its due window in due order (PostgreSQL)', await pgTestOptions(), () => {
  test('statistics taken while nothing was open do not make it read the whole backlog and sort it, in its window or in its walk', () =>
    withOwnDatabase('claimwindow', async ({ store, other }) => {
      const { queue } = await oneEndpoint(store);
      const dueFromT0 = (n: number) => Array.from({ length: n }, (_, i) => T0 + i);
      // A quiet queue analyzed (every partial index of open deliveries counts 0 rows), then a
      // backlog of 600 due: an endpoint back from an outage.
      await queue(dueFromT0(300));
      await analyzeQuiet(other);
      await queue(dueFromT0(600));
      // Vacuumed since (not analyzed): its index-only scans look cheap.
      await other.query('VACUUM delivery');

      const { plans } = await explainAll(other);
      await other.query('BEGIN');
      try {
        // Limit 10: a window of 40 due deliveries out of 600.
        const { rows } = await other.query(
          `SELECT id FROM hookline_claim($1, 30000, 10, 1000, '{}', NULL, '{}', $1, 1050, '{}', 1, false, 2, 10000, '', 40, 256, 2000, '{}', 0, 1)
           WHERE id IS NOT NULL`,
          [T0 + 10_000],
        );
        assert.equal(rows.length, 10);
      } finally {
        await other.query('ROLLBACK');
      }
      // More is due than the window holds: the claim walked the endpoints, one ordered probe of
      // each endpoint's due rows per step (migration 34).
      // (Its plan is made once per connection with sorts off; a test database this small does not
      // make the planner prefer the sort, `node bench/pg-claim.ts --quiet` does.)
      const { rows: walkConfig } = await other.query(
        `SELECT l.lanname, p.proconfig FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = 'hookline_walk'`,
      );
      assert.deepEqual(walkConfig, [
        {
          lanname: 'plpgsql',
          proconfig: [
            'plan_cache_mode=force_generic_plan',
            'jit=off',
            'enable_sort=off',
            'enable_seqscan=off',
            'enable_bitmapscan=off',
          ],
        },
      ]);
      const walks = plans.filter((p) => p.includes('Recursive Union'));
      assert.ok(walks.length > 0, 'the walk over endpoints was explained');
      for (const p of walks) {
        assert.doesNotMatch(p, /Sort|Seq Scan|Bitmap/, p);
        assert.match(p, /Index Only Scan using delivery_endpoint_due on delivery d/, p);
      }
      const windows = plans.filter((p) => p.includes('LIMIT p_window'));
      assert.equal(windows.length, 2, 'the live window and the due window were explained');
      for (const p of windows) {
        assert.doesNotMatch(p, /Sort|Seq Scan|Bitmap/, p);
        assert.deepEqual(
          [...p.matchAll(/Scan using (\w+) on delivery/g)].map((m) => m[1]),
          ['delivery_due'],
          p,
        );
      }
    }));
});

describe(
  'the statements every delivery runs are prepared per connection (PostgreSQL)',
  await pgTestOptions(),
  () => {
    test('parsed once per connection under one name per distinct text', async () => {
      const db = await createTestDatabase('prepared');
      // One connection, so the statements below and the look at pg_prepared_statements share it.
      const conn = openPostgres({ url: db.url, poolSize: 1 });
      try {
        for (const n of [1, 2, 3]) {
          const [row] = await conn.query(prepared('probe', sql`SELECT ${n}::int * 2 AS x`));
          assert.equal(row?.x, n * 2);
        }
        const [other] = await conn.query(prepared('probe', sql`SELECT ${5}::int + 1 AS x`));
        assert.equal(other?.x, 6);
        const rows = await conn.query(
          sql`SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'probe%' ORDER BY name`,
        );
        assert.deepEqual(
          rows.map((r) => [r.name, r.statement]),
          [
            ['probe_0', 'SELECT $1::int * 2 AS x'],
            ['probe_1', 'SELECT $1::int + 1 AS x'],
          ],
        );
        // A statement not marked stays unnamed.
        await conn.query(sql`SELECT ${1}::int AS unmarked`);
        const all = await conn.query(sql`SELECT count(*)::int AS n FROM pg_prepared_statements`);
        assert.equal(all[0]?.n, 2);
      } finally {
        await conn.end();
        await db.drop();
      }
    });
  },
);
