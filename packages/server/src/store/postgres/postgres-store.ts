/**
 * The scale-out store: PostgreSQL through node-postgres (`pg`), shared by any number of API and
 * worker processes on any number of machines. Composed of the shared modules (`../shared/`) and
 * PostgreSQL's own hot paths (`queue.ts`, `inbound.ts`, `retention.ts`), wake-ups across
 * processes (`notify.ts`), on one pool (`connection.ts`).
 */
import type { SecretBox } from '../../core/secret-box.ts';
import { createDb, sharedStore } from '../shared/index.ts';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { openPostgres, type PostgresConnectionOptions } from './connection.ts';
import { postgresInbound } from './inbound.ts';
import { createNotifier } from './notify.ts';
import { postgresQueue } from './queue.ts';
import { postgresRetention } from './retention.ts';

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  secretBox: SecretBox;
}

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const conn = openPostgres(options);
  const db = createDb(conn.ex, options.secretBox);
  const notifier = createNotifier(conn);
  let closed = false;
  const shared = sharedStore(db);
  return {
    // A few batches in flight at once: while one commits (fsync), the next is being written.
    capabilities: {
      multiProcess: true,
      parallelWrites: 3,
      synchronousWrites: false,
      outcomeBatchWaitMs: 2,
      historyByDay: true,
    },
    migrate: () => conn.migrate(),
    pendingMigrations: () => conn.pendingMigrations(),
    async ping() {
      await conn.query(sql`SELECT 1`);
    },
    async close() {
      if (closed) return;
      closed = true;
      await notifier.close();
      await conn.end();
    },
    onDeliveriesQueued: (listener, options) => notifier.subscribe(listener, options),
    leadsEndpoint: (endpointId) => notifier.leads(endpointId),
    ...shared,
    // Recovered deliveries wake every worker like new messages do.
    async recoverBatch(request) {
      const batch = await shared.recoverBatch(request);
      if (batch.queued > 0) {
        notifier.local();
        notifier.soon();
      }
      return batch;
    },
    ...postgresQueue(conn, db.ctx, notifier),
    ...postgresInbound(conn, db.ctx, notifier),
    ...postgresRetention(conn),
  };
}
