/** Endpoints: where an application's messages are delivered. */
import { paged } from '../paging.ts';
import { endpoints } from '../schema.ts';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

/** Every field but the keys: what `updateEndpoint` writes. */
const CHANGEABLE = endpoints.fields.filter((f) => f !== 'id' && f !== 'appId');

export function endpointsStore({
  ex,
  ctx,
}: Db): Pick<
  Store,
  'insertEndpoint' | 'getEndpoint' | 'listEndpoints' | 'updateEndpoint' | 'deleteEndpoint'
> {
  const read = (r: Record<string, unknown>) => endpoints.read(r, ctx);
  return {
    async insertEndpoint(e) {
      await ex.run(endpoints.insert(e, ctx));
    },
    async getEndpoint(appId, idOrUid) {
      const r = await ex.one(
        sql`SELECT * FROM endpoint WHERE app_id = ${appId} AND (id = ${idOrUid} OR uid = ${idOrUid})`,
      );
      return r ? read(r) : null;
    },
    listEndpoints(appId, page, filter = {}) {
      let where = sql`SELECT * FROM endpoint WHERE app_id = ${appId}`;
      if (filter.url !== undefined) where = sql`${where} AND url = ${filter.url}`;
      if (filter.metadata && Object.keys(filter.metadata).length > 0)
        where = sql`${where} AND ${ctx.dialect.jsonObjectHas(sql`metadata`, filter.metadata)}`;
      return paged(ex, where, 'id', page, read);
    },
    async updateEndpoint(e) {
      await ex.run(
        sql`UPDATE endpoint SET ${endpoints.assign(e, ctx, CHANGEABLE)} WHERE id = ${e.id} AND app_id = ${e.appId}`,
      );
    },
    // Cascades to its queue and attempts.
    async deleteEndpoint(appId, id) {
      await ex.run(sql`DELETE FROM endpoint WHERE id = ${id} AND app_id = ${appId}`);
    },
  };
}
