/** The event type catalog. */
import { paged } from '../paging.ts';
import { eventTypes } from '../schema.ts';
import { raw, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

export function eventTypesStore({
  ex,
  ctx,
}: Db): Pick<
  Store,
  | 'insertEventType'
  | 'getEventType'
  | 'existingEventTypes'
  | 'flaggedEventTypes'
  | 'listEventTypes'
  | 'updateEventType'
  | 'setEventTypeRetrySchedule'
  | 'eventTypeRetrySchedules'
> {
  const read = (r: Record<string, unknown>) => eventTypes.read(r, ctx);
  const live = sql`archived = ${ctx.dialect.flag(false)}`;
  return {
    async insertEventType(t) {
      await ex.run(eventTypes.insert(t, ctx));
    },
    async getEventType(name) {
      const r = await ex.one(sql`SELECT * FROM event_type WHERE name = ${name}`);
      return r ? read(r) : null;
    },
    async existingEventTypes(names) {
      if (names.length === 0) return new Set<string>();
      const rows = await ex.all(
        sql`SELECT name FROM event_type WHERE ${live} AND ${ctx.dialect.inList(sql`name`, names)}`,
      );
      return new Set(rows.map((r) => String(r.name)));
    },
    async flaggedEventTypes() {
      // `feature_flags` is JSON text: null and '[]' both mean "no flags".
      const rows = await ex.all(
        sql`SELECT * FROM event_type WHERE feature_flags IS NOT NULL AND feature_flags <> '[]' ORDER BY name`,
      );
      return rows.map(read).filter((t) => t.featureFlags && t.featureFlags.length > 0);
    },
    listEventTypes: (page, includeArchived) =>
      paged(
        ex,
        sql`SELECT * FROM event_type WHERE ${includeArchived ? raw('1 = 1') : live}`,
        'name',
        page,
        read,
      ),
    async updateEventType(t) {
      const fields = [
        'description',
        'archived',
        'deprecated',
        'schemas',
        'groupName',
        'featureFlags',
        'validatePayload',
        'updatedAt',
      ] as const;
      await ex.run(sql`UPDATE event_type SET ${eventTypes.assign(t, ctx, fields)} WHERE name = ${t.name}`);
    },
    async setEventTypeRetrySchedule(name, scheduleMs, now) {
      const set = eventTypes.assign({ retryScheduleMs: scheduleMs, updatedAt: now }, ctx, [
        'retryScheduleMs',
        'updatedAt',
      ]);
      return (await ex.run(sql`UPDATE event_type SET ${set} WHERE name = ${name}`)) > 0;
    },
    async eventTypeRetrySchedules() {
      const rows = await ex.all(
        sql`SELECT name, retry_schedule FROM event_type WHERE retry_schedule IS NOT NULL`,
      );
      return new Map(rows.map((r) => [String(r.name), JSON.parse(String(r.retry_schedule)) as number[]]));
    },
  };
}
