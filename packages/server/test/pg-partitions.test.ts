/**
 * The daily partitions on PostgreSQL of the attempt log (migration 14), of inbound request
 * bytes (migration 20) and of message payloads (migration 22; those stored before stay in their
 * rows), on a new database (no partition for before partitioning, migration 21):
 * made ahead of time, dropped
 * whole by retention once a day is past the retention period, with a default partition for
 * attempts no day covers. The Hookline here runs on a manual clock days ahead of the real one,
 * so its attempts land in the partitions made for those days.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type Clock, createManualClock } from '../src/core/clock.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import {
  createDatabaseBefore,
  createTestDatabase,
  PG_SECRET_KEY,
  pgTestOptions,
  type TestDatabase,
} from './pg.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const today = Math.floor(Date.now() / DAY) * DAY;
/** The name of `table`'s partition for the UTC day starting at `dayStart`. */
const dayPartition = (table: string) => (dayStart: number) =>
  `${table}_${new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '')}`;
const partitionOf = dayPartition('attempt');

/** A database of its own, a client on it, and a Hookline on `clock` with retention on (one day)
 * but stopped: each test runs its passes. */
async function startPartitioned(label: string, clock: Clock, env: Record<string, string> = {}) {
  const db = await createTestDatabase(label);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const server = await startHookline({
    clock,
    env: {
      HOOKLINE_DATABASE_URL: db.url,
      HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
      HOOKLINE_RETENTION_DAYS: '1',
      ...env,
    },
  });
  await server.hookline.retention!.stop();
  return { db, sql, server };
}

async function stopPartitioned(p: { db?: TestDatabase; sql?: pg.Client; server?: TestServer }) {
  await p.server?.close();
  await p.sql?.end();
  await p.db?.drop();
}

const tableExists = async (sql: pg.Client, table: string) =>
  (await sql.query('SELECT to_regclass($1) IS NOT NULL AS ok', [table])).rows[0].ok as boolean;

