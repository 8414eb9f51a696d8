/**
 * Requests received on `/in/{source}`, stored on PostgreSQL — the hot path mirrored by
 * `sqlite/inbound.ts`: each request byte for byte, the duplicate check against earlier accepted
 * ones, and for an accepted request its message(s) and deliveries, all in one transaction.
 *
 * Deduplication is serialized per (source, dedupe key) with transaction-scoped advisory locks,
 * so two processes receiving the same event at once cannot both accept it: a time window cannot
 * be a unique index.
 */
import { TriggerType } from '../../core/types.ts';
import { endpoints, inboundBodies, inboundEvents } from '../schema.ts';
import { prepared, raw, sql } from '../sql.ts';
import { ACCEPTED, PENDING, UNACCEPTED } from '../statuses.ts';
import type { InboundItem, InboundPart, InboundResult, RoutingEndpoint, Store } from '../store.ts';
import type { CodecContext } from '../table.ts';
import type { PostgresConnection, Queryable } from './connection.ts';
import type { Notifier } from './notify.ts';

/**
 * First key of the transaction-scoped advisory locks that serialize inbound deduplication per
 * (source, dedupe key) across processes; the second key is a hash of the pair.
 */
const DEDUPE_LOCK = 7_240_003;
const SCHEDULED = raw(String(TriggerType.scheduled));
const PENDING_SQL = raw(PENDING);

