/**
 * The delivery queue on PostgreSQL — the hot path, mirrored by `sqlite/queue.ts`, shared by any
 * number of API and worker processes.
 *
 * - Ingest stores a batch of messages, their deliveries and idempotent responses in one
 *   statement, and notifies the workers after the commit (coalesced, see `notify.ts`). In a
 *   process that also delivers, live deliveries to plain endpoints are written leased to its
 *   dispatcher instead, within the limit claims keep across processes (`IngestHandoff`).
 * - Claims and completions are one statement each, and never wait on another worker (see
 *   `claim.ts`): a claim leases due rows by writing the lease end into `next_attempt_at`, with
 *   the per-endpoint limits (in-flight, FIFO, rate) decided by one claim at a time per endpoint
 *   across every process; a completion moves on only the deliveries whose lease the worker
 *   still holds, and persists endpoint health as `core/endpoint-health.ts` decides.
 */
import { TriggerType, type TriggerTypeCode } from '../../core/types.ts';
import {
  endpoints,
  HANDOFF_ENDPOINT_COLUMNS,
  type HandoffEndpoint,
  handedOffDelivery,
  handoffEndpoint,
  messages,
} from '../schema.ts';
import { prepared, type Row, raw, sql } from '../sql.ts';
import { PENDING, SENDING } from '../statuses.ts';
import type {
  ClaimedDelivery,
  IngestHandoff,
  IngestItem,
  IngestResult,
  RoutingEndpoint,
  Store,
} from '../store.ts';
import type { CodecContext } from '../table.ts';
import { postgresClaims } from './claim.ts';
import type { PostgresConnection, Queryable } from './connection.ts';
import type { Notifier } from './notify.ts';

/** A (message, endpoint) pair to queue: pending, no attempts yet. */
export interface NewDelivery {
  id: string;
  msgId: string;
  appId: string;
  endpointId: string;
  dueAt: number;
  createdAt: number;
  /** The message's ordering key (store/claim-plan.ts), or null. */
  orderingKey?: string | null;
  /** Its number in the (endpoint, key) line; set by ingest, or given (resend). */
  sequence?: number | null;
}