describe('attempt partitions (postgres)', await pgTestOptions(), () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let server: TestServer;
  let receiver: TestReceiver;
  // Noon, two days from now: a day the migration made a partition for.
  const clock = createManualClock(today + 2 * DAY + 12 * HOUR);

  const exists = (table: string) => tableExists(sql, table);
  const attemptsOf = async (msgId: string) =>
    (await server.call('GET', `/api/v1/app/p/attempt/msg/${msgId}`)).body.data as { id: string }[];
  const publish = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await server.call('POST', '/api/v1/app/p/msg', { eventType: 'p.test', payload: { i } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    await server.hookline.dispatcher!.drain();
    return ids;
  };

  before(async () => {
    ({ db, sql, server } = await startPartitioned('partitions', clock));
    receiver = await startReceiver();
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'P', uid: 'p' })).status, 201);
    assert.equal(
      (await server.call('POST', '/api/v1/app/p/endpoint', { url: `${receiver.url}/hook` })).status,
      201,
    );
  });
  after(async () => {
    await stopPartitioned({ db, sql, server });
    await receiver?.close();
  });

  test('the attempt table is partitioned, with a default partition and today and the coming days made', async () => {
    const parted = await sql.query(
      "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'attempt'::regclass",
    );
    assert.equal(parted.rows[0]?.partstrat, 'r');
    assert.ok(await exists('attempt_default'));
    // A new database had nothing before partitioning: no partition for it (migration 21), so the
    // first day's attempts have a day of their own.
    assert.equal(await exists('attempt_before_partitions'), false);
    for (let d = 0; d <= 7; d++) assert.ok(await exists(partitionOf(today + d * DAY)), `day +${d}`);
  });

  test('days before the first can be made too (older history imported into a new database)', async () => {
    const made = await sql.query('SELECT hookline_day_partitions($1, $2, $3, $4) AS n', [
      'attempt',
      'atmpt_',
      today - 3 * DAY,
      1,
    ]);
    assert.equal(made.rows[0].n, 2);
    assert.ok(await exists(partitionOf(today - 3 * DAY)));
    assert.ok(await exists(partitionOf(today - 2 * DAY)));
  });

  test('retention drops whole days past the period; the days after keep their attempts', async () => {
    const old = await publish(3);
    for (const id of old) assert.equal((await attemptsOf(id)).length, 1);
    const day2 = partitionOf(today + 2 * DAY);
    assert.equal(Number((await sql.query(`SELECT count(*) AS n FROM ${day2}`)).rows[0].n), 3);

    clock.advance(DAY + 6 * HOUR); // day +3, 18:00
    const recent = await publish(2);
    clock.advance(18 * HOUR); // day +4, 12:00: the period (1 day) reaches back to day +3, 12:00

    const removed = await server.hookline.retention!.runOnce();
    assert.equal(removed.attempts, 0, 'nothing was left to delete row by row');
    assert.equal(await exists(day2), false, 'day +2 was dropped');
    assert.ok(await exists(partitionOf(today + 3 * DAY)), 'day +3 still holds recent attempts');
    assert.ok(await exists('attempt_default'));
    for (const id of old) assert.deepEqual(await attemptsOf(id), []);
    for (const id of recent) assert.equal((await attemptsOf(id)).length, 1);
    // The pass made the days ahead of the (manual) clock too.
    assert.ok(await exists(partitionOf(today + 11 * DAY)));
  });

  test('an attempt on a day without a partition goes to the default one, and that day is left to it', async () => {
    clock.set(today + 40 * DAY + 12 * HOUR);
    const [id] = await publish(1);
    const attempts = await attemptsOf(id!);
    assert.equal(attempts.length, 1);
    const inDefault = await sql.query('SELECT id FROM attempt_default');
    assert.deepEqual(
      inDefault.rows.map((r) => r.id),
      [attempts[0]!.id],
    );
    // Making that day's partition would strand the row: it is skipped, and the days after it are made.
    const made = await server.hookline.store.dropHistory(today, clock.now());
    assert.equal(made.partitions, 0);
    assert.equal(await exists(partitionOf(today + 40 * DAY)), false);
    assert.ok(await exists(partitionOf(today + 41 * DAY)));
    assert.equal((await attemptsOf(id!)).length, 1);
  });

  test('a pass paces its drops: it is asked after each partition, and stops when told to', async () => {
    // Three days of the past, made the way older history is (above), each a partition to drop.
    await sql.query('SELECT hookline_day_partitions($1, $2, $3, $4)', [
      'attempt',
      'atmpt_',
      today - 13 * DAY,
      2,
    ]);
    const days = [13, 12, 11].map((d) => partitionOf(today - d * DAY));
    for (const t of days) assert.ok(await exists(t), t);
    const cutoff = today - 10 * DAY;
    const took: number[] = [];
    // Told to stop after the first: the other two stay for a later pass.
    const first = await server.hookline.store.dropHistory(cutoff, clock.now(), async (ms) => {
      took.push(ms);
      return false;
    });
    assert.equal(first.partitions, 1);
    assert.equal(took.length, 1);
    assert.ok(took[0]! >= 0);
    assert.equal(await exists(days[0]!), false, 'the oldest went first');
    assert.ok(await exists(days[1]!));
    assert.ok(await exists(days[2]!));
    // Asked after each of the others in turn.
    const rest = await server.hookline.store.dropHistory(cutoff, clock.now(), async (ms) => {
      took.push(ms);
      return true;
    });
    assert.equal(rest.partitions, 2);
    assert.equal(took.length, 3);
    for (const t of days) assert.equal(await exists(t), false, t);
  });

  test('a partition another transaction holds is left to a later pass; the others go', async () => {
    const held = partitionOf(today + 3 * DAY);
    assert.ok(await exists(held));
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`LOCK TABLE ${held} IN ACCESS SHARE MODE`);
      // Each partition is dropped in a transaction of its own, waiting at most 100 ms for its locks.
      const r = await server.hookline.store.dropHistory(clock.now() - DAY, clock.now());
      assert.ok(r.partitions >= 1, `the days after it went: ${r.partitions}`);
      assert.equal(await exists(partitionOf(today + 4 * DAY)), false);
      assert.ok(await exists(held), 'the held one stays');
      await other.query('ROLLBACK');
      const again = await server.hookline.store.dropHistory(clock.now() - DAY, clock.now());
      assert.equal(again.partitions, 1);
      assert.equal(await exists(held), false, 'and goes in the next pass');
    } finally {
      await other.end();
    }
  });

  test('a day partly past the period keeps its attempts until all of it is; then its partition goes whole', async () => {
    // The clock is at day +40, 12:00, whose one attempt is in the default partition (above).
    const inDefault = (await sql.query('SELECT id FROM attempt_default')).rows.map((r) => r.id as string);
    assert.equal(inDefault.length, 1);
    clock.set(today + 42 * DAY + 12 * HOUR);
    const [id] = await publish(1);
    const day42 = partitionOf(today + 42 * DAY);
    assert.equal(Number((await sql.query(`SELECT count(*) AS n FROM ${day42}`)).rows[0].n), 1);

    clock.set(today + 43 * DAY + 13 * HOUR); // the period (1 day) reaches back to day +42, 13:00
    const first = await server.hookline.retention!.runOnce();
    assert.equal(first.attempts, 1, 'the default partition has no days to drop: its attempt went row by row');
    assert.equal((await sql.query('SELECT count(*) AS n FROM attempt_default')).rows[0].n, '0');
    assert.equal((await attemptsOf(id!)).length, 1, 'day +42 is not all past the period: its attempt stays');
    assert.ok(await exists(day42));

    clock.set(today + 44 * DAY + 30 * 60_000); // day +44, 00:30: all of day +42 is past it
    const second = await server.hookline.retention!.runOnce();
    assert.equal(second.attempts, 0, 'nothing went row by row');
    assert.ok(second.partitions >= 1);
    assert.equal(await exists(day42), false, 'day +42 was dropped whole');
    assert.deepEqual(await attemptsOf(id!), []);
  });
});

