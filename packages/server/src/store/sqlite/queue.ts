/**
 * The delivery queue on SQLite — the hot path, mirrored by `postgres/queue.ts`: ingest (messages
 * and their deliveries in one transaction), claim (lease due deliveries within each endpoint's
 * limits), complete (attempts, state changes and endpoint health in one transaction), release,
 * and the manual path that queues a delivery (resend; recovery is written once, in
 * `shared/recover.ts`).
 *
 * One process owns the file and every transaction runs synchronously from BEGIN IMMEDIATE to
 * COMMIT, so claims never race each other and need no row locks.
 */
import type { EventEmitter } from 'node:events';
import { healthChanges, healthSignals } from '../../core/endpoint-health.ts';
import { leaseFor } from '../../core/lease.ts';
import { countsAsAttempt, statusAfter } from '../../core/outcome.ts';
import { TriggerType, type TriggerTypeCode } from '../../core/types.ts';
import { type EndpointGate, planClaim, rateOf } from '../claim-plan.ts';
import {
  attempts,
  CLAIMED_ENDPOINT_FIELDS,
  claimedDelivery,
  claimedEndpoint,
  endpoints,
  messages,
} from '../schema.ts';
import { OPEN, PENDING, SENDING } from '../statuses.ts';
import type { ClaimedDelivery, DeliveryScope, IngestResult, RoutingEndpoint, Store } from '../store.ts';
import type { CodecContext } from '../table.ts';
import { type Param, type SqliteConnection, sqliteDialect } from './connection.ts';

/** Hot-path inserts, prepared once (the columns come from store/schema.ts). */
const INSERT_MESSAGE = messages.insertText(sqliteDialect.placeholder);
const INSERT_ATTEMPT = attempts.insertText(sqliteDialect.placeholder);

/** The routing fields of an application's endpoints. */
const ROUTING = 'SELECT id, disabled, event_types, channels FROM endpoint WHERE app_id = ?';

/**
 * What queueing a message needs, shared by ingest and the inbound gateway: the routing fields of
 * an application's endpoints, and one (message, endpoint) delivery row.
 */
export function sqliteRouting(conn: SqliteConnection, ctx: CodecContext) {
  return {
    routingOf: (appId: string): RoutingEndpoint[] =>
      conn.all(ROUTING, [appId]).map((r) => ({
        id: String(r.id),
        ...endpoints.pick(r, ctx, ['disabled', 'eventTypes', 'channels']),
      })),
    /** Queues one (message, endpoint) pair: pending, no attempts yet, due at `dueAt`. */
    insertDelivery(
      id: string,
      msgId: string,
      appId: string,
      endpointId: string,
      dueAt: number,
      triggerType: TriggerTypeCode,
      now: number,
    ) {
      conn.run(
        `INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
           created_at, updated_at) VALUES (?, ?, ?, ?, ${PENDING}, 0, ?, ?, ?, ?)`,
        [id, msgId, appId, endpointId, dueAt, triggerType, now, now],
      );
    },
  };
}

