/**
 * Wake-ups across processes: work that is queued is announced with
 * `pg_notify('hookline_queued')`, and one dedicated connection per worker process LISTENs (and
 * reconnects), so idle workers wake within milliseconds. The workers' polling fallback covers a
 * notification that is lost (a crash just after a commit, a LISTEN connection down).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { sql } from '../sql.ts';
import type { PostgresConnection, Queryable } from './connection.ts';

const NOTIFY_CHANNEL = 'hookline_queued';
const NOTIFY_COALESCE_MS = 5;
/**
 * A notification names at most this many endpoints (ids of ~31 characters, well within
 * PostgreSQL's 8,000-byte payload); more, and it says "any endpoint".
 */
const NOTIFY_MAX_ENDPOINTS = 100;

/**
 * The payload: the sending instance, then the endpoints with new work, comma-separated, when
 * known (`instance:ep_1,ep_2`); the instance alone means any endpoint.
 */
function payloadOf(instance: string, endpointIds: ReadonlySet<string> | null): string {
  return endpointIds === null || endpointIds.size === 0
    ? instance
    : `${instance}:${[...endpointIds].join(',')}`;
}

/** Endpoints with new work, or undefined: any endpoint may have some. */
type Endpoints = readonly string[] | undefined;

export interface Notifier {
  /**
   * Subscribes to "deliveries were queued" (from this process or another), with the endpoints
   * they are for when the notification names them; returns the unsubscribe.
   */
  subscribe(listener: (endpointIds: Endpoints) => void): () => void;
  /** Tells this process's listeners at once. */
  local(endpointIds?: Endpoints): void;
  /** Notifies other processes inside the caller's transaction (sent at its commit). */
  inTx(c: Queryable): Promise<void>;
  /**
   * Notifies other processes right after a commit, at most once per NOTIFY_COALESCE_MS:
   * transactions that NOTIFY serialize their commits in PostgreSQL, and one wake-up per few
   * milliseconds is all the workers need.
   */
  soon(endpointIds?: Endpoints): void;
  /** Sends a pending notification and closes the LISTEN connection. */
  close(): Promise<void>;
}

export function createNotifier(conn: PostgresConnection): Notifier {
  const events = new EventEmitter();
  // Our own notifications are skipped: local listeners were told already.
  const instance = randomUUID();
  const notify = (c?: Queryable, endpointIds: ReadonlySet<string> | null = null) =>
    conn.query(sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${payloadOf(instance, endpointIds)})`, c);
  let closed = false;

  let notifyTimer: NodeJS.Timeout | null = null;
  let lastNotify = Number.NEGATIVE_INFINITY;
  /** The endpoints the pending notification names; null: any endpoint. */
  let pendingEndpoints: Set<string> | null = new Set();
  const takePending = () => {
    const p = pendingEndpoints;
    pendingEndpoints = new Set();
    return p;
  };

  // ---- LISTEN: one dedicated connection, opened when the first listener subscribes -------
  let listener: pg.Client | null = null;
  let listening = false;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let reconnectDelay = 250;
  async function listen(): Promise<void> {
    if (closed || listener) return;
    const client = new pg.Client(conn.clientConfig);
    listener = client;
    const retry = () => {
      if (listener !== client) return;
      listener = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (closed || events.listenerCount('queued') === 0) return;
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        void listen();
      }, reconnectDelay);
      reconnectTimer.unref?.();
      reconnectDelay = Math.min(reconnectDelay * 2, 10_000);
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (n) => {
      const payload = n.payload ?? '';
      const colon = payload.indexOf(':');
      const from = colon < 0 ? payload : payload.slice(0, colon);
      if (from === instance) return;
      events.emit('queued', colon < 0 ? undefined : payload.slice(colon + 1).split(','));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      reconnectDelay = 250;
      // Notifications sent while we were not listening are lost: look for work once.
      if (listening) events.emit('queued', undefined);
      listening = true;
    } catch {
      retry();
    }
  }

  return {
    subscribe(fn) {
      events.on('queued', fn);
      void listen();
      return () => {
        events.off('queued', fn);
      };
    },
    local: (endpointIds) => {
      events.emit('queued', endpointIds);
    },
    async inTx(c) {
      await notify(c);
    },
    soon(endpointIds) {
      if (closed) return;
      if (endpointIds === undefined) pendingEndpoints = null;
      else if (pendingEndpoints !== null) {
        for (const id of endpointIds) pendingEndpoints.add(id);
        if (pendingEndpoints.size > NOTIFY_MAX_ENDPOINTS) pendingEndpoints = null;
      }
      if (notifyTimer) return;
      const wait = Math.max(0, lastNotify + NOTIFY_COALESCE_MS - performance.now());
      notifyTimer = setTimeout(() => {
        notifyTimer = null;
        lastNotify = performance.now();
        notify(undefined, takePending()).catch(() => {});
      }, wait);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (notifyTimer) {
        // Send the last notification before the pool closes.
        clearTimeout(notifyTimer);
        notifyTimer = null;
        await notify(undefined, takePending()).catch(() => {});
      }
      const l = listener;
      listener = null;
      await l?.end().catch(() => {});
    },
  };
}
