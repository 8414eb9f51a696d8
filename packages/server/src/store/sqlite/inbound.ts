/**
 * Requests received on `/in/{source}`, stored on SQLite — the hot path mirrored by
 * `postgres/inbound.ts`: each request byte for byte, the duplicate check against earlier accepted
 * ones, and for an accepted request its message(s) and deliveries, all in one transaction.
 */
import type { EventEmitter } from 'node:events';
import { TriggerType } from '../../core/types.ts';
import { inboundBodies, inboundEvents } from '../schema.ts';
import { ACCEPTED, UNACCEPTED } from '../statuses.ts';
import type { InboundItem, InboundPart, InboundResult, Store } from '../store.ts';
import type { CodecContext } from '../table.ts';
import { type Param, type SqliteConnection, sqliteDialect } from './connection.ts';
import { sqliteRouting } from './queue.ts';

/** Prepared once; the columns come from store/schema.ts. */
const INSERT_EVENT = inboundEvents.insertText(sqliteDialect.placeholder);
const INSERT_BODY = inboundBodies.insertText(sqliteDialect.placeholder);

export function sqliteInbound(
  conn: SqliteConnection,
  ctx: CodecContext,
  events: EventEmitter,
): Pick<Store, 'receiveInbound'> {
  const queue = sqliteRouting(conn, ctx);
  const { get, run } = conn;
  /**
   * Queues a message's deliveries, noting their endpoints in `queuedFor` (told to the
   * dispatcher); returns how many.
   */
  const queueMessage = (
    item: InboundItem,
    msgId: string,
    eventType: string,
    at: number,
    queuedFor: Set<string>,
  ): number => {
    const targets = item.route(queue.routingOf(item.appId), eventType);
    for (const endpointId of targets) {
      queuedFor.add(endpointId);
      queue.insertDelivery(
        item.newDeliveryId(),
        msgId,
        item.appId,
        endpointId,
        at,
        TriggerType.scheduled,
        at,
      );
    }
    return targets.length;
  };
  const insertMessage = (item: InboundItem, id: string, eventType: string, payload: string, at: number) =>
    run(
      `INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at, traceparent)
       VALUES (?, ?, NULL, ?, ?, NULL, NULL, ?, ?)`,
      [id, item.appId, eventType, payload, at, item.traceparent ?? null],
    );

  return {
    receiveInbound: (items) =>
      conn.exclusive(() => {
        /** The endpoints this batch queued deliveries for. */
        const queuedFor = new Set<string>();
        const results = conn.txSync(() =>
          items.map((item): InboundResult => {
            const ev = item.event;
            if (!get('SELECT 1 FROM source WHERE id = ?', [ev.sourceId]))
              return { status: 'source_not_found' };
            let status = ev.status;
            let duplicateOf: string | null = null;
            // A split request: the parts that repeat an accepted part are dropped; none left: duplicate.
            const fresh: InboundPart[] = [];
            if (status === 'accepted' && item.parts) {
              const seen = new Set<string>();
              for (const part of item.parts) {
                if (part.dedupeKey !== null && item.dedupeSince !== null) {
                  const first = seen.has(part.dedupeKey)
                    ? { event_id: ev.id }
                    : get(
                        `SELECT event_id FROM inbound_part WHERE source_id = ? AND dedupe_key = ? AND received_at >= ?
                         ORDER BY received_at LIMIT 1`,
                        [ev.sourceId, part.dedupeKey, item.dedupeSince],
                      );
                  if (first) {
                    duplicateOf ??= String(first.event_id);
                    continue;
                  }
                  seen.add(part.dedupeKey);
                }
                fresh.push(part);
              }
              if (fresh.length > 0) duplicateOf = null;
              else status = 'duplicate';
            } else if (status === 'accepted' && ev.dedupeKey !== null && item.dedupeSince !== null) {
              const first = get(
                `SELECT id FROM inbound_event WHERE source_id = ? AND dedupe_key = ? AND status = ${ACCEPTED}
                   AND received_at >= ? ORDER BY received_at LIMIT 1`,
                [ev.sourceId, ev.dedupeKey, item.dedupeSince],
              );
              if (first) {
                status = 'duplicate';
                duplicateOf = String(first.id);
              }
            }
            run(INSERT_EVENT, inboundEvents.values({ ...ev, status, duplicateOf }, ctx) as Param[]);
            run(INSERT_BODY, inboundBodies.values(ev, ctx) as Param[]);
            if (status !== 'accepted') {
              // Anyone can post junk to /in: a source keeps only its newest unaccepted requests.
              run(
                `DELETE FROM inbound_event WHERE id IN (
                   SELECT id FROM inbound_event WHERE source_id = ? AND status IN (${UNACCEPTED})
                   ORDER BY id DESC LIMIT -1 OFFSET ?)`,
                [ev.sourceId, item.keepUnaccepted],
              );
              return status === 'duplicate' ? { status, duplicateOf: duplicateOf! } : { status };
            }
            if (item.parts) {
              // Each new part is a message of its own (its payload: the part's JSON); the request's
              // bytes stay once in inbound_body.
              let deliveries = 0;
              for (const part of fresh) {
                insertMessage(item, part.msgId, part.eventType, part.payload, ev.receivedAt);
                run(
                  'INSERT INTO inbound_part (msg_id, event_id, source_id, dedupe_key, received_at) VALUES (?, ?, ?, ?, ?)',
                  [part.msgId, ev.id, ev.sourceId, part.dedupeKey, ev.receivedAt],
                );
                deliveries += queueMessage(item, part.msgId, part.eventType, ev.receivedAt, queuedFor);
              }
              return { status: 'accepted', deliveries, messages: fresh.map((p) => p.msgId) };
            }
            // The message row makes the event a delivery like any other; the bytes stay in inbound_body.
            insertMessage(item, ev.id, ev.eventType, '{}', ev.receivedAt);
            const deliveries = queueMessage(item, ev.id, ev.eventType, ev.receivedAt, queuedFor);
            return { status: 'accepted', deliveries };
          }),
        );
        // Named, as ingest names them: a dispatcher need not claim for an endpoint at its limit.
        if (queuedFor.size > 0) events.emit('queued', [...queuedFor]);
        return results;
      }),
  };
}
