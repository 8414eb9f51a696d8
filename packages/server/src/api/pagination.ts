/** Svix-style list parameters and responses: `{data, iterator, prevIterator, done}`. */
import type { Page, PageQuery } from '../store/store.ts';
import type { ListQuery } from './schemas.ts';

export const DEFAULT_LIMIT = 50;

/** Reads `limit`, `iterator` (or `-key` to page backwards) and `order`. */
export function pageQuery(q: ListQuery, defaultOrder: 'asc' | 'desc'): PageQuery {
  const it = q.iterator ?? null;
  const order = q.order === 'ascending' ? 'asc' : q.order === 'descending' ? 'desc' : defaultOrder;
  return {
    limit: q.limit ?? DEFAULT_LIMIT,
    after: it !== null && !it.startsWith('-') ? it : null,
    before: it?.startsWith('-') ? it.slice(1) : null,
    order,
  };
}

export interface ListOut<T> {
  data: T[];
  iterator: string | null;
  prevIterator: string | null;
  done: boolean;
}

export function listOut<R, T>(
  page: Page<R>,
  query: PageQuery,
  key: (r: R) => string,
  map: (r: R) => T,
): ListOut<T> {
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  return {
    data: page.items.map(map),
    iterator: last ? key(last) : (query.after ?? null),
    prevIterator: first ? `-${key(first)}` : null,
    // Paging backwards, `done` means there is nothing further back.
    done: !page.more,
  };
}
