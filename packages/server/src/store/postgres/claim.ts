/**
 * Claim and completion on PostgreSQL, one statement each, in autocommit: workers never wait on
 * one another, and a batch costs one round trip each way.
 *
 * - `claimDue` calls `hookline_claim` (migration 9, ordering keys since 16): per endpoint, one claim at a time across
 *   every process decides the limits (in-flight cap, FIFO, rate), under a transaction-scoped
 *   advisory lock that is only ever tried: an endpoint another claim holds is skipped, that
 *   claim serves it. The leased rows come back with their message and endpoint. It runs on a
 *   pooled connection of its own (`PostgresConnection.onConnection`), reading its clock once it
 *   has one.
 * - `completeDeliveries` moves the deliveries whose lease is still ours, logs every attempt
 *   whose delivery still exists, and writes endpoint health (`core/endpoint-health.ts`) and
 *   auto-disable, in one statement.
 */
import { type HealthChange, healthChanges, healthSignals } from '../../core/endpoint-health.ts';
import { LEASE_SLACK_MS, LEASE_TIMEOUTS } from '../../core/lease.ts';
import { countsAsAttempt, statusAfter } from '../../core/outcome.ts';
import { CHAT_KINDS } from '../../core/types.ts';
import { CHAT_DEFAULT_RATE, LIVE_MS, SLOT_SECOND_MS, scanBudget, WINDOW_PER_LIMIT } from '../claim-plan.ts';
import { CLAIMED_ENDPOINT_FIELDS, claimedDelivery, claimedEndpoint, endpoints } from '../schema.ts';
import { prepared, raw, type Sql, sql } from '../sql.ts';
import { SENDING } from '../statuses.ts';
import type { ClaimedDelivery, DeliveryOutcome, Store } from '../store.ts';
import type { CodecContext } from '../table.ts';
import type { PostgresConnection } from './connection.ts';
import type { Notifier } from './notify.ts';

/**
 * The class (first key) of the transaction-scoped advisory locks `hookline_claim` takes, one per
 * endpoint (second key: `hashtext(endpoint id)`); written into the function (migrations 8 and 9),
 * and into `hookline_handoff` (migration 36), which an ingest handing deliveries off takes. Apart
 * from MIGRATION_LOCK, the test template's lock and DEDUPE_LOCK (7_240_001..3).
 */
export const CLAIM_LOCK_CLASS = 7_240_004;

/** The columns `hookline_claim` returns that a claimed delivery is read from. */
const CLAIM_COLUMNS = raw(
  [
    'id, msg_id, app_id, endpoint_id, attempts, trigger_type, lease_until, event_type, payload, msg_created_at',
    'body, content_type, inbound_headers, ordering_key, sequence',
    endpoints.names(CLAIMED_ENDPOINT_FIELDS),
    'turn_after, blocked_until, filled, traceparent',
  ].join(', '),
);

/**
 * Endpoint health as one set of CTEs (`hk`, `lk`, `hu`) after a `moved` CTE with `att_ep`: the
 * changes of `healthChanges`, each applied only when its endpoint's attempts all had their
 * lease (`expected` of them moved; null: apply anyway). Only rows whose health changes are
 * locked and written, in id order like every writer of endpoint rows. `hu` returns the ids it
 * wrote with `newly` set for the endpoints it disabled.
 */
function healthCtes(changes: HealthChange[], expected: Map<string, number> | null, now: number): Sql {
  const col = <T>(f: (c: HealthChange) => T) => changes.map(f);
  const failing = (c: HealthChange) => (c.kind === 'failing' ? c : null);
  return sql`h AS (
      SELECT * FROM unnest(${col((c) => c.endpointId)}::text[], ${col((c) => c.kind === 'recovered')}::boolean[],
        ${col((c) => failing(c)?.since ?? null)}::bigint[], ${col((c) => failing(c)?.restart ?? false)}::boolean[],
        ${col((c) => failing(c)?.disableIfFailingSince ?? null)}::bigint[],
        ${col((c) => expected?.get(c.endpointId) ?? null)}::integer[])
        AS h(id, recovered, since, restart, threshold, expected)
    ), hk AS (
      SELECT h.* FROM h
      WHERE h.expected IS NULL OR h.expected = (SELECT count(*) FROM moved WHERE moved.att_ep = h.id)
    ), lk AS (
      SELECT e.id, e.disabled AS was_disabled, f.fs, x.off
      FROM endpoint e
      JOIN hk ON hk.id = e.id
      CROSS JOIN LATERAL (SELECT CASE WHEN hk.recovered THEN NULL WHEN hk.restart THEN hk.since
                                      ELSE coalesce(e.failing_since, hk.since) END AS fs) f
      CROSS JOIN LATERAL (SELECT coalesce(NOT hk.recovered AND f.fs <= hk.threshold, false) AS off) x
      WHERE f.fs IS DISTINCT FROM e.failing_since OR (x.off AND NOT e.disabled)
      ORDER BY e.id
      FOR NO KEY UPDATE OF e
    ), hu AS (
      UPDATE endpoint e SET failing_since = lk.fs, disabled = e.disabled OR lk.off,
        updated_at = CASE WHEN lk.off AND NOT lk.was_disabled THEN ${now}::bigint ELSE e.updated_at END
      FROM lk WHERE e.id = lk.id
      RETURNING e.id, lk.off AND NOT lk.was_disabled AS newly
    )`;
}

