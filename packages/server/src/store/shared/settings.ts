/** Server settings: small key/value pairs (the admin token's hash, the secret key's fingerprint, ...). */
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

export function settingsStore({
  ex,
  ctx,
}: Db): Pick<Store, 'getSetting' | 'setSetting' | 'setSettingIfAbsent' | 'listSettings' | 'deleteSettings'> {
  const get = async (key: string) => {
    const r = await ex.one(sql`SELECT value FROM setting WHERE key = ${key}`);
    return r ? String(r.value) : null;
  };
  return {
    getSetting: get,
    async setSetting(key, value) {
      await ex.run(
        sql`INSERT INTO setting (key, value) VALUES (${key}, ${value})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      );
    },
    async setSettingIfAbsent(key, value) {
      await ex.run(
        sql`INSERT INTO setting (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO NOTHING`,
      );
      return (await get(key)) ?? value;
    },
    async listSettings(prefix) {
      // LIKE narrows (`_` and `%` in the prefix match more than themselves); startsWith decides.
      const rows = await ex.all(sql`SELECT key, value FROM setting WHERE key LIKE ${`${prefix}%`}`);
      return rows
        .map((r) => ({ key: String(r.key), value: String(r.value) }))
        .filter((r) => r.key.startsWith(prefix));
    },
    async deleteSettings(keys) {
      if (keys.length > 0) await ex.run(sql`DELETE FROM setting WHERE ${ctx.dialect.inList(sql`key`, keys)}`);
    },
  };
}