export function sqliteQueue(
  conn: SqliteConnection,
  ctx: CodecContext,
  events: EventEmitter,
): Pick<Store, 'ingest' | 'claimDue' | 'completeDeliveries' | 'releaseDeliveries' | 'nextDueAt' | 'resend'> {
  const { all, get, run } = conn;
  const { routingOf, insertDelivery } = sqliteRouting(conn, ctx);

  /** The extra WHERE terms of a `DeliveryScope`, on the `delivery` table. */
  const scopeSql = (scope: DeliveryScope) => {
    let sql = '';
    const params: Param[] = [];
    if (scope.onlyEndpoints) {
      sql += ' AND endpoint_id IN (SELECT value FROM json_each(?))';
      params.push(JSON.stringify(scope.onlyEndpoints));
    }
    if (scope.excludeKinds && scope.excludeKinds.length > 0) {
      sql +=
        ' AND endpoint_id NOT IN (SELECT id FROM endpoint WHERE kind IN (SELECT value FROM json_each(?)))';
      params.push(JSON.stringify(scope.excludeKinds));
    }
    return { sql, params };
  };

  return {
    ingest: (items) =>
      conn.exclusive(() => {
        let queued = 0;
        const results = conn.txSync(() => {
          const routingCache = new Map<string, RoutingEndpoint[]>();
          return items.map((item): IngestResult => {
            const m = item.message;
            let endpointsOfApp = routingCache.get(m.appId);
            if (!endpointsOfApp) {
              if (!get('SELECT 1 FROM app WHERE id = ?', [m.appId]))
                return { ok: false, reason: 'app_not_found' };
              endpointsOfApp = routingOf(m.appId);
              routingCache.set(m.appId, endpointsOfApp);
            }
            if (m.eventId !== null) {
              const existing = get('SELECT * FROM message WHERE app_id = ? AND event_id = ?', [
                m.appId,
                m.eventId,
              ]);
              if (existing)
                return { ok: false, reason: 'duplicate_event_id', existing: messages.read(existing, ctx) };
            }
            run(INSERT_MESSAGE, messages.values(m, ctx) as Param[]);
            const targets = item.route(endpointsOfApp);
            for (const endpointId of targets) {
              insertDelivery(
                item.newDeliveryId(),
                m.id,
                m.appId,
                endpointId,
                item.dueAt,
                TriggerType.scheduled,
                m.createdAt,
              );
            }
            if (item.idempotency) {
              const { key, response, expiresAt } = item.idempotency;
              run(
                `INSERT INTO idempotency (key, status, body, expires_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body,
                   expires_at = excluded.expires_at`,
                [key, response.status, response.body, expiresAt],
              );
            }
            queued += targets.length;
            return { ok: true, deliveries: targets.length };
          });
        });
        if (queued > 0) events.emit('queued');
        return results;
      }),

    claimDue: (o) =>
      conn.exclusive(() => {
        const scope = scopeSql(o);
        // One writer at a time (BEGIN IMMEDIATE): the endpoint limits are counted and updated
        // without racing another claim.
        const rows = conn.txSync(() => {
          const candidates = all(
            `SELECT d.id, d.endpoint_id FROM delivery d
             WHERE d.status IN (${OPEN}) AND d.next_attempt_at <= ?
               AND d.endpoint_id NOT IN (SELECT value FROM json_each(?))${scope.sql}
               AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.id = d.endpoint_id AND e.throttle_next_at > ?)
               -- Blocked endpoints (at their in-flight limit, or FIFO with the head in flight or
               -- waiting for its retry) are left out, and of a FIFO endpoint only its head
               -- counts, so that one large backlog cannot hide other work.
               AND d.endpoint_id NOT IN (
                 SELECT endpoint_id FROM delivery WHERE status = ${SENDING} AND next_attempt_at > ?
                 GROUP BY endpoint_id HAVING COUNT(*) >= ?)
               AND d.endpoint_id NOT IN (
                 SELECT e.id FROM endpoint e WHERE e.fifo = 1 AND (
                   SELECT h.next_attempt_at FROM delivery h WHERE h.endpoint_id = e.id AND h.status IN (${OPEN})
                   ORDER BY h.created_at, h.id LIMIT 1) > ?)
               AND NOT EXISTS (
                 SELECT 1 FROM endpoint e JOIN delivery older ON older.endpoint_id = e.id
                 WHERE e.id = d.endpoint_id AND e.fifo = 1 AND older.status IN (${OPEN})
                   AND (older.created_at, older.id) < (d.created_at, d.id))
             ORDER BY d.next_attempt_at, d.id LIMIT ?`,
            [
              o.now,
              JSON.stringify(o.skipEndpoints),
              ...scope.params,
              o.now,
              o.now,
              o.perEndpoint,
              o.now,
              o.limit * 4,
            ],
          );
          if (candidates.length === 0) return [];
          const endpointIds = JSON.stringify([...new Set(candidates.map((r) => String(r.endpoint_id)))]);
          const eps = all(
            `SELECT e.id, e.fifo, e.kind, e.throttle_next_at, e.throttle_rate, e.timeout_ms, a.throttle_rate AS app_rate
             FROM endpoint e JOIN app a ON a.id = e.app_id WHERE e.id IN (SELECT value FROM json_each(?))`,
            [endpointIds],
          );
          const inFlight = new Map(
            all(
              `SELECT endpoint_id, COUNT(*) AS n FROM delivery
               WHERE endpoint_id IN (SELECT value FROM json_each(?)) AND status = ${SENDING} AND next_attempt_at > ?
               GROUP BY endpoint_id`,
              [endpointIds, o.now],
            ).map((r) => [String(r.endpoint_id), Number(r.n)]),
          );
          const gates = new Map<string, EndpointGate>();
          for (const e of eps) {
            const id = String(e.id);
            const fifo = Number(e.fifo) === 1;
            const head = fifo
              ? get(
                  `SELECT id, next_attempt_at FROM delivery WHERE endpoint_id = ? AND status IN (${OPEN})
                   ORDER BY created_at, id LIMIT 1`,
                  [id],
                )
              : undefined;
            gates.set(id, {
              inFlight: inFlight.get(id) ?? 0,
              fifo,
              fifoHead: head ? { id: String(head.id), due: Number(head.next_attempt_at) <= o.now } : null,
              ratePerSecond: rateOf(numOrNull(e.throttle_rate), numOrNull(e.app_rate), String(e.kind)),
              nextSlotAt: numOrNull(e.throttle_next_at),
            });
          }
          const plan = planClaim(
            candidates.map((r) => ({ id: String(r.id), endpointId: String(r.endpoint_id) })),
            gates,
            o,
          );
          for (const [id, at] of plan.slots)
            run('UPDATE endpoint SET throttle_next_at = ? WHERE id = ?', [at, id]);
          if (plan.ids.length === 0) return [];
          // One statement per lease length (one, unless endpoints have timeouts of their own)
          // leases the plan; the rows come back in the plan's (due, id) order.
          const leaseOf = new Map(
            eps.map((e) => [
              String(e.id),
              o.leasePerEndpoint && e.timeout_ms !== null ? leaseFor(Number(e.timeout_ms)) : o.leaseMs,
            ]),
          );
          const byLease = new Map<number, string[]>();
          const endpointOf = new Map(candidates.map((r) => [String(r.id), String(r.endpoint_id)]));
          for (const [endpointId, gate] of gates)
            if (gate.fifoHead) endpointOf.set(gate.fifoHead.id, endpointId);
          for (const id of plan.ids) {
            const lease = leaseOf.get(endpointOf.get(id)!) ?? o.leaseMs;
            byLease.set(lease, [...(byLease.get(lease) ?? []), id]);
          }
          const leased = [...byLease].flatMap(([lease, ids]) =>
            all(
              `UPDATE delivery SET status = ${SENDING}, next_attempt_at = ?, updated_at = ?
               WHERE id IN (SELECT value FROM json_each(?)) AND status IN (${OPEN}) AND next_attempt_at <= ?
               RETURNING id, msg_id, app_id, endpoint_id, attempts, trigger_type, next_attempt_at`,
              [o.now + lease, o.now, JSON.stringify(ids), o.now],
            ),
          );
          const position = new Map(plan.ids.map((id, i) => [id, i]));
          return leased.sort((a, b) => position.get(String(a.id))! - position.get(String(b.id))!);
        }, false);
        const claimed: ClaimedDelivery[] = [];
        if (rows.length === 0) return claimed;
        const msgs = new Map(
          all(
            `SELECT m.id, m.event_type, m.payload, m.created_at AS msg_created_at, i.body, i.content_type, i.headers AS inbound_headers
             FROM message m LEFT JOIN inbound_event i ON i.id = m.id
             WHERE m.id IN (SELECT value FROM json_each(?))`,
            [JSON.stringify([...new Set(rows.map((r) => r.msg_id))])],
          ).map((m) => [String(m.id), m]),
        );
        const eps = new Map<string, ClaimedDelivery['endpoint'] | null>();
        for (const r of rows) {
          const endpointId = String(r.endpoint_id);
          let endpoint = eps.get(endpointId);
          if (endpoint === undefined) {
            const ep = get(`SELECT ${endpoints.names(CLAIMED_ENDPOINT_FIELDS)} FROM endpoint WHERE id = ?`, [
              endpointId,
            ]);
            endpoint = ep ? claimedEndpoint(ep, ctx) : null;
            eps.set(endpointId, endpoint);
          }
          const msg = msgs.get(String(r.msg_id));
          if (!msg || !endpoint) continue; // deleted meanwhile; cascades remove the delivery too
          claimed.push(claimedDelivery({ ...msg, ...r }, Number(r.next_attempt_at), endpoint));
        }
        return claimed;
      }),

    completeDeliveries: (outcomes, now) =>
      conn.exclusive(() => {
        const disabled: string[] = [];
        conn.txSync(() => {
          const held = new Set<string>();
          for (const o of outcomes) {
            const a = o.attempt;
            // Only the holder of the current lease moves the delivery on. A worker whose lease ran
            // out (another took the delivery over) still logs its attempt, if the delivery exists.
            const moved = run(
              `UPDATE delivery SET status = ?, attempts = attempts + ?, next_attempt_at = ?, updated_at = ?
               WHERE id = ? AND status = ${SENDING} AND next_attempt_at = ?`,
              [
                statusAfter(o.next),
                countsAsAttempt(o) ? 1 : 0,
                o.next.kind === 'retry' ? o.next.at : now,
                now,
                o.deliveryId,
                o.leaseUntil,
              ],
            );
            if (moved > 0) held.add(o.deliveryId);
            if (!a || (moved === 0 && !get('SELECT 1 FROM delivery WHERE id = ?', [o.deliveryId]))) continue;
            run(INSERT_ATTEMPT, attempts.values(a, ctx) as Param[]);
          }
          for (const change of healthChanges(healthSignals(outcomes, (id) => held.has(id)))) {
            if (change.kind === 'recovered') {
              run('UPDATE endpoint SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL', [
                change.endpointId,
              ]);
              continue;
            }
            run(
              change.restart
                ? 'UPDATE endpoint SET failing_since = ? WHERE id = ?'
                : 'UPDATE endpoint SET failing_since = ? WHERE id = ? AND failing_since IS NULL',
              [change.since, change.endpointId],
            );
            if (change.disableIfFailingSince === null) continue;
            const n = run(
              'UPDATE endpoint SET disabled = 1, updated_at = ? WHERE id = ? AND disabled = 0 AND failing_since <= ?',
              [now, change.endpointId, change.disableIfFailingSince],
            );
            if (n > 0) disabled.push(change.endpointId);
          }
        });
        return { disabledEndpoints: disabled };
      }),

    releaseDeliveries: (ids, now) =>
      conn.exclusive(() =>
        conn.txSync(() => {
          for (const id of ids) {
            run(
              `UPDATE delivery SET status = ${PENDING}, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = ${SENDING}`,
              [now, now, id],
            );
          }
        }),
      ),

    nextDueAt: (filter = {}) =>
      conn.exclusive(() => {
        const scope = scopeSql(filter);
        return numOrNull(
          get(
            `SELECT MIN(next_attempt_at) AS t FROM delivery WHERE status IN (${OPEN})${scope.sql}`,
            scope.params,
          )?.t,
        );
      }),

    resend: (m, endpointId, id, now) =>
      conn.exclusive(() => {
        insertDelivery(id, m.id, m.appId, endpointId, now, TriggerType.manual, now);
        events.emit('queued');
      }),
  };
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
