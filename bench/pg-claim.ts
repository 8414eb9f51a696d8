/**
 * Backlog drain on PostgreSQL, claim + complete only: `node bench/pg-claim.ts [--seconds N]`.
 *
 * What an endpoint coming back after an outage sees. For each scenario a fresh database (the
 * test template, see packages/server/test/pg.ts) gets 100k due deliveries of 1 KB messages, on
 * 1 endpoint and spread over 100; then one claimer, and then two concurrent claimers (two store
 * instances, as two worker processes would open), loop `claimDue` (limit 100, perEndpoint 64)
 * and `completeDeliveries` (every delivery a success, its attempt logged) until the backlog is
 * gone or the time is up, and the deliveries/s are printed with the CPU time PostgreSQL (its
 * processes for the database, read from /proc) and this process spent per delivery, which noise
 * on a shared machine moves less, and the write-ahead log written per delivery, which it does not
 * move at all. No HTTP: this is the store's share
 * of the work. Checks on the way that no delivery is claimed twice. A claim that comes back
 * empty while work is due is tried again 50 ms later, as the dispatcher does. Counts the claims
 * that came back short and said nothing of what they left (no `blockedUntil`, no endpoint
 * `filled`) while deliveries due at their time were neither leased nor delivered (one query
 * after each such claim, on a connection whose CPU is not counted): a dispatcher told that
 * sleeps until its idle poll (5 s).
 *
 *   --seconds N   time cap per scenario (default 8)
 *   --due N       due deliveries per scenario (default 100000)
 *   --days N      day partitions of each partitioned table ahead of today (default: the server's
 *                 PARTITION_DAYS_AHEAD), as many as a database keeping N days of history has
 *   --quiet       the statistics of a quiet queue: as many deliveries as the backlog, all done,
 *                 are analyzed before the backlog is written (vacuumed after it, not analyzed),
 *                 as when an endpoint comes back from an outage after a quiet period
 *   --endpoints L the scenarios' endpoint counts (default 1,100)
 *   --claimers L  the scenarios' claimer counts (default 1,2)
 *   --schema FILE SQL run on each migrated database before its backlog is written: to weigh a
 *                 schema change (an index dropped) before writing its migration
 *   --live RATE   live traffic instead of a backlog: RATE deliveries fall due each second for
 *                 the run's seconds (--due is then RATE x seconds), so every claim reads them
 *                 as live (due in the last LIVE_MS), as when the workers keep up with the API;
 *                 with two claimers on one endpoint this is where claims race each other
 *
 * Uses HOOKLINE_TEST_PG_URL like the tests (default the local server, trust auth).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createIdGenerator } from '../packages/server/src/core/ids.ts';
import { createSecretBox } from '../packages/server/src/core/secret-box.ts';
import { createPostgresStore } from '../packages/server/src/store/postgres/postgres-store.ts';
import type { Store } from '../packages/server/src/store/store.ts';
import { createTestDatabase, PG_SECRET_KEY } from '../packages/server/test/pg.ts';
import { testApp, testAttempt, testEndpoint } from '../packages/server/test/stores.ts';
import { wholeNumbers } from './lib.ts';
import { WalMeter } from './proc.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    due: { type: 'string', default: '100000' },
    days: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    endpoints: { type: 'string', default: '1,100' },
    claimers: { type: 'string', default: '1,2' },
    schema: { type: 'string' },
    live: { type: 'string' },
  },
});
const ENDPOINTS = wholeNumbers('endpoints', args.endpoints!);
const CLAIMERS = wholeNumbers('claimers', args.claimers!);
const SCHEMA = args.schema === undefined ? null : readFileSync(args.schema, 'utf8');
const SECONDS = Number(args.seconds);
const LIVE_RATE = args.live === undefined ? null : Number(args.live);
const DUE = LIVE_RATE === null ? Number(args.due) : Math.round(LIVE_RATE * SECONDS);
/** With --live, how long after the fill starts the first delivery falls due (the fill's time). */
const LIVE_LEAD_MS = 15_000;
/** Milliseconds between two deliveries' due times. */
const DUE_EVERY_MS = LIVE_RATE === null ? 1 : 1000 / LIVE_RATE;
const DAYS = args.days === undefined ? undefined : Number(args.days);
const QUIET = args.quiet!;
const LIMIT = 100;
const PER_ENDPOINT = 64;

const ids = createIdGenerator();