/** PostgreSQL's SQLSTATE for a foreign key that points at nothing. */
const FOREIGN_KEY_VIOLATION = '23503';

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function postgresQueue(
  conn: PostgresConnection,
  ctx: CodecContext,
  notifier: Notifier,
): Pick<Store, 'ingest' | 'claimDue' | 'completeDeliveries' | 'releaseDeliveries' | 'nextDueAt' | 'resend'> {
  const { query, one, count, tx } = conn;
  const routing = (r: Record<string, unknown>): RoutingEndpoint => ({
    id: String(r.id),
    ...endpoints.pick(r, ctx, ['disabled', 'eventTypes', 'channels']),
  });

  /** Queues (message, endpoint) pairs in one statement. */
  const insertDeliveries = (c: Queryable, rows: NewDelivery[], trigger: TriggerTypeCode) =>
    rows.length === 0
      ? Promise.resolve(0)
      : count(
          sql`INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at,
                trigger_type, created_at, updated_at, ordering_key, sequence)
              SELECT id, msg_id, app_id, endpoint_id, ${raw(PENDING)}, 0, due, ${trigger}::smallint, created, created,
                okey, seq
              FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.msgId)}::text[],
                ${rows.map((r) => r.appId)}::text[], ${rows.map((r) => r.endpointId)}::text[],
                ${rows.map((r) => r.dueAt)}::bigint[], ${rows.map((r) => r.createdAt)}::bigint[],
                ${rows.map((r) => r.orderingKey ?? null)}::text[], ${rows.map((r) => r.sequence ?? null)}::integer[])
                AS u(id, msg_id, app_id, endpoint_id, due, created, okey, seq)`,
          c,
        );

  /**
   * Stores a batch of new messages without a transaction: the routing read, then one statement
   * that stores everything (atomic on its own, committed as it ends), then, only when an eventId
   * was taken, the read of the messages that hold them. BEGIN and COMMIT were two more round trips
   * per batch and the application rows' KEY SHARE locks a write to each row: the transaction took
   * 4.3 ms of the 11.7 ms p50 at 1,000 msg/s with one worker, 3.1 ms without (docs/benchmarks.md).
   * A transaction would not make routing any more exact: at READ COMMITTED its read did not see an
   * endpoint created meanwhile either. An application or endpoint deleted between the read and the
   * statement fails the statement on its foreign key (nothing stored): `ingest` routes again.
   */
  const ingestOnce = async (items: IngestItem[], handoff: IngestHandoff | null) => {
    const results: (IngestResult | null)[] = items.map(() => null);
    // The applications and their endpoints, at once; with a handoff, also what a handed-off
    // delivery carries of its endpoint.
    const appIds = [...new Set(items.map((i) => i.message.appId))];
    const routingByApp = new Map<string, RoutingEndpoint[]>();
    // One application (nearly every batch) by `=`: PostgreSQL plans `= ANY(array)` anew on every
    // execution (its generic plan's estimate of several rows never beats the custom plan's one):
    // a bind of ~200 µs of the database's CPU a batch at 1,000 msg/s against ~75 µs for `=` on the
    // key, which gets a generic plan after five.
    const one = appIds.length === 1;
    const apps = one ? sql`a.id = ${appIds[0]}::text` : sql`a.id = ANY(${appIds}::text[])`;
    const rows = await query(
      // Polling endpoints (kind 'poller') are never sent anything: their consumers poll.
      handoff
        ? prepared(
            one ? 'hookline_routing_handoff_one' : 'hookline_routing_handoff',
            sql`SELECT a.id AS app, e.id, e.event_types, e.channels, ${raw(HANDOFF_ENDPOINT_COLUMNS)}
                FROM app a LEFT JOIN endpoint e ON e.app_id = a.id AND e.kind <> 'poller'
                WHERE ${apps}`,
          )
        : prepared(
            one ? 'hookline_routing_one' : 'hookline_routing',
            sql`SELECT a.id AS app, e.id, e.disabled, e.event_types, e.channels
                FROM app a LEFT JOIN endpoint e ON e.app_id = a.id AND e.kind <> 'poller'
                WHERE ${apps}`,
          ),
    );
    const endpointRows = new Map<string, Row>();
    for (const r of rows) {
      const list = routingByApp.get(String(r.app)) ?? [];
      routingByApp.set(String(r.app), list);
      if (r.id === null) continue;
      list.push(routing(r));
      endpointRows.set(String(r.id), r);
    }
    /** What a handoff needs of an endpoint, or null when its deliveries must wait for a claim. */
    const plain = new Map<string, HandoffEndpoint | null>();
    const handoffOf = (endpointId: string) => {
      let e = plain.get(endpointId);
      if (e === undefined) {
        e = handoffEndpoint(endpointRows.get(endpointId)!, ctx, handoff!.leaseMs);
        plain.set(endpointId, e);
      }
      return e;
    };
    // Route every new message (the first of an eventId wins, within the batch too).
    const toInsert: number[] = [];
    const seenEventIds = new Set<string>();
    const deliveries: NewDelivery[] = [];
    /** Deliveries the dispatcher took a slot for: leased as they are written if the database agrees. */
    const offered = new Map<string, ClaimedDelivery>();
    const routed = new Map<number, number>();
    items.forEach((item, i) => {
      const m = item.message;
      const eps = routingByApp.get(m.appId);
      if (!eps) {
        results[i] = { ok: false, reason: 'app_not_found' };
        return;
      }
      if (m.eventId !== null) {
        const k = `${m.appId}\u0000${m.eventId}`;
        if (seenEventIds.has(k)) return; // a duplicate of the first: resolved below
        seenEventIds.add(k);
      }
      toInsert.push(i);
      const targets = item.route(eps);
      routed.set(i, targets.length);
      // Only live traffic is handed off: due now, and no ordering key (its line decides).
      const live = handoff !== null && item.dueAt <= m.createdAt && (m.orderingKey ?? null) === null;
      for (const endpointId of targets) {
        const id = item.newDeliveryId();
        const endpoint = live ? handoffOf(endpointId) : null;
        if (endpoint && handoff!.take(endpointId))
          offered.set(id, handedOffDelivery(item, id, endpointId, endpoint));
        deliveries.push({
          id,
          msgId: m.id,
          appId: m.appId,
          endpointId,
          dueAt: item.dueAt,
          createdAt: m.createdAt,
          orderingKey: m.orderingKey ?? null,
        });
      }
    });
    // What the dispatcher would take, per endpoint: the database grants at most that many.
    const wants = new Map<string, number>();
    for (const d of offered.values()) wants.set(d.endpointId, (wants.get(d.endpointId) ?? 0) + 1);
    const leaseOf = (id: string) => offered.get(id)?.leaseUntil ?? null;
    let offeredAt = 0;
    for (const d of offered.values()) offeredAt = Math.max(offeredAt, d.msgCreatedAt);
    const idem = new Map<string, { msgId: string; status: number; body: string; expiresAt: number }>();
    for (const i of toInsert) {
      const it = items[i]!;
      if (it.idempotency) {
        const { key, response, expiresAt } = it.idempotency;
        idem.set(key, { msgId: it.message.id, status: response.status, body: response.body, expiresAt });
      }
    }
    const idemEntries = [...idem];
    const msgs = toInsert.map((i) => items[i]!.message);
    const traceparents = toInsert.map((i) => items[i]!.traceparent ?? null);
    const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
    // One statement stores the messages (skipping taken eventIds) and, for those stored,
    // their payloads (in message_payload, partitioned by day), deliveries and idempotent
    // responses. Keyed deliveries take the next numbers of
    // their (endpoint, key) line: one upsert per line, in key order (two batches lock the
    // counters they share in the same order), numbered within the batch in batch order. Offered
    // deliveries are written leased (SENDING until their lease ends) as far as hookline_handoff
    // (migration 36) grants, in batch order; the others pending, for a claim.
    // With nothing offered, the statement has no handoff parts at all (an API-only process's).
    const offering = offered.size > 0;
    const handoffLocks = offering
      ? sql`g AS MATERIALIZED (
              SELECT h.endpoint_id, h.granted
              FROM hookline_handoff(${[...wants.keys()]}::text[], ${[...wants.values()]}::integer[],
                ${handoff!.perEndpoint}::integer, ${offeredAt}::bigint) h
            ), `
      : raw('');
    // The handoff's locks before anything else: the messages (and so everything after them)
    // wait for hookline_handoff.
    const locksFirst = raw(offering ? 'WHERE (SELECT count(*) FROM g) >= 0' : '');
    // Only a batch with an eventId inserts its messages "ON CONFLICT DO NOTHING": PostgreSQL
    // writes such a row speculatively and confirms it (a second record in the log), eventId or not.
    const dedupe = msgs.some((m) => m.eventId !== null);
    const onConflict = raw(
      dedupe ? 'ON CONFLICT (app_id, event_id) WHERE event_id IS NOT NULL DO NOTHING' : '',
    );
    let stored: Row[] = [];
    try {
      if (msgs.length > 0)
        stored = await query(
          prepared(
            `hookline_ingest${offering ? '_handoff' : ''}${dedupe ? '_dedupe' : ''}`,
            sql`WITH ${handoffLocks}m AS (
                   INSERT INTO message (id, app_id, event_id, event_type, channels, tags, created_at,
                     ordering_key, traceparent)
                   SELECT id, app_id, event_id, event_type, channels::jsonb, tags::jsonb, created_at,
                     ordering_key, traceparent
                   FROM unnest(${msgs.map((m) => m.id)}::text[], ${msgs.map((m) => m.appId)}::text[],
                     ${msgs.map((m) => m.eventId)}::text[], ${msgs.map((m) => m.eventType)}::text[],
                     ${msgs.map((m) => json(m.channels))}::text[],
                     ${msgs.map((m) => json(m.tags))}::text[], ${msgs.map((m) => m.createdAt)}::bigint[],
                     ${msgs.map((m) => m.orderingKey ?? null)}::text[], ${traceparents}::text[])
                     AS u(id, app_id, event_id, event_type, channels, tags, created_at, ordering_key,
                       traceparent)
                   ${locksFirst}
                   ${onConflict}
                   RETURNING id
                 ), mp AS (
                   INSERT INTO message_payload (id, payload)
                   SELECT u.id, u.payload
                   FROM unnest(${msgs.map((m) => m.id)}::text[], ${msgs.map((m) => m.payload)}::text[]) AS u(id, payload)
                   WHERE u.id IN (SELECT id FROM m)
                 ), u AS (
                   SELECT u.*, count(*) OVER (PARTITION BY u.endpoint_id, u.okey) AS n,
                     row_number() OVER (PARTITION BY u.endpoint_id, u.okey ORDER BY u.ord) AS rn${raw(
                       offering
                         ? `,
                     CASE WHEN u.lease IS NOT NULL
                       THEN row_number() OVER (PARTITION BY u.endpoint_id, u.lease IS NULL ORDER BY u.ord) END AS hn`
                         : '',
                     )}
                   FROM unnest(${deliveries.map((d) => d.id)}::text[], ${deliveries.map((d) => d.msgId)}::text[],
                     ${deliveries.map((d) => d.appId)}::text[], ${deliveries.map((d) => d.endpointId)}::text[],
                     ${deliveries.map((d) => d.dueAt)}::bigint[], ${deliveries.map((d) => d.createdAt)}::bigint[],
                     ${deliveries.map((d) => d.orderingKey ?? null)}::text[]${
                       offering ? sql`, ${deliveries.map((d) => leaseOf(d.id))}::bigint[]` : raw('')
                     })
                     WITH ORDINALITY AS u(id, msg_id, app_id, endpoint_id, due, created, okey${raw(offering ? ', lease' : '')}, ord)
                   WHERE u.msg_id IN (SELECT id FROM m)
                 ), s AS (
                   INSERT INTO ordering_sequence (endpoint_id, ordering_key, last_seq)
                   SELECT DISTINCT u.endpoint_id, u.okey, u.n FROM u WHERE u.okey IS NOT NULL
                   ORDER BY u.endpoint_id, u.okey
                   ON CONFLICT (endpoint_id, ordering_key)
                     DO UPDATE SET last_seq = ordering_sequence.last_seq + excluded.last_seq
                   RETURNING endpoint_id, ordering_key, last_seq
                 ), d AS (
                   INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at,
                     trigger_type, created_at, updated_at, ordering_key, sequence)
                   SELECT u.id, u.msg_id, u.app_id, u.endpoint_id, ${raw(
                     offering
                       ? `CASE WHEN u.hn <= g.granted THEN ${SENDING} ELSE ${PENDING} END, 0,
                     CASE WHEN u.hn <= g.granted THEN u.lease ELSE u.due END`
                       : `${PENDING}, 0, u.due`,
                   )}, ${raw(String(TriggerType.scheduled))},
                     u.created, u.created, u.okey, s.last_seq - u.n + u.rn
                   FROM u LEFT JOIN s ON s.endpoint_id = u.endpoint_id AND s.ordering_key = u.okey
                     ${raw(offering ? 'LEFT JOIN g ON g.endpoint_id = u.endpoint_id' : '')}
                   RETURNING ${raw(offering ? 'id, status' : '1')}
                 ), i AS (
                   INSERT INTO idempotency (key, status, body, expires_at)
                   SELECT u.key, u.status, u.body, u.expires_at
                   FROM unnest(${idemEntries.map(([, v]) => v.msgId)}::text[], ${idemEntries.map(([k]) => k)}::text[],
                     ${idemEntries.map(([, v]) => v.status)}::int[], ${idemEntries.map(([, v]) => v.body)}::text[],
                     ${idemEntries.map(([, v]) => v.expiresAt)}::bigint[])
                     AS u(msg_id, key, status, body, expires_at)
                   WHERE u.msg_id IN (SELECT id FROM m)
                   ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body,
                     expires_at = excluded.expires_at
                 )
                 SELECT id${raw(offering ? `, (SELECT coalesce(array_agg(d.id), '{}') FROM d WHERE d.status = ${SENDING}) AS leased` : '')}
                 FROM m`,
          ),
        );
    } catch (err) {
      // Nothing was written: the slots the dispatcher reserved are free again.
      if (offered.size > 0) handoff!.untake([...offered.values()].map((d) => d.endpointId));
      throw err;
    }
    // What was leased to this process's dispatcher goes to it now; the slots of offers the
    // database did not grant (their deliveries wait for a claim) are free again.
    const leased = new Set<string>((stored[0]?.leased as string[] | undefined) ?? []);
    if (offered.size > 0) {
      const taken = [...offered.values()].filter((d) => leased.has(d.id));
      const refused = [...offered.values()].filter((d) => !leased.has(d.id));
      if (refused.length > 0) handoff!.untake(refused.map((d) => d.endpointId));
      if (taken.length > 0) handoff!.taken(taken);
    }
    const inserted = new Set(stored.map((r) => String(r.id)));
    for (const i of toInsert) {
      if (!inserted.has(items[i]!.message.id)) continue;
      results[i] = { ok: true, deliveries: routed.get(i)! };
    }
    // Everything else had an eventId that is taken: a duplicate of a stored message.
    const dupIdx = items.map((_item, i) => i).filter((i) => results[i] === null);
    if (dupIdx.length > 0) {
      const existing = await query(
        sql`SELECT m.* FROM message_with_payload m
                JOIN unnest(${dupIdx.map((i) => items[i]!.message.appId)}::text[],
                  ${dupIdx.map((i) => items[i]!.message.eventId!)}::text[]) AS u(app_id, event_id)
                ON m.app_id = u.app_id AND m.event_id = u.event_id`,
      );
      const byKey = new Map(
        existing.map((r) => [`${String(r.app_id)}\u0000${String(r.event_id)}`, messages.read(r, ctx)]),
      );
      for (const i of dupIdx) {
        const m = items[i]!.message;
        const found = byKey.get(`${m.appId}\u0000${m.eventId}`);
        if (!found) throw new Error(`message ${m.id} was neither stored nor a duplicate`);
        results[i] = { ok: false, reason: 'duplicate_event_id', existing: found };
      }
    }
    // The endpoints with new work for a claim, so that a worker already at an endpoint's limit
    // does not claim for nothing.
    const endpointIds = [
      ...new Set(
        deliveries.filter((d) => inserted.has(d.msgId) && !leased.has(d.id)).map((d) => d.endpointId),
      ),
    ];
    return { results: results as IngestResult[], endpointIds };
  };

  return {
    ingest: async (items, handoff) => {
      let stored: Awaited<ReturnType<typeof ingestOnce>>;
      try {
        stored = await ingestOnce(items, handoff ?? null);
      } catch (err) {
        // An application or endpoint deleted since the routing read: route again, once.
        if ((err as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw err;
        stored = await ingestOnce(items, handoff ?? null);
      }
      const { results, endpointIds } = stored;
      if (endpointIds.length > 0) {
        notifier.local(endpointIds);
        notifier.soon(endpointIds);
      }
      return results;
    },

    ...postgresClaims(conn, ctx, notifier),

    releaseDeliveries: async (ids, now) => {
      if (ids.length === 0) return;
      const rows = await query(
        sql`UPDATE delivery SET status = ${raw(PENDING)}, next_attempt_at = ${now}, updated_at = ${now}
            WHERE id = ANY(${ids}::text[]) AND status = ${raw(SENDING)}
            RETURNING endpoint_id`,
      );
      // Given back by a worker that stops (or cannot send them in time): the others take them
      // now, not at their idle poll.
      const endpointIds = [...new Set(rows.map((r) => String(r.endpoint_id)))];
      if (endpointIds.length > 0) {
        notifier.local(endpointIds);
        notifier.soon(endpointIds);
      }
    },

    nextDueAt: async (filter = {}, after) => {
      // hookline_next_due (migration 32): the due index in due order, planned once per connection.
      const row = await one(
        prepared(
          'hookline_next_due',
          sql`SELECT hookline_next_due(${after ?? Number.MIN_SAFE_INTEGER}::bigint, ${filter.excludeKinds ?? []}::text[],
                ${filter.onlyEndpoints ?? null}::text[]) AS t`,
        ),
      );
      return numOrNull(row?.t);
    },

    resend: async (m, endpointId, id, now) => {
      await tx(async (c) => {
        // A keyed message sent again keeps its key and its number in the line (the receiver
        // sees the same webhook-sequence again); one never queued for this endpoint takes the
        // line's next number.
        const orderingKey = m.orderingKey ?? null;
        let sequence: number | null = null;
        if (orderingKey !== null) {
          const had = await one(
            sql`SELECT sequence FROM delivery WHERE msg_id = ${m.id} AND endpoint_id = ${endpointId}
                  AND sequence IS NOT NULL ORDER BY created_at, id LIMIT 1`,
            c,
          );
          sequence = numOrNull(had?.sequence);
          if (sequence === null) {
            const next = await one(
              sql`INSERT INTO ordering_sequence (endpoint_id, ordering_key, last_seq)
                  VALUES (${endpointId}, ${orderingKey}, 1)
                  ON CONFLICT (endpoint_id, ordering_key) DO UPDATE SET last_seq = ordering_sequence.last_seq + 1
                  RETURNING last_seq`,
              c,
            );
            sequence = Number(next?.last_seq);
          }
        }
        await insertDeliveries(
          c,
          [
            {
              id,
              msgId: m.id,
              appId: m.appId,
              endpointId,
              dueAt: now,
              createdAt: now,
              orderingKey,
              sequence,
            },
          ],
          TriggerType.manual,
        );
        await notifier.inTx(c);
      });
      notifier.local();
    },
  };
}
