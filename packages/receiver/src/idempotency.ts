import type * as NodeSqlite from 'node:sqlite';
import type { VerifyResult } from './verify.ts';

/**
 * Remembers which event ids were processed, so a provider's retry of an event you already
 * handled can be dropped. Implementations must make `claim` atomic: of two concurrent claims
 * for one id, exactly one returns true.
 */
export interface IdempotencyStore {
  /** Records `id` for `ttlMs`. True when it was not already recorded (process the event). */
  claim(id: string, ttlMs: number): boolean | Promise<boolean>;
  /** Forgets `id`, so a retry is processed (call when processing failed). */
  release(id: string): void | Promise<void>;
  /** Releases resources (closes the database). */
  close?(): void | Promise<void>;
}

/** Options for {@link createMemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /**
   * Most ids kept. When full, expired ids go first, then the oldest claims (which could let a
   * very late duplicate through). Default 10 000.
   */
  readonly maxEntries?: number | undefined;
  /** Clock in milliseconds; for tests. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** An in-process store: bounded and expiring. Lost on restart and not shared between processes. */
export function createMemoryIdempotencyStore(
  options: MemoryIdempotencyStoreOptions = {},
): IdempotencyStore & {
  readonly size: number;
} {
  const maxEntries = options.maxEntries ?? 10_000;
  if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
  const now = options.now ?? Date.now;
  // Map iteration follows insertion order, so the first keys are the oldest claims.
  const expiries = new Map<string, number>();

  const evict = (at: number) => {
    for (const [id, expiresAt] of expiries) {
      if (expiries.size <= maxEntries) return;
      if (expiresAt <= at) expiries.delete(id);
    }
    for (const id of expiries.keys()) {
      if (expiries.size <= maxEntries) return;
      expiries.delete(id);
    }
  };

  return {
    get size() {
      return expiries.size;
    },
    claim(id, ttlMs) {
      const at = now();
      const expiresAt = expiries.get(id);
      if (expiresAt !== undefined && expiresAt > at) return false;
      expiries.delete(id);
      expiries.set(id, at + ttlMs);
      if (expiries.size > maxEntries) evict(at);
      return true;
    },
    release(id) {
      expiries.delete(id);
    },
  };
}

