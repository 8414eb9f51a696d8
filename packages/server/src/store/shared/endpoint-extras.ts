/**
 * An endpoint's extras (OAuth, mTLS, CA, transformation): one row per endpoint that has any,
 * removed when the last is unset. The delivery engine loads every row (`listEndpointExtras`) and
 * keeps them in memory, so endpoints without extras cost nothing per delivery.
 */
import { endpointExtras } from '../schema.ts';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

const CHANGEABLE = endpointExtras.fields.filter((f) => f !== 'endpointId');

export function endpointExtrasStore({
  ex,
  ctx,
}: Db): Pick<Store, 'getEndpointExtras' | 'putEndpointExtras' | 'listEndpointExtras'> {
  const read = (r: Record<string, unknown>) => endpointExtras.read(r, ctx);
  return {
    async getEndpointExtras(endpointId) {
      const r = await ex.one(sql`SELECT * FROM endpoint_extra WHERE endpoint_id = ${endpointId}`);
      return r ? read(r) : null;
    },
    async putEndpointExtras(e) {
      if (e.oauth === null && e.mtls === null && e.ca === null && e.transformation === null) {
        await ex.run(sql`DELETE FROM endpoint_extra WHERE endpoint_id = ${e.endpointId}`);
        return;
      }
      await ex.run(
        sql`${endpointExtras.insert(e, ctx)}
            ON CONFLICT (endpoint_id) DO UPDATE SET ${endpointExtras.assign(e, ctx, CHANGEABLE)}`,
      );
    },
    async listEndpointExtras() {
      const rows = await ex.all(sql`SELECT * FROM endpoint_extra ORDER BY endpoint_id`);
      return rows.map(read);
    },
  };
}
