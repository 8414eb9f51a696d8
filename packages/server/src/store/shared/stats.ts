/** Numbers about the queue and the attempt log, for `/metrics` and the endpoint health charts. */
import { DeliveryStatus, STATUS_TEXT } from '../../core/types.ts';
import { raw, sql } from '../sql.ts';
import { OPEN, PENDING, SENDING } from '../statuses.ts';
import type { EndpointStats, SeriesBucket, Store } from '../store.ts';
import { attemptsStarted } from './attempt-window.ts';
import type { Db } from './db.ts';

const countWhen = (condition: ReturnType<typeof sql>) =>
  sql`COALESCE(SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;

export function statsStore({ ex, ctx }: Db): Pick<Store, 'queueStats' | 'endpointStats' | 'endpointSeries'> {
  return {
    async queueStats(now, thresholds) {
      const pending = raw(`status = ${PENDING}`);
      const due = sql`status = ${raw(PENDING)} AND next_attempt_at <= ${now}`;
      const q = await ex.one(
        sql`SELECT ${countWhen(pending)} AS pending, ${countWhen(raw(`status = ${SENDING}`))} AS sending,
              ${countWhen(due)} AS due, MIN(CASE WHEN ${due} THEN next_attempt_at END) AS oldest
            FROM delivery WHERE status IN (${raw(OPEN)})`,
      );
      const failing = (
        await ex.all(
          sql`SELECT failing_since FROM endpoint WHERE failing_since IS NOT NULL AND disabled = ${ctx.dialect.flag(false)}`,
        )
      ).map((r) => Number(r.failing_since));
      return {
        pending: Number(q?.pending ?? 0),
        due: Number(q?.due ?? 0),
        sending: Number(q?.sending ?? 0),
        oldestDueAt: q?.oldest === null || q?.oldest === undefined ? null : Number(q.oldest),
        failingEndpoints: thresholds.map((thresholdMs) => ({
          thresholdMs,
          count: failing.filter((since) => now - since > thresholdMs).length,
        })),
      };
    },

    async endpointStats(endpointId, since, until) {
      const stats: EndpointStats = { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 };
      const rows = await ex.all(
        sql`SELECT status, COUNT(*) AS n FROM delivery
            WHERE endpoint_id = ${endpointId} AND created_at >= ${since} AND created_at < ${until}
            GROUP BY status`,
      );
      for (const r of rows) {
        const name = STATUS_TEXT[Number(r.status)] as keyof EndpointStats | undefined;
        if (name && name in stats) stats[name] = Number(r.n);
      }
      return stats;
    },

    async endpointSeries(endpointId, since, until, bucketMs) {
      // Nearest-rank percentile: the smallest duration whose rank within its bucket is at least
      // ceil(p * n).
      const rows = await ex.all(
        sql`WITH w AS (
              SELECT CAST((created_at - ${since}) / ${bucketMs} AS INTEGER) AS b, duration_ms, status
              FROM attempt WHERE endpoint_id = ${endpointId} AND ${attemptsStarted('', since, until)}
            ), r AS (
              SELECT b, duration_ms, status,
                ROW_NUMBER() OVER (PARTITION BY b ORDER BY duration_ms) AS rn,
                COUNT(*) OVER (PARTITION BY b) AS n
              FROM w
            )
            SELECT b, MAX(n) AS attempts, ${countWhen(raw(`status = ${DeliveryStatus.success}`))} AS successes,
              MIN(CASE WHEN rn * 100 >= n * 50 THEN duration_ms END) AS p50,
              MIN(CASE WHEN rn * 100 >= n * 95 THEN duration_ms END) AS p95
            FROM r GROUP BY b ORDER BY b`,
      );
      return rows.map(
        (r): SeriesBucket => ({
          start: since + Number(r.b) * bucketMs,
          attempts: Number(r.attempts),
          successes: Number(r.successes),
          p50Ms: Number(r.p50),
          p95Ms: Number(r.p95),
        }),
      );
    },
  };
}
