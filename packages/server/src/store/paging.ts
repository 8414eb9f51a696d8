/** Keyset pagination (Svix's `iterator`), for every list the store serves. */
import { type Executor, type Row, raw, type Sql, sql } from './sql.ts';
import type { Page, PageQuery } from './store.ts';

/**
 * One page of `select` (a `SELECT ... FROM ... WHERE ...` without ORDER BY or LIMIT), keyed by
 * the unique, ordered column `key`. Fetches one row more than asked to know whether more follow.
 */
export async function paged<T>(
  ex: Executor,
  select: Sql,
  key: string,
  page: PageQuery,
  map: (r: Row) => T,
): Promise<Page<T>> {
  const asc = page.order === 'asc';
  const k = raw(key);
  // Backwards (`before`): the rows just before the key in list order, fetched in reverse.
  const backwards = page.before !== null;
  const cursor = backwards ? page.before : page.after;
  const forward = asc !== backwards;
  const condition =
    cursor === null ? raw('') : forward ? sql` AND ${k} > ${cursor}` : sql` AND ${k} < ${cursor}`;
  const rows = await ex.all(
    sql`${select}${condition} ORDER BY ${k} ${raw(forward ? 'ASC' : 'DESC')} LIMIT ${raw(String(page.limit + 1))}`,
  );
  const more = rows.length > page.limit;
  const items = (more ? rows.slice(0, page.limit) : rows).map(map);
  if (backwards) items.reverse();
  return { items, more };
}
