/** Applications: the customers of the sending SaaS. */
import { paged } from '../paging.ts';
import { apps } from '../schema.ts';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

export function appsStore({
  ex,
  ctx,
}: Db): Pick<Store, 'insertApp' | 'getApp' | 'listApps' | 'updateApp' | 'deleteApp'> {
  const read = (r: Record<string, unknown>) => apps.read(r, ctx);
  return {
    async insertApp(a) {
      await ex.run(apps.insert(a, ctx));
    },
    async getApp(idOrUid) {
      const r = await ex.one(sql`SELECT * FROM app WHERE id = ${idOrUid} OR uid = ${idOrUid}`);
      return r ? read(r) : null;
    },
    // The applications inbound sources own are not the API users' and are left out.
    listApps: (page) =>
      paged(ex, sql`SELECT * FROM app WHERE id NOT IN (SELECT app_id FROM source)`, 'id', page, read),
    async updateApp(a) {
      await ex.run(
        sql`UPDATE app SET ${apps.assign(a, ctx, ['uid', 'name', 'throttleRate', 'metadata', 'updatedAt'])} WHERE id = ${a.id}`,
      );
    },
    // Cascades to its endpoints, messages, queue, attempts and tokens.
    async deleteApp(id) {
      await ex.run(sql`DELETE FROM app WHERE id = ${id}`);
    },
  };
}
