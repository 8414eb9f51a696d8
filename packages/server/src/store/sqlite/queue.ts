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
import {
  claimShare,
  type EndpointGate,
  inTurn,
  interleave,
  LIVE_MS,
  rateOf,
  roomOf,
  scanBudget,
  shareOut,
  slotInterval,
  WINDOW_PER_LIMIT,
  whatIsLeft,
} from '../claim-plan.ts';
import {
  attempts,
  CLAIMED_ENDPOINT_FIELDS,
  claimedDelivery,
  claimedEndpoint,
  endpoints,
  HANDOFF_ENDPOINT_COLUMNS,
  type HandoffEndpoint,
  handedOffDelivery,
  handoffEndpoint,
  messages,
} from '../schema.ts';
import type { Row } from '../sql.ts';
import { LINE_HEAD, OPEN, PENDING, SENDING } from '../statuses.ts';
import type {
  ClaimedDelivery,
  ClaimOptions,
  DeliveryScope,
  IngestResult,
  RoutingEndpoint,
  Store,
} from '../store.ts';
import type { CodecContext } from '../table.ts';
import { type Param, type SqliteConnection, sqliteDialect } from './connection.ts';
import { Leases } from './leases.ts';

/**
 * Hot-path inserts, prepared once (the columns come from store/schema.ts). A message's trace
 * context (`traceparent`) is a queue column, not part of the record.
 */
const INSERT_MESSAGE = `INSERT INTO message (${messages.names(messages.fields)}, traceparent)
  VALUES (${[...messages.fields, 'traceparent'].map(() => '?').join(', ')})`;
const INSERT_ATTEMPT = attempts.insertText(sqliteDialect.placeholder);

/**
 * The endpoints of the oldest due deliveries, with how many each has among them and when its
 * oldest of them fell due (read from the due index alone).
 */
export const DUE_WINDOW = `SELECT endpoint_id, COUNT(*) AS n, MIN(next_attempt_at) AS first FROM (
    SELECT endpoint_id, next_attempt_at FROM delivery WHERE status IN (${OPEN}) AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id LIMIT ?) GROUP BY endpoint_id`;
/** The next endpoint (by id) with open deliveries, and its oldest one's due time. */
const NEXT_OPEN_ENDPOINT = `SELECT endpoint_id, next_attempt_at FROM delivery
  WHERE status IN (${OPEN}) AND endpoint_id > ? ORDER BY endpoint_id, next_attempt_at, id LIMIT 1`;
/** When an endpoint's oldest open delivery is due. */
const OLDEST_OPEN = `SELECT next_attempt_at AS at FROM delivery WHERE endpoint_id = ? AND status IN (${OPEN})
  ORDER BY next_attempt_at, id LIMIT 1`;
/**
 * The endpoints of what became due in the last moments (live traffic, retries on time): read from
 * the due index alone (it holds the endpoint), not row by row.
 */
export const LIVE_ENDPOINTS = `SELECT DISTINCT endpoint_id FROM (SELECT endpoint_id FROM delivery
  WHERE status IN (${OPEN}) AND next_attempt_at > ? AND next_attempt_at <= ?
  ORDER BY next_attempt_at, id LIMIT ?)`;
/** Live rows read beyond the room of their endpoints, for keyed rows a claim passes over. */
const LIVE_SLACK = 16;
/** The live deliveries of some endpoints (a JSON array), in due order. */
const LIVE_DUE = `SELECT id, endpoint_id, ordering_key, sequence FROM delivery
  WHERE status IN (${OPEN}) AND next_attempt_at > ? AND next_attempt_at <= ?
    AND endpoint_id IN (SELECT value FROM json_each(?))
  ORDER BY next_attempt_at, id LIMIT ?`;
/**
 * Whether a keyed delivery (endpoint, key, sequence, id; now) may be leased: no open delivery of
 * its (endpoint, key) line comes before it and none is in flight (claim-plan.ts). Two probes of
 * the keyed-only partial indexes.
 */
