/**
 * The store adapters as the store tests open them: a fresh SQLite file, or a fresh PostgreSQL
 * database cloned from the migrated template (see pg.ts). Set HOOKLINE_TEST_STORES=sqlite
 * (comma-separated) to run only some.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { IdGenerator } from '../src/core/ids.ts';
import { endpointMatches } from '../src/core/routing.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import type { App, Attempt, Endpoint, Message } from '../src/core/types.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { ClaimedDelivery, IngestItem, RoutingEndpoint, Store } from '../src/store/store.ts';
import { tempDir } from './helpers.ts';
import { createTestDatabase } from './pg.ts';

export interface Adapter {
  name: string;
  open(): Promise<{
    store: Store;
    cleanup(): Promise<void>;
    rawDump(): string | Promise<string>;
    /** Multi-process stores: another store on the same database, as a second process would open. */
    peer?(): Store;
  }>;
}

export const ADAPTERS: Adapter[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = tempDir('hookline-store-');
      const path = join(dir, 'h.db');
      const store = createSqliteStore({ path, secretBox: createSecretBox('test-key') });
      await store.migrate();
      return {
        store,
        rawDump: () => readFileSync(path).toString('latin1') + readFileSync(`${path}-wal`).toString('latin1'),
        async cleanup() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    // A fresh database per test, cloned from the migrated template (see pg.ts).
    name: 'postgres',
    async open() {
      const db = await createTestDatabase('contract');
      const store = createPostgresStore({ url: db.url, secretBox: createSecretBox('test-key') });
      await store.migrate();
      const peers: Store[] = [];
      return {
        store,
        peer() {
          const p = createPostgresStore({ url: db.url, secretBox: createSecretBox('test-key') });
          peers.push(p);
          return p;
        },
        rawDump: async () => {
          const c = new pg.Client({ connectionString: db.url });
          await c.connect();
          try {
            const tables = ['app', 'endpoint', 'message', 'delivery', 'attempt', 'setting', 'source'];
            let dump = '';
            for (const t of tables) {
              const { rows } = await c.query(`SELECT t::text AS r FROM ${t} t`);
              dump += rows.map((r) => String(r.r)).join('\n');
            }
            return dump;
          } finally {
            await c.end();
          }
        },
        async cleanup() {
          for (const p of peers) await p.close();
          await store.close();
          await db.drop();
        },
      };
    },
  },
];

const selected = process.env.HOOKLINE_TEST_STORES?.split(',').map((s) => s.trim());
/** The adapters this run covers. */
export const selectedAdapters = (): Adapter[] =>
  ADAPTERS.filter((a) => !selected || selected.includes(a.name));

/** An application record with every field at its plain default, for store tests and benchmarks. */
export const testApp = (id: string, at: number, over: Partial<App> = {}): App => ({
  id,
  uid: null,
  name: 'A',
  throttleRate: null,
  metadata: {},
  createdAt: at,
  updatedAt: at,
  ...over,
});

/** A successful attempt (200, "ok") of a claimed delivery, for store tests and benchmarks. */
export const testAttempt = (id: string, d: ClaimedDelivery, at: number): Attempt => ({
  id,
  deliveryId: d.id,
  msgId: d.msgId,
  endpointId: d.endpointId,
  appId: d.appId,
  url: d.endpoint.url,
  status: 0,
  responseStatusCode: 200,
  response: 'ok',
  responseHeaders: { 'content-type': 'text/plain' },
  requestHeaders: { 'content-type': 'application/json' },
  durationMs: 3,
  triggerType: d.triggerType,
  createdAt: at,
});

/**
 * A new message for `store.ingest`, for store tests and benchmarks: due when it is created
 * (`options.dueAt` moves it) and routed to every endpoint of its application (`options.route`
 * routes it otherwise, `byFilters` as the API does); `over` sets fields of the message.
 */
export const testIngestItem = (
  ids: IdGenerator,
  appId: string,
  at: number,
  over: Partial<Message> = {},
  options: { dueAt?: number; route?: (eps: RoutingEndpoint[], message: Message) => string[] } = {},
): IngestItem => {
  const message: Message = {
    id: ids('message'),
    appId,
    eventId: null,
    eventType: 'invoice.paid',
    payload: '{}',
    channels: null,
    tags: null,
    createdAt: at,
    ...over,
  };
  const { route } = options;
  return {
    message,
    dueAt: options.dueAt ?? at,
    route: route ? (eps) => route(eps, message) : (eps) => eps.map((e) => e.id),
    newDeliveryId: () => ids('delivery'),
  };
};

/** Routing as the API does it: the endpoints whose event types and channels take the message. */
export const byFilters = (eps: RoutingEndpoint[], m: Message): string[] =>
  eps.filter((e) => endpointMatches(e, m.eventType, m.channels)).map((e) => e.id);

/** An endpoint record with every field at its plain default, for store tests and benchmarks. */
export const testEndpoint = (
  id: string,
  appId: string,
  at: number,
  over: Partial<Endpoint> = {},
): Endpoint => ({
  id,
  appId,
  uid: null,
  url: 'http://127.0.0.1:1/hook',
  description: '',
  disabled: false,
  eventTypes: null,
  channels: null,
  throttleRate: null,
  metadata: {},
  headers: {},
  secrets: [{ key: 'whsec_c2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2g=', expiresAt: null }],
  svixHeaders: false,
  failingSince: null,
  timeoutMs: null,
  fifo: false,
  createdAt: at,
  updatedAt: at,
  ...over,
});
