/**
 * Stored API responses for `Idempotency-Key` replays. A key being worked on is a reservation: a
 * row with status 0 (never an HTTP status) that the response replaces, or that expires when the
 * request holding it is gone. Every statement is kept prepared on PostgreSQL: a request with a
 * key runs one or two of them before its own work.
 */
import { prepared, sql } from '../sql.ts';
import type { Store, StoredResponse } from '../store.ts';
import type { Db } from './db.ts';

/** The status of a reservation row. */
const RESERVED = 0;

/** Stores (or replaces) the response kept under `key`. */
export const upsertIdempotency = (key: string, response: StoredResponse, expiresAt: number) =>
  sql`INSERT INTO idempotency (key, status, body, expires_at)
      VALUES (${key}, ${response.status}, ${response.body}, ${expiresAt})
      ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body, expires_at = excluded.expires_at`;

export function idempotencyStore({
  ex,
}: Db): Pick<
  Store,
  'getIdempotentResponse' | 'putIdempotentResponse' | 'reserveIdempotencyKey' | 'releaseIdempotencyKey'
> {
  return {
    async getIdempotentResponse(key, now) {
      const r = await ex.one(
        prepared(
          'hookline_idempotency_get',
          sql`SELECT status, body FROM idempotency WHERE key = ${key} AND expires_at > ${now} AND status <> ${RESERVED}`,
        ),
      );
      return r ? { status: Number(r.status), body: String(r.body) } : null;
    },
    async putIdempotentResponse(key, response, expiresAt, now) {
      await ex.run(prepared('hookline_idempotency_put', upsertIdempotency(key, response, expiresAt)));
      // Expired entries leave a few at a time, with the writes that add new ones.
      await ex.run(
        prepared(
          'hookline_idempotency_expire',
          sql`DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at < ${now} LIMIT 100)`,
        ),
      );
    },
    async reserveIdempotencyKey(key, now, reservedUntil) {
      // The unique key decides: of concurrent requests (in any process) exactly one inserts the
      // row or takes over an expired one; the others see it.
      const taken = await ex.one(
        prepared(
          'hookline_idempotency_reserve',
          sql`INSERT INTO idempotency (key, status, body, expires_at) VALUES (${key}, ${RESERVED}, '', ${reservedUntil})
            ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body, expires_at = excluded.expires_at
              WHERE idempotency.expires_at <= ${now}
            RETURNING key`,
        ),
      );
      if (taken) return 'reserved';
      const r = await ex.one(
        prepared('hookline_idempotency_read', sql`SELECT status, body FROM idempotency WHERE key = ${key}`),
      );
      // Released in between: the caller asks again.
      if (!r || Number(r.status) === RESERVED) return 'pending';
      return { status: Number(r.status), body: String(r.body) };
    },
    async releaseIdempotencyKey(key) {
      await ex.run(
        prepared(
          'hookline_idempotency_release',
          sql`DELETE FROM idempotency WHERE key = ${key} AND status = ${RESERVED}`,
        ),
      );
    },
  };
}
