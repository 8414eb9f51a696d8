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

export interface Notifier {
  /** Subscribes to "deliveries were queued" (from this process or another); returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
  /** Tells this process's listeners at once. */
  local(): void;
  /** Notifies other processes inside the caller's transaction (sent at its commit). */
  inTx(c: Queryable): Promise<void>;
  /**
   * Notifies other processes right after a commit, at most once per NOTIFY_COALESCE_MS:
   * transactions that NOTIFY serialize their commits in PostgreSQL, and one wake-up per few
   * milliseconds is all the workers need.
   */
  soon(): void;
  /** Sends a pending notification and closes the LISTEN connection. */
  close(): Promise<void>;
}

export function createNotifier(conn: PostgresConnection): Notifier {
  const events = new EventEmitter();
  // Our own notifications are skipped: local listeners were told already.
  const instance = randomUUID();
  const notify = (c?: Queryable) => conn.query(sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${instance})`, c);
  let closed = false;

  let notifyTimer: NodeJS.Timeout | null = null;
  let lastNotify = Number.NEGATIVE_INFINITY;

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
      if (n.payload !== instance) events.emit('queued');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      reconnectDelay = 250;
      // Notifications sent while we were not listening are lost: look for work once.
      if (listening) events.emit('queued');
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
    local: () => {
      events.emit('queued');
    },
    async inTx(c) {
      await notify(c);
    },
    soon() {
      if (notifyTimer || closed) return;
      const wait = Math.max(0, lastNotify + NOTIFY_COALESCE_MS - performance.now());
      notifyTimer = setTimeout(() => {
        notifyTimer = null;
        lastNotify = performance.now();
        notify().catch(() => {});
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
        await notify().catch(() => {});
      }
      const l = listener;
      listener = null;
      await l?.end().catch(() => {});
    },
  };
}
