/**
 * Inbound sources. A source owns an application whose endpoints are its destinations, so
 * forwarding is ordinary delivery; `core/source-app.ts` decides what saving a source does to them.
 */
import {
  destinationEndpoint,
  destinationOf,
  planDestinationSync,
  sourceApp,
  sourceAppName,
} from '../../core/source-app.ts';
import type { Source } from '../../core/types.ts';
import { paged } from '../paging.ts';
import { apps, endpoints, sources } from '../schema.ts';
import { prepared, type Row, raw, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

/**
 * The columns read by name, not `*`: a statement kept prepared must not change its result's shape
 * when a migration adds a column while the process runs.
 */
const SOURCE_COLUMNS = sources.names(sources.fields);

/** Every field but the keys and the creation time: what saving a source writes. */
const CHANGEABLE = sources.fields.filter((f) => f !== 'id' && f !== 'appId' && f !== 'createdAt');

/** Source rows with their destinations (the endpoints of each source's application), in one query. */
async function withDestinations({ ex, ctx }: Db, rows: Row[]): Promise<Source[]> {
  if (rows.length === 0) return [];
  const list = rows.map((r) => sources.read(r, ctx));
  const eps = await ex.all(
    sql`SELECT * FROM endpoint WHERE ${ctx.dialect.inList(
      sql`app_id`,
      list.map((s) => s.appId),
    )} ORDER BY id`,
  );
  const byApp = new Map<string, Source['destinations']>();
  for (const r of eps) {
    const e = endpoints.read(r, ctx);
    const ds = byApp.get(e.appId) ?? [];
    ds.push(destinationOf(e));
    byApp.set(e.appId, ds);
  }
  return list.map((s) => ({ ...s, destinations: byApp.get(s.appId) ?? [] }));
}

export function sourcesStore(
  db: Db,
): Pick<
  Store,
  'insertSource' | 'getSource' | 'getSourceSettings' | 'listSources' | 'updateSource' | 'deleteSource'
> {
  const { ex, ctx } = db;
  // Every request to /in reads its source: kept prepared on PostgreSQL (parsed and planned once
  // per connection, not for each request).
  const sourceRow = (idOrName: string) =>
    ex.one(
      prepared(
        'hookline_source',
        sql`SELECT ${raw(SOURCE_COLUMNS)} FROM source WHERE id = ${idOrName} OR name = ${idOrName}`,
      ),
    );
  return {
    insertSource: (src) =>
      ex.tx(async (tx) => {
        await tx.run(apps.insert(sourceApp(src), ctx));
        await tx.run(sources.insert(src, ctx));
        for (const d of src.destinations)
          await tx.run(endpoints.insert(destinationEndpoint(src, d, src.createdAt), ctx));
      }),
    async getSource(idOrName) {
      const r = await sourceRow(idOrName);
      return r ? ((await withDestinations(db, [r]))[0] ?? null) : null;
    },
    async getSourceSettings(idOrName) {
      const r = await sourceRow(idOrName);
      return r ? sources.read(r, ctx) : null;
    },
    async listSources(page) {
      const rows = await paged(ex, sql`SELECT * FROM source WHERE 1 = 1`, 'id', page, (r) => r);
      return { items: await withDestinations(db, rows.items), more: rows.more };
    },
    updateSource: (src) =>
      ex.tx(async (tx) => {
        await tx.run(sql`UPDATE source SET ${sources.assign(src, ctx, CHANGEABLE)} WHERE id = ${src.id}`);
        await tx.run(
          sql`UPDATE app SET name = ${sourceAppName(src)}, updated_at = ${src.updatedAt} WHERE id = ${src.appId}`,
        );
        const plan = planDestinationSync(src);
        await tx.run(
          sql`DELETE FROM endpoint WHERE app_id = ${src.appId} AND ${ctx.dialect.notInList(sql`id`, plan.keep)}`,
        );
        for (const { id, update, create } of plan.upserts) {
          const fields = Object.keys(update) as (keyof typeof update & string)[];
          const changed = await tx.run(
            sql`UPDATE endpoint SET ${endpoints.assign(update, ctx, fields)} WHERE id = ${id} AND app_id = ${src.appId}`,
          );
          if (changed === 0) await tx.run(endpoints.insert(create, ctx));
        }
      }),
    // The application's deletion cascades to the source, its events, endpoints and queue.
    async deleteSource(id) {
      await ex.run(sql`DELETE FROM app WHERE id = (SELECT app_id FROM source WHERE id = ${id})`);
    },
  };
}
