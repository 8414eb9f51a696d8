/**
 * Usage numbers across the store, for Svix's statistics calls: active applications, endpoint
 * counts, attempts by event type and over time, deliveries per application, messages per event
 * type. The applications of inbound sources are not the API users' and are left out.
 */
import { DeliveryStatus } from '../../core/types.ts';
import { raw, sql } from '../sql.ts';
import type { AttemptCounts, Store } from '../store.ts';
import { HIDDEN_APPS } from './apps.ts';
import { attemptsStarted } from './attempt-window.ts';
import type { Db } from './db.ts';

const countWhen = (condition: ReturnType<typeof sql>) =>
  sql`COALESCE(SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;
const SUCCESS = raw(`a.status = ${DeliveryStatus.success}`);
const CANCELED = raw(`a.status = ${DeliveryStatus.canceled}`);
const FAILURE = raw(`a.status NOT IN (${DeliveryStatus.success}, ${DeliveryStatus.canceled})`);

export function usageStore({
  ex,
  ctx,
}: Db): Pick<
  Store,
  | 'countActiveApps'
  | 'countEndpoints'
  | 'appAttemptStats'
  | 'appAttemptSeries'
  | 'deliveriesPerApp'
  | 'messagesPerEventType'
> {
  return {
    async countActiveApps(enabledOnly) {
      const r = await ex.one(
        sql`SELECT COUNT(*) AS n FROM app a WHERE a.id NOT IN ${HIDDEN_APPS} AND EXISTS (
              SELECT 1 FROM endpoint e WHERE e.app_id = a.id
              ${enabledOnly ? sql`AND e.disabled = ${ctx.dialect.flag(false)}` : raw('')})`,
      );
      return Number(r?.n ?? 0);
    },

    async countEndpoints() {
      const r = await ex.one(
        sql`SELECT ${countWhen(sql`disabled = ${ctx.dialect.flag(false)}`)} AS active,
              ${countWhen(sql`disabled = ${ctx.dialect.flag(true)}`)} AS disabled
            FROM endpoint WHERE app_id NOT IN ${HIDDEN_APPS}`,
      );
      return { active: Number(r?.active ?? 0), disabled: Number(r?.disabled ?? 0) };
    },

    async appAttemptStats(appId, since, until, eventTypes) {
      const rows = await ex.all(
        sql`SELECT m.event_type, ${countWhen(SUCCESS)} AS success, ${countWhen(FAILURE)} AS failure,
              ${countWhen(CANCELED)} AS canceled
            FROM attempt a JOIN message m ON m.id = a.msg_id
            WHERE a.app_id = ${appId} AND ${attemptsStarted('a', since, until)}
              ${eventTypes && eventTypes.length > 0 ? sql`AND ${ctx.dialect.inList(sql`m.event_type`, eventTypes)}` : raw('')}
            GROUP BY m.event_type`,
      );
      const out: Record<string, AttemptCounts> = {};
      for (const r of rows)
        out[String(r.event_type)] = {
          success: Number(r.success),
          failure: Number(r.failure),
          canceled: Number(r.canceled),
        };
      return out;
    },

    async appAttemptSeries(appId, since, until, bucketMs, eventTypes) {
      const rows = await ex.all(
        sql`SELECT CAST((a.created_at - ${since}) / ${bucketMs} AS INTEGER) AS b, ${countWhen(SUCCESS)} AS success,
              ${countWhen(FAILURE)} AS failure, ${countWhen(CANCELED)} AS canceled
            FROM attempt a ${eventTypes && eventTypes.length > 0 ? sql`JOIN message m ON m.id = a.msg_id AND ${ctx.dialect.inList(sql`m.event_type`, eventTypes)}` : raw('')}
            WHERE a.app_id = ${appId} AND ${attemptsStarted('a', since, until)}
            GROUP BY b ORDER BY b`,
      );
      return rows.map((r) => ({
        bucket: Number(r.b),
        success: Number(r.success),
        failure: Number(r.failure),
        canceled: Number(r.canceled),
      }));
    },

    async deliveriesPerApp(appIds, since, until) {
      if (appIds.length === 0) return {};
      const rows = await ex.all(
        sql`SELECT app_id, COUNT(*) AS n FROM delivery
            WHERE ${ctx.dialect.inList(sql`app_id`, appIds)} AND created_at >= ${since} AND created_at < ${until}
            GROUP BY app_id`,
      );
      return Object.fromEntries(rows.map((r) => [String(r.app_id), Number(r.n)]));
    },

    async messagesPerEventType() {
      const rows = await ex.all(
        sql`SELECT event_type, COUNT(*) AS n FROM message WHERE app_id NOT IN ${HIDDEN_APPS}
            GROUP BY event_type ORDER BY event_type`,
      );
      return rows.map((r) => ({ eventType: String(r.event_type), messages: Number(r.n) }));
    },
  };
}
