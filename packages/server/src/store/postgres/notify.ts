/**
 * Wake-ups across processes: work that is queued is announced with
 * `pg_notify('hookline_queued')`, and one dedicated connection per worker process LISTENs (and
 * reconnects), so idle workers wake within milliseconds. The workers' polling fallback covers a
 * notification that is lost (a crash just after a commit, a LISTEN connection down).
 *
 * With several worker processes, a notification that woke them all made them all claim, and all
 * but one came back empty (two workers on one endpoint: half of their claims, and each empty
 * claim is a transaction and a look for the next due time). So the worker processes
 * ("dispatchers") split the endpoints among themselves: each names itself on its LISTEN
 * connection (`application_name`), reads every DISPATCHERS_REFRESH_MS who else does, and gives
 * every endpoint one first in line (rendezvous hashing: the same answer in every process, and a
 * dispatcher that comes or goes moves only its own share). A dispatcher is woken at once for
 * the endpoints it is first in line for, and for the others at most every SHARED_WAKE_MS: if
 * their first in line is gone or behind, it takes the work then. Who is first in line decides
 * who wakes, and how soon a dispatcher looks again for work it could not take (`leads`; the
 * dispatcher's SHARED_POLL_MS); a claim leaves another's busy endpoint to it until its work has
 * waited (`ClaimOptions.deferEndpoints`), and takes due work of any other endpoint.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { prepared, sql } from '../sql.ts';
import type { PostgresConnection, Queryable } from './connection.ts';

const NOTIFY_CHANNEL = 'hookline_queued';
const NOTIFY_COALESCE_MS = 5;
/**
 * A notification that could not be sent (the pool could not reach the database) is sent again
 * after this long, then twice as long each time up to NOTIFY_RETRY_MAX_MS: without it, the
 * workers found its work only at their idle poll.
 */
const NOTIFY_RETRY_MS = 100;
const NOTIFY_RETRY_MAX_MS = 5_000;
/**
 * A notification names at most this many endpoints (ids of ~31 characters, well within
 * PostgreSQL's 8,000-byte payload); more, and it says "any endpoint".
 */
const NOTIFY_MAX_ENDPOINTS = 100;
/** How a dispatcher names itself in `pg_stat_activity.application_name` (then its instance). */
const DISPATCHER_NAME = 'hookline-dispatcher:';
/** How often a dispatcher reads which others are connected. */
const DISPATCHERS_REFRESH_MS = 2_000;
/** A dispatcher is woken for endpoints others are first in line for at most this often. */
const SHARED_WAKE_MS = 250;

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
   * they are for when the notification names them; returns the unsubscribe. A `dispatcher`
   * (a process claiming work of any endpoint) is told at once of the endpoints it is first in
   * line for among the connected dispatchers, of the others at most every SHARED_WAKE_MS.
   */
  subscribe(listener: (endpointIds: Endpoints) => void, options?: { dispatcher?: boolean }): () => void;
  /**
   * Whether this process is first in line for the endpoint among the connected dispatchers (or
   * alone, or not among them yet): its dispatchers are told of the endpoint's news at once.
   */
  leads(endpointId: string): boolean;
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

/** A weight of (dispatcher, endpoint): FNV-1a over both, then murmur3's finalizer to spread it. */
function weight(dispatcher: string, endpointId: string): number {
  let h = 0x811c9dc5;
  for (const text of [dispatcher, endpointId]) {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The dispatcher first in line for an endpoint: the one of highest weight (rendezvous hashing).
 * Every process that reads the same dispatchers picks the same one; one more or one fewer
 * moves only the endpoints it takes or had.
 */
export function firstInLine(dispatchers: readonly string[], endpointId: string): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const d of dispatchers) {
    const w = weight(d, endpointId);
    if (w > bestWeight || (w === bestWeight && best !== undefined && d < best)) {
      best = d;
      bestWeight = w;
    }
  }
  return best;
}

