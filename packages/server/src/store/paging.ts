/** Keyset pagination in SQL, shared by the adapters. */
import type { Page, PageQuery } from './store.ts';

export interface PageSql {
  /** A condition on the key column (or `1=1`), using `?` for the one parameter. */
  condition: string;
  params: string[];
  orderBy: string;
  limit: number;
  /** Rows come back in reverse list order and must be flipped (backwards paging). */
  reversed: boolean;
}

export function pageSql(keyColumn: string, page: PageQuery): PageSql {
  const asc = page.order === 'asc';
  if (page.before !== null) {
    // Backwards: the rows just before `before` in list order, fetched in reverse.
    return {
      condition: `${keyColumn} ${asc ? '<' : '>'} ?`,
      params: [page.before],
      orderBy: `${keyColumn} ${asc ? 'DESC' : 'ASC'}`,
      limit: page.limit + 1,
      reversed: true,
    };
  }
  return {
    condition: page.after !== null ? `${keyColumn} ${asc ? '>' : '<'} ?` : '1=1',
    params: page.after !== null ? [page.after] : [],
    orderBy: `${keyColumn} ${asc ? 'ASC' : 'DESC'}`,
    limit: page.limit + 1,
    reversed: false,
  };
}

/** Trims the look-ahead row and restores list order. */
export function toPage<T>(rows: T[], sql: PageSql): Page<T> {
  const more = rows.length > sql.limit - 1;
  const items = more ? rows.slice(0, sql.limit - 1) : rows;
  if (sql.reversed) items.reverse();
  return { items, more };
}