const keyFree = (ep: string, key: string, seq: string, id: string, now: string) =>
  `NOT EXISTS (SELECT 1 FROM delivery k WHERE k.endpoint_id = ${ep} AND k.ordering_key = ${key}
      AND k.ordering_key IS NOT NULL AND k.status IN (${OPEN}) AND (k.sequence, k.id) < (${seq}, ${id}))
  AND NOT EXISTS (SELECT 1 FROM delivery s WHERE s.endpoint_id = ${ep} AND s.ordering_key = ${key}
      AND s.ordering_key IS NOT NULL AND s.status = ${SENDING} AND s.next_attempt_at > ${now} AND s.id <> ${id})`;
const KEY_FREE = `SELECT ${keyFree('?1', '?2', '?3', '?4', '?5')} AS free`;
/** An endpoint's oldest due deliveries that may be leased (keyed ones only as their line's head). */
const DUE_FREE_OF_ENDPOINT = `SELECT id FROM delivery o WHERE endpoint_id = ?1 AND status IN (${OPEN}) AND next_attempt_at <= ?2
  AND (o.ordering_key IS NULL OR ${keyFree('?1', 'o.ordering_key', 'o.sequence', 'o.id', '?2')})
  ORDER BY next_attempt_at, id LIMIT ?3`;
/**
 * The oldest due delivery of each endpoint of a JSON array (endpoint_id, id, ordering_key), in one
 * statement: what a claim's turns ask of most endpoints when it is shared over many (one each).
 * A statement's run costs ~20 us of setup with the key checks' cursors, and the probe ~1 us.
 */
const FIRST_DUE_OF_ENDPOINTS = `SELECT o.endpoint_id, o.id, o.ordering_key FROM json_each(?1) j
  JOIN delivery o ON o.id = (SELECT x.id FROM delivery x WHERE x.endpoint_id = j.value AND x.status IN (${OPEN})
    AND x.next_attempt_at <= ?2 ORDER BY x.next_attempt_at, x.id LIMIT 1)`;
/** Takes the next number of an (endpoint, key) line. */
const NEXT_SEQUENCE = `INSERT INTO ordering_sequence (endpoint_id, ordering_key, last_seq) VALUES (?, ?, 1)
  ON CONFLICT (endpoint_id, ordering_key) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`;
/** A FIFO endpoint's head: its oldest open delivery. */
const FIFO_HEAD = `SELECT id, next_attempt_at FROM delivery WHERE endpoint_id = ? AND status IN (${OPEN})
  ORDER BY created_at, id LIMIT 1`;

/** The endpoints of claimed deliveries (ids as a JSON array), as the sender needs them. */
const CLAIMED_ENDPOINTS = `SELECT id, ${endpoints.names(CLAIMED_ENDPOINT_FIELDS)} FROM endpoint
  WHERE id IN (SELECT value FROM json_each(?))`;

/**
 * The routing fields of an application's endpoints; polling endpoints (kind 'poller') are left
 * out: they are never sent anything, their consumers poll.
 */
const ROUTING =
  "SELECT id, disabled, event_types, channels FROM endpoint WHERE app_id = ? AND kind <> 'poller'";
/**
 * The same with what a handoff needs of each endpoint (`HANDOFF_ENDPOINT_COLUMNS`), for an ingest
 * that may hand deliveries off: one read of the application's endpoints instead of one more
 * statement per endpoint and batch (~45 us each at 1,000 msg/s, where batches hold 2 messages).
 */
const ROUTING_HANDOFF = `SELECT e.id, e.event_types, e.channels, ${HANDOFF_ENDPOINT_COLUMNS}
  FROM endpoint e JOIN app a ON a.id = e.app_id WHERE e.app_id = ? AND e.kind <> 'poller'`;

/**
 * What queueing a message needs, shared by ingest and the inbound gateway: the routing fields of
 * an application's endpoints, and one (message, endpoint) delivery row.
 */