export function postgresInbound(
  conn: PostgresConnection,
  ctx: CodecContext,
  notifier: Notifier,
): Pick<Store, 'receiveInbound'> {
  const { query, one, tx } = conn;

  /** Keeps a source's newest `keep` rejected, duplicate and handshake requests (anyone can post junk to /in). */
  const pruneUnaccepted = (c: Queryable, sourceId: string, keep: number) =>
    query(
      prepared(
        'hookline_inbound_prune',
        sql`DELETE FROM inbound_event WHERE id IN (
              SELECT id FROM inbound_event WHERE source_id = ${sourceId} AND status IN (${raw(UNACCEPTED)})
              ORDER BY id DESC OFFSET ${keep})`,
      ),
      c,
    );

  /**
   * An accepted request split into parts (inside receiveInbound's transaction, its dedupe locks
   * held): parts that repeat an accepted part are dropped, each new one becomes a message with
   * its deliveries; with none left the request is stored as a duplicate.
   */
  async function receiveParts(
    c: Queryable,
    item: InboundItem,
    parts: InboundPart[],
    eps: RoutingEndpoint[],
    queuedFor: Set<string>,
  ): Promise<InboundResult> {
    const ev = item.event;
    const fresh: InboundPart[] = [];
    const seen = new Set<string>();
    let duplicateOf: string | null = null;
    for (const part of parts) {
      if (part.dedupeKey !== null && item.dedupeSince !== null) {
        const first = seen.has(part.dedupeKey)
          ? { event_id: ev.id }
          : await one(
              prepared(
                'hookline_inbound_part_first',
                sql`SELECT event_id FROM inbound_part
                    WHERE source_id = ${ev.sourceId} AND dedupe_key = ${part.dedupeKey} AND received_at >= ${item.dedupeSince}
                    ORDER BY received_at, msg_id LIMIT 1`,
              ),
              c,
            );
        if (first) {
          duplicateOf ??= String(first.event_id);
          continue;
        }
        seen.add(part.dedupeKey);
      }
      fresh.push(part);
    }
    const status = fresh.length > 0 ? 'accepted' : 'duplicate';
    await query(
      inboundEvents.insert({ ...ev, status, duplicateOf: status === 'duplicate' ? duplicateOf : null }, ctx),
      c,
    );
    await query(inboundBodies.insert(ev, ctx), c);
    if (status === 'duplicate') return { status, duplicateOf: duplicateOf! };
    let deliveries = 0;
    // Each new part is a message of its own (its payload: the part's JSON); the request's bytes
    // stay once in inbound_body. Message, part and deliveries in one statement.
    for (const part of fresh) {
      const targets = item.route(eps, part.eventType);
      await query(
        prepared(
          'hookline_inbound_part',
          sql`WITH m AS (
              INSERT INTO message (id, app_id, event_id, event_type, channels, tags, created_at, traceparent)
              VALUES (${part.msgId}, ${item.appId}, NULL, ${part.eventType}, NULL, NULL, ${ev.receivedAt},
                ${item.traceparent ?? null})
            ), mp AS (
              INSERT INTO message_payload (id, payload) VALUES (${part.msgId}, ${part.payload})
            ), p AS (
              INSERT INTO inbound_part (msg_id, event_id, source_id, dedupe_key, received_at)
              VALUES (${part.msgId}, ${ev.id}, ${ev.sourceId}, ${part.dedupeKey}, ${ev.receivedAt})
            )
            INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
              created_at, updated_at)
            SELECT u.id, ${part.msgId}, ${item.appId}, u.endpoint_id, ${PENDING_SQL}, 0, ${ev.receivedAt}, ${SCHEDULED},
              ${ev.receivedAt}, ${ev.receivedAt}
            FROM unnest(${targets.map(() => item.newDeliveryId())}::text[], ${targets}::text[]) AS u(id, endpoint_id)`,
        ),
        c,
      );
      deliveries += targets.length;
      for (const id of targets) queuedFor.add(id);
    }
    return { status: 'accepted', deliveries, messages: fresh.map((p) => p.msgId) };
  }

  return {
    receiveInbound: async (items) => {
      if (items.length === 0) return [];
      const { results, queuedFor } = await tx(async (c) => {
        // Deduplication is decided under one lock per (source, dedupe key), taken up front in a
        // fixed order, so that concurrent batches never deadlock.
        const keys = [
          ...new Set(
            items
              .filter((i) => i.event.status === 'accepted' && i.dedupeSince !== null)
              .flatMap((i) =>
                (i.parts ? i.parts.map((p) => p.dedupeKey) : [i.event.dedupeKey])
                  .filter((k) => k !== null)
                  .map((k) => `${i.event.sourceId} ${k}`),
              ),
          ),
        ];
        if (keys.length > 0) {
          await query(
            prepared(
              'hookline_inbound_lock',
              sql`SELECT pg_advisory_xact_lock(${DEDUPE_LOCK}::int, h) FROM (
                    SELECT DISTINCT hashtext(k) AS h FROM unnest(${keys}::text[]) AS k ORDER BY h OFFSET 0) s`,
            ),
            c,
          );
        }
        const sources = new Set<string>();
        const routing = new Map<string, RoutingEndpoint[]>();
        const routingOf = async (appId: string) => {
          let eps = routing.get(appId);
          if (!eps) {
            eps = (
              await query(
                prepared(
                  'hookline_inbound_routing',
                  sql`SELECT id, disabled, event_types, channels FROM endpoint WHERE app_id = ${appId}`,
                ),
                c,
              )
            ).map((r) => ({
              id: String(r.id),
              ...endpoints.pick(r, ctx, ['disabled', 'eventTypes', 'channels']),
            }));
            routing.set(appId, eps);
          }
          return eps;
        };
        const out: InboundResult[] = [];
        /** The endpoints deliveries were queued for: the notification names them, as ingest's does. */
        const queuedFor = new Set<string>();
        for (const item of items) {
          const ev = item.event;
          if (!sources.has(ev.sourceId)) {
            // Locked against deletion until commit, like an application in ingest.
            const source = prepared(
              'hookline_inbound_source',
              sql`SELECT 1 FROM source WHERE id = ${ev.sourceId} FOR KEY SHARE`,
            );
            if (!(await one(source, c))) {
              out.push({ status: 'source_not_found' });
              continue;
            }
            sources.add(ev.sourceId);
          }
          if (ev.status === 'accepted' && item.parts) {
            const result = await receiveParts(c, item, item.parts, await routingOf(item.appId), queuedFor);
            if (result.status !== 'accepted') await pruneUnaccepted(c, ev.sourceId, item.keepUnaccepted);
            out.push(result);
            continue;
          }
          // Its deliveries, were it accepted: routed before the statement that decides it.
          const targets =
            ev.status === 'accepted' ? item.route(await routingOf(item.appId), ev.eventType) : [];
          // The duplicate check, the request, and for an accepted one its message and deliveries,
          // in one statement (it sees what this transaction stored before, so two copies in one
          // batch are caught). The message row makes the event a delivery like any other; the
          // bytes stay in inbound_body.
          const check = ev.status === 'accepted' && ev.dedupeKey !== null && item.dedupeSince !== null;
          const stored = await one(
            prepared(
              'hookline_inbound_event',
              sql`WITH first AS (
                  SELECT id FROM inbound_event
                  WHERE ${check}::boolean AND source_id = ${ev.sourceId} AND dedupe_key = ${ev.dedupeKey}
                    AND status = ${raw(ACCEPTED)} AND received_at >= ${item.dedupeSince ?? 0}
                  ORDER BY received_at, id LIMIT 1
                ), e AS (
                  INSERT INTO inbound_event (id, source_id, status, event_type, dedupe_key, duplicate_of, verify_code,
                    verify_detail, content_type, received_at, method)
                  SELECT ${ev.id}::text, ${ev.sourceId}::text,
                    CASE WHEN first.id IS NULL THEN ${ev.status}::text ELSE 'duplicate' END, ${ev.eventType}::text,
                    ${ev.dedupeKey}::text, first.id, ${ev.verifyCode}::text, ${ev.verifyDetail}::text,
                    ${ev.contentType}::text, ${ev.receivedAt}::bigint, ${ev.method}::text
                  FROM (VALUES (1)) AS one (x) LEFT JOIN first ON true
                  RETURNING id, status, duplicate_of
                ), b AS (
                  INSERT INTO inbound_body (id, content_type, headers, body)
                  SELECT e.id, ${ev.contentType}::text, ${JSON.stringify(ev.headers)}::text, ${ev.body}::bytea FROM e
                ), m AS (
                  INSERT INTO message (id, app_id, event_id, event_type, channels, tags, created_at, traceparent)
                  SELECT e.id, ${item.appId}::text, NULL, ${ev.eventType}::text, NULL, NULL, ${ev.receivedAt}::bigint,
                    ${item.traceparent ?? null}::text
                  FROM e WHERE e.status = ${raw(ACCEPTED)}
                  RETURNING id
                ), d AS (
                  INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at,
                    trigger_type, created_at, updated_at)
                  SELECT u.id, m.id, ${item.appId}::text, u.endpoint_id, ${PENDING_SQL}, 0, ${ev.receivedAt}::bigint,
                    ${SCHEDULED}, ${ev.receivedAt}::bigint, ${ev.receivedAt}::bigint
                  FROM m CROSS JOIN unnest(${targets.map(() => item.newDeliveryId())}::text[], ${targets}::text[])
                    AS u(id, endpoint_id)
                )
                SELECT status, duplicate_of FROM e`,
            ),
            c,
          );
          const status = String(stored?.status);
          if (status !== 'accepted') {
            await pruneUnaccepted(c, ev.sourceId, item.keepUnaccepted);
            out.push(
              status === 'duplicate'
                ? { status, duplicateOf: String(stored?.duplicate_of) }
                : { status: status === 'handshake' ? 'handshake' : 'rejected' },
            );
            continue;
          }
          for (const id of targets) queuedFor.add(id);
          out.push({ status: 'accepted', deliveries: targets.length });
        }
        return { results: out, queuedFor };
      });
      if (queuedFor.size > 0) {
        const endpointIds = [...queuedFor];
        notifier.local(endpointIds);
        notifier.soon(endpointIds);
      }
      return results;
    },
  };
}