/** Fills the database; returns when its first delivery falls due. */
async function fill(url: string, store: Store, endpointCount: number): Promise<number> {
  const t = Date.now();
  const firstDue = LIVE_RATE === null ? t - DUE : t + LIVE_LEAD_MS;
  const appId = ids('app');
  await store.insertApp(testApp(appId, t, { name: 'bench' }));
  const endpointIds: string[] = [];
  for (let i = 0; i < endpointCount; i++) {
    const id = ids('endpoint');
    endpointIds.push(id);
    await store.insertEndpoint(testEndpoint(id, appId, t));
  }
  // Straight SQL: filling through the API would take longer than the run. Message i goes to
  // endpoint i mod n, due in creation order over the last DUE ms (--live: from firstDue on, at
  // the rate asked).
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    if (SCHEMA !== null) await c.query(SCHEMA);
    if (DAYS !== undefined) await c.query('SELECT hookline_partitions_ahead($1, $2)', [t, DAYS]);
    const payload = JSON.stringify({ type: 'invoice.paid', note: 'x'.repeat(960) });
    // Payloads apart from the rows, as the server stores them (migration 22).
    await c.query(
      `INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
       SELECT 'msg_' || lpad(i::text, 27, '0'), $1, NULL, 'invoice.paid', NULL, NULL, NULL, $2::bigint - $3 + i
       FROM generate_series(1, $3::int) AS i`,
      [appId, t, DUE],
    );
    await c.query(
      `INSERT INTO message_payload (id, payload)
       SELECT 'msg_' || lpad(i::text, 27, '0'), $1 FROM generate_series(1, $2::int) AS i`,
      [payload, DUE],
    );
    // The backlog (status 1); with --quiet first the same rows done (status 2, ids apart),
    // analyzed while none is open.
    const deliveries = (prefix: string, status: number) =>
      c.query(
        `INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
           created_at, updated_at)
         SELECT $6 || lpad(i::text, 27, '0'), 'msg_' || lpad(i::text, 27, '0'), $1, ($2::text[])[1 + i % $5],
           $7, 0, $8::bigint + floor(i * $9::float8)::bigint, 0, $3::bigint - $4 + i, $3::bigint - $4 + i
         FROM generate_series(1, $4::int) AS i`,
        [appId, endpointIds, t, DUE, endpointCount, prefix, status, firstDue, DUE_EVERY_MS],
      );
    if (QUIET) {
      await deliveries('dlv_done_', 2);
      await c.query('VACUUM ANALYZE delivery');
    }
    await deliveries('dlv_', 1);
    await c.query('VACUUM ANALYZE message');
    await c.query('VACUUM ANALYZE message_payload');
    await c.query(QUIET ? 'VACUUM delivery' : 'VACUUM ANALYZE delivery');
  } finally {
    await c.end();
  }
  return firstDue;
}

interface Result {
  delivered: number;
  seconds: number;
  claims: number;
  claimMs: number;
  completeMs: number;
  completions: number;
  empty: number;
  silent: number;
}

