/**
 * The application a publish names, by id or uid, without a database round trip per message.
 *
 * Publishing is the hot path: before, every `POST /app/{app_id}/msg` read the application first
 * (about a tenth of PostgreSQL's work per delivery, and a round trip before the ingest queue).
 * This process keeps what it read for a few seconds. Being out of date is harmless where it
 * matters: an application deleted meanwhile is refused by the ingest itself (`app_not_found`),
 * and the publish is then tried once more with a fresh read (which also finds an application
 * that took over the uid). Changes made through this process are seen at once (`appsChanged`);
 * changes made through another process within `APP_TTL_MS`.
 */
import type { App } from '../core/types.ts';
import type { Store } from '../store/store.ts';

/** How long this process trusts what it read of an application. */
export const APP_TTL_MS = 2_000;
/** The most applications remembered (the oldest go first). */
const MAX_APPS = 10_000;

interface Entry {
  app: App;
  readAt: number;
}
const caches = new WeakMap<Store, Map<string, Entry>>();

/**
 * The application by id or uid, as read within the last `APP_TTL_MS` (or now); null when there is
 * none (not remembered: one created next is found at once). `fresh` reads it now.
 */
export async function publishingApp(store: Store, idOrUid: string, fresh = false): Promise<App | null> {
  let cache = caches.get(store);
  if (!cache) {
    cache = new Map();
    caches.set(store, cache);
  }
  const now = performance.now();
  const hit = fresh ? undefined : cache.get(idOrUid);
  if (hit && now - hit.readAt < APP_TTL_MS) return hit.app;
  const app = await store.getApp(idOrUid);
  cache.delete(idOrUid);
  if (!app) return null;
  if (cache.size >= MAX_APPS) cache.delete(cache.keys().next().value as string);
  cache.set(idOrUid, { app, readAt: now });
  return app;
}

/** Applications were created, changed or deleted through this process: read them again. */
export function appsChanged(store: Store): void {
  caches.get(store)?.clear();
}

/** A route of the management APIs that may change applications (any but publishing). */
export function changesApps(routeUrl: string | undefined): boolean {
  if (routeUrl === undefined || routeUrl === '/api/v1/app/:app_id/msg') return false;
  return routeUrl.startsWith('/api/v1/') || routeUrl.startsWith('/ingest/');
}
