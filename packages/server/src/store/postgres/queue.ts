/**
 * The delivery queue on PostgreSQL — the hot path, mirrored by `sqlite/queue.ts`, shared by any
 * number of API and worker processes.
 *
 * - Ingest stores a batch of messages, their deliveries and idempotent responses in one
 *   statement, and notifies the workers after the commit (coalesced, see `notify.ts`).
 * - Claims lock due rows with `FOR UPDATE SKIP LOCKED` (workers never wait on each other's
 *   rows) and lease them by writing the lease end into `next_attempt_at`. Per-endpoint limits
 *   (in-flight, FIFO, rate) are decided with the endpoint rows locked, so they hold across
 *   processes (see `claim-plan.ts`).
 * - Completion records a batch's attempts and state changes in one transaction, only for the
 *   leases the worker still holds, and persists endpoint health as `core/endpoint-health.ts`
 *   decides.
 */
import { healthChanges, healthSignals } from '../../core/endpoint-health.ts';
import { leaseFor } from '../../core/lease.ts';
import { countsAsAttempt, statusAfter } from '../../core/outcome.ts';
import { TriggerType, type TriggerTypeCode } from '../../core/types.ts';
import { type EndpointGate, planClaim, rateOf } from '../claim-plan.ts';
import { CLAIMED_ENDPOINT_FIELDS, claimedDelivery, claimedEndpoint, endpoints, messages } from '../schema.ts';
import { raw, type Sql, sql } from '../sql.ts';
import { GAVE_UP, OPEN, PENDING, SENDING } from '../statuses.ts';
import type { ClaimedDelivery, DeliveryScope, IngestResult, RoutingEndpoint, Store } from '../store.ts';
import type { CodecContext } from '../table.ts';
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
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function postgresQueue(
  conn: PostgresConnection,
  ctx: CodecContext,
  notifier: Notifier,
): Pick<
  Store,
  'ingest' | 'claimDue' | 'completeDeliveries' | 'releaseDeliveries' | 'nextDueAt' | 'resend' | 'recover'