export function sqliteRouting(conn: SqliteConnection, ctx: CodecContext) {
  return {
    /**
     * The routing fields of an application's endpoints; with `rows`, also what a handoff needs of
     * each (`ROUTING_HANDOFF`), put there by endpoint id.
     */
    routingOf: (appId: string, rows?: Map<string, Row>): RoutingEndpoint[] =>
      conn.all(rows ? ROUTING_HANDOFF : ROUTING, [appId]).map((r) => {
        rows?.set(String(r.id), r);
        return { id: String(r.id), ...endpoints.pick(r, ctx, ['disabled', 'eventTypes', 'channels']) };
      }),
    /**
     * Queues one (message, endpoint) pair: pending, no attempts yet, due at `dueAt`; a keyed one
     * with its number in the (endpoint, key) line. `leased`: written already leased to this
     * process's dispatcher (IngestHandoff), `dueAt` being the lease's end.
     */
    insertDelivery(
      id: string,
      msgId: string,
      appId: string,
      endpointId: string,
      dueAt: number,
      triggerType: TriggerTypeCode,
      now: number,
      keyed: { orderingKey: string; sequence: number } | null = null,
      leased = false,
    ) {
      conn.run(
        `INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
           created_at, updated_at, ordering_key, sequence) VALUES (?, ?, ?, ?, ${leased ? SENDING : PENDING}, 0, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          msgId,
          appId,
          endpointId,
          dueAt,
          triggerType,
          now,
          now,
          keyed?.orderingKey ?? null,
          keyed?.sequence ?? null,
        ],
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
  /** What this process has in flight, by endpoint (leases.ts). */
  const leases = new Leases();
  const nextSequence = (endpointId: string, key: string) =>
    Number(get(NEXT_SEQUENCE, [endpointId, key])!.last_seq);

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

  /** Where the last claim's round robin stopped: the next one starts after this endpoint. */
  let turnAfter = '';

  /**
   * The oldest due deliveries each endpoint may lease (`DUE_FREE_OF_ENDPOINT`), `wants[i]` at most
   * of endpoint `ids[i]` (0: none asked). The endpoints asked for one are read in one statement
   * without the key checks (a claim shared over 100 endpoints asks one each of ~30 of them: ~1 us
   * an endpoint instead of ~25 us a statement), and read again with them when that row is keyed.
   */
  function dueFree(ids: string[], wants: number[], now: number): string[][] {
    const out: string[][] = ids.map(() => []);
    const checked = (i: number) => {
      out[i] = all(DUE_FREE_OF_ENDPOINT, [ids[i]!, now, wants[i]!]).map((r) => String(r.id));
    };
    const ones = ids.filter((_, i) => wants[i] === 1);
    if (ones.length > 0) {
      const at = new Map(ids.map((id, i) => [id, i]));
      for (const r of all(FIRST_DUE_OF_ENDPOINTS, [JSON.stringify(ones), now])) {
        const i = at.get(String(r.endpoint_id))!;
        if (r.ordering_key === null) out[i] = [String(r.id)];
        else checked(i);
      }
    }
    wants.forEach((want, i) => {
      if (want > 1) checked(i);
    });
    return out;
  }

  /**
   * The endpoints with due work a claim considers (claim-plan.ts): those of the due window when
   * it holds every due delivery; otherwise the endpoints with open deliveries from where the last
   * claim stopped, one probe each. Skipped endpoints and those out of scope are left out.
   */
  function dueEndpoints(o: ClaimOptions): {
    ids: string[];
    scannedTo: string | null;
    live: string[];
  } {
    const skip = new Set(o.skipEndpoints);
    if (o.onlyEndpoints) {
      const ids = o.onlyEndpoints.filter(
        (id) => !skip.has(id) && Number(get(OLDEST_OPEN, [id])?.at ?? Infinity) <= o.now,
      );
      return { ids, scannedTo: null, live: [] };
    }
    const window = all(DUE_WINDOW, [o.now, o.limit * WINDOW_PER_LIMIT]);
    const seen = window.reduce((n, r) => n + Number(r.n), 0);
    // When the oldest due delivery is live itself, the live window is the due window (live
    // traffic with no backlog older than it: the common case), read once.
    const allLive = window.every((r) => Number(r.first) > o.now - LIVE_MS);
    const live = (
      allLive ? window : all(LIVE_ENDPOINTS, [o.now - LIVE_MS, o.now, o.limit * WINDOW_PER_LIMIT])
    )
      .map((r) => String(r.endpoint_id))
      .filter((id) => !skip.has(id));
    const withLive = (ids: string[]) => [...new Set([...live, ...ids])];
    if (seen < o.limit * WINDOW_PER_LIMIT)
      return {
        ids: withLive(window.map((r) => String(r.endpoint_id)).filter((id) => !skip.has(id))),
        scannedTo: null,
        live,
      };
    const found: string[] = [];
    let at = turnAfter;
    let wrapped = turnAfter === '';
    // Enough endpoints for the batch at their share each, and as many again for those with fewer
    // due than their share: the claim reads every endpoint it found (its row, its deliveries in
    // flight), so one that stopped at the budget read eight times what it served.
    const enough = 2 * Math.ceil(o.limit / claimShare(o.limit));
    for (let probes = 0, budget = scanBudget(o.limit); probes < budget && found.length < enough; probes++) {
      const next = get(NEXT_OPEN_ENDPOINT, [at]);
      if (!next) {
        if (wrapped) break;
        wrapped = true;
        at = '';
        continue;
      }
      const id = String(next.endpoint_id);
      if (wrapped && turnAfter !== '' && id > turnAfter) break;
      if (Number(next.next_attempt_at) <= o.now && !skip.has(id)) found.push(id);
      at = id;
    }
    return { ids: withLive(found), scannedTo: at, live };
  }

  return {
    ingest: (items, handoff) =>
      conn.exclusive(() => {
        // The endpoints of the deliveries left for a claim (a dispatcher at their limit need not claim).
        const queuedFor = new Set<string>();
        // Deliveries leased to the dispatcher as they are written (IngestHandoff).
        const taken: ClaimedDelivery[] = [];
        const handedOff = new Map<string, HandoffEndpoint | null>();
        /** The routing read's rows of the batch's endpoints, when a handoff may take deliveries. */
        const endpointRows = handoff ? new Map<string, Row>() : undefined;
        /** What a handoff needs of an endpoint, or null when its deliveries must wait for a claim. */
        const handoffOf = (endpointId: string) => {
          let e = handedOff.get(endpointId);
          if (e === undefined) {
            const row = endpointRows!.get(endpointId);
            e = row === undefined ? null : handoffEndpoint(row, ctx, handoff!.leaseMs);
            handedOff.set(endpointId, e);
          }
          return e;
        };
        let results: IngestResult[];
        try {
          results = conn.txSync(() => {
            const routingCache = new Map<string, RoutingEndpoint[]>();
            return items.map((item): IngestResult => {
              const m = item.message;
              let endpointsOfApp = routingCache.get(m.appId);
              if (!endpointsOfApp) {
                if (!get('SELECT 1 FROM app WHERE id = ?', [m.appId]))
                  return { ok: false, reason: 'app_not_found' };
                endpointsOfApp = routingOf(m.appId, endpointRows);
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
              run(INSERT_MESSAGE, [...messages.values(m, ctx), item.traceparent ?? null] as Param[]);
              const targets = item.route(endpointsOfApp);
              const dueNow = item.dueAt <= m.createdAt;
              const orderingKey = m.orderingKey ?? null;
              for (const endpointId of targets) {
                const id = item.newDeliveryId();
                // A keyed delivery waits its turn in its line (ordering keys): a claim decides.
                const endpoint = handoff && dueNow && orderingKey === null ? handoffOf(endpointId) : null;
                if (endpoint && handoff!.take(endpointId)) {
                  const leased = handedOffDelivery(item, id, endpointId, endpoint);
                  insertDelivery(
                    id,
                    m.id,
                    m.appId,
                    endpointId,
                    leased.leaseUntil,
                    TriggerType.scheduled,
                    m.createdAt,
                    null,
                    true,
                  );
                  taken.push(leased);
                  continue;
                }
                insertDelivery(
                  id,
                  m.id,
                  m.appId,
                  endpointId,
                  item.dueAt,
                  TriggerType.scheduled,
                  m.createdAt,
                  orderingKey === null
                    ? null
                    : { orderingKey, sequence: nextSequence(endpointId, orderingKey) },
                );
                queuedFor.add(endpointId);
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
              return { ok: true, deliveries: targets.length };
            });
          });
        } catch (err) {
          if (taken.length > 0) handoff!.untake(taken.map((d) => d.endpointId));
          throw err;
        }
        for (const d of taken) leases.add(d.endpointId, d.id, d.leaseUntil);
        if (taken.length > 0) handoff!.taken(taken);
        if (queuedFor.size > 0) events.emit('queued', [...queuedFor]);
        return results;
      }),

    claimDue: (o) =>
      conn.exclusive(() => {
        // One writer at a time (BEGIN IMMEDIATE): the endpoint limits are counted and updated
        // without racing another claim.
        let blocked: number | null = null;
        let filled: string[] = [];
        const rows = conn.txSync(() => {
          const startAfter = turnAfter;
          const { ids: due, scannedTo, live } = dueEndpoints(o);
          if (scannedTo !== null) {
            // A scan that found nothing to serve still moves on: the next claim looks further.
            turnAfter = scannedTo;
            // It saw some of the endpoints only: what the others wait for is not known.
            blocked = o.now;
          }
          if (due.length === 0) return [];
          const eps = all(
            `SELECT e.id, e.fifo, e.kind, e.throttle_next_at, e.throttle_rate, e.timeout_ms, a.throttle_rate AS app_rate
             FROM endpoint e JOIN app a ON a.id = e.app_id WHERE e.id IN (SELECT value FROM json_each(?))`,
            [JSON.stringify(due)],
          ).filter((e) => !(o.excludeKinds as readonly string[] | undefined)?.includes(String(e.kind)));
          if (eps.length === 0) return [];
          const gates = new Map<string, EndpointGate>();
          const leaseOf = new Map<string, number>();
          for (const e of eps) {
            const id = String(e.id);
            const fifo = Number(e.fifo) === 1;
            const head = fifo ? get(FIFO_HEAD, [id]) : undefined;
            gates.set(id, {
              inFlight: leases.inFlight(id, o.now),
              fifo,
              fifoHead: head
                ? {
                    id: String(head.id),
                    at: Number(head.next_attempt_at),
                    due: Number(head.next_attempt_at) <= o.now,
                  }
                : null,
              ratePerSecond: rateOf(numOrNull(e.throttle_rate), numOrNull(e.app_rate), String(e.kind)),
              nextSlotAt: numOrNull(e.throttle_next_at),
            });
            leaseOf.set(
              id,
              o.leasePerEndpoint && e.timeout_ms !== null ? leaseFor(Number(e.timeout_ms)) : o.leaseMs,
            );
          }
          const order = inTurn(gates.keys(), startAfter);
          const position = new Map(order.map((id, i) => [id, i]));
          const rooms = order.map((id) => roomOf(gates.get(id)!, o.perEndpoint, o.now));
          const roomsAtFirst = [...rooms];
          const taken = new Set<string>();
          // Live first (claim-plan.ts): what just became due, in due order, within each
          // endpoint's room. FIFO endpoints only ever send their head, in their turn.
          const livePicks: { id: string; endpointId: string }[] = [];
          const liveOf = new Map<string, number>();
          // The live rows of the endpoints with room, in due order: as many as that room and a few
          // more (keyed rows not at their line's head are passed over), at most the window.
          const liveWith = live.filter((id) => {
            const i = position.get(id);
            return i !== undefined && rooms[i]! > 0 && !gates.get(id)!.fifo;
          });
          const liveRoom = liveWith.reduce((n, id) => n + rooms[position.get(id)!]!, 0);
          const liveRows =
            liveWith.length === 0
              ? []
              : all(LIVE_DUE, [
                  o.now - LIVE_MS,
                  o.now,
                  JSON.stringify(liveWith),
                  Math.min(o.limit * WINDOW_PER_LIMIT, liveRoom + LIVE_SLACK),
                ]);
          for (const row of liveRows) {
            if (livePicks.length >= o.limit) break;
            const r = { id: String(row.id), endpointId: String(row.endpoint_id) };
            const i = position.get(r.endpointId)!;
            if (rooms[i]! <= 0) continue;
            // A keyed row only as the head of its (endpoint, key) line, nothing of it in flight.
            if (
              row.ordering_key !== null &&
              !Number(
                get(KEY_FREE, [r.endpointId, String(row.ordering_key), Number(row.sequence), r.id, o.now])
                  ?.free,
              )
            )
              continue;
            livePicks.push(r);
            taken.add(r.id);
            liveOf.set(r.endpointId, (liveOf.get(r.endpointId) ?? 0) + 1);
            rooms[i]!--;
          }
          // Then the endpoints take turns for the rest: a share of several each (`claimShare`),
          // round robin from where the last claim stopped; what those with fewer due than their
          // share leave goes one each to the others in a second round.
          const picked: string[][] = order.map(() => []);
          let total = livePicks.length;
          for (let round = 0; round < 2 && total < o.limit; round++) {
            const takes = shareOut(rooms, o.limit - total, round === 0 ? claimShare(o.limit) : 1);
            // Each endpoint's due rows for its take, past those it already has in this claim
            // (the rows of two endpoints never overlap: read for all of them at once).
            const due = dueFree(
              order,
              order.map((id, i) =>
                takes[i] === 0 || gates.get(id)!.fifo
                  ? 0
                  : takes[i]! + picked[i]!.length + (liveOf.get(id) ?? 0),
              ),
              o.now,
            );
            order.forEach((id, i) => {
              const take = takes[i]!;
              if (take === 0) return;
              const gate = gates.get(id)!;
              const got = gate.fifo
                ? [gate.fifoHead!.id].filter((h) => !taken.has(h))
                : due[i]!.filter((d) => !taken.has(d)).slice(0, take);
              for (const d of got) taken.add(d);
              picked[i]!.push(...got);
              total += got.length;
              rooms[i] = got.length < take ? 0 : rooms[i]! - take;
            });
          }
          const turnPicks = interleave(
            picked.map((ids, i) => ids.map((id) => ({ id, endpointId: order[i]! }))),
            o.limit - livePicks.length,
          );
          const picks = [...livePicks, ...turnPicks];
          if (scannedTo === null) {
            // What it leaves, and until when (a walk saw some of the endpoints only: not known).
            const given = new Map<string, number>();
            for (const p of picks) given.set(p.endpointId, (given.get(p.endpointId) ?? 0) + 1);
            const left = whatIsLeft(
              order.map((id, i) => {
                const rate = gates.get(id)!.ratePerSecond;
                return {
                  id,
                  gate: gates.get(id)!,
                  room: roomsAtFirst[i]!,
                  given: given.get(id) ?? 0,
                  nextSlotAt: rate ? o.now + slotInterval(rate) : null,
                  // Room left after the turns: it never ran out of due work (that sets it to 0).
                  more: rooms[i]! > 0,
                };
              }),
              o.perEndpoint,
              o.now,
            );
            blocked = left.blockedUntil;
            filled = left.filled;
          }
          if (picks.length === 0) return [];
          const servedInTurn = new Set(turnPicks.map((p) => p.endpointId));
          turnAfter = order.findLast((id) => servedInTurn.has(id)) ?? turnAfter;
          const served = new Set(picks.map((p) => p.endpointId));
          for (const endpointId of served) {
            const rate = gates.get(endpointId)!.ratePerSecond;
            if (rate)
              run('UPDATE endpoint SET throttle_next_at = ? WHERE id = ?', [
                o.now + slotInterval(rate),
                endpointId,
              ]);
          }
          // One statement per lease length (one, unless endpoints have timeouts of their own)
          // leases the picks; the rows come back in the picks' order.
          const byLease = new Map<number, string[]>();
          for (const p of picks) {
            const lease = leaseOf.get(p.endpointId) ?? o.leaseMs;
            byLease.set(lease, [...(byLease.get(lease) ?? []), p.id]);
          }
          const leased = [...byLease].flatMap(([lease, ids]) =>
            all(
              `UPDATE delivery SET status = ${SENDING}, next_attempt_at = ?, updated_at = ?
               WHERE id IN (SELECT value FROM json_each(?)) AND status IN (${OPEN}) AND next_attempt_at <= ?
               RETURNING id, msg_id, app_id, endpoint_id, attempts, trigger_type, next_attempt_at, ordering_key, sequence`,
              [o.now + lease, o.now, JSON.stringify(ids), o.now],
            ),
          );
          const rank = new Map(picks.map((p, i) => [p.id, i]));
          return leased.sort((a, b) => rank.get(String(a.id))! - rank.get(String(b.id))!);
        }, false);
        for (const r of rows) leases.add(String(r.endpoint_id), String(r.id), Number(r.next_attempt_at));
        const claimed: ClaimedDelivery[] = [];
        if (rows.length === 0) return { deliveries: claimed, blockedUntil: blocked, filled };
        const msgs = new Map(
          all(
            `SELECT m.id, m.event_type, m.payload, m.created_at AS msg_created_at, m.traceparent, i.body, i.content_type, i.headers AS inbound_headers
             FROM message m LEFT JOIN inbound_body i ON i.id = m.id
             WHERE m.id IN (SELECT value FROM json_each(?))`,
            [JSON.stringify([...new Set(rows.map((r) => r.msg_id))])],
          ).map((m) => [String(m.id), m]),
        );
        // The claimed deliveries' endpoints in one statement (a claim over many endpoints made
        // one per endpoint: ~100,000 over a 100k backlog spread over 100 endpoints).
        const eps = new Map(
          all(CLAIMED_ENDPOINTS, [JSON.stringify([...new Set(rows.map((r) => String(r.endpoint_id)))])]).map(
            (e) => [String(e.id), claimedEndpoint(e, ctx)],
          ),
        );
        for (const r of rows) {
          const endpoint = eps.get(String(r.endpoint_id));
          const msg = msgs.get(String(r.msg_id));
          if (!msg || !endpoint) continue; // deleted meanwhile; cascades remove the delivery too
          claimed.push(claimedDelivery({ ...msg, ...r }, Number(r.next_attempt_at), endpoint));
        }
        return { deliveries: claimed, blockedUntil: blocked, filled };
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
          // Not flushed to disk at this commit (synchronous NORMAL for this transaction): WAL
          // keeps it through a crash of the process, and the next durable commit (an ingest)
          // flushes it with its own. A power cut before then loses the outcome, never a message:
          // the delivery's lease runs out and it is sent again, at least once as always.
        }, false);
        for (const o of outcomes) leases.end(o.deliveryId, o.leaseUntil);
        return { disabledEndpoints: disabled };
      }),

    releaseDeliveries: (ids, now) =>
      conn.exclusive(() => {
        conn.txSync(() => {
          for (const id of ids) {
            run(
              `UPDATE delivery SET status = ${PENDING}, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = ${SENDING}`,
              [now, now, id],
            );
          }
        });
        for (const id of ids) leases.end(id);
      }),

    nextDueAt: (filter = {}, after) =>
      conn.exclusive(() => {
        const scope = scopeSql(filter);
        return numOrNull(
          get(
            `SELECT MIN(next_attempt_at) AS t FROM delivery d WHERE status IN (${OPEN})${scope.sql}
             ${after === undefined ? '' : 'AND next_attempt_at > ?'} AND ${LINE_HEAD}`,
            after === undefined ? scope.params : [...scope.params, after],
          )?.t,
        );
      }),

    resend: (m, endpointId, id, now) =>
      conn.exclusive(() => {
        // A keyed message sent again keeps its key and its number in the line (the receiver
        // sees the same webhook-sequence again); one never queued for this endpoint takes the
        // line's next number.
        const orderingKey = m.orderingKey ?? null;
        conn.txSync(() => {
          let keyed: { orderingKey: string; sequence: number } | null = null;
          if (orderingKey !== null) {
            const had = get(
              `SELECT sequence FROM delivery WHERE msg_id = ? AND endpoint_id = ? AND sequence IS NOT NULL
               ORDER BY created_at, id LIMIT 1`,
              [m.id, endpointId],
            );
            keyed = {
              orderingKey,
              sequence: had ? Number(had.sequence) : nextSequence(endpointId, orderingKey),
            };
          }
          insertDelivery(id, m.id, m.appId, endpointId, now, TriggerType.manual, now, keyed);
        });
        events.emit('queued');
      }),
  };
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
