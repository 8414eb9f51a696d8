/** Application tokens (app portal links, REST Hooks): only their SHA-256 is stored. */
import { appTokens } from '../schema.ts';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

export function tokensStore({
  ex,
  ctx,
}: Db): Pick<Store, 'insertAppToken' | 'getAppTokenByHash' | 'revokeAppToken' | 'expireAppTokens'> {
  return {
    async insertAppToken(t) {
      await ex.run(appTokens.insert(t, ctx));
    },
    async getAppTokenByHash(tokenHash) {
      const r = await ex.one(sql`SELECT * FROM app_token WHERE token_hash = ${tokenHash}`);
      return r ? appTokens.read(r, ctx) : null;
    },
    async revokeAppToken(id, now) {
      await ex.run(sql`UPDATE app_token SET revoked_at = ${now} WHERE id = ${id} AND revoked_at IS NULL`);
    },
    expireAppTokens: (appId, at) =>
      ex.run(
        sql`UPDATE app_token SET expires_at = ${at}
            WHERE app_id = ${appId} AND expires_at > ${at} AND revoked_at IS NULL`,
      ),
  };
}
