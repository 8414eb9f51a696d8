/**
 * Recovering an endpoint a batch at a time (`Store.recoverBatch`), for both databases alike:
 * each call is one short transaction over at most `limit` rows, so recovering a long window never
 * holds the database (or SQLite's one connection) for long, and the API reports progress between
 * batches. The queue's hot paths stay in the adapters' `queue.ts`.
 */
import { idFloor } from '../../core/ids.ts';
import { TriggerType } from '../../core/types.ts';
import { messages } from '../schema.ts';
import type { Executor } from '../sql.ts';
import { join, raw, sql } from '../sql.ts';
import { GAVE_UP, PENDING } from '../statuses.ts';
import type { RecoverBatchRequest, RecoverCursor, Store } from '../store.ts';
import type { Db } from './db.ts';

/**
 * Message ids sort by the second they were made in, by the clock of the process that made them:
 * the id range scanned for a time window is widened by this much for clocks that disagree.
 */
const CLOCK_SKEW_MS = 3_600_000;

type BatchResult = { queued: number; next: RecoverCursor | null };

/** Failed and canceled deliveries of the endpoint go back in the queue, in creation order. */
async function requeueFailed(
  tx: Executor,
  { dialect }: Db['ctx'],
  b: RecoverBatchRequest,
): Promise<BatchResult> {
  const after = b.cursor?.step === 'failed' ? b.cursor : null;
  const rows = await tx.all(
    sql`SELECT id, created_at FROM delivery
        WHERE endpoint_id = ${b.endpointId} AND status IN (${raw(GAVE_UP)})
          AND created_at >= ${b.since} AND created_at < ${b.until}
          ${after ? sql`AND (created_at > ${after.createdAt} OR (created_at = ${after.createdAt} AND id > ${after.id}))` : raw('')}
        ORDER BY created_at, id LIMIT ${b.limit}`,
  );
  const queued =
    rows.length === 0
      ? 0
      : await tx.run(
          sql`UPDATE delivery SET status = ${raw(PENDING)}, next_attempt_at = ${b.now}, updated_at = ${b.now}
              WHERE ${dialect.inList(
                sql`id`,
                rows.map((r) => String(r.id)),
              )} AND status IN (${raw(GAVE_UP)})`,
        );
  const last = rows.at(-1);
  return {
    queued,
    next:
      rows.length < b.limit || !last
        ? { step: 'missed', id: null }
        : { step: 'failed', createdAt: Number(last.created_at), id: String(last.id) },
  };
}

/** Messages of the window that never had a delivery to the endpoint get one, in id order. */
async function queueMissed(tx: Executor, ctx: Db['ctx'], b: RecoverBatchRequest): Promise<BatchResult> {
  const from =
    (b.cursor?.step === 'missed' ? b.cursor.id : null) ?? idFloor('message', b.missedSince - CLOCK_SKEW_MS);
  const to = idFloor('message', b.until + CLOCK_SKEW_MS);
  const rows = await tx.all(
    sql`SELECT id, event_type, channels, ordering_key FROM message
        WHERE app_id = ${b.appId} AND id > ${from} AND id < ${to}
          AND created_at >= ${b.missedSince} AND created_at < ${b.until}
        ORDER BY id LIMIT ${b.limit}`,
  );
  const ids = rows.map((r) => String(r.id));
  const queuedAlready = new Set(
    ids.length === 0
      ? []
      : (
          await tx.all(
            sql`SELECT msg_id FROM delivery WHERE endpoint_id = ${b.endpointId} AND ${ctx.dialect.inList(sql`msg_id`, ids)}`,
          )
        ).map((r) => String(r.msg_id)),
  );
  const missed = rows.filter(
    (r) =>
      !queuedAlready.has(String(r.id)) &&
      b.matches(String(r.event_type), messages.pick(r, ctx, ['channels']).channels),
  );
  if (missed.length > 0) {
    // A keyed message takes the next number of its line at this endpoint (in message order).
    const sequences = new Map<string, number>();
    for (const r of missed) {
      if (r.ordering_key === null || r.ordering_key === undefined) continue;
      const next = await tx.one(
        sql`INSERT INTO ordering_sequence (endpoint_id, ordering_key, last_seq)
            VALUES (${b.endpointId}, ${String(r.ordering_key)}, 1)
            ON CONFLICT (endpoint_id, ordering_key) DO UPDATE SET last_seq = ordering_sequence.last_seq + 1
            RETURNING last_seq`,
      );
      sequences.set(String(r.id), Number(next!.last_seq));
    }
    await tx.run(
      sql`INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
            created_at, updated_at, ordering_key, sequence)
          VALUES ${join(
            missed.map(
              (r) =>
                sql`(${b.newDeliveryId()}, ${String(r.id)}, ${b.appId}, ${b.endpointId}, ${raw(PENDING)}, 0, ${b.now},
                  ${TriggerType.manual}, ${b.now}, ${b.now}, ${sequences.has(String(r.id)) ? String(r.ordering_key) : null},
                  ${sequences.get(String(r.id)) ?? null})`,
            ),
          )}`,
    );
  }
  return { queued: missed.length, next: rows.length < b.limit ? null : { step: 'missed', id: ids.at(-1)! } };
}

export function recoverStore(db: Db): Pick<Store, 'recoverBatch'> {
  return {
    recoverBatch: (b) =>
      db.ex.tx((tx) =>
        b.cursor === null || b.cursor.step === 'failed'
          ? requeueFailed(tx, db.ctx, b)
          : queueMissed(tx, db.ctx, b),
      ),
  };
}
