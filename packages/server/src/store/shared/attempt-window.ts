/**
 * Time windows over the attempt log, read by id.
 *
 * The attempt log keeps no index by time: every attempt would write one more entry per index
 * (two, by application and time and by endpoint and time, were dropped by SQLite migration 25 and
 * PostgreSQL migration 39). Attempt ids are KSUIDs made when the attempt starts (`Attempt.id`), so
 * an attempt that started at `t` has an id of `t`'s second or later: "started in [since, until)"
 * is a range of ids, which the primary key and the (endpoint, id) and (message, id) indexes serve
 * (and which picks the day partitions on PostgreSQL). The bounds only narrow the scan; the time
 * condition itself stays in the query, so an id that sorts later than its start never puts an
 * attempt in the wrong window.
 */
import { idFloor } from '../../core/ids.ts';
import { raw, type Sql, sql } from '../sql.ts';

/**
 * How much later than its start an attempt's id may sort: attempts recorded before ids were made
 * at the start have the id of their end (the delivery timeout, 15 s by default, and the outcome's
 * commit later), and a clock stepped back makes ids of the second before the step until it
 * catches up. An hour covers both.
 */
const ATTEMPT_ID_LAG_MS = 3_600_000;

/** The smallest attempt id of an attempt started at or after `ms`. */
export const attemptIdFrom = (ms: number): string => idFloor('attempt', ms);

/** An id above that of every attempt started before `ms`. */
export const attemptIdBefore = (ms: number): string => idFloor('attempt', ms + ATTEMPT_ID_LAG_MS);

/**
 * `<alias>.created_at >= since [AND < until]` with the id range that holds those attempts, for a
 * WHERE clause (`alias` '' for the bare table).
 */
export function attemptsStarted(alias: string, since: number, until?: number): Sql {
  const col = raw(alias === '' ? '' : `${alias}.`);
  const from = sql`${col}id >= ${attemptIdFrom(since)} AND ${col}created_at >= ${since}`;
  return until === undefined
    ? from
    : sql`${from} AND ${col}id < ${attemptIdBefore(until)} AND ${col}created_at < ${until}`;
}