async function drain(stores: Store[], firstDue: number, check: pg.Client): Promise<Result> {
  // Live traffic starts when its first delivery falls due.
  await new Promise((r) => setTimeout(r, Math.max(0, firstDue - Date.now())));
  const seen = new Set<string>();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  let claims = 0;
  let claimMs = 0;
  let completeMs = 0;
  let completions = 0;
  let empty = 0;
  let silent = 0;
  let emptyInARow = 0;
  await Promise.all(
    stores.map(async (store) => {
      while (performance.now() < deadline && seen.size < DUE) {
        const now = Date.now();
        const t0 = performance.now();
        const {
          deliveries: batch,
          blockedUntil,
          filled,
        } = await store.claimDue({
          now,
          limit: LIMIT,
          leaseMs: 60_000,
          perEndpoint: PER_ENDPOINT,
          skipEndpoints: [],
        });
        const t1 = performance.now();
        claims++;
        claimMs += t1 - t0;
        // Short, and nothing said of what it left: was anything due and not leased at its time?
        if (batch.length < LIMIT && blockedUntil === null && filled.length === 0) {
          const { rows } = await check.query(
            'SELECT count(*)::int AS n FROM delivery WHERE status = 1 AND next_attempt_at <= $1',
            [now],
          );
          if ((rows[0]?.n ?? 0) > 0) silent++;
        }
        if (batch.length === 0) {
          // Due but nothing claimable (the other claimer holds the endpoint's leases): look again
          // after the dispatcher's BLOCKED_POLL_MS.
          empty++;
          if (++emptyInARow > 1000) throw new Error('no progress');
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        emptyInARow = 0;
        for (const d of batch) {
          if (seen.has(d.id)) throw new Error(`delivery ${d.id} claimed twice`);
          seen.add(d.id);
        }
        const at = Date.now();
        await store.completeDeliveries(
          batch.map((d) => ({
            deliveryId: d.id,
            leaseUntil: d.leaseUntil,
            attempt: testAttempt(ids('attempt'), d, at),
            next: { kind: 'success' as const },
          })),
          at,
        );
        completeMs += performance.now() - t1;
        completions++;
      }
    }),
  );
  return {
    delivered: seen.size,
    seconds: (performance.now() - started) / 1000,
    claims,
    claimMs,
    completeMs,
    completions,
    empty,
    silent,
  };
}

/**
 * CPU seconds used so far by PostgreSQL's processes for database `name` (its backends and any
 * autovacuum worker on it), from /proc: PostgreSQL runs on this machine.
 */
async function pgCpuSeconds(
  admin: pg.Client,
  name: string,
  known: Map<number, number>,
  leaveOut: number[],
): Promise<number> {
  const { rows } = await admin.query(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> ALL($2)',
    [name, leaveOut],
  );
  for (const r of rows) {
    try {
      const stat = readFileSync(`/proc/${r.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime (fields 14 and 15 of the whole line), in clock ticks of 1/100 s.
      known.set(Number(r.pid), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // Gone meanwhile: its last reading stands.
    }
  }
  return [...known.values()].reduce((a, b) => a + b, 0);
}

async function scenario(endpointCount: number, claimers: number): Promise<void> {
  const db = await createTestDatabase('bench_claim');
  const stores = Array.from({ length: claimers }, () =>
    createPostgresStore({ url: db.url, secretBox: createSecretBox(PG_SECRET_KEY), poolSize: 4 }),
  );
  try {
    await stores[0]!.migrate();
    const firstDue = await fill(db.url, stores[0]!, endpointCount);
    await Promise.all(stores.map((s) => s.ping()));
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    // The check after a silent claim runs on a connection of its own, left out of the CPU counted.
    const check = new pg.Client({ connectionString: db.url });
    await check.connect();
    const leaveOut = [Number((await check.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)];
    const known = new Map<number, number>();
    const pgBefore = await pgCpuSeconds(admin, db.name, known, leaveOut);
    const wal = await WalMeter.start(db.url);
    const nodeBefore = process.cpuUsage();
    const r = await drain(stores, firstDue, check);
    const node = process.cpuUsage(nodeBefore);
    const pgUsed = (await pgCpuSeconds(admin, db.name, known, leaveOut)) - pgBefore;
    const walBytes = await wal.stop();
    await admin.end();
    await check.end();
    const rate = Math.round(r.delivered / r.seconds);
    const per = (x: number) => x / Math.max(1, r.delivered);
    const us = (seconds: number) => `${Math.round(per(seconds) * 1e6)} µs`;
    console.log(
      `${String(endpointCount).padStart(3)} endpoint(s), ${claimers} claimer(s): ${String(rate).padStart(6)} deliveries/s` +
        `  CPU a delivery: PostgreSQL ${us(pgUsed)}, Node ${us((node.user + node.system) / 1e6)}` +
        `  WAL ${(per(walBytes) / 1024).toFixed(2)} KB a delivery` +
        `  (${r.delivered} in ${r.seconds.toFixed(1)} s; ${r.claims} claims, ${r.empty} empty;` +
        ` ${r.silent} short and silent while work was due;` +
        ` ${(r.claimMs / r.claims).toFixed(1)} ms per claim, ${(r.completeMs / Math.max(1, r.completions)).toFixed(1)} ms per completion)`,
    );
  } finally {
    for (const s of stores) await s.close();
    await db.drop();
  }
}

console.log(
  `claim + complete, ${DUE} due deliveries of 1 KB, limit ${LIMIT}, perEndpoint ${PER_ENDPOINT}, ≤${SECONDS} s each` +
    (DAYS === undefined ? '' : `, partitions ${DAYS} days ahead`) +
    (QUIET ? ', statistics of a quiet queue' : '') +
    (LIVE_RATE === null ? '' : `, falling due at ${LIVE_RATE}/s (live traffic)`) +
    (args.schema === undefined ? '' : `, schema changed by ${args.schema}`),
);
for (const endpoints of ENDPOINTS) {
  for (const claimers of CLAIMERS) await scenario(endpoints, claimers);
}
