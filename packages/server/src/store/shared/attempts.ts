/** The attempt log: searching and reading attempts (recording them is a hot path, see the adapters' `queue.ts`). */
import { paged } from '../paging.ts';
import { attempts } from '../schema.ts';
import { type Sql, sql } from '../sql.ts';
import type { AttemptFilter, Store } from '../store.ts';
import { attemptIdBefore, attemptIdFrom } from './attempt-window.ts';
import type { Db } from './db.ts';
import { messageConditions } from './messages.ts';

/** `SELECT a.* FROM attempt a [JOIN message m] WHERE ...` for a search. */
function attemptSearch({ ctx }: Db, f: AttemptFilter): Sql {
  let where = sql`a.app_id = ${f.appId}`;
  if (f.endpointId) where = sql`${where} AND a.endpoint_id = ${f.endpointId}`;
  if (f.msgId) where = sql`${where} AND a.msg_id = ${f.msgId}`;
  if (f.msgIds) where = sql`${where} AND ${ctx.dialect.inList(sql`a.msg_id`, f.msgIds)}`;
  if (f.status !== undefined) where = sql`${where} AND a.status = ${f.status}`;
  if (f.statusCodeClass !== undefined) {
    // 0 stands for "no response"; 200 for 2xx, and so on.
    where =
      f.statusCodeClass === 0
        ? sql`${where} AND a.response_status_code = 0`
        : sql`${where} AND a.response_status_code >= ${f.statusCodeClass} AND a.response_status_code < ${f.statusCodeClass + 100}`;
  }
  if (f.before !== undefined)
    where = sql`${where} AND a.id < ${attemptIdBefore(f.before)} AND a.created_at < ${f.before}`;
  if (f.after !== undefined)
    where = sql`${where} AND a.id >= ${attemptIdFrom(f.after)} AND a.created_at > ${f.after}`;
  const byMessage =
    (f.eventTypes && f.eventTypes.length > 0) ||
    (f.excludeEventTypes && f.excludeEventTypes.length > 0) ||
    f.channel !== undefined;
  if (!byMessage) return sql`SELECT a.* FROM attempt a WHERE ${where}`;
  const m = messageConditions(
    ctx.dialect,
    { eventTypes: f.eventTypes, excludeEventTypes: f.excludeEventTypes, channel: f.channel },
    'm.',
  );
  return sql`SELECT a.* FROM attempt a JOIN message m ON m.id = a.msg_id WHERE ${where}${m}`;
}

export function attemptsStore(db: Db): Pick<Store, 'listAttempts' | 'getAttempt' | 'countAttempts'> {
  const { ex, ctx } = db;
  const read = (r: Record<string, unknown>) => attempts.read(r, ctx);
  return {
    listAttempts: (f, page) => paged(ex, attemptSearch(db, f), 'a.id', page, read),
    async countAttempts(f) {
      const r = await ex.one(sql`SELECT COUNT(*) AS n FROM (${attemptSearch(db, f)}) counted`);
      return Number(r?.n ?? 0);
    },
    async getAttempt(appId, id) {
      const r = await ex.one(sql`SELECT * FROM attempt WHERE app_id = ${appId} AND id = ${id}`);
      return r ? read(r) : null;
    },
  };
}
