/** Background tasks (`background_task`): what recover, replays and purges report as they run. */
import { paged } from '../paging.ts';
import { backgroundTasks } from '../schema.ts';
import { raw, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

export function backgroundTasksStore({
  ex,
  ctx,
}: Db): Pick<
  Store,
  | 'insertBackgroundTask'
  | 'updateBackgroundTask'
  | 'getBackgroundTask'
  | 'listBackgroundTasks'
  | 'pruneBackgroundTasks'
> {
  const read = (r: Record<string, unknown>) => backgroundTasks.read(r, ctx);
  return {
    async insertBackgroundTask(t) {
      await ex.run(backgroundTasks.insert(t, ctx));
    },
    async updateBackgroundTask(t) {
      await ex.run(
        sql`UPDATE background_task SET ${backgroundTasks.assign(t, ctx, ['status', 'data', 'updatedAt'])}
            WHERE id = ${t.id}`,
      );
    },
    async getBackgroundTask(id) {
      const r = await ex.one(sql`SELECT * FROM background_task WHERE id = ${id}`);
      return r ? read(r) : null;
    },
    listBackgroundTasks(filter, page) {
      let where = raw('1 = 1');
      if (filter.appId !== undefined) where = sql`${where} AND app_id = ${filter.appId}`;
      if (filter.status !== undefined) where = sql`${where} AND status = ${filter.status}`;
      if (filter.kind !== undefined) where = sql`${where} AND kind = ${filter.kind}`;
      return paged(ex, sql`SELECT * FROM background_task WHERE ${where}`, 'id', page, read);
    },
    async pruneBackgroundTasks(before, keep) {
      // Finished (or failed) tasks last updated before `before`, and any beyond the newest `keep`.
      const old = await ex.run(
        sql`DELETE FROM background_task WHERE status <> 'running' AND updated_at < ${before}`,
      );
      const extra = await ex.run(
        sql`DELETE FROM background_task WHERE id IN (
              SELECT id FROM (
                SELECT id, ROW_NUMBER() OVER (ORDER BY updated_at DESC, id DESC) AS n
                FROM background_task WHERE status <> 'running'
              ) ranked WHERE n > ${keep})`,
      );
      return old + extra;
    },
  };
}
