/** Applications: the customers of the sending SaaS. */
import { paged } from '../paging.ts';
import { apps } from '../schema.ts';
import { raw, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { Db } from './db.ts';

/** The setting that names the application holding the operational webhook endpoints. */
export const OPERATIONAL_APP_SETTING = 'operational_webhook_app_id';

/** The applications that are Hookline's own, not its users': inbound sources' and the operational one. */
export const HIDDEN_APPS = raw(
  `(SELECT app_id FROM source UNION SELECT value FROM setting WHERE key = '${OPERATIONAL_APP_SETTING}')`,
);

export function appsStore({
  ex,
  ctx,
}: Db): Pick<
  Store,
  'insertApp' | 'getApp' | 'listApps' | 'updateApp' | 'deleteApp' | 'getAppAlertEmail' | 'setAppAlertEmail'
> {
  const read = (r: Record<string, unknown>) => apps.read(r, ctx);
  return {
    async insertApp(a) {
      await ex.run(apps.insert(a, ctx));
    },
    async getApp(idOrUid) {
      const r = await ex.one(sql`SELECT * FROM app WHERE id = ${idOrUid} OR uid = ${idOrUid}`);
      return r ? read(r) : null;
    },
    // The applications inbound sources own, and the one holding operational webhook endpoints,
    // are not the API users' and are left out.
    listApps: (page) => paged(ex, sql`SELECT * FROM app WHERE id NOT IN ${HIDDEN_APPS}`, 'id', page, read),
    async updateApp(a) {
      await ex.run(
        sql`UPDATE app SET ${apps.assign(a, ctx, ['uid', 'name', 'throttleRate', 'metadata', 'updatedAt'])} WHERE id = ${a.id}`,
      );
    },
    async getAppAlertEmail(id) {
      const r = await ex.one(sql`SELECT alert_email FROM app WHERE id = ${id}`);
      return r && r.alert_email !== null ? String(r.alert_email) : null;
    },
    async setAppAlertEmail(id, email) {
      await ex.run(sql`UPDATE app SET alert_email = ${email} WHERE id = ${id}`);
    },
    // Cascades to its endpoints, messages, queue, attempts and tokens.
    async deleteApp(id) {
      await ex.run(sql`DELETE FROM app WHERE id = ${id}`);
    },
  };
}
