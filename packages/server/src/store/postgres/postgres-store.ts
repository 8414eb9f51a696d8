/**
 * The scale-out store: PostgreSQL through node-postgres (`pg`), shared by any number of API and
 * worker processes on any number of machines.
 *
 * - Claims lock due rows with `FOR UPDATE SKIP LOCKED` (workers never wait on each other's
 *   rows) and lease them by writing the lease end into `next_attempt_at`.
 * - Per-endpoint limits (in-flight, FIFO, rate) are decided with the endpoint rows locked, so
 *   they hold across processes (see `claim-plan.ts`).
 * - Work that is queued is announced with `pg_notify('hookline_queued')` (ingest right after
 *   its commit, coalesced; resend, recover and retries inside their transactions); one dedicated
 *   connection per worker process LISTENs (and reconnects), so idle workers wake within
 *   milliseconds.
 * - Inbound deduplication (`receiveInbound`) is serialized per (source, dedupe key) with
 *   transaction-scoped advisory locks: a time window cannot be a unique index.
 * - Every connection failure or timeout becomes `StoreUnavailableError` (the API answers 503).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { SecretBox } from '../../core/secret-box.ts';
import {
  DeliveryStatus,
  type Endpoint,
  type EndpointKind,
  type InboundStatus,
  type Source,
  type SourceDestination,
  type SourceDestinationKind,
  TriggerType,
  type TriggerTypeCode,
} from '../../core/types.ts';
import { attemptFilterSql } from '../attempt-filter.ts';
import { type EndpointGate, planClaim, rateOf } from '../claim-plan.ts';
import { type PageSql, pageSql, toPage } from '../paging.ts';
import { createRowMappers, json, num, numOrNull, parse, type Row, str, strOrNull } from '../rows.ts';
import { destinationEndpoint, handshakeFromColumn, sourceAppMetadata, sourceAppName } from '../sources.ts';
import type {
  ClaimedDelivery,
  DeliveryScope,
  EndpointStats,
  InboundItem,
  InboundPart,
  InboundResult,
  IngestResult,
  MessageFilter,
  Page,
  PageQuery,
  RoutingEndpoint,
  SeriesBucket,
  Store,
  StoredResponse,
} from '../store.ts';
import { StoreConflictError, StoreUnavailableError } from '../store-errors.ts';
import { POSTGRES_MIGRATIONS } from './migrations.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database?...` */
  url: string;
  secretBox: SecretBox;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Give up connecting after this long (default 5 s): the API answers 503 instead of hanging. */
  connectTimeoutMs?: number;
  /** Longest statement, enforced by the server and by the client (default 15 s). */
  statementTimeoutMs?: number;
}

type Param =
  | string
  | number
  | boolean
  | null
  | Buffer
  | string[]
  | number[]
  | boolean[]
  | (number | null)[]
  | (string | null)[];
type Queryable = Pick<pg.PoolClient, 'query'>;

const NOTIFY_CHANNEL = 'hookline_queued';
const NOTIFY_COALESCE_MS = 5;
/** Key of the advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK = 7_240_001;
/**
 * First key of the transaction-scoped advisory locks that serialize inbound deduplication per
 * (source, dedupe key) across processes; the second key is a hash of the pair.
 */
const DEDUPE_LOCK = 7_240_003;

/** An inbound event's columns with the ids of the messages it was split into (JSON text). */
const EVENT_COLUMNS = `*, (SELECT json_agg(msg_id ORDER BY msg_id) FROM inbound_part p
    WHERE p.event_id = inbound_event.id)::text AS message_ids`;

/** JSONB arrays come back parsed by the driver. */
const jsonb = <T>(v: unknown): T => (v === undefined ? null : v) as T;

/** BIGINT (times, counts) as numbers: every value Hookline stores fits in 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
};

/** `?` placeholders (shared with the SQLite adapter's SQL and `paging.ts`) to `$1, $2, ...`. */
const converted = new Map<string, string>();
function toPg(sql: string): string {
  let out = converted.get(sql);
  if (out === undefined) {
    let i = 0;
    out = sql.replace(/\?/g, () => `$${++i}`);
    converted.set(sql, out);
  }
  return out;
}

// SQLSTATE classes that mean "the database cannot take this now; try again later".
// 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown,
// statement timeout), 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
const UNAVAILABLE_STATES = /^(08|53|57|58)|^(40001|40P01|55P03)$/;

function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string') {
    if (UNAVAILABLE_STATES.test(e.code)) return true;
    if (/^E[A-Z]+/.test(e.code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE...
  }
  return /timeout|terminated|Connection ended|not queryable|Client has encountered a connection error|ECONNRE/i.test(
    e?.message ?? '',
  );
}

