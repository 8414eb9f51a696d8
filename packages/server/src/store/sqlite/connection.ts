/**
 * The SQLite connection: one `node:sqlite` database in WAL mode, its dialect, and the executor
 * the shared store modules run on.
 *
 * `node:sqlite` is synchronous and the connection is one, so a transaction must never let
 * another caller's statement in. The hot paths (`queue.ts`, `inbound.ts`, `retention.ts`) run
 * each transaction synchronously from BEGIN to COMMIT. The shared modules are asynchronous: their
 * transactions hold the connection (`tx`), and every other statement, synchronous or not, waits
 * until it is released (`exclusive`).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { type Dialect, type Executor, type Row, type Sql, sql } from '../sql.ts';
import { StoreConflictError, StoreUnavailableError } from '../store-errors.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  placeholder: () => '?',
  flag: (v) => (v ? 1 : 0),
  readFlag: (v) => Number(v) === 1,
  readJsonArray: <T>(v: unknown) => (v === null || v === undefined ? null : JSON.parse(String(v))) as T,
  inList: (expr, values) =>
    values.length === 0
      ? sql`1 = 0`
      : sql`${expr} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`,
  notInList: (expr, values) =>
    values.length === 0
      ? sql`1 = 1`
      : sql`${expr} NOT IN (SELECT value FROM json_each(${JSON.stringify(values)}))`,
  jsonArrayHas: (column, value) => sql`EXISTS (SELECT 1 FROM json_each(${column}) WHERE value = ${value})`,
  jsonObjectHas: (column, entries) => {
    let out = sql`1 = 1`;
    for (const [key, value] of Object.entries(entries))
      out = sql`${out} AND json_extract(${column}, ${`$.${JSON.stringify(key)}`}) = ${value}`;
    return out;
  },
  payloadTable: false,
};

/** Maps SQLite's failure modes to Hookline's: a full disk or a locked file means "try later". */
export function translate(err: unknown): never {
  const e = err as { errcode?: number; message?: string };
  const primary = typeof e.errcode === 'number' ? e.errcode & 0xff : -1;
  // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_NOMEM 7, SQLITE_READONLY 8, SQLITE_IOERR 10,
  // SQLITE_FULL 13, SQLITE_CANTOPEN 14.
  if ([5, 6, 7, 8, 10, 13, 14].includes(primary)) {
    throw new StoreUnavailableError(`database cannot take writes right now: ${e.message ?? 'unknown'}`, err);
  }
  if (primary === 19 && /UNIQUE/.test(e.message ?? ''))
    throw new StoreConflictError(e.message ?? 'unique', err);
  throw err;
}

export type Param = SQLInputValue;

/** WAL pages (4 KB each) after which a commit checkpoints them into the database file. */
export const WAL_CHECKPOINT_PAGES = 4000;

export interface SqliteConnection {
  readonly db: DatabaseSync;
  readonly synchronous: 'FULL' | 'NORMAL';
  /** The executor the shared modules use. */
  readonly ex: Executor;
  /** Runs `fn` (synchronous) when no asynchronous transaction holds the connection. */
  exclusive<T>(fn: () => T): Promise<T>;
  all(sql: string, params?: Param[]): Row[];
  get(sql: string, params?: Param[]): Row | undefined;
  /** Runs a write; returns how many rows it changed. */
  run(sql: string, params?: Param[]): number;
  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE), synchronously. `durable: false` skips
   * the fsync at commit for writes whose loss on power failure is harmless (a lease: the
   * delivery is simply claimed again); the next durable commit flushes them anyway.
   */
  txSync<T>(fn: () => T, durable?: boolean): T;
  migrate(): Promise<void>;
  pendingMigrations(): Promise<number>;
  close(): void;
}

/**
 * Creates the database file readable and writable by its owner only (0600, whatever the umask),
 * unless it exists. Returns whether it was created. SQLite gives the WAL and shared-memory files
 * it creates later the database file's permissions.
 */
function createPrivateFile(path: string): boolean {
  // Its directory (also the data dir, with secret.key) is the owner's only when Hookline makes it.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  closeSync(fd);
  // An empty file is an empty database to SQLite.
  chmodSync(path, 0o600);
  return true;
}

