/**
 * Retention on SQLite, mirrored by `postgres/retention.ts`: old attempt logs are deleted, old
 * payloads (messages' and inbound requests') emptied, in small batches.
 */
import { OPEN } from '../statuses.ts';
import type { Store } from '../store.ts';
import type { SqliteConnection } from './connection.ts';

export function sqliteRetention(conn: SqliteConnection): Pick<Store, 'expunge' | 'dropHistory'> {
  const { run } = conn;
  return {
    // One file, no partitions: old attempts go row by row in `expunge`.
    dropHistory: async () => ({ partitions: 0 }),
    expunge: (before, now, batch) =>
      conn.exclusive(() =>
        conn.txSync(() => {
          const messages = run(
            `UPDATE message SET payload = '{}', payload_expunged_at = ?
             WHERE id IN (
               SELECT m.id FROM message m
               WHERE m.created_at < ? AND m.payload_expunged_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = m.id AND d.status IN (${OPEN}))
               ORDER BY m.created_at LIMIT ?)`,
            [now, before, batch],
          );
          // The bytes and headers of inbound requests are payloads too (an accepted event's
          // message holds only '{}'): emptied in the same batch, once nothing waits to forward them.
          const left = batch - messages;
          const bodies =
            left <= 0
              ? 0
              : run(
                  `UPDATE inbound_event SET body = X'', headers = '[]', body_expunged_at = ?
                   WHERE id IN (
                     SELECT i.id FROM inbound_event i
                     WHERE i.received_at < ? AND i.body_expunged_at IS NULL
                       AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = i.id AND d.status IN (${OPEN}))
                     ORDER BY i.received_at LIMIT ?)`,
                  [now, before, left],
                );
          const attempts = run(
            'DELETE FROM attempt WHERE id IN (SELECT id FROM attempt WHERE created_at < ? ORDER BY created_at LIMIT ?)',
            [before, batch],
          );
          return { payloads: messages + bodies, attempts };
          // No fsync: a batch lost to a power cut is simply done again by the next pass.
        }, false),
      ),
  };
}