/** Maps PostgreSQL's failures to Hookline's: unreachable or overloaded means "try later". */
function translate(err: unknown): never {
  if (err instanceof StoreUnavailableError || err instanceof StoreConflictError) throw err;
  const e = err as { code?: string; message?: string };
  if (e?.code === '23505') throw new StoreConflictError(e.message ?? 'unique', err);
  if (isUnavailable(err)) {
    throw new StoreUnavailableError(
      `database cannot take requests right now: ${e?.message ?? 'unknown'}`,
      err,
    );
  }
  throw err;
}

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const clientConfig: pg.ClientConfig = {
    connectionString: options.url,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    // The client gives up a little after the server would have: a cut connection never hangs.
    query_timeout: statementTimeoutMs + 1_000,
    idle_in_transaction_session_timeout: statementTimeoutMs * 2,
    // TCP keepalives from 10 s of silence: a connection lost without a word (a partition) is
    // noticed, which matters most for the long-lived LISTEN connection.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'hookline',
    types,
  };
  const pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  // An idle connection that breaks (server restart, network cut) is dropped by the pool; the
  // next query opens a fresh one. Without this handler the error would end the process.
  pool.on('error', () => {});
  // The same for a connection that breaks while checked out: the query in progress fails
  // (and is reported as unavailable); the event itself must not end the process.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const box = options.secretBox;
  const events = new EventEmitter();
  const instance = randomUUID();
  let closed = false;

  async function query(sql: string, params: Param[] = [], c: Queryable = pool): Promise<Row[]> {
    try {
      const r = await c.query(toPg(sql), params as unknown[]);
      return r.rows as Row[];
    } catch (err) {
      return translate(err);
    }
  }
  async function one(sql: string, params: Param[] = [], c: Queryable = pool): Promise<Row | undefined> {
    return (await query(sql, params, c))[0];
  }
  async function count(sql: string, params: Param[] = [], c: Queryable = pool): Promise<number> {
    try {
      const r = await c.query(toPg(sql), params as unknown[]);
      return r.rowCount ?? 0;
    } catch (err) {
      return translate(err);
    }
  }

  /** Runs `fn` in one transaction on one pooled connection. */
  async function tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      return translate(err);
    }
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isUnavailable(err) || err instanceof StoreUnavailableError) broken = err;
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken = e;
      });
      return translate(err);
    } finally {
      // A connection that failed is closed rather than handed to the next caller.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }
  const notify = (c: Queryable) => query('SELECT pg_notify(?, ?)', [NOTIFY_CHANNEL, instance], c);
  /**
   * Ingest notifies right after its commit, at most once per NOTIFY_COALESCE_MS: transactions
   * that NOTIFY serialize their commits in PostgreSQL, and one wake-up per few milliseconds is
   * all the workers need. Should the notification be lost (a crash just after the commit), the
   * workers' polling fallback finds the messages.
   */
  let notifyTimer: NodeJS.Timeout | null = null;
  let lastNotify = Number.NEGATIVE_INFINITY;
  function notifySoon() {
    if (notifyTimer || closed) return;
    const wait = Math.max(0, lastNotify + NOTIFY_COALESCE_MS - performance.now());
    notifyTimer = setTimeout(() => {
      notifyTimer = null;
      lastNotify = performance.now();
      query('SELECT pg_notify(?, ?)', [NOTIFY_CHANNEL, instance]).catch(() => {});
    }, wait);
  }

  // ---- LISTEN: one dedicated connection, opened when the first listener subscribes -------
  let listener: pg.Client | null = null;
  let listening = false;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let reconnectDelay = 250;
  async function listen(): Promise<void> {
    if (closed || listener) return;
    const client = new pg.Client(clientConfig);
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

  function paged<T>(
    sqlBefore: string,
    params: Param[],
    key: string,
    page: PageQuery,
    map: (r: Row) => T,
  ): Promise<Page<T>> {
    const p: PageSql = pageSql(key, page);
    return query(`${sqlBefore} AND ${p.condition} ORDER BY ${p.orderBy} LIMIT ${p.limit}`, [
      ...params,
      ...p.params,
    ]).then((rows) => toPage(rows.map(map), p));
  }

  // ---- row mappers --------------------------------------------------------------------
  const { openSecrets, toApp, toAppToken, toEndpoint, toEventType, toMessage, toAttempt, toInboundEvent } =
    createRowMappers({ flag: (v) => v === true, list: jsonb }, box);
  /** Source rows with their destinations (the endpoints of each source's application). */
  async function toSources(rows: Row[], c: Queryable = pool): Promise<Source[]> {
    if (rows.length === 0) return [];
    const destinations = new Map<string, SourceDestination[]>();
    const eps = await query(
      `SELECT id, app_id, url, headers, event_types, disabled, kind, template FROM endpoint
       WHERE app_id = ANY(?::text[]) ORDER BY id`,
      [rows.map((r) => str(r.app_id))],
      c,
    );
    for (const e of eps) {
      const list = destinations.get(str(e.app_id)) ?? [];
      destinations.set(str(e.app_id), list);
      list.push({
        id: str(e.id),
        url: str(e.url),
        headers: parse(e.headers),
        eventTypes: jsonb(e.event_types),
        disabled: e.disabled === true,
        kind: str(e.kind) as SourceDestinationKind,
        template: parse(e.template),
      });
    }
    return rows.map(
      (r): Source => ({
        id: str(r.id),
        name: str(r.name),
        appId: str(r.app_id),
        description: str(r.description),
        verification: parse(box.open(str(r.verification))),
        forwardSecrets: openSecrets(r.forward_secrets),
        dedupe: parse(r.dedupe),
        eventType: parse(r.event_type),
        maxBodyBytes: numOrNull(r.max_body_bytes),
        handshake: handshakeFromColumn(r.handshake === null ? null : box.open(str(r.handshake))),
        allowedIps: parse(r.allowed_ips),
        destinations: destinations.get(str(r.app_id)) ?? [],
        createdAt: num(r.created_at),
        updatedAt: num(r.updated_at),
      }),
    );
  }
  const sourceParams = (src: Source): Param[] => [
    src.name,
    src.description,
    box.seal(JSON.stringify(src.verification)),
    box.seal(JSON.stringify(src.forwardSecrets)),
    json(src.dedupe),
    json(src.eventType),
    src.maxBodyBytes,
    box.seal(JSON.stringify(src.handshake)),
    json(src.allowedIps),
    src.updatedAt,
  ];

  const endpointParams = (e: Endpoint): Param[] => [
    e.uid,
    e.url,
    e.description,
    e.disabled,
    json(e.eventTypes),
    json(e.channels),
    e.throttleRate,
    json(e.metadata),
    json(e.headers),
    box.seal(JSON.stringify(e.secrets)),
    e.svixHeaders,
    e.failingSince,
    e.createdAt,
    e.updatedAt,
    e.fifo,
    e.kind ?? 'http',
    json(e.template ?? null),
  ];
  const INSERT_ENDPOINT = `INSERT INTO endpoint (uid, url, description, disabled, event_types, channels, throttle_rate,
      metadata, headers, secrets, svix_headers, failing_since, created_at, updated_at, fifo, kind, template, id, app_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

  /** Queues (message, endpoint) pairs: pending, no attempts yet. One statement for many rows. */
  const INSERT_DELIVERIES = `INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at,
      trigger_type, created_at, updated_at)
    SELECT id, msg_id, app_id, endpoint_id, 1, 0, due, ?::smallint, created, created
    FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])
      AS u(id, msg_id, app_id, endpoint_id, due, created)`;
  interface NewDelivery {
    id: string;
    msgId: string;
    appId: string;
    endpointId: string;
    dueAt: number;
    createdAt: number;
  }
  const insertDeliveries = (c: Queryable, rows: NewDelivery[], trigger: TriggerTypeCode) =>
    rows.length === 0
      ? Promise.resolve(0)
      : count(
          INSERT_DELIVERIES,
          [
            trigger,
            rows.map((r) => r.id),
            rows.map((r) => r.msgId),
            rows.map((r) => r.appId),
            rows.map((r) => r.endpointId),
            rows.map((r) => r.dueAt),
            rows.map((r) => r.createdAt),
          ],
          c,
        );

  /** The extra WHERE terms of a `DeliveryScope`, on the `delivery` table (as `alias`). */
  const scopeSql = (scope: DeliveryScope, alias = '') => {
    let sql = '';
    const params: Param[] = [];
    if (scope.onlyEndpoints) {
      sql += ` AND ${alias}endpoint_id = ANY(?::text[])`;
      params.push(scope.onlyEndpoints);
    }
    if (scope.excludeKinds && scope.excludeKinds.length > 0) {
      sql += ` AND ${alias}endpoint_id NOT IN (SELECT id FROM endpoint WHERE kind = ANY(?::text[]))`;
      params.push(scope.excludeKinds);
    }
    return { sql, params };
  };

  const ENDPOINT_BY_ID_OR_UID = 'SELECT * FROM endpoint WHERE app_id = ? AND (id = ? OR uid = ?)';
  const UPSERT_IDEMPOTENCY = `INSERT INTO idempotency (key, status, body, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body, expires_at = excluded.expires_at`;

  /** Keeps a source's newest `keep` rejected, duplicate and handshake requests. */
  async function pruneUnaccepted(c: Queryable, sourceId: string, keep: number): Promise<void> {
    await query(
      `DELETE FROM inbound_event WHERE id IN (
         SELECT id FROM inbound_event WHERE source_id = ? AND status IN ('rejected', 'duplicate', 'handshake')
         ORDER BY id DESC OFFSET ?)`,
      [sourceId, keep],
      c,
    );
  }

  /**
   * An accepted request split into parts (inside receiveInbound's transaction, its dedupe locks
   * held): parts that repeat an accepted part are dropped, each new one becomes a message with
   * its deliveries; with none left the request is stored as a duplicate.
   */
  async function receiveParts(
    c: Queryable,
    item: InboundItem,
    parts: InboundPart[],
    endpoints: RoutingEndpoint[],
  ): Promise<InboundResult> {
    const ev = item.event;
    const fresh: InboundPart[] = [];
    const seen = new Set<string>();
    let duplicateOf: string | null = null;
    for (const part of parts) {
      if (part.dedupeKey !== null && item.dedupeSince !== null) {
        const first = seen.has(part.dedupeKey)
          ? { event_id: ev.id }
          : await one(
              `SELECT event_id FROM inbound_part WHERE source_id = ? AND dedupe_key = ? AND received_at >= ?
               ORDER BY received_at, msg_id LIMIT 1`,
              [ev.sourceId, part.dedupeKey, item.dedupeSince],
              c,
            );
        if (first) {
          duplicateOf ??= str(first.event_id);
          continue;
        }
        seen.add(part.dedupeKey);
      }
      fresh.push(part);
    }
    const status = fresh.length > 0 ? 'accepted' : 'duplicate';
    await query(
      `INSERT INTO inbound_event (id, source_id, status, event_type, dedupe_key, duplicate_of, verify_code,
         verify_detail, content_type, headers, body, received_at, method)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::bytea, ?, ?)`,
      [
        ev.id,
        ev.sourceId,
        status,
        ev.eventType,
        ev.dedupeKey,
        status === 'duplicate' ? duplicateOf : null,
        ev.verifyCode,
        ev.verifyDetail,
        ev.contentType,
        JSON.stringify(ev.headers),
        ev.body,
        ev.receivedAt,
        ev.method,
      ],
      c,
    );
    if (status === 'duplicate') return { status, duplicateOf: duplicateOf! };
    let deliveries = 0;
    // Each new part is a message of its own (its payload: the part's JSON); the request's bytes
    // stay once in inbound_event. Message, part and deliveries in one statement.
    for (const part of fresh) {
      const targets = item.route(endpoints, part.eventType);
      await query(
        `WITH m AS (
           INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
           VALUES (?, ?, NULL, ?, ?, NULL, NULL, ?)
         ), p AS (
           INSERT INTO inbound_part (msg_id, event_id, source_id, dedupe_key, received_at) VALUES (?, ?, ?, ?, ?)
         )
         INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
           created_at, updated_at)
         SELECT u.id, ?, ?, u.endpoint_id, 1, 0, ?, ${TriggerType.scheduled}, ?, ?
         FROM unnest(?::text[], ?::text[]) AS u(id, endpoint_id)`,
        [
          part.msgId,
          item.appId,
          part.eventType,
          part.payload,
          ev.receivedAt,
          part.msgId,
          ev.id,
          ev.sourceId,
          part.dedupeKey,
          ev.receivedAt,
          part.msgId,
          item.appId,
          ev.receivedAt,
          ev.receivedAt,
          ev.receivedAt,
          targets.map(() => item.newDeliveryId()),
          targets,
        ],
        c,
      );
      deliveries += targets.length;
    }
    return { status: 'accepted', deliveries, messages: fresh.map((p) => p.msgId) };
  }

  const store: Store = {
    capabilities: { multiProcess: true },

    async migrate() {
      // One transaction under an advisory lock: processes starting together migrate once, in turn.
      await tx(async (c) => {
        await query('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK], c);
        await query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)',
          [],
          c,
        );
        const done = new Set(
          (await query('SELECT version FROM schema_migrations', [], c)).map((r) => num(r.version)),
        );
        for (const m of POSTGRES_MIGRATIONS) {
          if (done.has(m.version)) continue;
          await query(m.sql, [], c);
          await query(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
            [m.version, m.name, Date.now()],
            c,
          );
        }
      });
    },
    async pendingMigrations() {
      const exists = await one("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok");
      if (exists?.ok !== true) return POSTGRES_MIGRATIONS.length;
      const done = new Set((await query('SELECT version FROM schema_migrations')).map((r) => num(r.version)));
      return POSTGRES_MIGRATIONS.filter((m) => !done.has(m.version)).length;
    },
    async ping() {
      await query('SELECT 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (notifyTimer) {
        // Send the last notification before the pool closes.
        clearTimeout(notifyTimer);
        notifyTimer = null;
        await query('SELECT pg_notify(?, ?)', [NOTIFY_CHANNEL, instance]).catch(() => {});
      }
      const l = listener;
      listener = null;
      await l?.end().catch(() => {});
      await pool.end().catch(() => {});
    },
    onDeliveriesQueued(fn) {
      events.on('queued', fn);
      void listen();
      return () => {
        events.off('queued', fn);
      };
    },

    getSetting: async (key) =>
      strOrNull((await one('SELECT value FROM setting WHERE key = ?', [key]))?.value),
    setSetting: async (key, value) => {
      await query(
        'INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [key, value],
      );
    },

    setSettingIfAbsent: async (key, value) => {
      await query('INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [
        key,
        value,
      ]);
      return str((await one('SELECT value FROM setting WHERE key = ?', [key]))?.value);
    },

    // ---- applications ------------------------------------------------------------------
    insertApp: async (a) => {
      await query(
        'INSERT INTO app (id, uid, name, throttle_rate, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [a.id, a.uid, a.name, a.throttleRate, json(a.metadata), a.createdAt, a.updatedAt],
      );
    },
    getApp: async (idOrUid) => {
      const r = await one('SELECT * FROM app WHERE id = ? OR uid = ?', [idOrUid, idOrUid]);
      return r ? toApp(r) : null;
    },
    listApps: (page) =>
      paged('SELECT * FROM app WHERE id NOT IN (SELECT app_id FROM source)', [], 'id', page, toApp),
    updateApp: async (a) => {
      await query(
        'UPDATE app SET uid = ?, name = ?, throttle_rate = ?, metadata = ?, updated_at = ? WHERE id = ?',
        [a.uid, a.name, a.throttleRate, json(a.metadata), a.updatedAt, a.id],
      );
    },
    deleteApp: async (id) => {
      await query('DELETE FROM app WHERE id = ?', [id]);
    },

    // ---- endpoints ---------------------------------------------------------------------
    insertEndpoint: async (e) => {
      await query(INSERT_ENDPOINT, [...endpointParams(e), e.id, e.appId]);
    },
    getEndpoint: async (appId, idOrUid) => {
      const r = await one(ENDPOINT_BY_ID_OR_UID, [appId, idOrUid, idOrUid]);
      return r ? toEndpoint(r) : null;
    },
    listEndpoints: (appId, page, filter = {}) => {
      let sql = 'SELECT * FROM endpoint WHERE app_id = ?';
      const params: Param[] = [appId];
      if (filter.url !== undefined) {
        sql += ' AND url = ?';
        params.push(filter.url);
      }
      if (filter.metadata && Object.keys(filter.metadata).length > 0) {
        // metadata is the JSON text the API stored.
        sql += ' AND metadata::jsonb @> ?::jsonb';
        params.push(JSON.stringify(filter.metadata));
      }
      return paged(sql, params, 'id', page, toEndpoint);
    },
    updateEndpoint: async (e) => {
      await query(
        `UPDATE endpoint SET uid = ?, url = ?, description = ?, disabled = ?, event_types = ?, channels = ?,
           throttle_rate = ?, metadata = ?, headers = ?, secrets = ?, svix_headers = ?, failing_since = ?,
           created_at = ?, updated_at = ?, fifo = ?, kind = ?, template = ?
         WHERE id = ? AND app_id = ?`,
        [...endpointParams(e), e.id, e.appId],
      );
    },
    deleteEndpoint: async (appId, id) => {
      await query('DELETE FROM endpoint WHERE id = ? AND app_id = ?', [id, appId]);
    },

    // ---- application tokens ------------------------------------------------------------
    insertAppToken: async (t) => {
      await query(
        `INSERT INTO app_token (id, app_id, token_hash, read_only, feature_flags, expires_at, revoked_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [t.id, t.appId, t.tokenHash, t.readOnly, json(t.featureFlags), t.expiresAt, t.revokedAt, t.createdAt],
      );
    },
    getAppTokenByHash: async (tokenHash) => {
      const r = await one('SELECT * FROM app_token WHERE token_hash = ?', [tokenHash]);
      return r ? toAppToken(r) : null;
    },
    revokeAppToken: async (id, now) => {
      await query('UPDATE app_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id]);
    },
    expireAppTokens: (appId, at) =>
      count(
        'UPDATE app_token SET expires_at = ? WHERE app_id = ? AND expires_at > ? AND revoked_at IS NULL',
        [at, appId, at],
      ),

    // ---- event types -------------------------------------------------------------------
    insertEventType: async (t) => {
      await query(
        `INSERT INTO event_type (name, description, archived, deprecated, schemas, group_name, feature_flags,
           created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          t.name,
          t.description,
          t.archived,
          t.deprecated,
          json(t.schemas),
          t.groupName,
          json(t.featureFlags),
          t.createdAt,
          t.updatedAt,
        ],
      );
    },
    getEventType: async (name) => {
      const r = await one('SELECT * FROM event_type WHERE name = ?', [name]);
      return r ? toEventType(r) : null;
    },
    existingEventTypes: async (names) => {
      if (names.length === 0) return new Set<string>();
      const rows = await query('SELECT name FROM event_type WHERE NOT archived AND name = ANY(?::text[])', [
        names,
      ]);
      return new Set(rows.map((r) => str(r.name)));
    },
    listEventTypes: (page, includeArchived) =>
      paged(
        `SELECT * FROM event_type WHERE ${includeArchived ? '1=1' : 'NOT archived'}`,
        [],
        'name',
        page,
        toEventType,
      ),
    updateEventType: async (t) => {
      await query(
        `UPDATE event_type SET description = ?, archived = ?, deprecated = ?, schemas = ?, group_name = ?,
           feature_flags = ?, updated_at = ? WHERE name = ?`,
        [
          t.description,
          t.archived,
          t.deprecated,
          json(t.schemas),
          t.groupName,
          json(t.featureFlags),
          t.updatedAt,
          t.name,
        ],
      );
    },

    // ---- messages ----------------------------------------------------------------------
    ingest: (items) =>
      tx(async (c) => {
        const results: (IngestResult | null)[] = items.map(() => null);
        // The applications (locked against deletion until commit) and their endpoints, at once.
        const appIds = [...new Set(items.map((i) => i.message.appId))];
        const routing = new Map<string, RoutingEndpoint[]>();
        const rows = await query(
          `SELECT a.id AS app, e.id, e.disabled, e.event_types, e.channels
           FROM app a LEFT JOIN endpoint e ON e.app_id = a.id
           WHERE a.id = ANY(?::text[]) FOR KEY SHARE OF a`,
          [appIds],
          c,
        );
        for (const r of rows) {
          const list = routing.get(str(r.app)) ?? [];
          routing.set(str(r.app), list);
          if (r.id === null) continue;
          list.push({
            id: str(r.id),
            disabled: r.disabled === true,
            eventTypes: jsonb(r.event_types),
            channels: jsonb(r.channels),
          });
        }
        // Route every new message (the first of an eventId wins, within the batch too).
        const toInsert: number[] = [];
        const seenEventIds = new Set<string>();
        const deliveries: (NewDelivery & { item: number })[] = [];
        const routed = new Map<number, number>();
        items.forEach((item, i) => {
          const m = item.message;
          const endpoints = routing.get(m.appId);
          if (!endpoints) {
            results[i] = { ok: false, reason: 'app_not_found' };
            return;
          }
          if (m.eventId !== null) {
            const k = `${m.appId}\u0000${m.eventId}`;
            if (seenEventIds.has(k)) return; // a duplicate of the first: resolved below
            seenEventIds.add(k);
          }
          toInsert.push(i);
          const targets = item.route(endpoints);
          routed.set(i, targets.length);
          for (const endpointId of targets) {
            deliveries.push({
              item: i,
              id: item.newDeliveryId(),
              msgId: m.id,
              appId: m.appId,
              endpointId,
              dueAt: item.dueAt,
              createdAt: m.createdAt,
            });
          }
        });
        const idem = new Map<string, { msgId: string; status: number; body: string; expiresAt: number }>();
        for (const i of toInsert) {
          const it = items[i]!;
          if (it.idempotency) {
            const { key, response, expiresAt } = it.idempotency;
            idem.set(key, { msgId: it.message.id, status: response.status, body: response.body, expiresAt });
          }
        }
        const idemEntries = [...idem];
        const msgs = toInsert.map((i) => items[i]!.message);
        // One statement stores the messages (skipping taken eventIds) and, for those stored,
        // their deliveries and idempotent responses, and notifies the workers.
        const stored =
          msgs.length === 0
            ? []
            : await query(
                `WITH m AS (
                   INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
                   SELECT id, app_id, event_id, event_type, payload, channels::jsonb, tags::jsonb, created_at
                   FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])
                     AS u(id, app_id, event_id, event_type, payload, channels, tags, created_at)
                   ON CONFLICT (app_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
                   RETURNING id
                 ), d AS (
                   INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at,
                     trigger_type, created_at, updated_at)
                   SELECT u.id, u.msg_id, u.app_id, u.endpoint_id, 1, 0, u.due, ${TriggerType.scheduled}, u.created,
                     u.created
                   FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])
                     AS u(id, msg_id, app_id, endpoint_id, due, created)
                   WHERE u.msg_id IN (SELECT id FROM m)
                   RETURNING 1
                 ), i AS (
                   INSERT INTO idempotency (key, status, body, expires_at)
                   SELECT u.key, u.status, u.body, u.expires_at
                   FROM unnest(?::text[], ?::text[], ?::int[], ?::text[], ?::bigint[])
                     AS u(msg_id, key, status, body, expires_at)
                   WHERE u.msg_id IN (SELECT id FROM m)
                   ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body,
                     expires_at = excluded.expires_at
                 )
                 SELECT id, (SELECT COUNT(*) FROM d) AS queued FROM m`,
                [
                  msgs.map((m) => m.id),
                  msgs.map((m) => m.appId),
                  msgs.map((m) => m.eventId) as string[],
                  msgs.map((m) => m.eventType),
                  msgs.map((m) => m.payload),
                  msgs.map((m) => json(m.channels)) as string[],
                  msgs.map((m) => json(m.tags)) as string[],
                  msgs.map((m) => m.createdAt),
                  deliveries.map((d) => d.id),
                  deliveries.map((d) => d.msgId),
                  deliveries.map((d) => d.appId),
                  deliveries.map((d) => d.endpointId),
                  deliveries.map((d) => d.dueAt),
                  deliveries.map((d) => d.createdAt),
                  idemEntries.map(([, v]) => v.msgId),
                  idemEntries.map(([k]) => k),
                  idemEntries.map(([, v]) => v.status),
                  idemEntries.map(([, v]) => v.body),
                  idemEntries.map(([, v]) => v.expiresAt),
                ],
                c,
              );
        const inserted = new Set(stored.map((r) => str(r.id)));
        let queued = 0;
        for (const i of toInsert) {
          if (!inserted.has(items[i]!.message.id)) continue;
          results[i] = { ok: true, deliveries: routed.get(i)! };
          queued += routed.get(i)!;
        }
        // Everything else had an eventId that is taken: a duplicate of a stored message.
        const dupIdx = items.map((_item, i) => i).filter((i) => results[i] === null);
        if (dupIdx.length > 0) {
          const existing = await query(
            `SELECT m.* FROM message m JOIN unnest(?::text[], ?::text[]) AS u(app_id, event_id)
               ON m.app_id = u.app_id AND m.event_id = u.event_id`,
            [dupIdx.map((i) => items[i]!.message.appId), dupIdx.map((i) => items[i]!.message.eventId!)],
            c,
          );
          const byKey = new Map(
            existing.map((r) => [`${str(r.app_id)}\u0000${str(r.event_id)}`, toMessage(r)]),
          );
          for (const i of dupIdx) {
            const m = items[i]!.message;
            const found = byKey.get(`${m.appId}\u0000${m.eventId}`);
            if (!found) throw new Error(`message ${m.id} was neither stored nor a duplicate`);
            results[i] = { ok: false, reason: 'duplicate_event_id', existing: found };
          }
        }
        return { results: results as IngestResult[], queued };
      }).then(({ results, queued }) => {
        if (queued > 0) {
          events.emit('queued');
          notifySoon();
        }
        return results;
      }),
    getMessage: async (appId, idOrEventId) => {
      const r = await one('SELECT * FROM message WHERE app_id = ? AND (id = ? OR event_id = ?)', [
        appId,
        idOrEventId,
        idOrEventId,
      ]);
      return r ? toMessage(r) : null;
    },
    listMessages: (appId, filter, page) => {
      const [where, params] = messageFilterSql(filter, '');
      return paged(
        `SELECT * FROM message WHERE app_id = ?${where}`,
        [appId, ...params],
        'id',
        page,
        toMessage,
      );
    },

    // ---- the queue ---------------------------------------------------------------------
    claimDue: async (o) => {
      const leaseUntil = o.now + o.leaseMs;
      const started = performance.now();
      const scope = scopeSql(o, 'd.');
      const rows = await tx(async (c) => {
        // Endpoints with due work (rate-limited ones whose next slot has not come are left
        // out, so they cannot crowd the others out of the batch).
        const dueSql = `SELECT d.id, d.endpoint_id FROM delivery d
           WHERE d.status IN (1, 3) AND d.next_attempt_at <= ? AND d.endpoint_id <> ALL(?::text[])${scope.sql}
             AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.id = d.endpoint_id AND e.throttle_next_at > ?)`;
        // Endpoints that cannot take a delivery now, however much of their backlog is due: at
        // their in-flight limit, or FIFO with the head in flight or waiting for its retry; and
        // of a FIFO endpoint only its head counts. Left out up front so that one large backlog
        // cannot hide everyone else's work.
        const blockedSql = `
           AND d.endpoint_id NOT IN (
             SELECT endpoint_id FROM delivery WHERE status = 3 AND next_attempt_at > ?
             GROUP BY endpoint_id HAVING COUNT(*) >= ?)
           AND d.endpoint_id NOT IN (
             SELECT e.id FROM endpoint e
             CROSS JOIN LATERAL (SELECT h.status, h.next_attempt_at FROM delivery h
               WHERE h.endpoint_id = e.id AND h.status IN (1, 3) ORDER BY h.created_at, h.id LIMIT 1) head
             WHERE e.fifo AND head.next_attempt_at > ?)
           AND NOT EXISTS (
             SELECT 1 FROM endpoint e JOIN delivery older ON older.endpoint_id = e.id
             WHERE e.id = d.endpoint_id AND e.fifo AND older.status IN (1, 3)
               AND (older.created_at, older.id) < (d.created_at, d.id))`;
        const dueEndpoints = await query(
          `SELECT DISTINCT endpoint_id FROM (${dueSql}${blockedSql} ORDER BY d.next_attempt_at, d.id LIMIT ?) s`,
          [o.now, o.skipEndpoints, ...scope.params, o.now, o.now, o.perEndpoint, o.now, o.limit * 4],
          c,
        );
        if (dueEndpoints.length === 0) return [];
        // Lock those endpoints (in id order: claims never deadlock each other) so that their
        // limits are counted and updated by one claim at a time across every worker.
        const eps = await query(
          `SELECT e.id, e.fifo, e.kind, e.throttle_next_at, e.throttle_rate, a.throttle_rate AS app_rate
           FROM endpoint e JOIN app a ON a.id = e.app_id
           WHERE e.id = ANY(?::text[]) ORDER BY e.id FOR NO KEY UPDATE OF e`,
          [dueEndpoints.map((r) => str(r.endpoint_id)).sort()],
          c,
        );
        const endpointIds = eps.map((e) => str(e.id));
        // With the locks held, what is due now (another worker may have just claimed some).
        const candidates = await query(
          `${dueSql}${blockedSql} AND d.endpoint_id = ANY(?::text[]) ORDER BY d.next_attempt_at, d.id LIMIT ?`,
          [
            o.now,
            o.skipEndpoints,
            ...scope.params,
            o.now,
            o.now,
            o.perEndpoint,
            o.now,
            endpointIds,
            o.limit * 4,
          ],
          c,
        );
        if (candidates.length === 0) return [];
        const inFlight = new Map(
          (
            await query(
              `SELECT endpoint_id, COUNT(*) AS n FROM delivery
               WHERE endpoint_id = ANY(?::text[]) AND status = 3 AND next_attempt_at > ? GROUP BY endpoint_id`,
              [endpointIds, o.now],
              c,
            )
          ).map((r) => [str(r.endpoint_id), num(r.n)]),
        );
        const fifoIds = eps.filter((e) => e.fifo === true).map((e) => str(e.id));
        const heads = new Map(
          fifoIds.length === 0
            ? []
            : (
                await query(
                  `SELECT DISTINCT ON (endpoint_id) endpoint_id, id, next_attempt_at FROM delivery
                   WHERE endpoint_id = ANY(?::text[]) AND status IN (1, 3)
                   ORDER BY endpoint_id, created_at, id`,
                  [fifoIds],
                  c,
                )
              ).map((r) => [str(r.endpoint_id), { id: str(r.id), due: num(r.next_attempt_at) <= o.now }]),
        );
        const gates = new Map<string, EndpointGate>();
        for (const e of eps) {
          const id = str(e.id);
          gates.set(id, {
            inFlight: inFlight.get(id) ?? 0,
            fifo: e.fifo === true,
            fifoHead: heads.get(id) ?? null,
            ratePerSecond: rateOf(numOrNull(e.throttle_rate), numOrNull(e.app_rate), str(e.kind)),
            nextSlotAt: numOrNull(e.throttle_next_at),
          });
        }
        // Rate-limit slots count from now as it is after the locks were taken, not from when
        // the worker read its clock: a slow claim must not let the next one come early.
        const plan = planClaim(
          candidates.map((r) => ({ id: str(r.id), endpointId: str(r.endpoint_id) })),
          gates,
          { ...o, slotFrom: o.now + Math.round(performance.now() - started) },
        );
        if (plan.slots.size > 0) {
          const slots = [...plan.slots];
          await query(
            `UPDATE endpoint e SET throttle_next_at = u.at
             FROM unnest(?::text[], ?::bigint[]) AS u(id, at) WHERE e.id = u.id`,
            [slots.map(([id]) => id), slots.map(([, at]) => at)],
            c,
          );
        }
        if (plan.ids.length === 0) return [];
        return query(
          `UPDATE delivery d SET status = 3, next_attempt_at = ?, updated_at = ?
           FROM message m LEFT JOIN inbound_event i ON i.id = m.id
           WHERE d.id IN (SELECT id FROM delivery WHERE id = ANY(?::text[]) AND status IN (1, 3)
               AND next_attempt_at <= ? FOR UPDATE SKIP LOCKED)
             AND m.id = d.msg_id
           RETURNING d.id, d.msg_id, d.app_id, d.endpoint_id, d.attempts, d.trigger_type, d.next_attempt_at,
             m.event_type, m.payload, m.created_at AS msg_created_at, i.body, i.content_type, i.headers AS inbound_headers`,
          [leaseUntil, o.now, plan.ids, o.now],
          c,
        ).then((updated) => {
          // In the plan's order: oldest due first.
          const rank = new Map(plan.ids.map((id, i) => [id, i]));
          return updated.sort((a, b) => rank.get(str(a.id))! - rank.get(str(b.id))!);
        });
      });
      if (rows.length === 0) return [];
      const endpointIds = [...new Set(rows.map((r) => str(r.endpoint_id)))];
      const endpoints = new Map(
        (
          await query(
            `SELECT id, url, disabled, headers, secrets, svix_headers, kind, template, uid, description, metadata
             FROM endpoint WHERE id = ANY(?::text[])`,
            [endpointIds],
          )
        ).map((ep) => [
          str(ep.id),
          {
            url: str(ep.url),
            disabled: ep.disabled === true,
            headers: parse<Record<string, string>>(ep.headers),
            secrets: openSecrets(ep.secrets),
            svixHeaders: ep.svix_headers === true,
            metadata: parse<Record<string, string>>(ep.metadata),
            kind: str(ep.kind) as EndpointKind,
            template: parse<Record<string, unknown> | null>(ep.template),
            uid: strOrNull(ep.uid),
            description: str(ep.description),
          },
        ]),
      );
      const claimed: ClaimedDelivery[] = [];
      for (const r of rows) {
        const endpoint = endpoints.get(str(r.endpoint_id));
        if (!endpoint) continue; // deleted meanwhile; the cascade removed the delivery too
        claimed.push({
          id: str(r.id),
          msgId: str(r.msg_id),
          appId: str(r.app_id),
          endpointId: str(r.endpoint_id),
          attempts: num(r.attempts),
          triggerType: num(r.trigger_type) as TriggerTypeCode,
          eventType: str(r.event_type),
          payload: str(r.payload),
          msgCreatedAt: num(r.msg_created_at),
          leaseUntil,
          ...(r.body !== null && r.body !== undefined
            ? {
                inbound: {
                  body: Buffer.from(r.body as Uint8Array),
                  contentType: strOrNull(r.content_type),
                  headers: parse<[string, string][]>(r.inbound_headers),
                },
              }
            : {}),
          endpoint,
        });
      }
      return claimed;
    },

    completeDeliveries: async (outcomes, now) => {
      if (outcomes.length === 0) return { disabledEndpoints: [] };
      const statusOf = (n: (typeof outcomes)[number]['next']) =>
        n.kind === 'success'
          ? DeliveryStatus.success
          : n.kind === 'retry'
            ? DeliveryStatus.pending
            : n.kind === 'fail'
              ? DeliveryStatus.fail
              : DeliveryStatus.canceled;
      const disabled = await tx(async (c) => {
        // Only the holder of the current lease moves a delivery on. A worker whose lease ran
        // out (another took the delivery over) still logs its attempt, if the delivery exists.
        const held = new Set(
          (
            await query(
              `UPDATE delivery d SET status = u.status, attempts = d.attempts + u.inc, next_attempt_at = u.next_at,
                 updated_at = ?
               FROM unnest(?::text[], ?::smallint[], ?::int[], ?::bigint[], ?::bigint[])
                 AS u(id, status, inc, next_at, lease)
               WHERE d.id = u.id AND d.status = 3 AND d.next_attempt_at = u.lease
               RETURNING d.id`,
              [
                now,
                outcomes.map((o) => o.deliveryId),
                outcomes.map((o) => statusOf(o.next)),
                outcomes.map((o) => (o.attempt && !(o.next.kind === 'retry' && o.next.rateLimited) ? 1 : 0)),
                outcomes.map((o) => (o.next.kind === 'retry' ? o.next.at : now)),
                outcomes.map((o) => o.leaseUntil),
              ],
              c,
            )
          ).map((r) => str(r.id)),
        );
        const lost = outcomes.filter((o) => o.attempt && !held.has(o.deliveryId)).map((o) => o.deliveryId);
        const stillThere = new Set(
          lost.length === 0
            ? []
            : (await query('SELECT id FROM delivery WHERE id = ANY(?::text[]) FOR KEY SHARE', [lost], c)).map(
                (r) => str(r.id),
              ),
        );
        const attempts = outcomes
          .filter((o) => o.attempt && (held.has(o.deliveryId) || stillThere.has(o.deliveryId)))
          .map((o) => o.attempt!);
        if (attempts.length > 0) {
          await query(
            `INSERT INTO attempt (id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code,
               response, response_headers, request_headers, request_body, duration_ms, trigger_type, created_at)
             SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::smallint[],
               ?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::smallint[], ?::bigint[])`,
            [
              attempts.map((a) => a.id),
              attempts.map((a) => a.deliveryId),
              attempts.map((a) => a.msgId),
              attempts.map((a) => a.endpointId),
              attempts.map((a) => a.appId),
              attempts.map((a) => a.url),
              attempts.map((a) => a.status),
              attempts.map((a) => a.responseStatusCode),
              attempts.map((a) => a.response),
              attempts.map((a) => JSON.stringify(a.responseHeaders)),
              attempts.map((a) => JSON.stringify(a.requestHeaders)),
              attempts.map((a) => a.requestBody ?? null),
              attempts.map((a) => Math.round(a.durationMs)),
              attempts.map((a) => a.triggerType),
              attempts.map((a) => a.createdAt),
            ],
            c,
          );
        }
        // Endpoint health, endpoint by endpoint in id order (no deadlock with other batches).
        const byEndpoint = new Map<string, (typeof outcomes)[number][]>();
        for (const o of outcomes) {
          if (!o.attempt || !held.has(o.deliveryId)) continue;
          const list = byEndpoint.get(o.attempt.endpointId) ?? [];
          list.push(o);
          byEndpoint.set(o.attempt.endpointId, list);
        }
        const disabledIds: string[] = [];
        for (const endpointId of [...byEndpoint.keys()].sort()) {
          let last: 'success' | 'fail' | null = null;
          for (const o of byEndpoint.get(endpointId)!) {
            const a = o.attempt!;
            const kind = a.status === DeliveryStatus.success ? 'success' : 'fail';
            if (kind === 'success') {
              if (last !== 'success')
                await query(
                  'UPDATE endpoint SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL',
                  [endpointId],
                  c,
                );
            } else {
              if (last !== 'fail')
                await query(
                  'UPDATE endpoint SET failing_since = ? WHERE id = ? AND failing_since IS NULL',
                  [a.createdAt, endpointId],
                  c,
                );
              if (o.disableIfFailingSince !== undefined && !disabledIds.includes(endpointId)) {
                const n = await count(
                  'UPDATE endpoint SET disabled = true, updated_at = ? WHERE id = ? AND NOT disabled AND failing_since <= ?',
                  [now, endpointId, o.disableIfFailingSince],
                  c,
                );
                if (n > 0) disabledIds.push(endpointId);
              }
            }
            last = kind;
          }
        }
        // Other workers re-arm their timers for the retries (the local one wakes itself).
        if (outcomes.some((o) => o.next.kind === 'retry' && held.has(o.deliveryId))) await notify(c);
        return disabledIds;
      });
      return { disabledEndpoints: disabled };
    },

    releaseDeliveries: async (ids, now) => {
      if (ids.length === 0) return;
      await query(
        'UPDATE delivery SET status = 1, next_attempt_at = ?, updated_at = ? WHERE id = ANY(?::text[]) AND status = 3',
        [now, now, ids],
      );
    },

    nextDueAt: async (filter = {}) => {
      const scope = scopeSql(filter);
      return numOrNull(
        (
          await one(
            `SELECT MIN(next_attempt_at) AS t FROM delivery WHERE status IN (1, 3)${scope.sql}`,
            scope.params,
          )
        )?.t,
      );
    },

    queueStats: async (now, thresholds) => {
      const q = await one(
        `SELECT COUNT(*) FILTER (WHERE status = 1) AS pending, COUNT(*) FILTER (WHERE status = 3) AS sending,
           COUNT(*) FILTER (WHERE status = 1 AND next_attempt_at <= ?) AS due,
           MIN(next_attempt_at) FILTER (WHERE status = 1 AND next_attempt_at <= ?) AS oldest
         FROM delivery WHERE status IN (1, 3)`,
        [now, now],
      );
      const failing = (
        await query('SELECT failing_since FROM endpoint WHERE failing_since IS NOT NULL AND NOT disabled')
      ).map((r) => num(r.failing_since));
      return {
        pending: num(q?.pending ?? 0),
        due: num(q?.due ?? 0),
        sending: num(q?.sending ?? 0),
        oldestDueAt: numOrNull(q?.oldest),
        failingEndpoints: thresholds.map((thresholdMs) => ({
          thresholdMs,
          count: failing.filter((since) => now - since > thresholdMs).length,
        })),
      };
    },

    resend: async (m, endpointId, id, now) => {
      await tx(async (c) => {
        await insertDeliveries(
          c,
          [{ id, msgId: m.id, appId: m.appId, endpointId, dueAt: now, createdAt: now }],
          TriggerType.manual,
        );
        await notify(c);
      });
      events.emit('queued');
    },

    recover: async (q) => {
      const n = await tx(async (c) => {
        const requeued = await count(
          `UPDATE delivery SET status = 1, next_attempt_at = ?, updated_at = ?
           WHERE endpoint_id = ? AND status IN (2, 4) AND created_at >= ? AND created_at < ?`,
          [q.now, q.now, q.endpointId, q.since, q.until],
          c,
        );
        const missed = await query(
          `SELECT m.id, m.event_type, m.channels FROM message m
           WHERE m.app_id = ? AND m.created_at >= ? AND m.created_at < ?
             AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = m.id AND d.endpoint_id = ?)`,
          [q.appId, q.since, q.until, q.endpointId],
          c,
        );
        const added: NewDelivery[] = [];
        for (const m of missed) {
          if (!q.matches(str(m.event_type), jsonb<string[] | null>(m.channels))) continue;
          added.push({
            id: q.newDeliveryId(),
            msgId: str(m.id),
            appId: q.appId,
            endpointId: q.endpointId,
            dueAt: q.now,
            createdAt: q.now,
          });
        }
        await insertDeliveries(c, added, TriggerType.manual);
        const total = requeued + added.length;
        if (total > 0) await notify(c);
        return total;
      });
      if (n > 0) events.emit('queued');
      return n;
    },

    endpointStats: async (endpointId, since, until) => {
      const stats: EndpointStats = { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 };
      const rows = await query(
        `SELECT status, COUNT(*) AS n FROM delivery WHERE endpoint_id = ? AND created_at >= ? AND created_at < ?
         GROUP BY status`,
        [endpointId, since, until],
      );
      const names = ['success', 'pending', 'fail', 'sending', 'canceled'] as const;
      for (const r of rows) {
        const name = names[num(r.status)];
        if (name) stats[name] = num(r.n);
      }
      return stats;
    },

    endpointSeries: async (endpointId, since, until, bucketMs) =>
      // Nearest-rank percentile, as the SQLite adapter computes it: the smallest duration whose
      // rank within its bucket is at least ceil(p * n).
      (
        await query(
          `WITH w AS (
             SELECT (created_at - $1::bigint) / $2::bigint AS b, duration_ms, status
             FROM attempt WHERE endpoint_id = $3 AND created_at >= $1::bigint AND created_at < $4::bigint
           ), r AS (
             SELECT b, duration_ms, status,
               ROW_NUMBER() OVER (PARTITION BY b ORDER BY duration_ms) AS rn,
               COUNT(*) OVER (PARTITION BY b) AS n
             FROM w
           )
           SELECT b, MAX(n) AS attempts, COUNT(*) FILTER (WHERE status = 0) AS successes,
             MIN(CASE WHEN rn * 100 >= n * 50 THEN duration_ms END) AS p50,
             MIN(CASE WHEN rn * 100 >= n * 95 THEN duration_ms END) AS p95
           FROM r GROUP BY b ORDER BY b`,
          [since, bucketMs, endpointId, until],
        )
      ).map(
        (r): SeriesBucket => ({
          start: since + num(r.b) * bucketMs,
          attempts: num(r.attempts),
          successes: num(r.successes),
          p50Ms: num(r.p50),
          p95Ms: num(r.p95),
        }),
      ),

    // ---- attempts ----------------------------------------------------------------------
    listAttempts: (f, page) => {
      const q = attemptFilterSql(f, messageFilterSql);
      return paged(`SELECT a.* FROM ${q.from} WHERE ${q.where}`, q.params, 'a.id', page, toAttempt);
    },
    getAttempt: async (appId, id) => {
      const r = await one('SELECT * FROM attempt WHERE app_id = ? AND id = ?', [appId, id]);
      return r ? toAttempt(r) : null;
    },

    // ---- inbound sources and events ----------------------------------------------------
    insertSource: async (src) => {
      await tx(async (c) => {
        await query(
          'INSERT INTO app (id, uid, name, throttle_rate, metadata, created_at, updated_at) VALUES (?, NULL, ?, NULL, ?, ?, ?)',
          [src.appId, sourceAppName(src), json(sourceAppMetadata(src)), src.createdAt, src.updatedAt],
          c,
        );
        await query(
          `INSERT INTO source (name, description, verification, forward_secrets, dedupe, event_type, max_body_bytes,
             handshake, allowed_ips, updated_at, id, app_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [...sourceParams(src), src.id, src.appId, src.createdAt],
          c,
        );
        for (const d of src.destinations) {
          const e = destinationEndpoint(src, d, src.createdAt);
          await query(INSERT_ENDPOINT, [...endpointParams(e), e.id, e.appId], c);
        }
      });
    },
    getSource: async (idOrName) => {
      const r = await one('SELECT * FROM source WHERE id = ? OR name = ?', [idOrName, idOrName]);
      return r ? ((await toSources([r]))[0] ?? null) : null;
    },
    listSources: async (page) => {
      const p: PageSql = pageSql('id', page);
      const rows = await query(
        `SELECT * FROM source WHERE ${p.condition} ORDER BY ${p.orderBy} LIMIT ${p.limit}`,
        p.params as Param[],
      );
      return toPage(await toSources(rows), p);
    },
    updateSource: async (src) => {
      await tx(async (c) => {
        await query(
          `UPDATE source SET name = ?, description = ?, verification = ?, forward_secrets = ?, dedupe = ?,
             event_type = ?, max_body_bytes = ?, handshake = ?, allowed_ips = ?, updated_at = ? WHERE id = ?`,
          [...sourceParams(src), src.id],
          c,
        );
        await query(
          'UPDATE app SET name = ?, updated_at = ? WHERE id = ?',
          [sourceAppName(src), src.updatedAt, src.appId],
          c,
        );
        await query(
          'DELETE FROM endpoint WHERE app_id = ? AND id <> ALL(?::text[])',
          [src.appId, src.destinations.map((d) => d.id)],
          c,
        );
        const sealed = box.seal(JSON.stringify(src.forwardSecrets));
        for (const d of src.destinations) {
          const changed = await count(
            `UPDATE endpoint SET url = ?, disabled = ?, event_types = ?, headers = ?, kind = ?, template = ?,
               secrets = ?, updated_at = ?, failing_since = CASE WHEN ? THEN NULL ELSE failing_since END
             WHERE id = ? AND app_id = ?`,
            [
              d.url,
              d.disabled,
              json(d.eventTypes),
              json(d.headers),
              d.kind,
              json(d.template),
              sealed,
              src.updatedAt,
              d.disabled,
              d.id,
              src.appId,
            ],
            c,
          );
          if (changed === 0) {
            const e = destinationEndpoint(src, d, src.updatedAt);
            await query(INSERT_ENDPOINT, [...endpointParams(e), e.id, e.appId], c);
          }
        }
      });
    },
    deleteSource: async (id) => {
      // The application's deletion cascades to the source, its events, endpoints and queue.
      await query('DELETE FROM app WHERE id = (SELECT app_id FROM source WHERE id = ?)', [id]);
    },

    receiveInbound: async (items) => {
      if (items.length === 0) return [];
      const { results, queued } = await tx(async (c) => {
        // Deduplication is decided under one lock per (source, dedupe key), taken up front in a
        // fixed order, so that two processes receiving the same event at once cannot both accept
        // it and concurrent batches never deadlock.
        const keys = [
          ...new Set(
            items
              .filter((i) => i.event.status === 'accepted' && i.dedupeSince !== null)
              .flatMap((i) =>
                (i.parts ? i.parts.map((p) => p.dedupeKey) : [i.event.dedupeKey])
                  .filter((k) => k !== null)
                  .map((k) => `${i.event.sourceId} ${k}`),
              ),
          ),
        ];
        if (keys.length > 0) {
          await query(
            `SELECT pg_advisory_xact_lock(?::int, h) FROM (
               SELECT DISTINCT hashtext(k) AS h FROM unnest(?::text[]) AS k ORDER BY h OFFSET 0) s`,
            [DEDUPE_LOCK, keys],
            c,
          );
        }
        const sources = new Set<string>();
        const routing = new Map<string, RoutingEndpoint[]>();
        const routingOf = async (appId: string) => {
          let endpoints = routing.get(appId);
          if (!endpoints) {
            endpoints = (
              await query(
                'SELECT id, disabled, event_types, channels FROM endpoint WHERE app_id = ?',
                [appId],
                c,
              )
            ).map((r) => ({
              id: str(r.id),
              disabled: r.disabled === true,
              eventTypes: jsonb<string[] | null>(r.event_types),
              channels: jsonb<string[] | null>(r.channels),
            }));
            routing.set(appId, endpoints);
          }
          return endpoints;
        };
        const out: InboundResult[] = [];
        let queued = 0;
        for (const item of items) {
          const ev = item.event;
          if (!sources.has(ev.sourceId)) {
            // Locked against deletion until commit, like an application in ingest.
            if (!(await one('SELECT 1 FROM source WHERE id = ? FOR KEY SHARE', [ev.sourceId], c))) {
              out.push({ status: 'source_not_found' });
              continue;
            }
            sources.add(ev.sourceId);
          }
          if (ev.status === 'accepted' && item.parts) {
            const result = await receiveParts(c, item, item.parts, await routingOf(item.appId));
            if (result.status === 'accepted') queued += result.deliveries;
            else await pruneUnaccepted(c, ev.sourceId, item.keepUnaccepted);
            out.push(result);
            continue;
          }
          // The duplicate check and the insert in one statement (it sees what this transaction
          // stored before, so two copies in one batch are caught).
          const check = ev.status === 'accepted' && ev.dedupeKey !== null && item.dedupeSince !== null;
          const stored = await one(
            `WITH first AS (
               SELECT id FROM inbound_event
               WHERE ?::boolean AND source_id = ? AND dedupe_key = ? AND status = 'accepted' AND received_at >= ?
               ORDER BY received_at, id LIMIT 1
             )
             INSERT INTO inbound_event (id, source_id, status, event_type, dedupe_key, duplicate_of, verify_code,
               verify_detail, content_type, headers, body, received_at, method)
             SELECT ?::text, ?::text, CASE WHEN first.id IS NULL THEN ?::text ELSE 'duplicate' END, ?::text, ?::text,
               first.id, ?::text, ?::text, ?::text, ?::text, ?::bytea, ?::bigint, ?::text
             FROM (VALUES (1)) AS one (x) LEFT JOIN first ON true
             RETURNING status, duplicate_of`,
            [
              check,
              ev.sourceId,
              ev.dedupeKey,
              item.dedupeSince ?? 0,
              ev.id,
              ev.sourceId,
              ev.status,
              ev.eventType,
              ev.dedupeKey,
              ev.verifyCode,
              ev.verifyDetail,
              ev.contentType,
              JSON.stringify(ev.headers),
              ev.body,
              ev.receivedAt,
              ev.method,
            ],
            c,
          );
          const status = str(stored?.status) as InboundStatus;
          if (status !== 'accepted') {
            await pruneUnaccepted(c, ev.sourceId, item.keepUnaccepted);
            out.push(
              status === 'duplicate'
                ? { status, duplicateOf: str(stored?.duplicate_of) }
                : { status: status === 'handshake' ? 'handshake' : 'rejected' },
            );
            continue;
          }
          const endpoints = await routingOf(item.appId);
          const targets = item.route(endpoints, ev.eventType);
          // The message row makes the event a delivery like any other; the bytes stay in
          // inbound_event. Message and deliveries in one statement.
          await query(
            `WITH m AS (
               INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
               VALUES (?, ?, NULL, ?, '{}', NULL, NULL, ?)
             )
             INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
               created_at, updated_at)
             SELECT u.id, ?, ?, u.endpoint_id, 1, 0, ?, ${TriggerType.scheduled}, ?, ?
             FROM unnest(?::text[], ?::text[]) AS u(id, endpoint_id)`,
            [
              ev.id,
              item.appId,
              ev.eventType,
              ev.receivedAt,
              ev.id,
              item.appId,
              ev.receivedAt,
              ev.receivedAt,
              ev.receivedAt,
              targets.map(() => item.newDeliveryId()),
              targets,
            ],
            c,
          );
          queued += targets.length;
          out.push({ status: 'accepted', deliveries: targets.length });
        }
        return { results: out, queued };
      });
      if (queued > 0) {
        events.emit('queued');
        notifySoon();
      }
      return results;
    },
    listInboundEvents: (sourceId, f, page) => {
      let where = 'source_id = ?';
      const params: Param[] = [sourceId];
      if (f.status !== undefined) {
        where += ' AND status = ?';
        params.push(f.status);
      }
      if (f.before !== undefined) {
        where += ' AND received_at < ?';
        params.push(f.before);
      }
      if (f.after !== undefined) {
        where += ' AND received_at > ?';
        params.push(f.after);
      }
      return paged(
        `SELECT ${EVENT_COLUMNS} FROM inbound_event WHERE ${where}`,
        params,
        'id',
        page,
        toInboundEvent,
      );
    },
    getInboundEvent: async (sourceId, id) => {
      const r = await one(`SELECT ${EVENT_COLUMNS} FROM inbound_event WHERE source_id = ? AND id = ?`, [
        sourceId,
        id,
      ]);
      return r ? toInboundEvent(r) : null;
    },

    // ---- retention ---------------------------------------------------------------------
    expunge: async (before, now, batch) => {
      const messages = await count(
        `UPDATE message SET payload = '{}', payload_expunged_at = ?
         WHERE id IN (
           SELECT m.id FROM message m
           WHERE m.created_at < ? AND m.payload_expunged_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = m.id AND d.status IN (1, 3))
           ORDER BY m.created_at LIMIT ? FOR UPDATE SKIP LOCKED)`,
        [now, before, batch],
      );
      // The bytes and headers of inbound requests are payloads too (an accepted event's message
      // holds only '{}'): emptied in the same batch, once nothing waits to forward them.
      const bodies =
        messages >= batch
          ? 0
          : await count(
              `UPDATE inbound_event SET body = ''::bytea, headers = '[]', body_expunged_at = ?
               WHERE id IN (
                 SELECT i.id FROM inbound_event i
                 WHERE i.received_at < ? AND i.body_expunged_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = i.id AND d.status IN (1, 3))
                 ORDER BY i.received_at LIMIT ? FOR UPDATE SKIP LOCKED)`,
              [now, before, batch - messages],
            );
      const attempts = await count(
        `DELETE FROM attempt WHERE id IN (
           SELECT id FROM attempt WHERE created_at < ? ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED)`,
        [before, batch],
      );
      return { payloads: messages + bodies, attempts };
    },

    // ---- idempotency -------------------------------------------------------------------
    getIdempotentResponse: async (key, now) => {
      const r = await one('SELECT status, body FROM idempotency WHERE key = ? AND expires_at > ?', [
        key,
        now,
      ]);
      return r ? ({ status: num(r.status), body: str(r.body) } satisfies StoredResponse) : null;
    },
    putIdempotentResponse: async (key, response, expiresAt, now) => {
      await query(UPSERT_IDEMPOTENCY, [key, response.status, response.body, expiresAt]);
      await query(
        'DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at < ? LIMIT 100)',
        [now],
      );
    },
  };
  return store;
}

function messageFilterSql(f: MessageFilter, alias: string): [string, Param[]] {
  let where = '';
  const params: Param[] = [];
  if (f.eventTypes && f.eventTypes.length > 0) {
    where += ` AND ${alias}event_type = ANY(?::text[])`;
    params.push(f.eventTypes);
  }
  if (f.channel !== undefined) {
    where += ` AND ${alias}channels @> ?::jsonb`;
    params.push(JSON.stringify([f.channel]));
  }
  if (f.tag !== undefined) {
    where += ` AND ${alias}tags @> ?::jsonb`;
    params.push(JSON.stringify([f.tag]));
  }
  if (f.before !== undefined) {
    where += ` AND ${alias}created_at < ?`;
    params.push(f.before);
  }
  if (f.after !== undefined) {
    where += ` AND ${alias}created_at > ?`;
    params.push(f.after);
  }
  return [where, params];
}
