/**
 * Messages: reading and searching what applications published (ingest is a hot path, see the
 * adapters' `queue.ts`), through the view `message_with_payload` (on PostgreSQL new payloads are
 * kept apart from the message rows).
 */
import { paged } from '../paging.ts';
import { messages } from '../schema.ts';
import { type Dialect, join, raw, type Sql, sql } from '../sql.ts';
import type { MessageFilter, Store } from '../store.ts';
import { HIDDEN_APPS } from './apps.ts';
import type { Db } from './db.ts';

/** The conditions of a message search, on the message table as `alias` (each begins with AND). */
export function messageConditions(dialect: Dialect, f: MessageFilter, alias = ''): Sql {
  const col = (name: string) => raw(`${alias}${name}`);
  let where = raw('');
  if (f.eventTypes && f.eventTypes.length > 0)
    where = sql`${where} AND ${dialect.inList(col('event_type'), f.eventTypes)}`;
  if (f.excludeEventTypes && f.excludeEventTypes.length > 0)
    where = sql`${where} AND ${dialect.notInList(col('event_type'), f.excludeEventTypes)}`;
  if (f.channel !== undefined) where = sql`${where} AND ${dialect.jsonArrayHas(col('channels'), f.channel)}`;
  if (f.anyChannel && f.anyChannel.length > 0)
    where = sql`${where} AND (${join(
      f.anyChannel.map((c) => dialect.jsonArrayHas(col('channels'), c)),
      ' OR ',
    )})`;
  if (f.idBelow !== undefined) where = sql`${where} AND ${col('id')} < ${f.idBelow}`;
  if (f.tag !== undefined) where = sql`${where} AND ${dialect.jsonArrayHas(col('tags'), f.tag)}`;
  if (f.before !== undefined) where = sql`${where} AND ${col('created_at')} < ${f.before}`;
  if (f.after !== undefined) where = sql`${where} AND ${col('created_at')} > ${f.after}`;
  return where;
}

export function messagesStore({
  ex,
  ctx,
}: Db): Pick<Store, 'getMessage' | 'listMessages' | 'listAllMessages'> {
  const read = (r: Record<string, unknown>) => messages.read(r, ctx);
  return {
    async getMessage(appId, idOrEventId) {
      const r = await ex.one(
        sql`SELECT * FROM message_with_payload WHERE app_id = ${appId} AND (id = ${idOrEventId} OR event_id = ${idOrEventId})`,
      );
      return r ? read(r) : null;
    },
    listMessages: (appId, filter, page) =>
      paged(
        ex,
        sql`SELECT * FROM message_with_payload WHERE app_id = ${appId}${messageConditions(ctx.dialect, filter)}`,
        'id',
        page,
        read,
      ),
    listAllMessages: (filter, page) =>
      paged(
        ex,
        sql`SELECT * FROM message_with_payload WHERE app_id NOT IN ${HIDDEN_APPS}${messageConditions(ctx.dialect, filter)}`,
        'id',
        page,
        read,
      ),
  };
}