> {
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
                trigger_type, created_at, updated_at)
              SELECT id, msg_id, app_id, endpoint_id, ${raw(PENDING)}, 0, due, ${trigger}::smallint, created, created
              FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.msgId)}::text[],
                ${rows.map((r) => r.appId)}::text[], ${rows.map((r) => r.endpointId)}::text[],
                ${rows.map((r) => r.dueAt)}::bigint[], ${rows.map((r) => r.createdAt)}::bigint[])
                AS u(id, msg_id, app_id, endpoint_id, due, created)`,
          c,
        );

  /** The extra WHERE terms of a `DeliveryScope`, on the `delivery` table (as `alias`). */
  const scopeSql = (scope: DeliveryScope, alias = ''): Sql => {
    let out = raw('');
    if (scope.onlyEndpoints)
      out = sql`${out} AND ${raw(alias)}endpoint_id = ANY(${scope.onlyEndpoints}::text[])`;
    if (scope.excludeKinds && scope.excludeKinds.length > 0)
      out = sql`${out} AND ${raw(alias)}endpoint_id NOT IN (SELECT id FROM endpoint WHERE kind = ANY(${scope.excludeKinds}::text[]))`;
    return out;
  };

  return {
    ingest: (items) =>
      tx(async (c) => {
        const results: (IngestResult | null)[] = items.map(() => null);
        // The applications (locked against deletion until commit) and their endpoints, at once.
        const appIds = [...new Set(items.map((i) => i.message.appId))];
        const routingByApp = new Map<string, RoutingEndpoint[]>();
        const rows = await query(
          sql`SELECT a.id AS app, e.id, e.disabled, e.event_types, e.channels
              FROM app a LEFT JOIN endpoint e ON e.app_id = a.id
              WHERE a.id = ANY(${appIds}::text[]) FOR KEY SHARE OF a`,
          c,
        );
        for (const r of rows) {
          const list = routingByApp.get(String(r.app)) ?? [];
          routingByApp.set(String(r.app), list);
          if (r.id !== null) list.push(routing(r));
        }
        // Route every new message (the first of an eventId wins, within the batch too).
        const toInsert: number[] = [];
        const seenEventIds = new Set<string>();
        const deliveries: NewDelivery[] = [];
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
          for (const endpointId of targets) {
            deliveries.push({
              id: item.newDeliveryId(),
              msgId: m.id,
              appId: m.appId,
              endpointId,
              dueAt: item.dueAt,
              createdAt: m.createdAt,
            });
          }
        });
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
        const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
        // One statement stores the messages (skipping taken eventIds) and, for those stored,
        // their deliveries and idempotent responses.
        const stored =
          msgs.length === 0
            ? []
            : await query(
                sql`WITH m AS (
                   INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
                   SELECT id, app_id, event_id, event_type, payload, channels::jsonb, tags::jsonb, created_at
                   FROM unnest(${msgs.map((m) => m.id)}::text[], ${msgs.map((m) => m.appId)}::text[],
                     ${msgs.map((m) => m.eventId)}::text[], ${msgs.map((m) => m.eventType)}::text[],
                     ${msgs.map((m) => m.payload)}::text[], ${msgs.map((m) => json(m.channels))}::text[],
                     ${msgs.map((m) => json(m.tags))}::text[], ${msgs.map((m) => m.createdAt)}::bigint[])
                     AS u(id, app_id, event_id, event_type, payload, channels, tags, created_at)
                   ON CONFLICT (app_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
                   RETURNING id
                 ), d AS (
                   INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at,
                     trigger_type, created_at, updated_at)
                   SELECT u.id, u.msg_id, u.app_id, u.endpoint_id, ${raw(PENDING)}, 0, u.due, ${raw(String(TriggerType.scheduled))},
                     u.created, u.created
                   FROM unnest(${deliveries.map((d) => d.id)}::text[], ${deliveries.map((d) => d.msgId)}::text[],
                     ${deliveries.map((d) => d.appId)}::text[], ${deliveries.map((d) => d.endpointId)}::text[],
                     ${deliveries.map((d) => d.dueAt)}::bigint[], ${deliveries.map((d) => d.createdAt)}::bigint[])
                     AS u(id, msg_id, app_id, endpoint_id, due, created)
                   WHERE u.msg_id IN (SELECT id FROM m)
                   RETURNING 1
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
                 SELECT id, (SELECT COUNT(*) FROM d) AS queued FROM m`,
                c,
              );
        const inserted = new Set(stored.map((r) => String(r.id)));
        let queued = 0;
        for (const i of toInsert) {
          if (!inserted.has(items[i]!.message.id)) continue;
          results[i] = { ok: true, deliveries: routed.get(i)! };
          queued += routed.get(i)!;
        }
        // Everything else had an eventId that is taken: a duplicate of a stored message.
        const dupIdx = items.map((_item, i) => i).filter((i) => results[i] === null);
        if (dupIdx.length > 0) {
          const existing = await query(
            sql`SELECT m.* FROM message m
                JOIN unnest(${dupIdx.map((i) => items[i]!.message.appId)}::text[],
                  ${dupIdx.map((i) => items[i]!.message.eventId!)}::text[]) AS u(app_id, event_id)
                ON m.app_id = u.app_id AND m.event_id = u.event_id`,
            c,
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
        return { results: results as IngestResult[], queued };
      }).then(({ results, queued }) => {
        if (queued > 0) {
          notifier.local();
          notifier.soon();
        }
        return results;
      }),

    claimDue: async (o) => {
      const started = performance.now();
      const scope = scopeSql(o, 'd.');
      const rows = await tx(async (c) => {
        // Endpoints with due work (rate-limited ones whose next slot has not come are left
        // out, so they cannot crowd the others out of the batch).
        const dueSql = sql`SELECT d.id, d.endpoint_id FROM delivery d
           WHERE d.status IN (${raw(OPEN)}) AND d.next_attempt_at <= ${o.now}
             AND d.endpoint_id <> ALL(${o.skipEndpoints}::text[])${scope}
             AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.id = d.endpoint_id AND e.throttle_next_at > ${o.now})`;
        // Endpoints that cannot take a delivery now, however much of their backlog is due: at
        // their in-flight limit, or FIFO with the head in flight or waiting for its retry; and
        // of a FIFO endpoint only its head counts. Left out up front so that one large backlog
        // cannot hide everyone else's work.
        const blockedSql = sql`
           AND d.endpoint_id NOT IN (
             SELECT endpoint_id FROM delivery WHERE status = ${raw(SENDING)} AND next_attempt_at > ${o.now}
             GROUP BY endpoint_id HAVING COUNT(*) >= ${o.perEndpoint})
           AND d.endpoint_id NOT IN (
             SELECT e.id FROM endpoint e
             CROSS JOIN LATERAL (SELECT h.status, h.next_attempt_at FROM delivery h
               WHERE h.endpoint_id = e.id AND h.status IN (${raw(OPEN)}) ORDER BY h.created_at, h.id LIMIT 1) head
             WHERE e.fifo AND head.next_attempt_at > ${o.now})
           AND NOT EXISTS (
             SELECT 1 FROM endpoint e JOIN delivery older ON older.endpoint_id = e.id
             WHERE e.id = d.endpoint_id AND e.fifo AND older.status IN (${raw(OPEN)})
               AND (older.created_at, older.id) < (d.created_at, d.id))`;
        const dueEndpoints = await query(
          sql`SELECT DISTINCT endpoint_id FROM (${dueSql}${blockedSql} ORDER BY d.next_attempt_at, d.id LIMIT ${o.limit * 4}) s`,
          c,
        );
        if (dueEndpoints.length === 0) return [];
        // Lock those endpoints (in id order: claims never deadlock each other) so that their
        // limits are counted and updated by one claim at a time across every worker.
        const eps = await query(
          sql`SELECT e.id, e.fifo, e.kind, e.throttle_next_at, e.throttle_rate, e.timeout_ms, a.throttle_rate AS app_rate
              FROM endpoint e JOIN app a ON a.id = e.app_id
              WHERE e.id = ANY(${dueEndpoints.map((r) => String(r.endpoint_id)).sort()}::text[])
              ORDER BY e.id FOR NO KEY UPDATE OF e`,
          c,
        );
        const endpointIds = eps.map((e) => String(e.id));
        // With the locks held, what is due now (another worker may have just claimed some).
        const candidates = await query(
          sql`${dueSql}${blockedSql} AND d.endpoint_id = ANY(${endpointIds}::text[])
              ORDER BY d.next_attempt_at, d.id LIMIT ${o.limit * 4}`,
          c,
        );
        if (candidates.length === 0) return [];
        const inFlight = new Map(
          (
            await query(
              sql`SELECT endpoint_id, COUNT(*) AS n FROM delivery
                  WHERE endpoint_id = ANY(${endpointIds}::text[]) AND status = ${raw(SENDING)} AND next_attempt_at > ${o.now}
                  GROUP BY endpoint_id`,
              c,
            )
          ).map((r) => [String(r.endpoint_id), Number(r.n)]),
        );
        const fifoIds = eps.filter((e) => e.fifo === true).map((e) => String(e.id));
        const heads = new Map(
          fifoIds.length === 0
            ? []
            : (
                await query(
                  sql`SELECT DISTINCT ON (endpoint_id) endpoint_id, id, next_attempt_at FROM delivery
                      WHERE endpoint_id = ANY(${fifoIds}::text[]) AND status IN (${raw(OPEN)})
                      ORDER BY endpoint_id, created_at, id`,
                  c,
                )
              ).map((r) => [
                String(r.endpoint_id),
                { id: String(r.id), due: Number(r.next_attempt_at) <= o.now },
              ]),
        );
        const gates = new Map<string, EndpointGate>();
        for (const e of eps) {
          const id = String(e.id);
          gates.set(id, {
            inFlight: inFlight.get(id) ?? 0,
            fifo: e.fifo === true,
            fifoHead: heads.get(id) ?? null,
            ratePerSecond: rateOf(numOrNull(e.throttle_rate), numOrNull(e.app_rate), String(e.kind)),
            nextSlotAt: numOrNull(e.throttle_next_at),
          });
        }
        // Rate-limit slots count from now as it is after the locks were taken, not from when
        // the worker read its clock: a slow claim must not let the next one come early.
        const plan = planClaim(
          candidates.map((r) => ({ id: String(r.id), endpointId: String(r.endpoint_id) })),
          gates,
          { ...o, slotFrom: o.now + Math.round(performance.now() - started) },
        );
        if (plan.slots.size > 0) {
          const slots = [...plan.slots];
          await query(
            sql`UPDATE endpoint e SET throttle_next_at = u.at
                FROM unnest(${slots.map(([id]) => id)}::text[], ${slots.map(([, at]) => at)}::bigint[]) AS u(id, at)
                WHERE e.id = u.id`,
            c,
          );
        }
        if (plan.ids.length === 0) return [];
        // Each endpoint's lease: its own timeout's, or the default (core/lease.ts).
        const leaseOf = new Map(
          eps.map((e) => [
            String(e.id),
            o.leasePerEndpoint && e.timeout_ms !== null ? leaseFor(Number(e.timeout_ms)) : o.leaseMs,
          ]),
        );
        const endpointOf = new Map(candidates.map((r) => [String(r.id), String(r.endpoint_id)]));
        for (const [endpointId, gate] of gates)
          if (gate.fifoHead) endpointOf.set(gate.fifoHead.id, endpointId);
        const leases = plan.ids.map((id) => o.now + (leaseOf.get(endpointOf.get(id)!) ?? o.leaseMs));
        const updated = await query(
          sql`UPDATE delivery d SET status = ${raw(SENDING)}, next_attempt_at = l.until, updated_at = ${o.now}
              FROM message m LEFT JOIN inbound_event i ON i.id = m.id,
                unnest(${plan.ids}::text[], ${leases}::bigint[]) AS l(id, until)
              WHERE d.id IN (SELECT id FROM delivery WHERE id = ANY(${plan.ids}::text[]) AND status IN (${raw(OPEN)})
                  AND next_attempt_at <= ${o.now} FOR UPDATE SKIP LOCKED)
                AND l.id = d.id AND m.id = d.msg_id
              RETURNING d.id, d.msg_id, d.app_id, d.endpoint_id, d.attempts, d.trigger_type, d.next_attempt_at,
                m.event_type, m.payload, m.created_at AS msg_created_at, i.body, i.content_type,
                i.headers AS inbound_headers`,
          c,
        );
        // In the plan's order: oldest due first.
        const rank = new Map(plan.ids.map((id, i) => [id, i]));
        return updated.sort((a, b) => rank.get(String(a.id))! - rank.get(String(b.id))!);
      });
      if (rows.length === 0) return [];
      const endpointIds = [...new Set(rows.map((r) => String(r.endpoint_id)))];
      const eps = new Map(
        (
          await query(
            sql`SELECT id, ${raw(endpoints.names(CLAIMED_ENDPOINT_FIELDS))} FROM endpoint
                WHERE id = ANY(${endpointIds}::text[])`,
          )
        ).map((ep) => [String(ep.id), claimedEndpoint(ep, ctx)]),
      );
      const claimed: ClaimedDelivery[] = [];
      for (const r of rows) {
        const endpoint = eps.get(String(r.endpoint_id));
        if (!endpoint) continue; // deleted meanwhile; the cascade removed the delivery too
        claimed.push(claimedDelivery(r, Number(r.next_attempt_at), endpoint));
      }
      return claimed;
    },

    completeDeliveries: async (outcomes, now) => {
      if (outcomes.length === 0) return { disabledEndpoints: [] };
      const disabled = await tx(async (c) => {
        // Only the holder of the current lease moves a delivery on. A worker whose lease ran
        // out (another took the delivery over) still logs its attempt, if the delivery exists.
        const held = new Set(
          (
            await query(
              sql`UPDATE delivery d SET status = u.status, attempts = d.attempts + u.inc, next_attempt_at = u.next_at,
                    updated_at = ${now}
                  FROM unnest(${outcomes.map((o) => o.deliveryId)}::text[], ${outcomes.map((o) => statusAfter(o.next))}::smallint[],
                    ${outcomes.map((o) => (countsAsAttempt(o) ? 1 : 0))}::int[],
                    ${outcomes.map((o) => (o.next.kind === 'retry' ? o.next.at : now))}::bigint[],
                    ${outcomes.map((o) => o.leaseUntil)}::bigint[])
                    AS u(id, status, inc, next_at, lease)
                  WHERE d.id = u.id AND d.status = ${raw(SENDING)} AND d.next_attempt_at = u.lease
                  RETURNING d.id`,
              c,
            )
          ).map((r) => String(r.id)),
        );
        const lost = outcomes.filter((o) => o.attempt && !held.has(o.deliveryId)).map((o) => o.deliveryId);
        const stillThere = new Set(
          lost.length === 0
            ? []
            : (
                await query(sql`SELECT id FROM delivery WHERE id = ANY(${lost}::text[]) FOR KEY SHARE`, c)
              ).map((r) => String(r.id)),
        );
        const logged = outcomes
          .filter((o) => o.attempt && (held.has(o.deliveryId) || stillThere.has(o.deliveryId)))
          .map((o) => o.attempt!);
        if (logged.length > 0) {
          const col = <T>(f: (a: (typeof logged)[number]) => T) => logged.map(f);
          await query(
            sql`INSERT INTO attempt (id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code,
                  response, response_headers, request_headers, request_body, duration_ms, trigger_type, created_at)
                SELECT * FROM unnest(${col((a) => a.id)}::text[], ${col((a) => a.deliveryId)}::text[],
                  ${col((a) => a.msgId)}::text[], ${col((a) => a.endpointId)}::text[], ${col((a) => a.appId)}::text[],
                  ${col((a) => a.url)}::text[], ${col((a) => a.status)}::smallint[],
                  ${col((a) => a.responseStatusCode)}::int[], ${col((a) => a.response)}::text[],
                  ${col((a) => JSON.stringify(a.responseHeaders))}::text[], ${col((a) => JSON.stringify(a.requestHeaders))}::text[],
                  ${col((a) => a.requestBody ?? null)}::text[], ${col((a) => Math.round(a.durationMs))}::int[],
                  ${col((a) => a.triggerType)}::smallint[], ${col((a) => a.createdAt)}::bigint[])`,
            c,
          );
        }
        // Endpoint health, endpoint by endpoint in id order (no deadlock with other batches).
        const disabledIds: string[] = [];
        for (const change of healthChanges(healthSignals(outcomes, (id) => held.has(id)))) {
          if (change.kind === 'recovered') {
            await query(
              sql`UPDATE endpoint SET failing_since = NULL WHERE id = ${change.endpointId} AND failing_since IS NOT NULL`,
              c,
            );
            continue;
          }
          await query(
            change.restart
              ? sql`UPDATE endpoint SET failing_since = ${change.since} WHERE id = ${change.endpointId}`
              : sql`UPDATE endpoint SET failing_since = ${change.since} WHERE id = ${change.endpointId} AND failing_since IS NULL`,
            c,
          );
          if (change.disableIfFailingSince === null) continue;
          const n = await count(
            sql`UPDATE endpoint SET disabled = true, updated_at = ${now}
                WHERE id = ${change.endpointId} AND NOT disabled AND failing_since <= ${change.disableIfFailingSince}`,
            c,
          );
          if (n > 0) disabledIds.push(change.endpointId);
        }
        // Other workers re-arm their timers for the retries (the local one wakes itself).
        if (outcomes.some((o) => o.next.kind === 'retry' && held.has(o.deliveryId))) await notifier.inTx(c);
        return disabledIds;
      });
      return { disabledEndpoints: disabled };
    },

    releaseDeliveries: async (ids, now) => {
      if (ids.length === 0) return;
      await query(
        sql`UPDATE delivery SET status = ${raw(PENDING)}, next_attempt_at = ${now}, updated_at = ${now}
            WHERE id = ANY(${ids}::text[]) AND status = ${raw(SENDING)}`,
      );
    },

    nextDueAt: async (filter = {}) =>
      numOrNull(
        (
          await one(
            sql`SELECT MIN(next_attempt_at) AS t FROM delivery WHERE status IN (${raw(OPEN)})${scopeSql(filter)}`,
          )
        )?.t,
      ),

    resend: async (m, endpointId, id, now) => {
      await tx(async (c) => {
        await insertDeliveries(
          c,
          [{ id, msgId: m.id, appId: m.appId, endpointId, dueAt: now, createdAt: now }],
          TriggerType.manual,
        );
        await notifier.inTx(c);
      });
      notifier.local();
    },

    recover: async (q) => {
      const n = await tx(async (c) => {
        const requeued = await count(
          sql`UPDATE delivery SET status = ${raw(PENDING)}, next_attempt_at = ${q.now}, updated_at = ${q.now}
              WHERE endpoint_id = ${q.endpointId} AND status IN (${raw(GAVE_UP)})
                AND created_at >= ${q.since} AND created_at < ${q.until}`,
          c,
        );
        const missed = await query(
          sql`SELECT m.id, m.event_type, m.channels FROM message m
              WHERE m.app_id = ${q.appId} AND m.created_at >= ${q.since} AND m.created_at < ${q.until}
                AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = m.id AND d.endpoint_id = ${q.endpointId})`,
          c,
        );
        const added: NewDelivery[] = [];
        for (const m of missed) {
          if (!q.matches(String(m.event_type), messages.pick(m, ctx, ['channels']).channels)) continue;
          added.push({
            id: q.newDeliveryId(),
            msgId: String(m.id),
            appId: q.appId,
            endpointId: q.endpointId,
            dueAt: q.now,
            createdAt: q.now,
          });
        }
        await insertDeliveries(c, added, TriggerType.manual);
        const total = requeued + added.length;
        if (total > 0) await notifier.inTx(c);
        return total;
      });
      if (n > 0) notifier.local();
      return n;
    },
  };
}
