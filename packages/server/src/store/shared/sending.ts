/**
 * What Svix's sending API reads and changes beside the queue: a message's status at each of its
 * endpoints (and an endpoint's at each message), and expunging payloads and response bodies on
 * request. The status is that of the newest delivery of the message to the endpoint (a resend
 * or replay makes a new one).
 */
import type { DeliveryStatusCode } from '../../core/types.ts';
import { paged } from '../paging.ts';
import { endpoints, messages } from '../schema.ts';
import { raw, sql } from '../sql.ts';
import { CANCELED, PENDING } from '../statuses.ts';
import type { DeliveryState, Store } from '../store.ts';
import type { Db } from './db.ts';
import { messageConditions } from './messages.ts';

/** The newest delivery of `d`'s message to `d`'s endpoint (ids alone order only by the second). */
const NEWEST = raw(
  `(SELECT d2.id FROM delivery d2 WHERE d2.msg_id = d.msg_id AND d2.endpoint_id = d.endpoint_id
    ORDER BY d2.created_at DESC, d2.id DESC LIMIT 1)`,
);

const stateOf = (r: Record<string, unknown>): DeliveryState => {
  const status = Number(r.d_status) as DeliveryStatusCode;
  return {
    status,
    nextAttemptAt: String(status) === PENDING ? Number(r.d_next_attempt_at) : null,
  };
};

export function sendingStore({
  ex,
  ctx,
}: Db): Pick<
  Store,
  | 'expungeMessageContent'
  | 'expungeAttemptContent'
  | 'expungeAppContents'
  | 'listEndpointMessages'
  | 'listMessageDestinations'
  | 'cancelPendingDeliveries'
  | 'endpointThrottleNextAt'
  | 'getEndpointById'
> {
  return {
    expungeMessageContent: (appId, msgId, now) =>
      ex.tx(async (tx) => {
        const n = await tx.run(
          sql`UPDATE message SET payload = '{}', payload_expunged_at = ${now}
              WHERE app_id = ${appId} AND id = ${msgId}`,
        );
        if (n > 0 && ctx.dialect.payloadTable)
          await tx.run(sql`DELETE FROM message_payload WHERE id = ${msgId}`);
        // A chat attempt keeps the message it rendered from the payload: that goes too.
        if (n > 0) await tx.run(sql`UPDATE attempt SET request_body = NULL WHERE msg_id = ${msgId}`);
        return n > 0;
      }),

    async expungeAttemptContent(appId, attemptId) {
      return (
        (await ex.run(sql`UPDATE attempt SET response = '' WHERE app_id = ${appId} AND id = ${attemptId}`)) >
        0
      );
    },

    async expungeAppContents(appId, now, limit) {
      return ex.tx(async (tx) => {
        const ids = (
          await tx.all(
            sql`SELECT id FROM message WHERE app_id = ${appId} AND payload_expunged_at IS NULL ORDER BY id LIMIT ${raw(String(limit))}`,
          )
        ).map((r) => String(r.id));
        if (ids.length === 0) return 0;
        const inIds = ctx.dialect.inList(sql`id`, ids);
        await tx.run(sql`UPDATE message SET payload = '{}', payload_expunged_at = ${now} WHERE ${inIds}`);
        if (ctx.dialect.payloadTable) await tx.run(sql`DELETE FROM message_payload WHERE ${inIds}`);
        await tx.run(
          sql`UPDATE attempt SET request_body = NULL WHERE ${ctx.dialect.inList(sql`msg_id`, ids)}`,
        );
        return ids.length;
      });
    },

    cancelPendingDeliveries: (endpointId, createdBefore, now) =>
      // Pending only: a delivery leased by a worker is being sent and ends as its attempt says.
      ex.run(
        sql`UPDATE delivery SET status = ${raw(CANCELED)}, updated_at = ${now}
            WHERE endpoint_id = ${endpointId} AND status = ${raw(PENDING)} AND created_at < ${createdBefore}`,
      ),

    async getEndpointById(id) {
      const r = await ex.one(sql`SELECT * FROM endpoint WHERE id = ${id}`);
      return r ? endpoints.read(r, ctx) : null;
    },

    async endpointThrottleNextAt(endpointId) {
      const r = await ex.one(sql`SELECT throttle_next_at FROM endpoint WHERE id = ${endpointId}`);
      return r?.throttle_next_at === null || r?.throttle_next_at === undefined
        ? null
        : Number(r.throttle_next_at);
    },

    listEndpointMessages(appId, endpointId, filter, page) {
      let where = sql`m.app_id = ${appId}${messageConditions(ctx.dialect, filter, 'm.')}`;
      if (filter.status !== undefined) where = sql`${where} AND d.status = ${filter.status}`;
      return paged(
        ex,
        sql`SELECT m.*, d.status AS d_status, d.next_attempt_at AS d_next_attempt_at
            FROM delivery d JOIN message_with_payload m ON m.id = d.msg_id
            WHERE d.endpoint_id = ${endpointId} AND ${where}
              AND d.id = ${NEWEST}`,
        'm.id',
        page,
        (r) => ({ message: messages.read(r, ctx), ...stateOf(r) }),
      );
    },

    listMessageDestinations(appId, msgId, page) {
      return paged(
        ex,
        sql`SELECT e.*, d.status AS d_status, d.next_attempt_at AS d_next_attempt_at
            FROM delivery d JOIN endpoint e ON e.id = d.endpoint_id
            WHERE d.msg_id = ${msgId} AND e.app_id = ${appId}
              AND d.id = ${NEWEST}`,
        'e.id',
        page,
        (r) => ({ endpoint: endpoints.read(r, ctx), ...stateOf(r) }),
      );
    },
  };
}