const bodyPartitionOf = dayPartition('inbound_body');

describe('inbound request bytes partitioned by day (postgres)', await pgTestOptions(), () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let server: TestServer;
  let ok: TestReceiver;
  let down: TestReceiver;
  const clock = createManualClock(today + 2 * DAY + 12 * HOUR);

  const exists = (table: string) => tableExists(sql, table);
  const source = async (name: string, url: string) => {
    const res = await server.call('POST', '/api/v1/source', {
      name,
      verification: { scheme: 'none' },
      destinations: [{ url }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const receive = async (name: string, body: string) => {
    const res = await fetch(`${server.url}/in/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-provider-token': 'tok' },
      body,
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { id: string }).id;
  };

  before(async () => {
    // A failed forward waits ten days for its retry: it stays open through this test.
    ({ db, sql, server } = await startPartitioned('bodyparts', clock, { HOOKLINE_RETRY_SCHEDULE: '864000' }));
    ok = await startReceiver();
    down = await startReceiver();
    down.fallback = { status: 500, body: 'down' };
  });
  after(async () => {
    await stopPartitioned({ db, sql, server });
    await ok?.close();
    await down?.close();
  });

  test('bytes live in daily partitions, made ahead like the attempt log', async () => {
    const parted = await sql.query(
      "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'inbound_body'::regclass",
    );
    assert.equal(parted.rows[0]?.partstrat, 'r');
    assert.ok(await exists('inbound_body_default'));
    assert.equal(
      await exists('inbound_body_before_partitions'),
      false,
      'a new database had no requests before',
    );
    for (let d = 0; d <= 7; d++) assert.ok(await exists(bodyPartitionOf(today + d * DAY)), `day +${d}`);
  });

  test('retention drops a day of bytes once it is all forwarded; a day still forwarding keeps its own', async () => {
    const okSource = await source('bytes-ok', `${ok.url}/fwd`);
    const downSource = await source('bytes-down', `${down.url}/fwd`);
    const forwarded = await receive('bytes-ok', '{"day":2}');
    await ok.waitFor(1);
    // A message of the same day still waiting for a dead endpoint is no reason to keep the day's
    // inbound bytes: only the day's own requests are.
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'Out', uid: 'out' })).status, 201);
    const ep = await server.call('POST', '/api/v1/app/out/endpoint', { url: `${down.url}/out` });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    const pub = await server.call('POST', '/api/v1/app/out/msg', { eventType: 'out.test', payload: {} });
    assert.equal(pub.status, 202, JSON.stringify(pub.body));
    await down.waitFor(1);
    await server.hookline.dispatcher!.drain();
    const day2 = bodyPartitionOf(today + 2 * DAY);
    assert.equal(Number((await sql.query(`SELECT count(*) AS n FROM ${day2}`)).rows[0].n), 1);

    clock.advance(DAY); // day +3, 12:00: a request whose forward fails and stays open
    const waiting = await receive('bytes-down', '{"day":3}');
    await down.waitFor(2);
    await server.hookline.dispatcher!.drain();

    clock.advance(2 * DAY); // day +5, 12:00: the period (1 day) reaches back to day +4, 12:00
    const removed = await server.hookline.retention!.runOnce();
    assert.equal(await exists(day2), false, 'day +2 was dropped');
    const open = await sql.query(
      'SELECT count(*) AS n FROM delivery WHERE msg_id = $1 AND status IN (1, 3)',
      [pub.body.id],
    );
    assert.equal(Number(open.rows[0].n), 1, 'though a message of day +2 still waits');
    assert.ok(await exists(bodyPartitionOf(today + 3 * DAY)), 'day +3 still forwards a request');
    assert.ok(removed.partitions >= 2, `attempt and body partitions dropped: ${removed.partitions}`);
    const drops = await sql.query('SELECT upper_id, dropped_at FROM inbound_body_drop ORDER BY upper_id');
    assert.ok(drops.rows.length >= 1);
    assert.ok(drops.rows.every((r) => Number(r.dropped_at) === clock.now()));

    const gone = await server.call('GET', `/api/v1/source/${okSource}/event/${forwarded}`);
    assert.equal(gone.status, 200, 'the record stays');
    assert.equal(gone.body.status, 'accepted');
    assert.equal(gone.body.body, '');
    assert.deepEqual(gone.body.headers, []);
    assert.equal(gone.body.bodyExpungedAt, new Date(clock.now()).toISOString());
    const kept = await server.call('GET', `/api/v1/source/${downSource}/event/${waiting}`);
    assert.equal(kept.body.body, '{"day":3}', 'bytes still to forward are kept');
    assert.equal(kept.body.bodyExpungedAt, null);
    assert.ok((kept.body.headers as [string, string][]).some(([k]) => k === 'x-provider-token'));
  });
});

const payloadPartitionOf = dayPartition('message_payload');

describe('message payloads partitioned by day (postgres)', await pgTestOptions(), () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let server: TestServer;
  let ok: TestReceiver;
  let down: TestReceiver;
  const clock = createManualClock(today + 2 * DAY + 12 * HOUR);

  const exists = (table: string) => tableExists(sql, table);
  const publish = async (app: string, payload: unknown) => {
    const res = await server.call('POST', `/api/v1/app/${app}/msg`, { eventType: 'p.test', payload });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const payloadOf = async (app: string, id: string) => {
    const res = await server.call('GET', `/api/v1/app/${app}/msg/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.payload;
  };

  before(async () => {
    // A failed delivery waits ten days for its retry: it stays open through this test.
    ({ db, sql, server } = await startPartitioned('payloadparts', clock, {
      HOOKLINE_RETRY_SCHEDULE: '864000',
    }));
    ok = await startReceiver();
    down = await startReceiver();
    down.fallback = { status: 500, body: 'down' };
    for (const [uid, url] of [
      ['up', `${ok.url}/hook`],
      ['dead', `${down.url}/hook`],
    ] as const) {
      assert.equal((await server.call('POST', '/api/v1/app', { name: uid, uid })).status, 201);
      assert.equal((await server.call('POST', `/api/v1/app/${uid}/endpoint`, { url })).status, 201);
    }
  });
  after(async () => {
    await stopPartitioned({ db, sql, server });
    await ok?.close();
    await down?.close();
  });

  test('a new message keeps its payload in its day partition, not in its row', async () => {
    const parted = await sql.query(
      "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'message_payload'::regclass",
    );
    assert.equal(parted.rows[0]?.partstrat, 'r');
    assert.ok(await exists('message_payload_default'));
    for (let d = 0; d <= 7; d++) assert.ok(await exists(payloadPartitionOf(today + d * DAY)), `day +${d}`);

    const id = await publish('up', { hello: 'day 2' });
    const row = await sql.query('SELECT payload FROM message WHERE id = $1', [id]);
    assert.equal(row.rows[0].payload, null);
    const day2 = payloadPartitionOf(today + 2 * DAY);
    const kept = await sql.query(`SELECT payload FROM ${day2} WHERE id = $1`, [id]);
    assert.equal(kept.rows[0]?.payload, '{"hello":"day 2"}');
    assert.deepEqual(await payloadOf('up', id), { hello: 'day 2' });
    await ok.waitFor(1);
    assert.equal(JSON.parse(ok.requests[0]!.body.toString()).hello, 'day 2', 'delivered with its payload');
  });

  test('retention drops a day of payloads once none of its messages waits; the records stay', async () => {
    await server.hookline.dispatcher!.drain();
    const delivered = await publish('up', { n: 'delivered' });
    await ok.waitFor(2);
    clock.advance(DAY); // day +3, 12:00: one message whose delivery fails and stays open
    const waiting = await publish('dead', { n: 'waiting' });
    await down.waitFor(1);
    const day4 = await (async () => {
      clock.advance(DAY); // day +4, 12:00
      return publish('up', { n: 'day 4' });
    })();
    await ok.waitFor(3);
    await server.hookline.dispatcher!.drain();

    clock.advance(18 * HOUR); // day +5, 06:00: the period (1 day) reaches back to day +4, 06:00
    const removed = await server.hookline.retention!.runOnce();
    assert.equal(await exists(payloadPartitionOf(today + 2 * DAY)), false, 'day +2 was dropped');
    assert.ok(await exists(payloadPartitionOf(today + 3 * DAY)), 'day +3 still has a delivery waiting');
    assert.ok(removed.partitions >= 2, `attempt and payload partitions dropped: ${removed.partitions}`);
    assert.deepEqual(await payloadOf('up', delivered), {}, 'an expired payload reads as {}');
    assert.deepEqual(await payloadOf('dead', waiting), { n: 'waiting' }, 'a waiting message keeps it');
    // Day +4 is past the period only until 06:00 (what it held before then would go row by row):
    // its message of noon stays.
    assert.deepEqual(await payloadOf('up', day4), { n: 'day 4' });
    const listed = await server.call('GET', '/api/v1/app/up/msg?with_content=true&limit=10');
    assert.equal(listed.status, 200);
    assert.ok(
      (listed.body.data as { id: string }[]).some((m) => m.id === delivered),
      'the record of an expired message is still listed',
    );
  });

  test("retention's batches read only the days before the period: a later day's partitions are not touched", async () => {
    // The clock is at day +5, 06:00 (the test before): the batches delete what is left of days
    // +3 and +4 before day +4, 06:00. Another transaction holds day +5's partitions exclusively;
    // a batch that planned its delete over every partition would wait for it.
    const day5 = today + 5 * DAY;
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      for (const table of ['message_payload', 'attempt', 'inbound_body'])
        await holder.query(`LOCK TABLE ${dayPartition(table)(day5)} IN ACCESS EXCLUSIVE MODE`);
      const before = clock.now() - DAY;
      let timer: NodeJS.Timeout | undefined;
      const batch = await Promise.race([
        server.hookline.store.expunge(before, clock.now(), 500),
        new Promise<'waiting'>((resolve) => {
          timer = setTimeout(() => resolve('waiting'), 10_000);
        }),
      ]);
      clearTimeout(timer);
      assert.notEqual(batch, 'waiting', "the batch waited for a later day's lock");
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  test('expunging a message content deletes its payload row', async () => {
    const id = await publish('up', { secret: 's3cr3t' });
    const res = await server.call('DELETE', `/api/v1/app/up/msg/${id}/content`);
    assert.equal(res.status, 204, JSON.stringify(res.body));
    const left = await sql.query('SELECT count(*) AS n FROM message_payload WHERE id = $1', [id]);
    assert.equal(Number(left.rows[0].n), 0);
    assert.deepEqual(await payloadOf('up', id), {});
  });
});

describe('message payloads stored before partitioning (postgres)', await pgTestOptions(), () => {
  let drop: (() => Promise<void>) | undefined;
  after(() => drop?.());

  test('stay in their rows, read as before, and retention empties them there', async () => {
    const { database, client: c } = await createDatabaseBefore('payloadmig', 22);
    drop = database.drop;
    const OLD = 'msg_2Nf1Yx3oVh8Jm0RkqW4sLb7Tz9a';
    try {
      await c.query(`INSERT INTO app (id, uid, name, throttle_rate, metadata, created_at, updated_at)
                     VALUES ('app_1', 'old', 'Old', NULL, '{}', 1, 1)`);
      await c.query(
        `INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
         VALUES ($1, 'app_1', 'evt-1', 'old.event', '{"kept":"in its row"}', NULL, NULL, 1000)`,
        [OLD],
      );
    } finally {
      await c.end();
    }

    const store = createPostgresStore({ url: database.url, secretBox: createSecretBox(PG_SECRET_KEY) });
    try {
      await store.migrate();
      assert.equal((await store.getMessage('app_1', OLD))?.payload, '{"kept":"in its row"}');
      assert.equal((await store.getMessage('app_1', 'evt-1'))?.id, OLD, 'found by its event id too');
      assert.deepEqual(await store.expunge(2000, 5000, 10), { payloads: 1, attempts: 0 });
      assert.equal((await store.getMessage('app_1', OLD))?.payload, '{}');
      assert.deepEqual(await store.expunge(2000, 5000, 10), { payloads: 0, attempts: 0 });
    } finally {
      await store.close();
    }
  });
});
