/**
 * Retention on SQLite, mirrored by `postgres/retention.ts`: old attempt logs and inbound request
 * bytes are deleted, old message payloads emptied, in small batches.
 */
import { idFloor } from '../../core/ids.ts';
import { attemptIdFrom } from '../shared/attempt-window.ts';
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
          // message holds only '{}'): deleted in the same batch, once nothing waits to forward
          // them, and the record notes when. By id, which sorts by time (inbound_body's key).
          const left = batch - messages;
          let bodies = 0;
          if (left > 0) {
            const gone = conn.all(
              `DELETE FROM inbound_body WHERE id IN (
                 SELECT b.id FROM inbound_body b
                 WHERE b.id < ?
                   AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = b.id AND d.status IN (${OPEN}))
                 ORDER BY b.id LIMIT ?)
               RETURNING id`,
              [idFloor('message', before), left],
            );
            run(
              'UPDATE inbound_event SET body_expunged_at = ? WHERE id IN (SELECT value FROM json_each(?))',
              [now, JSON.stringify(gone.map((g) => g.id))],
            );
            bodies = gone.length;
          }
          // Oldest first by id (the attempt log keeps no index by time, `attempt-window.ts`): below
          // the id floor of `before`, every attempt started before it.
          const attempts = run(
            'DELETE FROM attempt WHERE id IN (SELECT id FROM attempt WHERE id < ? AND created_at < ? ORDER BY id LIMIT ?)',
            [attemptIdFrom(before), before, batch],
          );
          return { payloads: messages + bodies, attempts };
          // No fsync: a batch lost to a power cut is simply done again by the next pass.
        }, false),
      ),
  };
}
