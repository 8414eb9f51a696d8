/** Reading the requests received on `/in/{source}` (storing them is a hot path, see the adapters' `inbound.ts`). */
import type { InboundEvent } from '../../core/types.ts';
import { paged } from '../paging.ts';
import { inboundBodies, inboundEvents } from '../schema.ts';
import { type Row, raw, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

/**
 * An event with its bytes. Bytes that retention removed read as empty: row by row it also set
 * `body_expunged_at`; with the day's `inbound_body` partition (PostgreSQL), `inbound_body_drop`
 * says when (the first drop whose range reached past the event).
 */
const SELECT_EVENT = sql`SELECT ${raw(
  inboundEvents.names(
    inboundEvents.fields.filter((f) => f !== 'bodyExpungedAt'),
    'e',
  ),
)},
    b.headers, b.body,
    CASE WHEN b.id IS NULL THEN coalesce(e.body_expunged_at,
      (SELECT min(d.dropped_at) FROM inbound_body_drop d WHERE d.upper_id > e.id)) END AS body_expunged_at
  FROM inbound_event e LEFT JOIN inbound_body b ON b.id = e.id`;

function readEvent(r: Row, ctx: Db['ctx']): Omit<InboundEvent, 'messageIds'> {
  const gone = r.body === null || r.body === undefined;
  return {
    ...inboundEvents.read(r, ctx),
    ...(gone ? { headers: [], body: Buffer.alloc(0) } : inboundBodies.pick(r, ctx, ['headers', 'body'])),
  };
}

/** Events with the ids of the messages each was split into (a Salesforce Outbound Message). */
async function withParts({ ex, ctx }: Db, rows: Row[]): Promise<InboundEvent[]> {
  const events = rows.map((r) => readEvent(r, ctx));
  if (events.length === 0) return [];
  const parts = await ex.all(
    sql`SELECT event_id, msg_id FROM inbound_part
        WHERE ${ctx.dialect.inList(
          sql`event_id`,
          events.map((e) => e.id),
        )} ORDER BY msg_id`,
  );
  const byEvent = new Map<string, string[]>();
  for (const p of parts) {
    const ids = byEvent.get(String(p.event_id)) ?? [];
    ids.push(String(p.msg_id));
    byEvent.set(String(p.event_id), ids);
  }
  return events.map((e) => ({ ...e, messageIds: byEvent.get(e.id) ?? null }));
}

export function inboundEventsStore(db: Db): Pick<Store, 'listInboundEvents' | 'getInboundEvent'> {
  const { ex } = db;
  return {
    async listInboundEvents(sourceId, f, page) {
      let select = sql`${SELECT_EVENT} WHERE e.source_id = ${sourceId}`;
      if (f.status !== undefined) select = sql`${select} AND e.status = ${f.status}`;
      if (f.before !== undefined) select = sql`${select} AND e.received_at < ${f.before}`;
      if (f.after !== undefined) select = sql`${select} AND e.received_at > ${f.after}`;
      const rows = await paged(ex, select, 'e.id', page, (r) => r);
      return { items: await withParts(db, rows.items), more: rows.more };
    },
    async getInboundEvent(sourceId, id) {
      const r = await ex.one(sql`${SELECT_EVENT} WHERE e.source_id = ${sourceId} AND e.id = ${id}`);
      return r ? ((await withParts(db, [r]))[0] ?? null) : null;
    },
  };
}
