/**
 * The PostgreSQL connection: a `pg` pool, its dialect, the executor the shared store modules run
 * on, and the mapping of PostgreSQL's failures to Hookline's.
 *
 * Every connection failure or timeout becomes `StoreUnavailableError` (the API answers 503); a
 * unique violation becomes `StoreConflictError`.
 */
import pg from 'pg';
import { type Dialect, type Executor, type Row, type Sql, sql } from '../sql.ts';
import { StoreConflictError, StoreUnavailableError } from '../store-errors.ts';
import { PARTITION_DAYS_AHEAD, POSTGRES_MIGRATIONS } from './migrations.ts';

export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:port/database?...` */
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Give up connecting after this long (default 5 s): the API answers 503 instead of hanging. */
  connectTimeoutMs?: number;
  /** Longest statement, enforced by the server and by the client (default 15 s). */
  statementTimeoutMs?: number;
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

export const postgresDialect: Dialect = {
  name: 'postgres',
  placeholder: (n) => `$${n}`,
  flag: (v) => v,
  readFlag: (v) => v === true,
  // JSONB arrives parsed.
  readJsonArray: <T>(v: unknown) => (v === undefined ? null : v) as T,
  inList: (expr, values) => sql`${expr} = ANY(${values}::text[])`,
  notInList: (expr, values) => sql`${expr} <> ALL(${values}::text[])`,
  jsonArrayHas: (column, value) => sql`${column} @> ${JSON.stringify([value])}::jsonb`,
  // The column is the JSON text the API stored.
  jsonObjectHas: (column, entries) => sql`${column}::jsonb @> ${JSON.stringify(entries)}::jsonb`,
  payloadTable: true,
};

/** Key of the advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK = 7_240_001;

/** BIGINT (times, counts) as numbers: every value Hookline stores fits in 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
};

// SQLSTATE classes that mean "the database cannot take this now; try again later".
// 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown,
// statement timeout), 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
const UNAVAILABLE_STATES = /^(08|53|57|58)|^(40001|40P01|55P03)$/;

export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string') {
    if (UNAVAILABLE_STATES.test(e.code)) return true;
    if (/^E[A-Z]+/.test(e.code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE...
  }
  return /timeout|terminated|Connection ended|not queryable|Client has encountered a connection error|ECONNRE/i.test(
    e?.message ?? '',
  );
}

/** Maps PostgreSQL's failures to Hookline's: unreachable or overloaded means "try later". */
export function translate(err: unknown): never {
  if (err instanceof StoreUnavailableError || err instanceof StoreConflictError) throw err;
  const e = err as { code?: string; message?: string };
  if (e?.code === '23505') throw new StoreConflictError(e.message ?? 'unique', err);
  if (isUnavailable(err)) {
    throw new StoreUnavailableError(
      `database cannot take requests right now: ${e?.message ?? 'unknown'}`,
      err,
    );
  }
  throw err;
}

export interface PostgresConnection {
  readonly pool: pg.Pool;
  /** What a dedicated connection (LISTEN) is opened with. */
  readonly clientConfig: pg.ClientConfig;
  /** The executor the shared modules use. */
  readonly ex: Executor;
  /** Runs a statement on `c` (default: any pooled connection); returns its rows. */
  query(q: Sql, c?: Queryable): Promise<Row[]>;
  one(q: Sql, c?: Queryable): Promise<Row | undefined>;
  /** Runs a write; returns how many rows it changed. */
  count(q: Sql, c?: Queryable): Promise<number>;
  /** Runs `fn` in one transaction on one pooled connection. */
  tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one pooled connection, outside any transaction (a statement run on the pool
   * gets one this way too); one that failed as unreachable is closed, not handed to the next.
   */
  onConnection<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  migrate(): Promise<void>;
  pendingMigrations(): Promise<number>;
  end(): Promise<void>;
}

export function openPostgres(options: PostgresConnectionOptions): PostgresConnection {
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;
  const readTimeoutMs = statementTimeoutMs + 1_000;
  const clientConfig: pg.ClientConfig = {
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    statement_timeout: statementTimeoutMs,
    // The client gives up a little after the server would have: a cut connection never hangs
    // (for the pool's connections this is `send`'s deadline below, not pg's `query_timeout`).
    query_timeout: readTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs * 2,
    // TCP keepalives from 10 s of silence: a connection lost without a word (a partition) is
    // noticed, which matters most for the long-lived LISTEN connection.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'hookline',
    types,
  };
  const { query_timeout: _dedicatedOnly, ...pooledConfig } = clientConfig;
  const pool = new pg.Pool({ ...pooledConfig, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  // An idle connection that breaks (server restart, network cut) is dropped by the pool; the
  // next query opens a fresh one. Without this handler the error would end the process.
  pool.on('error', () => {});
  // The same for a connection that breaks while checked out: the query in progress fails
  // (and is reported as unavailable); the event itself must not end the process.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });

  // The names of prepared statements (store/sql.ts `prepared`), one per distinct text: a
  // connection refuses a name it prepared with another text.
  const preparedNames = new Map<string, string>();
  const preparedName = (prefix: string, text: string): string => {
    let name = preparedNames.get(text);
    if (name === undefined) {
      name = `${prefix}_${preparedNames.size}`;
      preparedNames.set(text, name);
    }
    return name;
  };

  /**
   * Runs one statement on a connection within the read deadline (statement timeout + 1 s): a
   * connection cut without a word leaves its statement unanswered, and the caller closes it.
   *
   * pg's callback and a timer of our own, not its promise and its `query_timeout`: with either of
   * those, each finished statement (its parameters and its rows) stays reachable for V8's
   * young-generation collector until the next full collection, so a worker draining a backlog
   * promoted ~2 KB of garbage per statement of 1 KB and its heap grew between full collections
   * (`delivery-memory.test.ts`).
   */
  function sendOn(c: Queryable, config: pg.QueryConfig): Promise<pg.QueryResult> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const deadline = setTimeout(() => {
        settled = true;
        reject(new Error(`Query read timeout: no answer within ${readTimeoutMs} ms`));
      }, readTimeoutMs);
      try {
        c.query(config, (err: Error | null, res: pg.QueryResult) => {
          clearTimeout(deadline);
          if (settled) return;
          settled = true;
          if (err) reject(err);
          else resolve(res);
        });
      } catch (err) {
        clearTimeout(deadline);
        settled = true;
        reject(err);
      }
    });
  }

  async function onConnection<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      return translate(err);
    }
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      // A connection that failed is closed rather than handed to the next caller.
      if (isUnavailable(err) || err instanceof StoreUnavailableError) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** `sendOn`, on the given connection, or on one of the pool's for this statement alone. */
  const send = (c: Queryable, config: pg.QueryConfig): Promise<pg.QueryResult> =>
    c === pool ? onConnection((client) => sendOn(client, config)) : sendOn(c, config);

  async function result(q: Sql, c: Queryable) {
    const { text, values } = q.render(postgresDialect.placeholder);
    try {
      return await send(
        c,
        q.prepareAs !== undefined
          ? { name: preparedName(q.prepareAs, text), text, values }
          : { text, values },
      );
    } catch (err) {
      return translate(err);
    }
  }
  const query = async (q: Sql, c: Queryable = pool) => (await result(q, c)).rows as Row[];
  const one = async (q: Sql, c: Queryable = pool) => (await query(q, c))[0];
  const count = async (q: Sql, c: Queryable = pool) => (await result(q, c)).rowCount ?? 0;

  async function tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      return translate(err);
    }
    let broken: unknown;
    try {
      await sendOn(client, { text: 'BEGIN' });
      const value = await fn(client);
      await sendOn(client, { text: 'COMMIT' });
      return value;
    } catch (err) {
      if (isUnavailable(err) || err instanceof StoreUnavailableError) broken = err;
      // A broken connection is closed below, which ends its transaction in the server.
      else
        await sendOn(client, { text: 'ROLLBACK' }).catch((e: unknown) => {
          broken = e;
        });
      return translate(err);
    } finally {
      // A connection that failed is closed rather than handed to the next caller.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  const executorOn = (c: Queryable, inTx: boolean): Executor => {
    const self: Executor = {
      dialect: postgresDialect,
      all: (q) => query(q, c),
      one: (q) => one(q, c),
      run: (q) => count(q, c),
      // Inside a transaction, nested work joins it.
      tx: (fn) => (inTx ? fn(self) : tx((client) => fn(executorOn(client, true)))),
    };
    return self;
  };

  return {
    pool,
    clientConfig,
    ex: executorOn(pool, false),
    query,
    one,
    count,
    tx,
    onConnection,
    async migrate() {
      // One transaction under an advisory lock: processes starting together migrate once, in turn.
      await tx(async (c) => {
        await query(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`, c);
        await query(
          sql`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)`,
          c,
        );
        const done = new Set(
          (await query(sql`SELECT version FROM schema_migrations`, c)).map((r) => Number(r.version)),
        );
        for (const m of POSTGRES_MIGRATIONS) {
          if (done.has(m.version)) continue;
          await sendOn(c, { text: m.sql }).catch(translate);
          await query(
            sql`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${m.version}, ${m.name}, ${Date.now()})`,
            c,
          );
        }
        // The daily partitions of the attempt log and the inbound request bytes for the coming
        // days (retention keeps this up too).
        await query(sql`SELECT hookline_partitions_ahead(${Date.now()}, ${PARTITION_DAYS_AHEAD})`, c);
      });
    },
    async pendingMigrations() {
      const exists = await one(sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS ok`);
      if (exists?.ok !== true) return POSTGRES_MIGRATIONS.length;
      const done = new Set(
        (await query(sql`SELECT version FROM schema_migrations`)).map((r) => Number(r.version)),
      );
      return POSTGRES_MIGRATIONS.filter((m) => !done.has(m.version)).length;
    },
    end: () => pool.end().catch(() => {}),
  };
}
