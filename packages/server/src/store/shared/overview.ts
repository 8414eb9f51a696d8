/**
 * The dashboard's overview and live feed: a few aggregate reads over the attempt log, the
 * delivery queue, endpoints and received requests, for one application or the whole instance.
 * Each is bounded (a time window and a row limit) and served by existing indexes: the attempt
 * log's primary key (a time window is a range of attempt ids, `attempt-window.ts`; newest first is
 * highest id first), `delivery_open`, `inbound_event_received`.
 */
import type { InboundStatus } from '../../core/types.ts';
import type {
  FailedAttempt,
  LiveAttempt,
  LiveInbound,
  OverviewQueries,
  SourceRates,
  TroubledEndpoint,
  UndeliveredEndpoint,
} from '../overview-types.ts';
import { attempts } from '../schema.ts';
import { raw, type Sql, sql } from '../sql.ts';
import { OPEN, SUCCESS } from '../statuses.ts';
import { attemptsStarted } from './attempt-window.ts';
import type { Db } from './db.ts';

const num = (v: unknown) => Number(v ?? 0);
const countWhen = (condition: Sql) => sql`COALESCE(SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;
/** `AND <alias>.app_id = ?` when scoped to one application. */
const inApp = (alias: string, appId: string | null) =>
  appId === null ? raw('') : sql` AND ${raw(alias)}.app_id = ${appId}`;

export function overviewStore({ ex, ctx }: Db): OverviewQueries {
  const d = ctx.dialect;
  return {
    async activitySeries(appId, since, until, bucketMs) {
      const rows = await ex.all(
        sql`SELECT w.b, COUNT(*) AS n, ${countWhen(raw(`w.status = ${SUCCESS}`))} AS ok FROM (
              SELECT CAST((a.created_at - ${since}) / ${bucketMs} AS INTEGER) AS b, a.status FROM attempt a
              WHERE ${attemptsStarted('a', since, until)}${inApp('a', appId)}
            ) w GROUP BY w.b ORDER BY w.b`,
      );
      return rows.map((r) => ({
        start: since + num(r.b) * bucketMs,
        attempts: num(r.n),
        successes: num(r.ok),
      }));
    },

    async troubledEndpoints(appId, limit) {
      const rows = await ex.all(
        sql`SELECT e.id, e.app_id, e.url, e.kind, e.disabled, e.failing_since, e.updated_at, a.name AS app_name
            FROM endpoint e JOIN app a ON a.id = e.app_id
            WHERE (e.failing_since IS NOT NULL OR e.disabled = ${d.flag(true)})${inApp('e', appId)}
            ORDER BY e.disabled, e.failing_since, e.id LIMIT ${limit}`,
      );
      return rows.map(
        (r): TroubledEndpoint => ({
          id: String(r.id),
          appId: String(r.app_id),
          appName: String(r.app_name),
          url: String(r.url),
          kind: String(r.kind ?? 'http'),
          disabled: d.readFlag(r.disabled),
          failingSince: r.failing_since === null ? null : num(r.failing_since),
          updatedAt: num(r.updated_at),
        }),
      );
    },

    async undelivered(appId, limit) {
      const rows = await ex.all(
        sql`SELECT q.endpoint_id, q.n, q.oldest, q.next_at, e.app_id, e.url, e.kind FROM (
              SELECT d.endpoint_id, COUNT(*) AS n, MIN(d.created_at) AS oldest, MIN(d.next_attempt_at) AS next_at
              FROM delivery d WHERE d.status IN (${raw(OPEN)})${inApp('d', appId)}
              GROUP BY d.endpoint_id
            ) q JOIN endpoint e ON e.id = q.endpoint_id ORDER BY q.oldest, q.endpoint_id LIMIT ${limit}`,
      );
      return rows.map(
        (r): UndeliveredEndpoint => ({
          endpointId: String(r.endpoint_id),
          appId: String(r.app_id),
          url: String(r.url),
          kind: String(r.kind ?? 'http'),
          count: num(r.n),
          oldestAt: num(r.oldest),
          nextAttemptAt: num(r.next_at),
        }),
      );
    },

    async recentFailures(appId, since, limit, excludeEventTypes = []) {
      const rows = await ex.all(
        sql`SELECT a.id, a.msg_id, a.app_id, a.endpoint_id, a.url, a.response_status_code, a.created_at,
              m.event_type
            FROM attempt a JOIN message m ON m.id = a.msg_id
            WHERE ${attemptsStarted('a', since)} AND a.status <> ${raw(SUCCESS)}${inApp('a', appId)}
              ${excludeEventTypes.length > 0 ? sql`AND ${d.notInList(sql`m.event_type`, excludeEventTypes)}` : raw('')}
            ORDER BY a.id DESC LIMIT ${limit}`,
      );
      return rows.map(
        (r): FailedAttempt => ({
          id: String(r.id),
          msgId: String(r.msg_id),
          appId: String(r.app_id),
          endpointId: String(r.endpoint_id),
          url: String(r.url),
          responseStatusCode: num(r.response_status_code),
          eventType: String(r.event_type),
          createdAt: num(r.created_at),
        }),
      );
    },

    async sourceRates(appId, since, limit) {
      const status = (s: InboundStatus) => sql`i.status = ${s}`;
      const rows = await ex.all(
        sql`SELECT s.id, s.name, s.app_id,
              ${countWhen(status('accepted'))} AS accepted,
              ${countWhen(status('rejected'))} AS rejected,
              COUNT(i.id) AS total
            FROM source s LEFT JOIN inbound_event i ON i.source_id = s.id AND i.received_at >= ${since}
            WHERE 1 = 1${inApp('s', appId)}
            GROUP BY s.id, s.name, s.app_id ORDER BY s.name, s.id LIMIT ${limit}`,
      );
      return rows.map(
        (r): SourceRates => ({
          id: String(r.id),
          name: String(r.name),
          appId: String(r.app_id),
          accepted: num(r.accepted),
          rejected: num(r.rejected),
          other: num(r.total) - num(r.accepted) - num(r.rejected),
        }),
      );
    },

    async liveAttempts(f, since, limit) {
      let where = sql`${attemptsStarted('a', since)}${inApp('a', f.appId)}`;
      if (f.endpointId) where = sql`${where} AND a.endpoint_id = ${f.endpointId}`;
      if (f.msgId) where = sql`${where} AND a.msg_id = ${f.msgId}`;
      if (f.excludeEventTypes && f.excludeEventTypes.length > 0)
        where = sql`${where} AND ${d.notInList(sql`m.event_type`, f.excludeEventTypes)}`;
      const rows = await ex.all(
        sql`SELECT a.*, m.event_type AS msg_event_type FROM attempt a JOIN message m ON m.id = a.msg_id
            WHERE ${where} ORDER BY a.id LIMIT ${limit}`,
      );
      return rows.map(
        (r): LiveAttempt => ({ ...attempts.read(r, ctx), eventType: String(r.msg_event_type) }),
      );
    },

    async liveInbound(f, since, limit) {
      let where = sql`i.received_at >= ${since}${inApp('s', f.appId)}`;
      if (f.sourceId) where = sql`${where} AND i.source_id = ${f.sourceId}`;
      const rows = await ex.all(
        sql`SELECT i.id, i.source_id, i.status, i.event_type, i.method, i.verify_code, i.verify_detail,
              i.received_at, s.name AS source_name, s.app_id
            FROM inbound_event i JOIN source s ON s.id = i.source_id
            WHERE ${where} ORDER BY i.received_at, i.id LIMIT ${limit}`,
      );
      return rows.map(
        (r): LiveInbound => ({
          id: String(r.id),
          sourceId: String(r.source_id),
          sourceName: String(r.source_name),
          appId: String(r.app_id),
          status: String(r.status) as InboundStatus,
          eventType: String(r.event_type),
          method: String(r.method),
          verifyCode: r.verify_code === null ? null : String(r.verify_code),
          verifyDetail: r.verify_detail === null ? null : String(r.verify_detail),
          receivedAt: num(r.received_at),
        }),
      );
    },
  };
}
