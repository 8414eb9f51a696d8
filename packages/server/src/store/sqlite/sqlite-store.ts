/**
 * The embedded store: one SQLite file through `node:sqlite`, in WAL mode, used by one process.
 * Composed of the shared modules (`../shared/`) and SQLite's own hot paths (`queue.ts`,
 * `inbound.ts`, `retention.ts`), all on one connection (`connection.ts`).
 *
 * `node:sqlite` is synchronous, so a transaction never interleaves with another: callers batch
 * work (many messages, many attempt results) into one call and one commit, which is where the
 * throughput comes from (one fsync per batch instead of per row).
 */
import { EventEmitter } from 'node:events';
import type { SecretBox } from '../../core/secret-box.ts';
import { createDb, sharedStore } from '../shared/index.ts';
import type { Store } from '../store.ts';
import { openSqlite } from './connection.ts';
import { sqliteInbound } from './inbound.ts';
import { sqliteQueue } from './queue.ts';
import { sqliteRetention } from './retention.ts';

export interface SqliteStoreOptions {
  /** File path, or `:memory:`. */
  path: string;
  secretBox: SecretBox;
  /** `FULL` fsyncs every commit (survives power loss); `NORMAL` survives process crashes only. */
  synchronous?: 'FULL' | 'NORMAL';
  /** SQLite's page cache in MB (`HOOKLINE_SQLITE_CACHE_MB`; 64 by default). */
  cacheMb?: number;
}

export function createSqliteStore(options: SqliteStoreOptions): Store {
  const conn = openSqlite(options);
  const db = createDb(conn.ex, options.secretBox);
  const events = new EventEmitter();
  const shared = sharedStore(db);
  return {
    capabilities: {
      multiProcess: false,
      parallelWrites: 1,
      synchronousWrites: true,
      // FULL: each commit is an fsync, shared by what finishes within 2 ms (1 ms drained a backlog
      // to one endpoint 27 % faster but let the adaptive limit climb back into an overloaded
      // receiver sooner: docs/benchmarks.md). NORMAL: a commit is a write on this thread.
      outcomeBatchWaitMs: (options.synchronous ?? 'FULL') === 'FULL' ? 2 : 0,
      historyByDay: false,
    },
    migrate: () => conn.migrate(),
    pendingMigrations: () => conn.pendingMigrations(),
    ping: () => conn.exclusive(() => void conn.get('SELECT 1')),
    async close() {
      conn.close();
    },
    onDeliveriesQueued(listener) {
      events.on('queued', listener);
      return () => events.off('queued', listener);
    },
    ...shared,
    // Recovered deliveries wake the dispatcher like new messages do.
    async recoverBatch(request) {
      const batch = await shared.recoverBatch(request);
      if (batch.queued > 0) events.emit('queued');
      return batch;
    },
    ...sqliteQueue(conn, db.ctx, events),
    ...sqliteInbound(conn, db.ctx, events),
    ...sqliteRetention(conn),
  };
}