export function postgresClaims(
  conn: PostgresConnection,
  ctx: CodecContext,
  notifier: Notifier,
): Pick<Store, 'claimDue' | 'completeDeliveries'> {
  const { query, one, onConnection } = conn;
  /** Where the last claim's round robin stopped: the next one starts after this endpoint. */
  let turnAfter = '';

  /** Writes health changes on their own (the endpoints of a batch where a lease was lost). */
  async function writeHealth(changes: HealthChange[], now: number): Promise<string[]> {
    if (changes.length === 0) return [];
    const row = await one(
      sql`WITH moved AS (SELECT NULL::text AS att_ep WHERE false), ${healthCtes(changes, null, now)}
          SELECT coalesce(array_agg(id ORDER BY id) FILTER (WHERE newly), '{}') AS disabled FROM hu`,
    );
    return (row?.disabled as string[] | undefined) ?? [];
  }

  return {
    claimDue: async (o) => {
      const started = performance.now();
      const rows = await onConnection((c) => {
        // Rate slots count from when the claim runs, not from when the worker read its clock: a
        // claim that waited for a connection must not let the next one come early.
        const slotFrom = o.now + Math.round(performance.now() - started);
        return query(
          prepared(
            'hookline_claim',
            sql`SELECT ${CLAIM_COLUMNS}
              FROM hookline_claim(${o.now}::bigint, ${o.leaseMs}::bigint,
                ${o.limit}::integer, ${o.perEndpoint}::integer, ${o.skipEndpoints}::text[],
                ${o.onlyEndpoints ?? null}::text[], ${o.excludeKinds ?? []}::text[], ${slotFrom}::bigint,
                ${SLOT_SECOND_MS}::integer, ${CHAT_KINDS}::text[], ${CHAT_DEFAULT_RATE}::integer,
                ${o.leasePerEndpoint ?? false}::boolean, ${LEASE_TIMEOUTS}::integer, ${LEASE_SLACK_MS}::integer,
                ${turnAfter}::text, ${o.limit * WINDOW_PER_LIMIT}::integer, ${scanBudget(o.limit)}::integer,
                ${LIVE_MS}::integer, ${o.deferEndpoints ?? []}::text[], ${o.deferMs ?? 0}::integer,
                ${o.deferHot ?? 1}::integer) c`,
          ),
          c,
        );
      });
      // Where this process's next claim starts its round robin (store/claim-plan.ts), and when
      // what it left may go. A row with no delivery only carries those (nothing was leased).
      if (rows.length > 0) turnAfter = String(rows[0]!.turn_after ?? turnAfter);
      const blocked = rows[0]?.blocked_until;
      const blockedUntil = blocked === null || blocked === undefined ? null : Number(blocked);
      const eps = new Map<string, ClaimedDelivery['endpoint']>();
      const deliveries = rows
        .filter((r) => r.id !== null)
        .map((r) => {
          const endpointId = String(r.endpoint_id);
          let endpoint = eps.get(endpointId);
          if (!endpoint) {
            endpoint = claimedEndpoint(r, ctx);
            eps.set(endpointId, endpoint);
          }
          return claimedDelivery(r, Number(r.lease_until), endpoint);
        });
      const filled = [...new Set(rows.filter((r) => r.filled === true).map((r) => String(r.endpoint_id)))];
      return { deliveries, blockedUntil, filled };
    },

    completeDeliveries: async (outcomes, now) => {
      if (outcomes.length === 0) return { disabledEndpoints: [] };
      const logged = outcomes.filter(
        (o): o is DeliveryOutcome & { attempt: NonNullable<DeliveryOutcome['attempt']> } =>
          Boolean(o.attempt),
      );
      // Health as if every lease were still ours (almost always true); an endpoint where one
      // was lost gets its health from the attempts that kept theirs, in a second statement.
      const expected = new Map<string, number>();
      for (const o of logged)
        expected.set(o.attempt.endpointId, (expected.get(o.attempt.endpointId) ?? 0) + 1);
      const changes = healthChanges(healthSignals(outcomes, () => true));
      const a = <T>(f: (x: (typeof logged)[number]['attempt']) => T) => logged.map((o) => f(o.attempt));
      const row = await one(
        prepared(
          'hookline_complete',
          sql`WITH moved AS (
              -- Only the holder of the current lease moves a delivery on.
              UPDATE delivery d SET status = u.status, attempts = d.attempts + u.inc, next_attempt_at = u.next_at,
                updated_at = ${now}::bigint
              FROM unnest(${outcomes.map((o) => o.deliveryId)}::text[], ${outcomes.map((o) => statusAfter(o.next))}::smallint[],
                ${outcomes.map((o) => (countsAsAttempt(o) ? 1 : 0))}::integer[],
                ${outcomes.map((o) => (o.next.kind === 'retry' ? o.next.at : now))}::bigint[],
                ${outcomes.map((o) => o.leaseUntil)}::bigint[], ${outcomes.map((o) => o.attempt?.endpointId ?? null)}::text[])
                AS u(id, status, inc, next_at, lease, att_ep)
              WHERE d.id = u.id AND d.status = ${raw(SENDING)} AND d.next_attempt_at = u.lease
              RETURNING d.id, u.att_ep
            ), kept AS (
              -- A worker whose lease ran out (another took the delivery over) still logs its
              -- attempt, if the delivery exists (locked so it cannot go before the attempt is in).
              SELECT d.id FROM delivery d
              WHERE d.id = ANY(${a((x) => x.deliveryId)}::text[]) AND d.id NOT IN (SELECT moved.id FROM moved)
              FOR KEY SHARE OF d
            ), logged AS (
              INSERT INTO attempt (id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code,
                response, response_headers, request_headers, request_body, duration_ms, trigger_type, created_at)
              SELECT * FROM unnest(${a((x) => x.id)}::text[], ${a((x) => x.deliveryId)}::text[],
                ${a((x) => x.msgId)}::text[], ${a((x) => x.endpointId)}::text[], ${a((x) => x.appId)}::text[],
                ${a((x) => x.url)}::text[], ${a((x) => x.status)}::smallint[],
                ${a((x) => x.responseStatusCode)}::integer[], ${a((x) => x.response)}::text[],
                ${a((x) => JSON.stringify(x.responseHeaders))}::text[], ${a((x) => JSON.stringify(x.requestHeaders))}::text[],
                ${a((x) => x.requestBody ?? null)}::text[], ${a((x) => Math.round(x.durationMs))}::integer[],
                ${a((x) => x.triggerType)}::smallint[], ${a((x) => x.createdAt)}::bigint[])
                AS n(id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code, response,
                  response_headers, request_headers, request_body, duration_ms, trigger_type, created_at)
              WHERE n.delivery_id IN (SELECT moved.id FROM moved) OR n.delivery_id IN (SELECT kept.id FROM kept)
            ), ${healthCtes(changes, expected, now)}
            SELECT (SELECT coalesce(array_agg(moved.id), '{}') FROM moved) AS moved,
              (SELECT coalesce(array_agg(hu.id ORDER BY hu.id) FILTER (WHERE hu.newly), '{}') FROM hu) AS disabled`,
        ),
      );
      const held = new Set((row?.moved as string[] | undefined) ?? []);
      const disabled = [...((row?.disabled as string[] | undefined) ?? [])];
      const lost = new Set(logged.filter((o) => !held.has(o.deliveryId)).map((o) => o.attempt.endpointId));
      if (lost.size > 0) {
        const retold = healthChanges(
          healthSignals(
            outcomes.filter((o) => o.attempt && lost.has(o.attempt.endpointId)),
            (id) => held.has(id),
          ),
        );
        disabled.push(...(await writeHealth(retold, now)));
      }
      // Other workers re-arm their timers for the retries (the local one wakes itself).
      if (outcomes.some((o) => o.next.kind === 'retry' && held.has(o.deliveryId))) notifier.soon();
      return { disabledEndpoints: disabled.sort() };
    },
  };
}
