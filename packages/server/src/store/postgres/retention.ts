/**
 * Retention on PostgreSQL, mirrored by `sqlite/retention.ts`: days of old attempt logs, message
 * payloads and inbound request bytes are dropped as partitions; the rest is deleted (payloads
 * stored before migration 22 emptied in their rows) in small batches that skip rows other
 * transactions hold.
 */
import { attemptIdFrom } from '../shared/attempt-window.ts';
import { raw, sql } from '../sql.ts';
import { OPEN } from '../statuses.ts';
import type { Store } from '../store.ts';
import type { PostgresConnection } from './connection.ts';
import { PARTITION_DAYS_AHEAD } from './migrations.ts';

/**
 * The tables partitioned by day: the prefix of their ids, whether a partition waits for the open
 * deliveries of its rows' messages, and whether its drop is noted (inbound_body_drop).
 */
const BY_DAY = [
  { table: 'attempt', prefix: 'atmpt_', waits: false, noted: false },
  { table: 'message_payload', prefix: 'msg_', waits: true, noted: false },
  { table: 'inbound_body', prefix: 'msg_', waits: true, noted: true },
] as const;

export function postgresRetention({
  count,
  one,
  query,
}: PostgresConnection): Pick<Store, 'expunge' | 'dropHistory'> {
  const open = raw(OPEN);
  return {
    // The days ahead are made for all three tables first. Then whole days of attempts (migration
    // 14), inbound request bytes (migration 20) and message payloads (migration 22) past the
    // retention period go as partitions, one transaction each; what is left of the oldest day goes
    // row by row in `expunge`. A drop takes its table's lock, which every insert into the table
    // waits for, and PostgreSQL's CPU: the caller's `between` spaces them out.
    dropHistory: async (before, now, between) => {
      await one(sql`SELECT hookline_partitions_ahead(${now}, ${PARTITION_DAYS_AHEAD})`);
      let partitions = 0;
      for (const t of BY_DAY) {
        const parts = await query(
          sql`SELECT part, upper FROM hookline_partitions_before(${t.table}, ${t.prefix}, ${before})`,
        );
        for (const p of parts) {
          const started = performance.now();
          const r = await one(
            sql`SELECT hookline_partition_drop(${p.part}, ${t.waits}, ${t.noted ? p.upper : null}, ${now}) AS dropped`,
          );
          if (r?.dropped === true) partitions++;
          if (between && !(await between(performance.now() - started))) return { partitions };
        }
      }
      return { partitions };
    },
    expunge: async (before, now, batch) => {
      // Payloads in message_payload, by id (which sorts by time: the index of its partitions),
      // then those still in their message rows (stored before migration 22).
      //
      // Each delete of a partitioned table picks its rows first, then deletes them as an array of
      // ids under the same id bound: only the partitions below the bound are planned, each read by
      // its primary key. Written as `id IN (picks)`, PostgreSQL hashed the picks and read every
      // partition whole, the recent days too (150-230 ms a batch of payloads over 200k messages,
      // while the batch found a few hundred).
      const separate = await count(
        sql`WITH picked AS MATERIALIZED (
              SELECT p.id FROM message_payload p
              WHERE p.id < hookline_id_floor('msg_', ${before})
                AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = p.id AND d.status IN (${open}))
              ORDER BY p.id LIMIT ${batch} FOR UPDATE SKIP LOCKED)
            DELETE FROM message_payload
            WHERE id < hookline_id_floor('msg_', ${before}) AND id = ANY(ARRAY(SELECT id FROM picked))`,
      );
      const messages =
        separate +
        (separate >= batch
          ? 0
          : await count(
              sql`UPDATE message SET payload = '{}', payload_expunged_at = ${now}
                  WHERE id IN (
                    SELECT m.id FROM message m
                    WHERE m.created_at < ${before} AND m.payload IS NOT NULL AND m.payload_expunged_at IS NULL
                      AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = m.id AND d.status IN (${open}))
                    ORDER BY m.created_at LIMIT ${batch - separate} FOR UPDATE SKIP LOCKED)`,
            ));
      // The bytes and headers of inbound requests are payloads too (an accepted event's message
      // has none of its own): deleted in the same batch, once nothing waits to forward them, and the
      // record notes when. By id, which sorts by time: the index of inbound_body's partitions.
      const bodies =
        messages >= batch
          ? 0
          : await count(
              sql`WITH picked AS MATERIALIZED (
                    SELECT b.id FROM inbound_body b
                    WHERE b.id < hookline_id_floor('msg_', ${before})
                      AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = b.id AND d.status IN (${open}))
                    ORDER BY b.id LIMIT ${batch - messages} FOR UPDATE SKIP LOCKED),
                  gone AS (
                    DELETE FROM inbound_body
                    WHERE id < hookline_id_floor('msg_', ${before}) AND id = ANY(ARRAY(SELECT id FROM picked))
                    RETURNING id)
                  UPDATE inbound_event SET body_expunged_at = ${now} WHERE id IN (SELECT id FROM gone)`,
            );
      // Oldest first by id (the attempt log keeps no index by time, `attempt-window.ts`): below
      // the id floor of `before`, every attempt started before it.
      const attempts = await count(
        sql`WITH picked AS MATERIALIZED (
              SELECT id FROM attempt WHERE id < ${attemptIdFrom(before)} AND created_at < ${before}
              ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED)
            DELETE FROM attempt WHERE id < ${attemptIdFrom(before)} AND id = ANY(ARRAY(SELECT id FROM picked))`,
      );
      return { payloads: messages + bodies, attempts };
    },
  };
}
