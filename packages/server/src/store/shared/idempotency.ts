/** Stored API responses for `Idempotency-Key` replays. */
import { sql } from '../sql.ts';
import type { Store, StoredResponse } from '../store.ts';
import type { Db } from './db.ts';

/** Stores (or replaces) the response kept under `key`; shared with ingest's transaction. */
export const upsertIdempotency = (key: string, response: StoredResponse, expiresAt: number) =>
  sql`INSERT INTO idempotency (key, status, body, expires_at)
      VALUES (${key}, ${response.status}, ${response.body}, ${expiresAt})
      ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body, expires_at = excluded.expires_at`;

export function idempotencyStore({ ex }: Db): Pick<Store, 'getIdempotentResponse' | 'putIdempotentResponse'> {
  return {
    async getIdempotentResponse(key, now) {
      const r = await ex.one(
        sql`SELECT status, body FROM idempotency WHERE key = ${key} AND expires_at > ${now}`,
      );
      return r ? { status: Number(r.status), body: String(r.body) } : null;
    },
    async putIdempotentResponse(key, response, expiresAt, now) {
      await ex.run(upsertIdempotency(key, response, expiresAt));
      // Expired entries leave a few at a time, with the writes that add new ones.
      await ex.run(
        sql`DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at < ${now} LIMIT 100)`,
      );
    },
  };
}
