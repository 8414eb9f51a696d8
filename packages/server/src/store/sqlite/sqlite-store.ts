/**
 * The embedded store: one SQLite file through `node:sqlite`, in WAL mode, used by one process.
 *
 * `node:sqlite` is synchronous, so a transaction never interleaves with another: callers batch
 * work (many messages, many attempt results) into one call and one commit, which is where the
 * throughput comes from (one fsync per batch instead of per row).
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SecretBox } from '../../core/secret-box.ts';
import {
  DeliveryStatus,
  type Endpoint,
  type EndpointKind,
  type Source,
  type SourceDestination,
  type SourceDestinationKind,
  TriggerType,
  type TriggerTypeCode,
} from '../../core/types.ts';
import { attemptFilterSql } from '../attempt-filter.ts';
import { type EndpointGate, planClaim, rateOf } from '../claim-plan.ts';
import { type PageSql, pageSql, toPage } from '../paging.ts';
import { createRowMappers, json, num, numOrNull, parse, str, strOrNull } from '../rows.ts';
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
import { SQLITE_MIGRATIONS } from './migrations.ts';

export interface SqliteStoreOptions {
  /** File path, or `:memory:`. */
  path: string;
  secretBox: SecretBox;
  /** `FULL` fsyncs every commit (survives power loss); `NORMAL` survives process crashes only. */
  synchronous?: 'FULL' | 'NORMAL';
}

type Row = Record<string, SQLInputValue>;

/** An inbound event's columns with the ids of the messages it was split into (JSON text). */
const EVENT_COLUMNS = `*, (SELECT json_group_array(msg_id) FROM (
    SELECT msg_id FROM inbound_part p WHERE p.event_id = inbound_event.id ORDER BY msg_id)) AS message_ids`;

/** Maps SQLite's failure modes to Hookline's: a full disk or a locked file means "try later". */
function translate(err: unknown): never {
  const e = err as { errcode?: number; code?: string; message?: string };
  const primary = typeof e.errcode === 'number' ? e.errcode & 0xff : -1;
  // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_NOMEM 7, SQLITE_READONLY 8, SQLITE_IOERR 10,
  // SQLITE_FULL 13, SQLITE_CANTOPEN 14.
  if ([5, 6, 7, 8, 10, 13, 14].includes(primary)) {
    throw new StoreUnavailableError(`database cannot take writes right now: ${e.message ?? 'unknown'}`, err);
  }
  if (primary === 19 && /UNIQUE/.test(e.message ?? ''))
    throw new StoreConflictError(e.message ?? 'unique', err);
  throw err;
}

