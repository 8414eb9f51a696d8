/** Reading the requests received on `/in/{source}` (storing them is a hot path, see the adapters' `inbound.ts`). */
import type { InboundEvent } from '../../core/types.ts';
import { paged } from '../paging.ts';
import { inboundEvents } from '../schema.ts';
import { type Row, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

/** Events with the ids of the messages each was split into (a Salesforce Outbound Message). */
async function withParts({ ex, ctx }: Db, rows: Row[]): Promise<InboundEvent[]> {
  const events = rows.map((r) => inboundEvents.read(r, ctx));
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
      let select = sql`SELECT * FROM inbound_event WHERE source_id = ${sourceId}`;
      if (f.status !== undefined) select = sql`${select} AND status = ${f.status}`;
      if (f.before !== undefined) select = sql`${select} AND received_at < ${f.before}`;
      if (f.after !== undefined) select = sql`${select} AND received_at > ${f.after}`;
      const rows = await paged(ex, select, 'id', page, (r) => r);
      return { items: await withParts(db, rows.items), more: rows.more };
    },
    async getInboundEvent(sourceId, id) {
      const r = await ex.one(sql`SELECT * FROM inbound_event WHERE source_id = ${sourceId} AND id = ${id}`);
      return r ? ((await withParts(db, [r]))[0] ?? null) : null;
    },
  };
}
