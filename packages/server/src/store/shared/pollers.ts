/**
 * Polling endpoints: each consumer's position, and the endpoint's poller tokens (rows of
 * `app_token` with scope `poller`; only their SHA-256 is stored, as for every token).
 */
import type { PollerConsumer } from '../../core/types.ts';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

const read = (r: Record<string, unknown>): PollerConsumer => ({
  endpointId: String(r.endpoint_id),
  consumerId: String(r.consumer_id),
  afterId: String(r.after_id),
  offset: Number(r.committed_offset),
  updatedAt: Number(r.updated_at),
});

export function pollersStore({
  ex,
}: Db): Pick<
  Store,
  | 'hasLivePollerToken'
  | 'expirePollerTokens'
  | 'getPollerConsumer'
  | 'ensurePollerConsumer'
  | 'putPollerConsumer'
  | 'commitPollerConsumer'
> {
  const get = async (endpointId: string, consumerId: string) => {
    const r = await ex.one(
      sql`SELECT * FROM poller_consumer WHERE endpoint_id = ${endpointId} AND consumer_id = ${consumerId}`,
    );
    return r ? read(r) : null;
  };
  return {
    async hasLivePollerToken(endpointId, now) {
      const r = await ex.one(
        sql`SELECT id FROM app_token
            WHERE endpoint_id = ${endpointId} AND scope = 'poller' AND revoked_at IS NULL AND expires_at > ${now}
            LIMIT 1`,
      );
      return r !== null && r !== undefined;
    },
    expirePollerTokens: (endpointId, at) =>
      ex.run(
        sql`UPDATE app_token SET expires_at = ${at}
            WHERE endpoint_id = ${endpointId} AND scope = 'poller' AND expires_at > ${at} AND revoked_at IS NULL`,
      ),

    getPollerConsumer: get,

    async ensurePollerConsumer(c) {
      await ex.run(
        sql`INSERT INTO poller_consumer (endpoint_id, consumer_id, after_id, committed_offset, updated_at)
            VALUES (${c.endpointId}, ${c.consumerId}, ${c.afterId}, ${c.offset}, ${c.updatedAt})
            ON CONFLICT (endpoint_id, consumer_id) DO NOTHING`,
      );
      return (await get(c.endpointId, c.consumerId)) ?? c;
    },

    async putPollerConsumer(c) {
      await ex.run(
        sql`INSERT INTO poller_consumer (endpoint_id, consumer_id, after_id, committed_offset, updated_at)
            VALUES (${c.endpointId}, ${c.consumerId}, ${c.afterId}, ${c.offset}, ${c.updatedAt})
            ON CONFLICT (endpoint_id, consumer_id) DO UPDATE SET
              after_id = excluded.after_id, committed_offset = excluded.committed_offset,
              updated_at = excluded.updated_at`,
      );
    },

    async commitPollerConsumer(endpointId, consumerId, fromOffset, to, now) {
      const n = await ex.run(
        sql`UPDATE poller_consumer SET after_id = ${to.afterId}, committed_offset = ${to.offset}, updated_at = ${now}
            WHERE endpoint_id = ${endpointId} AND consumer_id = ${consumerId} AND committed_offset = ${fromOffset}`,
      );
      return n > 0;
    },
  };
}