export function openSqlite(options: {
  path: string;
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * The page cache's size in MB (default 64, as `HOOKLINE_SQLITE_CACHE_MB`'s); it counts in the
   * process's RSS once filled.
   */
  cacheMb?: number;
}): SqliteConnection {
  const created = options.path !== ':memory:' && createPrivateFile(options.path);
  const db = new DatabaseSync(options.path, { enableForeignKeyConstraints: true, timeout: 5000 });
  db.exec('PRAGMA journal_mode = WAL');
  if (created) {
    // SQLite copies the database file's mode onto these; made certain here, independent of that.
    for (const f of [`${options.path}-wal`, `${options.path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  }
  const synchronous = options.synchronous ?? 'FULL';
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec('PRAGMA temp_store = MEMORY');
  // Negative: a size in KiB rather than a number of pages.
  db.exec(`PRAGMA cache_size = ${-Math.round((options.cacheMb ?? 64) * 1024)}`);
  // Checkpoint once the WAL holds WAL_CHECKPOINT_PAGES pages rather than SQLite's 1,000. Every
  // delivery rewrites index pages of its endpoint (due, open, in-flight, attempts by endpoint),
  // and a page written again before the next checkpoint is copied into the database once: with
  // backlogs on 100 endpoints, checkpointing 4x less often delivered 35-50 % more per second
  // (`npm run bench -- --only drain`, same-run pairs). The WAL file grows to about 16 MB.
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);

  const statements = new Map<string, StatementSync>();
  const stmt = (text: string): StatementSync => {
    let s = statements.get(text);
    if (!s) {
      s = db.prepare(text);
      statements.set(text, s);
    }
    return s;
  };
  const all = (text: string, params: Param[] = []) => stmt(text).all(...params) as Row[];
  const get = (text: string, params: Param[] = []) => stmt(text).get(...params) as Row | undefined;
  const run = (text: string, params: Param[] = []) => Number(stmt(text).run(...params).changes);

  /** Starts a write transaction (one writer at a time: the others wait up to the busy timeout). */
  const begin = () => {
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      translate(err);
    }
  };
  /** Rolls back what the failed transaction did, and throws the error as Hookline's. */
  const abort = (err: unknown): never => {
    if (db.isTransaction) db.exec('ROLLBACK');
    return translate(err);
  };

  function txSync<T>(fn: () => T, durable = true): T {
    const relax = !durable && synchronous === 'FULL';
    if (relax) db.exec('PRAGMA synchronous = NORMAL');
    try {
      begin();
      try {
        const result = fn();
        db.exec('COMMIT');
        return result;
      } catch (err) {
        return abort(err);
      }
    } finally {
      if (relax) db.exec(`PRAGMA synchronous = ${synchronous}`);
    }
  }

  // The connection lock of the asynchronous layer: held from BEGIN to COMMIT of a `tx`.
  let held: Promise<void> | null = null;
  async function acquire(): Promise<() => void> {
    while (held) await held;
    let release!: () => void;
    held = new Promise<void>((resolve) => {
      release = () => {
        held = null;
        resolve();
      };
    });
    return release;
  }
  async function exclusive<T>(fn: () => T): Promise<T> {
    while (held) await held;
    try {
      return fn();
    } catch (err) {
      return translate(err);
    }
  }

  const render = (q: Sql) => {
    const { text, values } = q.render(sqliteDialect.placeholder);
    return { text, params: values.map((v) => (v === undefined ? null : v)) as Param[] };
  };
  /** Runs `q` with `fn` now, its errors mapped to Hookline's. */
  const now = async <T>(q: Sql, fn: (text: string, params: Param[]) => T): Promise<T> => {
    const { text, params } = render(q);
    try {
      return fn(text, params);
    } catch (err) {
      return translate(err);
    }
  };
  /** Statements run directly: inside a transaction that holds the connection. */
  const direct: Executor = {
    dialect: sqliteDialect,
    all: (q) => now(q, all),
    one: (q) => now(q, get),
    run: (q) => now(q, run),
    // Already inside the transaction: nested work joins it.
    tx: (fn) => fn(direct),
  };
  const ex: Executor = {
    dialect: sqliteDialect,
    all(q) {
      const { text, params } = render(q);
      return exclusive(() => all(text, params));
    },
    one(q) {
      const { text, params } = render(q);
      return exclusive(() => get(text, params));
    },
    run(q) {
      const { text, params } = render(q);
      return exclusive(() => run(text, params));
    },
    async tx(fn) {
      const release = await acquire();
      try {
        begin();
        try {
          const result = await fn(direct);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          return abort(err);
        }
      } finally {
        release();
      }
    },
  };

  return {
    db,
    synchronous,
    ex,
    exclusive,
    all,
    get,
    run,
    txSync,
    async migrate() {
      await exclusive(() => {
        db.exec(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)',
        );
        const done = new Set(all('SELECT version FROM schema_migrations').map((r) => Number(r.version)));
        for (const m of SQLITE_MIGRATIONS) {
          if (done.has(m.version)) continue;
          txSync(() => {
            db.exec(m.sql);
            run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
              m.version,
              m.name,
              Date.now(),
            ]);
          });
        }
      });
    },
    pendingMigrations: () =>
      exclusive(() => {
        if (!get("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"))
          return SQLITE_MIGRATIONS.length;
        const done = new Set(all('SELECT version FROM schema_migrations').map((r) => Number(r.version)));
        return SQLITE_MIGRATIONS.filter((m) => !done.has(m.version)).length;
      }),
    close() {
      if (db.isOpen) db.close();
    },
  };
}