export function createNotifier(conn: PostgresConnection): Notifier {
  type Listener = (endpointIds: Endpoints) => void;
  /** Every subscriber but the dispatchers (`hookline listen` sessions): told of everything at once. */
  const plain = new Set<Listener>();
  const dispatchers = new Set<Listener>();
  const tell = (listeners: Set<Listener>, endpointIds: Endpoints) => {
    for (const fn of listeners) fn(endpointIds);
  };
  const tellAll = (endpointIds: Endpoints) => {
    tell(plain, endpointIds);
    tell(dispatchers, endpointIds);
  };
  const subscribers = () => plain.size + dispatchers.size;
  // Our own notifications are skipped: local listeners were told already.
  const instance = randomUUID();
  // Prepared: parsed once per connection, not once per notification.
  const notify = (c?: Queryable, endpointIds: ReadonlySet<string> | null = null) =>
    conn.query(
      prepared(
        'hookline_notify',
        sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${payloadOf(instance, endpointIds)})`,
      ),
      c,
    );
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
  const addPending = (endpointIds: Iterable<string> | undefined) => {
    if (endpointIds === undefined) pendingEndpoints = null;
    else if (pendingEndpoints !== null) {
      for (const id of endpointIds) pendingEndpoints.add(id);
      if (pendingEndpoints.size > NOTIFY_MAX_ENDPOINTS) pendingEndpoints = null;
    }
  };
  let retryDelay = NOTIFY_RETRY_MS;
  /** Sends the pending notification; one that fails is sent again later (NOTIFY_RETRY_MS). */
  function sendPending() {
    notifyTimer = null;
    lastNotify = performance.now();
    const endpointIds = takePending();
    notify(undefined, endpointIds).then(
      () => {
        retryDelay = NOTIFY_RETRY_MS;
      },
      () => {
        if (closed) return;
        addPending(endpointIds ?? undefined);
        // A notification set meanwhile carries these too.
        if (notifyTimer) return;
        notifyTimer = setTimeout(sendPending, retryDelay);
        retryDelay = Math.min(retryDelay * 2, NOTIFY_RETRY_MAX_MS);
      },
    );
  }

  // ---- Dispatchers: who is connected, who is first in line for what ------------------------
  /** The connected dispatchers' instances as last read (in any order); this one's among them or not. */
  let members: string[] = [];
  let refreshTimer: NodeJS.Timeout | null = null;
  /** Endpoints others are first in line for, told to this process's dispatchers at the timer. */
  let later = new Set<string>();
  let laterTimer: NodeJS.Timeout | null = null;

  /** First in line for the endpoint, or alone, or not seen yet among the dispatchers. */
  const leads = (endpointId: string) =>
    members.length < 2 || !members.includes(instance) || firstInLine(members, endpointId) === instance;

  /** Tells the dispatchers of news from another process: theirs at once, the rest later. */
  function route(endpointIds: Endpoints) {
    if (dispatchers.size === 0) return;
    // Any endpoint: at once.
    if (endpointIds === undefined) {
      tell(dispatchers, endpointIds);
      return;
    }
    const mine: string[] = [];
    for (const id of endpointIds) {
      if (leads(id)) mine.push(id);
      else later.add(id);
    }
    if (mine.length > 0) tell(dispatchers, mine);
    if (later.size > 0 && !laterTimer) {
      laterTimer = setTimeout(() => {
        laterTimer = null;
        const ids = [...later];
        later = new Set();
        tell(dispatchers, ids);
      }, SHARED_WAKE_MS);
      laterTimer.unref?.();
    }
  }

  /** Names this process a dispatcher on the LISTEN connection, then reads the others. */
  async function announce(client: pg.Client) {
    if (dispatchers.size === 0) return;
    // `instance` is a UUID: nothing in it needs quoting.
    await client.query(`SET application_name = '${DISPATCHER_NAME}${instance}'`);
    await refreshMembers();
  }

  async function refreshMembers() {
    const client = ready;
    if (!client || dispatchers.size === 0) return;
    try {
      const { rows } = await client.query<{ name: string }>(
        `SELECT application_name AS name FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE '${DISPATCHER_NAME}%'`,
      );
      members = rows.map((r) => r.name.slice(DISPATCHER_NAME.length));
    } catch {
      // The last reading stands; the connection's own error handling reconnects.
    }
  }

  // ---- LISTEN: one dedicated connection, opened when the first listener subscribes -------
  let listener: pg.Client | null = null;
  /** The LISTEN connection once it listens; null while (re)connecting. */
  let ready: pg.Client | null = null;
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
      ready = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (closed || subscribers() === 0) return;
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
      const endpointIds = colon < 0 ? undefined : payload.slice(colon + 1).split(',');
      tell(plain, endpointIds);
      route(endpointIds);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      if (listener !== client) return;
      ready = client;
      await announce(client);
      reconnectDelay = 250;
      // Notifications sent while we were not listening are lost: look for work once.
      if (listening) tellAll(undefined);
      listening = true;
    } catch {
      retry();
    }
  }

  return {
    subscribe(fn, options = {}) {
      if (options.dispatcher) {
        dispatchers.add(fn);
        if (dispatchers.size === 1) {
          if (ready) void announce(ready).catch(() => {});
          refreshTimer = setInterval(() => void refreshMembers(), DISPATCHERS_REFRESH_MS);
          refreshTimer.unref?.();
        }
      } else plain.add(fn);
      void listen();
      return () => {
        if (!options.dispatcher) {
          plain.delete(fn);
          return;
        }
        if (!dispatchers.delete(fn) || dispatchers.size > 0) return;
        // No dispatcher here any more: the others stop counting on this process.
        if (refreshTimer) clearInterval(refreshTimer);
        refreshTimer = null;
        members = [];
        void ready?.query(`SET application_name = ''`).catch(() => {});
      };
    },
    leads,
    local: (endpointIds) => {
      tellAll(endpointIds);
    },
    async inTx(c) {
      await notify(c);
    },
    soon(endpointIds) {
      if (closed) return;
      addPending(endpointIds);
      if (notifyTimer) return;
      notifyTimer = setTimeout(sendPending, Math.max(0, lastNotify + NOTIFY_COALESCE_MS - performance.now()));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (refreshTimer) clearInterval(refreshTimer);
      if (laterTimer) clearTimeout(laterTimer);
      if (notifyTimer) {
        // Send the last notification before the pool closes.
        clearTimeout(notifyTimer);
        notifyTimer = null;
        await notify(undefined, takePending()).catch(() => {});
      }
      const l = listener;
      listener = null;
      ready = null;
      await l?.end().catch(() => {});
    },
  };
}
