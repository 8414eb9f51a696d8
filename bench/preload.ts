/**
 * Fast bulk loading straight into a Hookline database, for the backlog and "data grows" phases:
 * far faster than publishing through the API, with the database's own tools (generate_series on
 * PostgreSQL, a recursive CTE on SQLite), a chunk of rows per statement.
 *
 * Rows are cloned from template rows that Hookline itself wrote (a message published through the
 * API, its delivery, an attempt), overriding only ids, foreign keys, states and times. Every other
 * column is copied by name from the template, read from the live schema, so a column added by a
 * later migration keeps whatever Hookline writes there.
 *
 * Generated ids have Hookline's shape (prefix + 27 base62 characters) but start with `0` or `1`,
 * so they sort before every id Hookline makes today (KSUIDs of this decade start with `2`–`4`):
 * the preloaded rows are "older" than anything published during the run. A preloaded history's
 * messages on PostgreSQL are the exception: ids made for their day, in that day's partition
 * (`dayId`); and its attempts, on both stores, whose ids sort by their start as Hookline's do
 * (`minuteId`).
 */
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { idFloor } from '../packages/server/src/core/ids.ts';
import { DeliveryStatus } from '../packages/server/src/core/types.ts';

export interface BulkDb {
  readonly dialect: 'sqlite' | 'postgres';
  exec(sql: string): Promise<void>;
  /** The first row of a query, or undefined. */
  one(sql: string): Promise<Record<string, unknown> | undefined>;
  columns(table: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Opens the database of a `HOOKLINE_DATABASE_URL` (`sqlite:<path>` or `postgres://...`).
 * `live`: the server is running; only read (no bulk-load settings, no checkpoint at close).
 */
export async function openBulk(databaseUrl: string, options: { live?: boolean } = {}): Promise<BulkDb> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new DatabaseSync(databaseUrl.slice('sqlite:'.length));
    db.exec('PRAGMA busy_timeout = 10000');
    // A bulk load, with the server stopped: nothing to protect against a power cut meanwhile.
    if (!options.live) db.exec('PRAGMA synchronous = OFF');
    return {
      dialect: 'sqlite',
      exec: async (sql) => {
        db.exec(sql);
      },
      one: async (sql) => db.prepare(sql).get() as Record<string, unknown> | undefined,
      columns: async (table) =>
        (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((r) => r.name),
      close: async () => {
        // Fold the WAL back into the file, so the server does not start on a huge WAL.
        if (!options.live) db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
        db.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  // Bulk-loaded test data: no need to wait for each chunk's WAL flush.
  if (!options.live) await client.query('SET synchronous_commit = off');
  return {
    dialect: 'postgres',
    exec: async (sql) => {
      await client.query(sql);
    },
    one: async (sql) => (await client.query(sql)).rows[0],
    columns: async (table) =>
      (
        await client.query(
          `SELECT column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
          [table],
        )
      ).rows.map((r: { column_name: string }) => r.column_name),
    close: () => client.end(),
  };
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** SQL for an id `prefix` + the zero-padded number `expr` (27 characters after the prefix). */
function idExpr(db: BulkDb, prefix: string, expr: string): string {
  // prefix ends in the id kind's `_` plus one leading character ('0' or '1'): 26 digits follow.
  return db.dialect === 'postgres'
    ? `${quote(prefix)} || lpad((${expr})::text, 26, '0')`
    : `${quote(prefix)} || printf('%026d', ${expr})`;
}

/**
 * Inserts rows `lo..hi` (`s.i`) of `table`, each a copy of the template row (`t`) with the
 * columns in `set` replaced by SQL expressions. `join` adds more FROM items (e.g. `k` for
 * several rows per `i`). Columns of `set` the table does not have are ignored.
 */
async function cloneChunk(
  db: BulkDb,
  table: string,
  template: string,
  lo: number,
  hi: number,
  set: Record<string, string>,
  join = '',
): Promise<void> {
  const cols = await db.columns(table);
  if (cols.length === 0) throw new Error(`bench preload: no table ${table}`);
  const exprs = cols.map((c) => (c in set ? `${set[c]} AS ${c}` : `t.${c}`));
  const select = `SELECT ${exprs.join(', ')} FROM s ${join} CROSS JOIN (${template}) AS t`;
  const insert = `INSERT INTO ${table} (${cols.join(', ')}) `;
  if (db.dialect === 'postgres') {
    await db.exec(
      `WITH s AS (SELECT i FROM generate_series(${lo}::bigint, ${hi}::bigint) AS g(i)) ${insert}${select}`,
    );
  } else {
    await db.exec('BEGIN');
    await db.exec(
      `WITH RECURSIVE s(i) AS (SELECT ${lo} UNION ALL SELECT i + 1 FROM s WHERE i < ${hi}) ${insert}${select}`,
    );
    await db.exec('COMMIT');
  }
}

/** Runs `fn(lo, hi)` over 1..count in chunks, reporting progress now and then. */
async function chunked(
  count: number,
  chunk: number,
  fn: (lo: number, hi: number) => Promise<void>,
  progress?: (done: number) => void,
) {
  for (let lo = 1; lo <= count; lo += chunk) {
    const hi = Math.min(count, lo + chunk - 1);
    await fn(lo, hi);
    progress?.(hi);
  }
}

const CHUNK = 50_000;
const DAY = 86_400_000;
const MINUTE = 60_000;

/** The oldest message of an application (one the bench published through the API). */
async function templateMessage(db: BulkDb, appId: string): Promise<string> {
  const row = await db.one(`SELECT id FROM message WHERE app_id = ${quote(appId)} ORDER BY id LIMIT 1`);
  if (!row) throw new Error('bench preload: publish one message through the API first (the template)');
  return String(row.id);
}

/** `SELECT ... AS e, ... AS ep` rows mapping `s.i % n` to each endpoint id. */
function endpointTable(ids: string[]): string {
  return ids.map((id, n) => `SELECT ${n} AS e, ${quote(id)} AS ep`).join(' UNION ALL ');
}

/** Message payloads are kept apart from the rows (PostgreSQL since its migration 22). */
const payloadTable = async (db: BulkDb) => (await db.columns('message_payload')).length > 0;

/**
 * Clones the template message into rows `lo..hi` with the given columns, and on PostgreSQL its
 * payload into message_payload under the same ids (the server keeps payloads apart there,
 * migration 22).
 */
async function cloneMessages(
  db: BulkDb,
  template: string,
  lo: number,
  hi: number,
  set: Record<string, string>,
  join = '',
): Promise<void> {
  await cloneChunk(db, 'message', `SELECT * FROM message WHERE id = ${quote(template)}`, lo, hi, set, join);
  if (await payloadTable(db))
    await cloneChunk(
      db,
      'message_payload',
      `SELECT id, payload FROM message_with_payload WHERE id = ${quote(template)}`,
      lo,
      hi,
      { id: set.id! },
      join,
    );
}

/**
 * SQL for an id made from the id floor in column `f` of the table `alias`, its last 12 digits
 * replaced by `seq`: of the floor's second still, and unique by `seq`.
 */
function floorWithSeq(db: BulkDb, alias: string, seq: string): string {
  return db.dialect === 'postgres'
    ? `left(${alias}.f, -12) || lpad((${seq})::text, 12, '0')`
    : `substr(${alias}.f, 1, length(${alias}.f) - 12) || printf('%012d', ${seq})`;
}

/**
 * SQL for the id of a message made at `created` (ms), the `seq`-th. On SQLite, `prefix0` and `seq`
 * (sorting before every id made today). PostgreSQL partitions message payloads by id, one
 * partition per UTC day (ids sort by time): there the id is made for its day, as a server running
 * then would have (the id floor of the day's second second, `floorWithSeq`; still inside the
 * day's range), from the day table `alias` that `join` adds, covering `firstMs..lastMs`.
 */
function dayId(
  db: BulkDb,
  prefix: string,
  alias: string,
  created: string,
  seq: string,
  firstMs: number,
  lastMs: number,
): { id: string; join: string } {
  if (db.dialect === 'sqlite') return { id: idExpr(db, `${prefix}0`, seq), join: '' };
  const first = Math.floor(firstMs / DAY);
  const last = Math.floor(lastMs / DAY);
  return {
    id: floorWithSeq(db, alias, seq),
    join: ` JOIN (SELECT d, hookline_id_floor(${quote(prefix)}, d * ${DAY} + 1000) AS f
                   FROM generate_series(${first}::bigint, ${last}::bigint) AS d) AS ${alias}
              ON ${alias}.d = ${created} / ${DAY}`,
  };
}

/**
 * SQL for the id of an attempt started at `created` (ms), the `seq`-th: an attempt id sorts by
 * its start, as the attempt log's time windows and retention read it (`Attempt.id`,
 * store/shared/attempt-window.ts). Made from the id floor of the minute after `created`'s
 * (`floorWithSeq`), so never earlier than the start and at most a minute later,
 * well within what those reads allow; the floors of `firstMs..lastMs` go into a temporary table
 * that `join` (alias `alias`) adds. One floor per second would be exact but needs the id function
 * per row, which PostgreSQL runs in PL/pgSQL: minutes of loading for 5M attempts.
 */
async function minuteId(
  db: BulkDb,
  alias: string,
  created: string,
  seq: string,
  firstMs: number,
  lastMs: number,
): Promise<{ id: string; join: string }> {
  const table = `bench_minute_${alias}`;
  await db.exec(`CREATE TEMP TABLE ${table} (mn BIGINT PRIMARY KEY, f TEXT NOT NULL)`);
  const first = Math.floor(firstMs / MINUTE);
  const last = Math.floor(lastMs / MINUTE);
  for (let lo = first; lo <= last; lo += 1000) {
    const rows: string[] = [];
    for (let mn = lo; mn <= Math.min(last, lo + 999); mn++)
      rows.push(`(${mn}, ${quote(idFloor('attempt', (mn + 1) * MINUTE))})`);
    await db.exec(`INSERT INTO ${table} (mn, f) VALUES ${rows.join(', ')}`);
  }
  return {
    id: floorWithSeq(db, alias, seq),
    join: ` JOIN ${table} AS ${alias} ON ${alias}.mn = ${created} / ${MINUTE}`,
  };
}

/**
 * A backlog: `count` messages of application `appId` (copies of its oldest message), each with
 * one pending delivery due now, spread round-robin over `endpointIds`, oldest first.
 *
 * `quiet` (PostgreSQL): the planner's statistics are those of a quiet queue, as when an endpoint
 * comes back from an outage after a quiet period that autovacuum analyzed: first as many
 * deliveries, all delivered, are written and analyzed while none is open; then the backlog is
 * written and the table vacuumed, not analyzed. Otherwise nothing is analyzed (the planner counts
 * the table's pages as it finds them).
 */
export async function fillBacklog(
  db: BulkDb,
  options: { appId: string; endpointIds: string[]; count: number; now: number; quiet?: boolean },
): Promise<void> {
  const { count, now } = options;
  const msg = await templateMessage(db, options.appId);
  const created = `(${now - count} + s.i)`;
  const msgId = idExpr(db, 'msg_0', 's.i');
  const deliveries = (lo: number, hi: number, idPrefix: string, status: number) =>
    cloneChunk(
      db,
      'delivery',
      `SELECT * FROM delivery WHERE msg_id = ${quote(msg)} LIMIT 1`,
      lo,
      hi,
      {
        id: idExpr(db, idPrefix, 's.i'),
        msg_id: msgId,
        endpoint_id: 'eps.ep',
        status: String(status),
        attempts: status === DeliveryStatus.pending ? '0' : '1',
        next_attempt_at: created,
        created_at: created,
        updated_at: created,
      },
      `JOIN (${endpointTable(options.endpointIds)}) AS eps ON eps.e = s.i % ${options.endpointIds.length}`,
    );
  const quiet = options.quiet === true && db.dialect === 'postgres';
  await chunked(count, CHUNK, async (lo, hi) => {
    await cloneMessages(db, msg, lo, hi, {
      id: msgId,
      event_id: 'NULL',
      created_at: created,
      payload_expunged_at: 'NULL',
    });
    // Each chunk's deliveries right after its messages, as a backlog builds up (and as the
    // drains' figures before --drain-quiet were measured); with quiet statistics, delivered
    // ones, the backlog after the analysis.
    await deliveries(
      lo,
      hi,
      quiet ? 'dlv_1' : 'dlv_0',
      quiet ? DeliveryStatus.success : DeliveryStatus.pending,
    );
  });
  if (!quiet) return;
  await db.exec(`VACUUM ANALYZE delivery, message${(await payloadTable(db)) ? ', message_payload' : ''}`);
  await chunked(count, CHUNK, (lo, hi) => deliveries(lo, hi, 'dlv_0', DeliveryStatus.pending));
  await db.exec('VACUUM delivery');
}

/** The shape of a preloaded history: `messages` messages spread over the `spanMs` before `now`. */
export interface HistorySpan {
  messages: number;
  spanMs: number;
  now: number;
}

/** The creation time, id and day table (for `dayId`) of history message `s.i`. */
function historyMessages(db: BulkDb, h: HistorySpan) {
  // Integer arithmetic in both databases: created times rise with i across the span.
  const created = `(${h.now - h.spanMs} + (s.i * ${h.spanMs}) / ${h.messages})`;
  return { created, ...dayId(db, 'msg_', 'md', created, 's.i', h.now - h.spanMs, h.now) };
}

/**
 * History: `messages` messages of `appId` spread over the `spanMs` before `now`, each delivered to
 * `endpointId` after `attemptsPerMessage` attempts (all but the last failed with a 503).
 * Templates: the app's oldest message and any attempt Hookline recorded. On PostgreSQL the days
 * of the span get their partitions first, as a server running through them would have made.
 */
export async function preloadHistory(
  db: BulkDb,
  options: HistorySpan & {
    appId: string;
    endpointId: string;
    attemptsPerMessage: number;
    progress?: (done: number) => void;
  },
): Promise<void> {
  const { messages, spanMs, now } = options;
  const A = options.attemptsPerMessage;
  const msg = await templateMessage(db, options.appId);
  const attempt = await db.one('SELECT id FROM attempt ORDER BY id LIMIT 1');
  if (!attempt) throw new Error('bench preload: deliver one message first (the attempt template)');
  const m = historyMessages(db, options);
  const dlvId = idExpr(db, 'dlv_0', 's.i');
  const ks = Array.from({ length: A }, (_, k) => `SELECT ${k} AS k`).join(' UNION ALL ');
  const attemptCreated = `(${m.created} + kk.k * 1000)`;
  // The last attempt's id may be of the minute after it (`minuteId`).
  const lastAttemptMs = now + A * 1000 + MINUTE;
  const a = await minuteId(db, 'ad', attemptCreated, `s.i * ${A} + kk.k`, now - spanMs, lastAttemptMs);
  if (db.dialect === 'postgres') {
    const first = Math.floor((now - spanMs) / DAY);
    const days = Math.floor(lastAttemptMs / DAY) - first;
    await db.exec(`SELECT hookline_day_partitions('attempt', 'atmpt_', ${first * DAY}, ${days})`);
    if (await payloadTable(db))
      await db.exec(`SELECT hookline_day_partitions('message_payload', 'msg_', ${first * DAY}, ${days})`);
  }
  await chunked(
    messages,
    CHUNK,
    async (lo, hi) => {
      await cloneMessages(
        db,
        msg,
        lo,
        hi,
        { id: m.id, event_id: 'NULL', created_at: m.created, payload_expunged_at: 'NULL' },
        m.join,
      );
      await cloneChunk(
        db,
        'delivery',
        `SELECT * FROM delivery WHERE msg_id = ${quote(msg)} LIMIT 1`,
        lo,
        hi,
        {
          id: dlvId,
          msg_id: m.id,
          endpoint_id: quote(options.endpointId),
          status: String(DeliveryStatus.success),
          attempts: String(A),
          next_attempt_at: m.created,
          created_at: m.created,
          updated_at: `(${m.created} + ${(A - 1) * 1000})`,
        },
        m.join,
      );
      await cloneChunk(
        db,
        'attempt',
        `SELECT * FROM attempt WHERE id = ${quote(String(attempt.id))}`,
        lo,
        hi,
        {
          id: a.id,
          delivery_id: dlvId,
          msg_id: m.id,
          endpoint_id: quote(options.endpointId),
          status: `CASE WHEN kk.k < ${A - 1} THEN ${DeliveryStatus.fail} ELSE ${DeliveryStatus.success} END`,
          response_status_code: `CASE WHEN kk.k < ${A - 1} THEN 503 ELSE 200 END`,
          created_at: attemptCreated,
        },
        `CROSS JOIN (${ks}) AS kk${m.join}${a.join}`,
      );
    },
    options.progress,
  );
  if (db.dialect === 'postgres') {
    // A database that grew over months has been vacuumed and analyzed by autovacuum, and its
    // pages written out by checkpoints long ago: without this CHECKPOINT the next spread
    // checkpoint writes gigabytes while the phases after the load are measured.
    await db.exec(
      `VACUUM ANALYZE message, delivery, attempt${(await payloadTable(db)) ? ', message_payload' : ''}`,
    );
    await db.exec('CHECKPOINT');
  }
}

/**
 * One pending delivery due now to `endpointId` for each message of a preloaded history (a
 * backlog behind an endpoint that was down). Ids start with `dlv_1`.
 */
export async function addPendingDeliveries(
  db: BulkDb,
  options: { endpointId: string; history: HistorySpan; now: number; progress?: (done: number) => void },
): Promise<void> {
  const { history, now } = options;
  const due = `(${now - history.messages} + s.i)`;
  const m = historyMessages(db, history);
  await chunked(
    history.messages,
    CHUNK * 2,
    (lo, hi) =>
      cloneChunk(
        db,
        'delivery',
        'SELECT * FROM delivery ORDER BY id LIMIT 1',
        lo,
        hi,
        {
          id: idExpr(db, 'dlv_1', 's.i'),
          msg_id: m.id,
          endpoint_id: quote(options.endpointId),
          status: String(DeliveryStatus.pending),
          attempts: '0',
          next_attempt_at: due,
          created_at: due,
          updated_at: due,
        },
        m.join,
      ),
    options.progress,
  );
  if (db.dialect === 'postgres') await db.exec('ANALYZE delivery');
}