export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new DatabaseSync(options.path, { enableForeignKeyConstraints: true, timeout: 5000 });
  db.exec('PRAGMA journal_mode = WAL');
  const synchronous = options.synchronous ?? 'FULL';
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec('PRAGMA temp_store = MEMORY');
  db.exec('PRAGMA cache_size = -65536');
  const box = options.secretBox;
  const events = new EventEmitter();

  const statements = new Map<string, StatementSync>();
  const stmt = (sql: string): StatementSync => {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };
  const all = (sql: string, params: SQLInputValue[] = []): Row[] => stmt(sql).all(...params) as Row[];
  const get = (sql: string, params: SQLInputValue[] = []): Row | undefined =>
    stmt(sql).get(...params) as Row | undefined;
  const run = (sql: string, params: SQLInputValue[] = []) => stmt(sql).run(...params);

  /**
   * Runs `fn` in one write transaction. `durable: false` skips the fsync at commit for writes
   * whose loss on power failure is harmless (a lease: the delivery is simply claimed again);
   * the next durable commit flushes them anyway.
   */
  function tx<T>(fn: () => T, durable = true): T {
    const relax = !durable && synchronous === 'FULL';
    if (relax) db.exec('PRAGMA synchronous = NORMAL');
    try {
      try {
        db.exec('BEGIN IMMEDIATE');
      } catch (err) {
        return translate(err);
      }
      try {
        const result = fn();
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        return translate(err);
      }
    } finally {
      if (relax) db.exec('PRAGMA synchronous = FULL');
    }
  }
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      try {
        translate(err);
      } catch (mapped) {
        return Promise.reject(mapped);
      }
    }
  };

  function paged<T>(
    sqlBefore: string,
    params: SQLInputValue[],
    key: string,
    page: PageQuery,
    map: (r: Row) => T,
  ): Page<T> {
    const p: PageSql = pageSql(key, page);
    const rows = all(`${sqlBefore} AND ${p.condition} ORDER BY ${p.orderBy} LIMIT ${p.limit}`, [
      ...params,
      ...p.params,
    ]);
    return toPage(rows.map(map), p);
  }

  // ---- row mappers --------------------------------------------------------------------
  const { openSecrets, toApp, toAppToken, toEndpoint, toEventType, toMessage, toAttempt, toInboundEvent } =
    createRowMappers({ flag: (v) => num(v) === 1, list: parse }, box);
  const toSource = (r: Row): Source => ({
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
    destinations: all('SELECT * FROM endpoint WHERE app_id = ? ORDER BY id', [str(r.app_id)]).map(
      (e): SourceDestination => ({
        id: str(e.id),
        url: str(e.url),
        headers: parse(e.headers),
        eventTypes: parse(e.event_types),
        disabled: num(e.disabled) === 1,
        kind: str(e.kind) as SourceDestinationKind,
        template: parse(e.template),
      }),
    ),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  });
  const sourceParams = (src: Source): SQLInputValue[] => [
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

  const endpointParams = (e: Endpoint): SQLInputValue[] => [
    e.uid,
    e.url,
    e.description,
    e.disabled ? 1 : 0,
    json(e.eventTypes),
    json(e.channels),
    e.throttleRate,
    json(e.metadata),
    json(e.headers),
    box.seal(JSON.stringify(e.secrets)),
    e.svixHeaders ? 1 : 0,
    e.failingSince,
    e.kind ?? 'http',
    e.fifo ? 1 : 0,
    json(e.template ?? null),
    e.createdAt,
    e.updatedAt,
  ];

  /** Queues one (message, endpoint) pair: pending, no attempts yet, due at `dueAt`. */
  const insertDelivery = (
    id: string,
    msgId: string,
    appId: string,
    endpointId: string,
    dueAt: number,
    triggerType: TriggerTypeCode,
    now: number,
  ) =>
    run(
      `INSERT INTO delivery (id, msg_id, app_id, endpoint_id, status, attempts, next_attempt_at, trigger_type,
         created_at, updated_at) VALUES (?, ?, ?, ?, 1, 0, ?, ?, ?, ?)`,
      [id, msgId, appId, endpointId, dueAt, triggerType, now, now],
    );

  const INSERT_ENDPOINT = `INSERT INTO endpoint (uid, url, description, disabled, event_types, channels,
      throttle_rate, metadata, headers, secrets, svix_headers, failing_since, kind, fifo, template, created_at, updated_at, id,
      app_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
  /** The extra WHERE terms of a `DeliveryScope`, on the `delivery` table. */
  const scopeSql = (scope: DeliveryScope) => {
    let sql = '';
    const params: SQLInputValue[] = [];
    if (scope.onlyEndpoints) {
      sql += ' AND endpoint_id IN (SELECT value FROM json_each(?))';
      params.push(JSON.stringify(scope.onlyEndpoints));
    }
    if (scope.excludeKinds && scope.excludeKinds.length > 0) {
      sql +=
        ' AND endpoint_id NOT IN (SELECT id FROM endpoint WHERE kind IN (SELECT value FROM json_each(?)))';
      params.push(JSON.stringify(scope.excludeKinds));
    }
    return { sql, params };
  };

  const ENDPOINT_BY_ID_OR_UID = 'SELECT * FROM endpoint WHERE app_id = ? AND (id = ? OR uid = ?)';
  const UPSERT_IDEMPOTENCY = `INSERT INTO idempotency (key, status, body, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body, expires_at = excluded.expires_at`;
  const ROUTING = 'SELECT id, disabled, event_types, channels FROM endpoint WHERE app_id = ?';

  const store: Store = {
    capabilities: { multiProcess: false },

    async migrate() {
      db.exec(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)',
      );
      const done = new Set(all('SELECT version FROM schema_migrations').map((r) => num(r.version)));
      for (const m of SQLITE_MIGRATIONS) {
        if (done.has(m.version)) continue;
        tx(() => {
          db.exec(m.sql);
          run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
            m.version,
            m.name,
            Date.now(),
          ]);
        });
      }
    },
    pendingMigrations: () =>
      guard(() => {
        if (!get("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"))
          return SQLITE_MIGRATIONS.length;
        const done = new Set(all('SELECT version FROM schema_migrations').map((r) => num(r.version)));
        return SQLITE_MIGRATIONS.filter((m) => !done.has(m.version)).length;
      }),
    ping: () => guard(() => void get('SELECT 1')),
    async close() {
      if (db.isOpen) db.close();
    },
    onDeliveriesQueued(listener) {
      events.on('queued', listener);
      return () => events.off('queued', listener);
    },

    getSetting: (key) => guard(() => strOrNull(get('SELECT value FROM setting WHERE key = ?', [key])?.value)),
    setSetting: (key, value) =>
      guard(() => {
        run(
          'INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          [key, value],
        );
      }),

    setSettingIfAbsent: (key, value) =>
      guard(() => {
        run('INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [key, value]);
        return str(get('SELECT value FROM setting WHERE key = ?', [key])?.value);
      }),

    // ---- applications ------------------------------------------------------------------
    insertApp: (a) =>
      guard(() => {
        run(
          'INSERT INTO app (id, uid, name, throttle_rate, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [a.id, a.uid, a.name, a.throttleRate, json(a.metadata), a.createdAt, a.updatedAt],
        );
      }),
    getApp: (idOrUid) =>
      guard(() => {
        const r = get('SELECT * FROM app WHERE id = ? OR uid = ?', [idOrUid, idOrUid]);
        return r ? toApp(r) : null;
      }),
    listApps: (page) =>
      guard(() =>
        paged('SELECT * FROM app WHERE id NOT IN (SELECT app_id FROM source)', [], 'id', page, toApp),
      ),
    updateApp: (a) =>
      guard(() => {
        run(
          'UPDATE app SET uid = ?, name = ?, throttle_rate = ?, metadata = ?, updated_at = ? WHERE id = ?',
          [a.uid, a.name, a.throttleRate, json(a.metadata), a.updatedAt, a.id],
        );
      }),
    deleteApp: (id) =>
      guard(() =>
        tx(() => {
          run('DELETE FROM app WHERE id = ?', [id]);
        }),
      ),

    // ---- endpoints ---------------------------------------------------------------------
    insertEndpoint: (e) =>
      guard(() => {
        run(INSERT_ENDPOINT, [...endpointParams(e), e.id, e.appId]);
      }),
    getEndpoint: (appId, idOrUid) =>
      guard(() => {
        const r = get(ENDPOINT_BY_ID_OR_UID, [appId, idOrUid, idOrUid]);
        return r ? toEndpoint(r) : null;
      }),
    listEndpoints: (appId, page, filter = {}) =>
      guard(() => {
        let sql = 'SELECT * FROM endpoint WHERE app_id = ?';
        const params: SQLInputValue[] = [appId];
        if (filter.url !== undefined) {
          sql += ' AND url = ?';
          params.push(filter.url);
        }
        for (const [key, value] of Object.entries(filter.metadata ?? {})) {
          sql += ' AND json_extract(metadata, ?) = ?';
          params.push(`$.${JSON.stringify(key)}`, value);
        }
        return paged(sql, params, 'id', page, toEndpoint);
      }),
    updateEndpoint: (e) =>
      guard(() => {
        run(
          `UPDATE endpoint SET uid = ?, url = ?, description = ?, disabled = ?, event_types = ?, channels = ?,
             throttle_rate = ?, metadata = ?, headers = ?, secrets = ?, svix_headers = ?, failing_since = ?,
             kind = ?, fifo = ?, template = ?, created_at = ?, updated_at = ?
           WHERE id = ? AND app_id = ?`,
          [...endpointParams(e), e.id, e.appId],
        );
      }),
    deleteEndpoint: (appId, id) =>
      guard(() =>
        tx(() => {
          run('DELETE FROM endpoint WHERE id = ? AND app_id = ?', [id, appId]);
        }),
      ),

    // ---- application tokens ------------------------------------------------------------
    insertAppToken: (t) =>
      guard(() => {
        run(
          `INSERT INTO app_token (id, app_id, token_hash, read_only, feature_flags, expires_at, revoked_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            t.id,
            t.appId,
            t.tokenHash,
            t.readOnly ? 1 : 0,
            json(t.featureFlags),
            t.expiresAt,
            t.revokedAt,
            t.createdAt,
          ],
        );
      }),
    getAppTokenByHash: (tokenHash) =>
      guard(() => {
        const r = get('SELECT * FROM app_token WHERE token_hash = ?', [tokenHash]);
        return r ? toAppToken(r) : null;
      }),
    revokeAppToken: (id, now) =>
      guard(() => {
        run('UPDATE app_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id]);
      }),
    expireAppTokens: (appId, at) =>
      guard(() =>
        Number(
          run(
            'UPDATE app_token SET expires_at = ? WHERE app_id = ? AND expires_at > ? AND revoked_at IS NULL',
            [at, appId, at],
          ).changes,
        ),
      ),

    // ---- event types -------------------------------------------------------------------
    insertEventType: (t) =>
      guard(() => {
        run(
          `INSERT INTO event_type (name, description, archived, deprecated, schemas, group_name, feature_flags,
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            t.name,
            t.description,
            t.archived ? 1 : 0,
            t.deprecated ? 1 : 0,
            json(t.schemas),
            t.groupName,
            json(t.featureFlags),
            t.createdAt,
            t.updatedAt,
          ],
        );
      }),
    getEventType: (name) =>
      guard(() => {
        const r = get('SELECT * FROM event_type WHERE name = ?', [name]);
        return r ? toEventType(r) : null;
      }),
    existingEventTypes: (names) =>
      guard(() => {
        if (names.length === 0) return new Set<string>();
        const rows = all(
          'SELECT name FROM event_type WHERE archived = 0 AND name IN (SELECT value FROM json_each(?))',
          [JSON.stringify(names)],
        );
        return new Set(rows.map((r) => str(r.name)));
      }),
    listEventTypes: (page, includeArchived) =>
      guard(() =>
        paged(
          `SELECT * FROM event_type WHERE ${includeArchived ? '1=1' : 'archived = 0'}`,
          [],
          'name',
          page,
          toEventType,
        ),
      ),
    updateEventType: (t) =>
      guard(() => {
        run(
          `UPDATE event_type SET description = ?, archived = ?, deprecated = ?, schemas = ?, group_name = ?,
             feature_flags = ?, updated_at = ? WHERE name = ?`,
          [
            t.description,
            t.archived ? 1 : 0,
            t.deprecated ? 1 : 0,
            json(t.schemas),
            t.groupName,
            json(t.featureFlags),
            t.updatedAt,
            t.name,
          ],
        );
      }),

    // ---- messages ----------------------------------------------------------------------
    ingest: (items) =>
      guard(() => {
        let queued = 0;
        const results = tx(() => {
          const routingCache = new Map<string, RoutingEndpoint[]>();
          return items.map((item): IngestResult => {
            const m = item.message;
            let endpoints = routingCache.get(m.appId);
            if (!endpoints) {
              if (!get('SELECT 1 FROM app WHERE id = ?', [m.appId]))
                return { ok: false, reason: 'app_not_found' };
              endpoints = all(ROUTING, [m.appId]).map((r) => ({
                id: str(r.id),
                disabled: num(r.disabled) === 1,
                eventTypes: parse<string[] | null>(r.event_types),
                channels: parse<string[] | null>(r.channels),
              }));
              routingCache.set(m.appId, endpoints);
            }
            if (m.eventId !== null) {
              const existing = get('SELECT * FROM message WHERE app_id = ? AND event_id = ?', [
                m.appId,
                m.eventId,
              ]);
              if (existing) return { ok: false, reason: 'duplicate_event_id', existing: toMessage(existing) };
            }
            run(
              `INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
              [m.id, m.appId, m.eventId, m.eventType, m.payload, json(m.channels), json(m.tags), m.createdAt],
            );
            const targets = item.route(endpoints);
            for (const endpointId of targets) {
              insertDelivery(
                item.newDeliveryId(),
                m.id,
                m.appId,
                endpointId,
                item.dueAt,
                TriggerType.scheduled,
                m.createdAt,
              );
            }
            if (item.idempotency) {
              const { key, response, expiresAt } = item.idempotency;
              run(UPSERT_IDEMPOTENCY, [key, response.status, response.body, expiresAt]);
            }
            queued += targets.length;
            return { ok: true, deliveries: targets.length };
          });
        });
        if (queued > 0) events.emit('queued');
        return results;
      }),
    getMessage: (appId, idOrEventId) =>
      guard(() => {
        const r = get('SELECT * FROM message WHERE app_id = ? AND (id = ? OR event_id = ?)', [
          appId,
          idOrEventId,
          idOrEventId,
        ]);
        return r ? toMessage(r) : null;
      }),
    listMessages: (appId, filter, page) =>
      guard(() => {
        const [where, params] = messageFilterSql(filter, '');
        return paged(
          `SELECT * FROM message WHERE app_id = ?${where}`,
          [appId, ...params],
          'id',
          page,
          toMessage,
        );
      }),

    // ---- the queue ---------------------------------------------------------------------
    claimDue: (o) =>
      guard(() => {
        const leaseUntil = o.now + o.leaseMs;
        const scope = scopeSql(o);
        // One writer at a time (BEGIN IMMEDIATE): the endpoint limits are counted and updated
        // without racing another claim.
        const rows = tx(() => {
          const candidates = all(
            `SELECT d.id, d.endpoint_id FROM delivery d
             WHERE d.status IN (1, 3) AND d.next_attempt_at <= ?
               AND d.endpoint_id NOT IN (SELECT value FROM json_each(?))${scope.sql}
               AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.id = d.endpoint_id AND e.throttle_next_at > ?)
               -- Blocked endpoints (at their in-flight limit, or FIFO with the head in flight or
               -- waiting for its retry) are left out, and of a FIFO endpoint only its head
               -- counts, so that one large backlog cannot hide other work.
               AND d.endpoint_id NOT IN (
                 SELECT endpoint_id FROM delivery WHERE status = 3 AND next_attempt_at > ?
                 GROUP BY endpoint_id HAVING COUNT(*) >= ?)
               AND d.endpoint_id NOT IN (
                 SELECT e.id FROM endpoint e WHERE e.fifo = 1 AND (
                   SELECT h.next_attempt_at FROM delivery h WHERE h.endpoint_id = e.id AND h.status IN (1, 3)
                   ORDER BY h.created_at, h.id LIMIT 1) > ?)
               AND NOT EXISTS (
                 SELECT 1 FROM endpoint e JOIN delivery older ON older.endpoint_id = e.id
                 WHERE e.id = d.endpoint_id AND e.fifo = 1 AND older.status IN (1, 3)
                   AND (older.created_at, older.id) < (d.created_at, d.id))
             ORDER BY d.next_attempt_at, d.id LIMIT ?`,
            [
              o.now,
              JSON.stringify(o.skipEndpoints),
              ...scope.params,
              o.now,
              o.now,
              o.perEndpoint,
              o.now,
              o.limit * 4,
            ],
          );
          if (candidates.length === 0) return [];
          const endpointIds = JSON.stringify([...new Set(candidates.map((r) => str(r.endpoint_id)))]);
          const eps = all(
            `SELECT e.id, e.fifo, e.kind, e.throttle_next_at, e.throttle_rate, a.throttle_rate AS app_rate
             FROM endpoint e JOIN app a ON a.id = e.app_id WHERE e.id IN (SELECT value FROM json_each(?))`,
            [endpointIds],
          );
          const inFlight = new Map(
            all(
              `SELECT endpoint_id, COUNT(*) AS n FROM delivery
               WHERE endpoint_id IN (SELECT value FROM json_each(?)) AND status = 3 AND next_attempt_at > ?
               GROUP BY endpoint_id`,
              [endpointIds, o.now],
            ).map((r) => [str(r.endpoint_id), num(r.n)]),
          );
          const gates = new Map<string, EndpointGate>();
          for (const e of eps) {
            const id = str(e.id);
            const fifo = num(e.fifo) === 1;
            const head = fifo
              ? get(
                  `SELECT id, next_attempt_at FROM delivery WHERE endpoint_id = ? AND status IN (1, 3)
                   ORDER BY created_at, id LIMIT 1`,
                  [id],
                )
              : undefined;
            gates.set(id, {
              inFlight: inFlight.get(id) ?? 0,
              fifo,
              fifoHead: head ? { id: str(head.id), due: num(head.next_attempt_at) <= o.now } : null,
              ratePerSecond: rateOf(numOrNull(e.throttle_rate), numOrNull(e.app_rate), str(e.kind)),
              nextSlotAt: numOrNull(e.throttle_next_at),
            });
          }
          const plan = planClaim(
            candidates.map((r) => ({ id: str(r.id), endpointId: str(r.endpoint_id) })),
            gates,
            o,
          );
          for (const [id, at] of plan.slots)
            run('UPDATE endpoint SET throttle_next_at = ? WHERE id = ?', [at, id]);
          if (plan.ids.length === 0) return [];
          // One statement leases the plan; the rows come back in the plan's (due, id) order.
          const leased = all(
            `UPDATE delivery SET status = 3, next_attempt_at = ?, updated_at = ?
             WHERE id IN (SELECT value FROM json_each(?)) AND status IN (1, 3) AND next_attempt_at <= ?
             RETURNING id, msg_id, app_id, endpoint_id, attempts, trigger_type`,
            [leaseUntil, o.now, JSON.stringify(plan.ids), o.now],
          );
          const position = new Map(plan.ids.map((id, i) => [id, i]));
          const claimedRows = leased.sort((a, b) => position.get(str(a.id))! - position.get(str(b.id))!);
          return claimedRows;
        }, false);
        const claimed: ClaimedDelivery[] = [];
        if (rows.length === 0) return claimed;
        const messages = new Map(
          all(
            `SELECT m.id, m.event_type, m.payload, m.created_at, i.body, i.content_type, i.headers AS inbound_headers
             FROM message m LEFT JOIN inbound_event i ON i.id = m.id
             WHERE m.id IN (SELECT value FROM json_each(?))`,
            [JSON.stringify([...new Set(rows.map((r) => r.msg_id))])],
          ).map((m) => [str(m.id), m]),
        );
        const endpoints = new Map<string, ClaimedDelivery['endpoint'] | null>();
        for (const r of rows) {
          const endpointId = str(r.endpoint_id);
          let endpoint = endpoints.get(endpointId);
          if (endpoint === undefined) {
            const ep = get(
              'SELECT url, disabled, headers, secrets, svix_headers, kind, template, uid, description, metadata FROM endpoint WHERE id = ?',
              [endpointId],
            );
            endpoint = ep
              ? {
                  url: str(ep.url),
                  disabled: num(ep.disabled) === 1,
                  headers: parse(ep.headers),
                  secrets: openSecrets(ep.secrets),
                  svixHeaders: num(ep.svix_headers) === 1,
                  metadata: parse(ep.metadata),
                  kind: str(ep.kind) as EndpointKind,
                  template: parse(ep.template),
                  uid: strOrNull(ep.uid),
                  description: str(ep.description),
                }
              : null;
            endpoints.set(endpointId, endpoint);
          }
          const msg = messages.get(str(r.msg_id));
          if (!msg || !endpoint) continue; // deleted meanwhile; cascades remove the delivery too
          claimed.push({
            id: str(r.id),
            msgId: str(r.msg_id),
            appId: str(r.app_id),
            endpointId,
            attempts: num(r.attempts),
            triggerType: num(r.trigger_type) as TriggerTypeCode,
            eventType: str(msg.event_type),
            payload: str(msg.payload),
            msgCreatedAt: num(msg.created_at),
            leaseUntil,
            ...(msg.body !== null && msg.body !== undefined
              ? {
                  inbound: {
                    body: Buffer.from(msg.body as Uint8Array),
                    contentType: strOrNull(msg.content_type),
                    headers: parse<[string, string][]>(msg.inbound_headers),
                  },
                }
              : {}),
            endpoint,
          });
        }
        return claimed;
      }),

    completeDeliveries: (outcomes, now) =>
      guard(() => {
        const disabled: string[] = [];
        tx(() => {
          for (const o of outcomes) {
            const a = o.attempt;
            const n = o.next;
            const status =
              n.kind === 'success'
                ? DeliveryStatus.success
                : n.kind === 'retry'
                  ? DeliveryStatus.pending
                  : n.kind === 'fail'
                    ? DeliveryStatus.fail
                    : DeliveryStatus.canceled;
            // Only the holder of the current lease moves the delivery on. A worker whose lease ran
            // out (another took the delivery over) still logs its attempt, if the delivery exists.
            const moved = run(
              `UPDATE delivery SET status = ?, attempts = attempts + ?, next_attempt_at = ?, updated_at = ?
               WHERE id = ? AND status = 3 AND next_attempt_at = ?`,
              [
                status,
                a && !(n.kind === 'retry' && n.rateLimited) ? 1 : 0,
                n.kind === 'retry' ? n.at : now,
                now,
                o.deliveryId,
                o.leaseUntil,
              ],
            );
            const leaseHeld = Number(moved.changes) > 0;
            if (!a || (!leaseHeld && !get('SELECT 1 FROM delivery WHERE id = ?', [o.deliveryId]))) continue;
            run(
              `INSERT INTO attempt (id, delivery_id, msg_id, endpoint_id, app_id, url, status, response_status_code,
                 response, response_headers, request_headers, request_body, duration_ms, trigger_type, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
              [
                a.id,
                a.deliveryId,
                a.msgId,
                a.endpointId,
                a.appId,
                a.url,
                a.status,
                a.responseStatusCode,
                a.response,
                json(a.responseHeaders),
                json(a.requestHeaders),
                a.requestBody ?? null,
                a.durationMs,
                a.triggerType,
                a.createdAt,
              ],
            );
            if (!leaseHeld) continue;
            if (a.status === DeliveryStatus.success) {
              run('UPDATE endpoint SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL', [
                a.endpointId,
              ]);
            } else {
              run('UPDATE endpoint SET failing_since = ? WHERE id = ? AND failing_since IS NULL', [
                a.createdAt,
                a.endpointId,
              ]);
              if (o.disableIfFailingSince !== undefined) {
                const r = run(
                  'UPDATE endpoint SET disabled = 1, updated_at = ? WHERE id = ? AND disabled = 0 AND failing_since <= ?',
                  [now, a.endpointId, o.disableIfFailingSince],
                );
                if (Number(r.changes) > 0) disabled.push(a.endpointId);
              }
            }
          }
        });
        return { disabledEndpoints: disabled };
      }),

    releaseDeliveries: (ids, now) =>
      guard(() =>
        tx(() => {
          for (const id of ids) {
            run(
              'UPDATE delivery SET status = 1, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 3',
              [now, now, id],
            );
          }
        }),
      ),

    nextDueAt: (filter = {}) =>
      guard(() => {
        const scope = scopeSql(filter);
        return numOrNull(
          get(
            `SELECT MIN(next_attempt_at) AS t FROM delivery WHERE status IN (1, 3)${scope.sql}`,
            scope.params,
          )?.t,
        );
      }),

    queueStats: (now, thresholds) =>
      guard(() => {
        const q = get(
          `SELECT COALESCE(SUM(status = 1), 0) AS pending, COALESCE(SUM(status = 3), 0) AS sending,
             COALESCE(SUM(status = 1 AND next_attempt_at <= ?), 0) AS due,
             MIN(CASE WHEN status = 1 AND next_attempt_at <= ? THEN next_attempt_at END) AS oldest
           FROM delivery WHERE status IN (1, 3)`,
          [now, now],
        );
        const failing = all(
          'SELECT failing_since FROM endpoint WHERE failing_since IS NOT NULL AND disabled = 0',
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
      }),

    resend: (m, endpointId, id, now) =>
      guard(() => {
        insertDelivery(id, m.id, m.appId, endpointId, now, TriggerType.manual, now);
        events.emit('queued');
      }),

    recover: (q) =>
      guard(() => {
        const count = tx(() => {
          const requeued = run(
            `UPDATE delivery SET status = 1, next_attempt_at = ?, updated_at = ?
             WHERE endpoint_id = ? AND status IN (2, 4) AND created_at >= ? AND created_at < ?`,
            [q.now, q.now, q.endpointId, q.since, q.until],
          );
          let added = 0;
          const missed = all(
            `SELECT m.id, m.event_type, m.channels FROM message m
             WHERE m.app_id = ? AND m.created_at >= ? AND m.created_at < ?
               AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = m.id AND d.endpoint_id = ?)`,
            [q.appId, q.since, q.until, q.endpointId],
          );
          for (const m of missed) {
            if (!q.matches(str(m.event_type), parse<string[] | null>(m.channels))) continue;
            insertDelivery(
              q.newDeliveryId(),
              str(m.id),
              q.appId,
              q.endpointId,
              q.now,
              TriggerType.manual,
              q.now,
            );
            added++;
          }
          return Number(requeued.changes) + added;
        });
        if (count > 0) events.emit('queued');
        return count;
      }),

    endpointStats: (endpointId, since, until) =>
      guard(() => {
        const stats: EndpointStats = { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 };
        const rows = all(
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
      }),

    endpointSeries: (endpointId, since, until, bucketMs) =>
      guard(() =>
        // Nearest-rank percentile: the smallest duration whose rank within its bucket is at
        // least ceil(p * n).
        all(
          `WITH w AS (
             SELECT CAST((created_at - ?1) / ?2 AS INTEGER) AS b, duration_ms, status
             FROM attempt WHERE endpoint_id = ?3 AND created_at >= ?1 AND created_at < ?4
           ), r AS (
             SELECT b, duration_ms, status,
               ROW_NUMBER() OVER (PARTITION BY b ORDER BY duration_ms) AS rn,
               COUNT(*) OVER (PARTITION BY b) AS n
             FROM w
           )
           SELECT b, MAX(n) AS attempts, SUM(status = 0) AS successes,
             MIN(CASE WHEN rn * 100 >= n * 50 THEN duration_ms END) AS p50,
             MIN(CASE WHEN rn * 100 >= n * 95 THEN duration_ms END) AS p95
           FROM r GROUP BY b ORDER BY b`,
          [since, bucketMs, endpointId, until],
        ).map(
          (r): SeriesBucket => ({
            start: since + num(r.b) * bucketMs,
            attempts: num(r.attempts),
            successes: num(r.successes),
            p50Ms: num(r.p50),
            p95Ms: num(r.p95),
          }),
        ),
      ),

    // ---- attempts ----------------------------------------------------------------------
    listAttempts: (f, page) =>
      guard(() => {
        const q = attemptFilterSql(f, messageFilterSql);
        return paged(`SELECT a.* FROM ${q.from} WHERE ${q.where}`, q.params, 'a.id', page, toAttempt);
      }),
    getAttempt: (appId, id) =>
      guard(() => {
        const r = get('SELECT * FROM attempt WHERE app_id = ? AND id = ?', [appId, id]);
        return r ? toAttempt(r) : null;
      }),

    // ---- inbound sources and events ----------------------------------------------------
    insertSource: (src) =>
      guard(() =>
        tx(() => {
          run(
            'INSERT INTO app (id, uid, name, throttle_rate, metadata, created_at, updated_at) VALUES (?, NULL, ?, NULL, ?, ?, ?)',
            [src.appId, sourceAppName(src), json(sourceAppMetadata(src)), src.createdAt, src.updatedAt],
          );
          run(
            `INSERT INTO source (name, description, verification, forward_secrets, dedupe, event_type, max_body_bytes,
               handshake, allowed_ips, updated_at, id, app_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [...sourceParams(src), src.id, src.appId, src.createdAt],
          );
          for (const d of src.destinations) {
            const e = destinationEndpoint(src, d, src.createdAt);
            run(INSERT_ENDPOINT, [...endpointParams(e), e.id, e.appId]);
          }
        }),
      ),
    getSource: (idOrName) =>
      guard(() => {
        const r = get('SELECT * FROM source WHERE id = ? OR name = ?', [idOrName, idOrName]);
        return r ? toSource(r) : null;
      }),
    listSources: (page) => guard(() => paged('SELECT * FROM source WHERE 1=1', [], 'id', page, toSource)),
    updateSource: (src) =>
      guard(() =>
        tx(() => {
          run(
            `UPDATE source SET name = ?, description = ?, verification = ?, forward_secrets = ?, dedupe = ?,
               event_type = ?, max_body_bytes = ?, handshake = ?, allowed_ips = ?, updated_at = ? WHERE id = ?`,
            [...sourceParams(src), src.id],
          );
          run('UPDATE app SET name = ?, updated_at = ? WHERE id = ?', [
            sourceAppName(src),
            src.updatedAt,
            src.appId,
          ]);
          const keep = src.destinations.map((d) => d.id);
          run('DELETE FROM endpoint WHERE app_id = ? AND id NOT IN (SELECT value FROM json_each(?))', [
            src.appId,
            JSON.stringify(keep),
          ]);
          for (const d of src.destinations) {
            const existing = get(
              'SELECT created_at, failing_since FROM endpoint WHERE id = ? AND app_id = ?',
              [d.id, src.appId],
            );
            if (existing) {
              run(
                `UPDATE endpoint SET url = ?, disabled = ?, event_types = ?, headers = ?, kind = ?, template = ?,
                   secrets = ?, updated_at = ?, failing_since = CASE WHEN ? = 0 THEN failing_since ELSE NULL END
                 WHERE id = ? AND app_id = ?`,
                [
                  d.url,
                  d.disabled ? 1 : 0,
                  json(d.eventTypes),
                  json(d.headers),
                  d.kind,
                  json(d.template),
                  box.seal(JSON.stringify(src.forwardSecrets)),
                  src.updatedAt,
                  d.disabled ? 1 : 0,
                  d.id,
                  src.appId,
                ],
              );
            } else {
              const e = destinationEndpoint(src, d, src.updatedAt);
              run(INSERT_ENDPOINT, [...endpointParams(e), e.id, e.appId]);
            }
          }
        }),
      ),
    deleteSource: (id) =>
      guard(() =>
        tx(() => {
          // The application's deletion cascades to the source, its events, endpoints and queue.
          run('DELETE FROM app WHERE id = (SELECT app_id FROM source WHERE id = ?)', [id]);
        }),
      ),

    receiveInbound: (items) =>
      guard(() => {
        let queued = 0;
        const routingOf = (appId: string) =>
          all(ROUTING, [appId]).map((r) => ({
            id: str(r.id),
            disabled: num(r.disabled) === 1,
            eventTypes: parse<string[] | null>(r.event_types),
            channels: parse<string[] | null>(r.channels),
          }));
        /** Queues a message's deliveries; returns how many. */
        const queue = (item: InboundItem, msgId: string, eventType: string, at: number): number => {
          const targets = item.route(routingOf(item.appId), eventType);
          for (const endpointId of targets) {
            insertDelivery(
              item.newDeliveryId(),
              msgId,
              item.appId,
              endpointId,
              at,
              TriggerType.scheduled,
              at,
            );
          }
          return targets.length;
        };
        const results = tx(() =>
          items.map((item): InboundResult => {
            const ev = item.event;
            if (!get('SELECT 1 FROM source WHERE id = ?', [ev.sourceId]))
              return { status: 'source_not_found' };
            let status = ev.status;
            let duplicateOf: string | null = null;
            // A split request: the parts that repeat an accepted part are dropped; none left: duplicate.
            const fresh: InboundPart[] = [];
            if (status === 'accepted' && item.parts) {
              const seen = new Set<string>();
              for (const part of item.parts) {
                if (part.dedupeKey !== null && item.dedupeSince !== null) {
                  const first = seen.has(part.dedupeKey)
                    ? { event_id: ev.id }
                    : get(
                        `SELECT event_id FROM inbound_part WHERE source_id = ? AND dedupe_key = ? AND received_at >= ?
                         ORDER BY received_at LIMIT 1`,
                        [ev.sourceId, part.dedupeKey, item.dedupeSince],
                      );
                  if (first) {
                    duplicateOf ??= str(first.event_id);
                    continue;
                  }
                  seen.add(part.dedupeKey);
                }
                fresh.push(part);
              }
              if (fresh.length > 0) duplicateOf = null;
              else status = 'duplicate';
            } else if (status === 'accepted' && ev.dedupeKey !== null && item.dedupeSince !== null) {
              const first = get(
                `SELECT id FROM inbound_event WHERE source_id = ? AND dedupe_key = ? AND status = 'accepted'
                   AND received_at >= ? ORDER BY received_at LIMIT 1`,
                [ev.sourceId, ev.dedupeKey, item.dedupeSince],
              );
              if (first) {
                status = 'duplicate';
                duplicateOf = str(first.id);
              }
            }
            run(
              `INSERT INTO inbound_event (id, source_id, status, event_type, dedupe_key, duplicate_of, verify_code,
                 verify_detail, content_type, headers, body, received_at, method)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
              [
                ev.id,
                ev.sourceId,
                status,
                ev.eventType,
                ev.dedupeKey,
                duplicateOf,
                ev.verifyCode,
                ev.verifyDetail,
                ev.contentType,
                JSON.stringify(ev.headers),
                ev.body,
                ev.receivedAt,
                ev.method,
              ],
            );
            if (status !== 'accepted') {
              run(
                `DELETE FROM inbound_event WHERE id IN (
                   SELECT id FROM inbound_event WHERE source_id = ? AND status IN ('rejected', 'duplicate', 'handshake')
                   ORDER BY id DESC LIMIT -1 OFFSET ?)`,
                [ev.sourceId, item.keepUnaccepted],
              );
              return status === 'duplicate' ? { status, duplicateOf: duplicateOf! } : { status };
            }
            if (item.parts) {
              // Each new part is a message of its own (its payload: the part's JSON); the request's
              // bytes stay once in inbound_event.
              let deliveries = 0;
              for (const part of fresh) {
                run(
                  `INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
                   VALUES (?, ?, NULL, ?, ?, NULL, NULL, ?)`,
                  [part.msgId, item.appId, part.eventType, part.payload, ev.receivedAt],
                );
                run(
                  'INSERT INTO inbound_part (msg_id, event_id, source_id, dedupe_key, received_at) VALUES (?, ?, ?, ?, ?)',
                  [part.msgId, ev.id, ev.sourceId, part.dedupeKey, ev.receivedAt],
                );
                deliveries += queue(item, part.msgId, part.eventType, ev.receivedAt);
              }
              queued += deliveries;
              return { status: 'accepted', deliveries, messages: fresh.map((p) => p.msgId) };
            }
            // The message row makes the event a delivery like any other; the bytes stay in inbound_event.
            run(
              `INSERT INTO message (id, app_id, event_id, event_type, payload, channels, tags, created_at)
               VALUES (?, ?, NULL, ?, '{}', NULL, NULL, ?)`,
              [ev.id, item.appId, ev.eventType, ev.receivedAt],
            );
            const deliveries = queue(item, ev.id, ev.eventType, ev.receivedAt);
            queued += deliveries;
            return { status: 'accepted', deliveries };
          }),
        );
        if (queued > 0) events.emit('queued');
        return results;
      }),
    listInboundEvents: (sourceId, f, page) =>
      guard(() => {
        let where = 'source_id = ?';
        const params: SQLInputValue[] = [sourceId];
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
      }),
    getInboundEvent: (sourceId, id) =>
      guard(() => {
        const r = get(`SELECT ${EVENT_COLUMNS} FROM inbound_event WHERE source_id = ? AND id = ?`, [
          sourceId,
          id,
        ]);
        return r ? toInboundEvent(r) : null;
      }),

    // ---- retention ---------------------------------------------------------------------
    expunge: (before, now, batch) =>
      guard(() =>
        tx(() => {
          const messages = run(
            `UPDATE message SET payload = '{}', payload_expunged_at = ?
             WHERE id IN (
               SELECT m.id FROM message m
               WHERE m.created_at < ? AND m.payload_expunged_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = m.id AND d.status IN (1, 3))
               ORDER BY m.created_at LIMIT ?)`,
            [now, before, batch],
          );
          // The bytes and headers of inbound requests are payloads too (an accepted event's
          // message holds only '{}'): emptied in the same batch, once nothing waits to forward them.
          const left = batch - Number(messages.changes);
          const bodies =
            left <= 0
              ? 0
              : Number(
                  run(
                    `UPDATE inbound_event SET body = X'', headers = '[]', body_expunged_at = ?
                     WHERE id IN (
                       SELECT i.id FROM inbound_event i
                       WHERE i.received_at < ? AND i.body_expunged_at IS NULL
                         AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = i.id AND d.status IN (1, 3))
                       ORDER BY i.received_at LIMIT ?)`,
                    [now, before, left],
                  ).changes,
                );
          const attempts = run(
            'DELETE FROM attempt WHERE id IN (SELECT id FROM attempt WHERE created_at < ? ORDER BY created_at LIMIT ?)',
            [before, batch],
          );
          return { payloads: Number(messages.changes) + bodies, attempts: Number(attempts.changes) };
        }),
      ),

    // ---- idempotency -------------------------------------------------------------------
    getIdempotentResponse: (key, now) =>
      guard(() => {
        const r = get('SELECT status, body FROM idempotency WHERE key = ? AND expires_at > ?', [key, now]);
        return r ? ({ status: num(r.status), body: str(r.body) } satisfies StoredResponse) : null;
      }),
    putIdempotentResponse: (key, response, expiresAt, now) =>
      guard(() => {
        run(UPSERT_IDEMPOTENCY, [key, response.status, response.body, expiresAt]);
        run(
          'DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at < ? LIMIT 100)',
          [now],
        );
      }),
  };
  return store;
}

function messageFilterSql(f: MessageFilter, alias: string): [string, SQLInputValue[]] {
  let where = '';
  const params: SQLInputValue[] = [];
  if (f.eventTypes && f.eventTypes.length > 0) {
    where += ` AND ${alias}event_type IN (SELECT value FROM json_each(?))`;
    params.push(JSON.stringify(f.eventTypes));
  }
  if (f.channel !== undefined) {
    where += ` AND EXISTS (SELECT 1 FROM json_each(${alias}channels) WHERE value = ?)`;
    params.push(f.channel);
  }
  if (f.tag !== undefined) {
    where += ` AND EXISTS (SELECT 1 FROM json_each(${alias}tags) WHERE value = ?)`;
    params.push(f.tag);
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