/** Options for {@link createSqliteIdempotencyStore}. */
export interface SqliteIdempotencyStoreOptions {
  /** Database file (created if missing), or `:memory:`. */
  readonly path: string;
  /** Table name. Default `hookline_receiver_events`. */
  readonly table?: string | undefined;
  /** How long to wait for another process's lock, in ms. Default 5000. */
  readonly busyTimeoutMs?: number | undefined;
  /** Clock in milliseconds; for tests. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

const PRUNE_EVERY = 256;

/**
 * A store in a SQLite file (`node:sqlite`): survives restarts and is shared by the processes
 * that open the same file. Expired ids are pruned every few hundred claims.
 */
export function createSqliteIdempotencyStore(
  options: SqliteIdempotencyStoreOptions,
): IdempotencyStore & { prune(): number; close(): void } {
  const table = options.table ?? 'hookline_receiver_events';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table))
    throw new TypeError(`invalid table name ${JSON.stringify(table)}`);
  const now = options.now ?? Date.now;
  // Loaded on use, so the package imports on runtimes without node:sqlite (Node 20, Web runtimes).
  const sqlite = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule?.('node:sqlite') as typeof NodeSqlite | undefined;
  if (sqlite === undefined) {
    throw new Error(
      'createSqliteIdempotencyStore needs node:sqlite (Node >= 22.13); use createMemoryIdempotencyStore or your own IdempotencyStore',
    );
  }
  const db = new sqlite.DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
  if (options.path !== ':memory:') db.exec('PRAGMA journal_mode = WAL');
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
    event_id TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at);`);
  // One statement, so the claim is atomic across processes: insert, or take over an expired row.
  const claim = db.prepare(`INSERT INTO ${table} (event_id, expires_at) VALUES (?, ?)
    ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at WHERE ${table}.expires_at <= ?`);
  const release = db.prepare(`DELETE FROM ${table} WHERE event_id = ?`);
  const prune = db.prepare(`DELETE FROM ${table} WHERE expires_at <= ?`);
  let claimsSincePrune = 0;

  return {
    claim(id, ttlMs) {
      const at = Math.floor(now());
      if (++claimsSincePrune >= PRUNE_EVERY) {
        claimsSincePrune = 0;
        prune.run(at);
      }
      return Number(claim.run(id, at + Math.ceil(ttlMs), at).changes) === 1;
    },
    release(id) {
      release.run(id);
    },
    prune() {
      return Number(prune.run(Math.floor(now())).changes);
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}

/** Options for {@link createIdempotencyGuard}. */
export interface IdempotencyGuardOptions {
  readonly store: IdempotencyStore;
  /** How long an id is remembered, in ms. Default 24 h (providers retry for up to ~3 days: size it to yours). */
  readonly windowMs?: number | undefined;
}

/** Drops events whose id was already processed within the window. */
export interface IdempotencyGuard {
  /**
   * True the first time `event` is seen in the window. A VerifyResult is keyed by
   * `${scheme}:${id}`, and, when its id is not signed (GitHub, Shopify, Twilio), also by
   * `${scheme}:sha256:${contentHash}`: a captured request resent under a new id is a duplicate.
   */
  claim(event: string | VerifyResult): Promise<boolean>;
  /** Forgets `event`, so its retry is processed. */
  release(event: string | VerifyResult): Promise<void>;
  /**
   * Runs `handler` unless `event` was already processed; releases the claim when the
   * handler throws, so the provider's retry gets another chance.
   */
  run<T>(
    event: string | VerifyResult,
    handler: () => T | Promise<T>,
  ): Promise<{ duplicate: true } | { duplicate: false; value: T }>;
}

function eventKeys(event: string | VerifyResult): string[] {
  if (typeof event === 'string') return [event];
  const keys: string[] = [];
  if (event.id !== undefined) keys.push(`${event.scheme}:${event.id}`);
  // An unsigned id can be changed at will: what the signature covers cannot.
  if (!event.idSigned && event.contentHash !== undefined)
    keys.push(`${event.scheme}:sha256:${event.contentHash}`);
  if (keys.length === 0) {
    throw new TypeError(
      `the ${event.scheme} request carries no event id: deduplicate on a field of the body instead`,
    );
  }
  return keys;
}

/** Claims every key, or none: a key already claimed makes the event a duplicate. */
async function claimAll(store: IdempotencyStore, keys: readonly string[], windowMs: number) {
  const claimed: string[] = [];
  for (const key of keys) {
    if (!(await store.claim(key, windowMs))) {
      for (const done of claimed) await store.release(done);
      return false;
    }
    claimed.push(key);
  }
  return true;
}

/**
 * Wraps a store with a window:
 *
 * ```ts
 * const guard = createIdempotencyGuard({ store: createSqliteIdempotencyStore({ path: 'events.db' }) });
 * const outcome = await guard.run(webhook, () => handle(event));
 * if (outcome.duplicate) return res.sendStatus(200);
 * ```
 */
export function createIdempotencyGuard(options: IdempotencyGuardOptions): IdempotencyGuard {
  const windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
  if (!(windowMs > 0)) throw new RangeError('windowMs must be positive');
  const { store } = options;
  return {
    async claim(event) {
      return claimAll(store, eventKeys(event), windowMs);
    },
    async release(event) {
      for (const key of eventKeys(event)) await store.release(key);
    },
    async run(event, handler) {
      const keys = eventKeys(event);
      if (!(await claimAll(store, keys, windowMs))) return { duplicate: true };
      try {
        return { duplicate: false, value: await handler() };
      } catch (error) {
        for (const key of keys) await store.release(key);
        throw error;
      }
    },
  };
}
