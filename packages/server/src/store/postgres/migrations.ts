/**
 * PostgreSQL schema, as numbered migrations (the same tables as SQLite's, in PostgreSQL types).
 * A migration never changes once released; a new version appends one. Times are BIGINT
 * milliseconds; `channels`, `tags` and `event_types` are JSONB arrays (searched with `@>`),
 * other JSON (metadata, headers) is kept as the exact text the API stored. Ids and names use
 * the "C" collation whatever the database's locale: ids sort in creation order only byte by
 * byte, and keyset paging, FIFO order and claim ties all rely on that.
 */
import { OPEN, SENDING } from '../statuses.ts';

/** Daily attempt partitions made ahead of time (migration 14; at every start and retention pass). */
export const PARTITION_DAYS_AHEAD = 7;

export const POSTGRES_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE setting (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE app (
  id TEXT COLLATE "C" PRIMARY KEY,
  uid TEXT COLLATE "C" UNIQUE,
  name TEXT NOT NULL,
  throttle_rate INTEGER,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE endpoint (
  id TEXT COLLATE "C" PRIMARY KEY,
  app_id TEXT COLLATE "C" NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  uid TEXT COLLATE "C",
  url TEXT NOT NULL,
  description TEXT NOT NULL,
  disabled BOOLEAN NOT NULL,
  event_types JSONB,
  channels JSONB,
  throttle_rate INTEGER,
  metadata TEXT NOT NULL,
  headers TEXT NOT NULL,
  secrets TEXT NOT NULL,
  svix_headers BOOLEAN NOT NULL,
  failing_since BIGINT,
  -- Strict FIFO: only the oldest undelivered delivery may be in flight.
  fifo BOOLEAN NOT NULL DEFAULT false,
  -- Rate limiting: the earliest time the next delivery to this endpoint may be claimed.
  throttle_next_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (app_id, uid)
);
CREATE INDEX endpoint_app ON endpoint (app_id, id);

CREATE TABLE event_type (
  name TEXT COLLATE "C" PRIMARY KEY,
  description TEXT NOT NULL,
  archived BOOLEAN NOT NULL,
  deprecated BOOLEAN NOT NULL,
  schemas TEXT,
  group_name TEXT,
  feature_flags TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE message (
  id TEXT COLLATE "C" PRIMARY KEY,
  app_id TEXT COLLATE "C" NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  event_id TEXT COLLATE "C",
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  channels JSONB,
  tags JSONB,
  created_at BIGINT NOT NULL,
  -- Set when retention deleted the payload; the message itself is kept.
  payload_expunged_at BIGINT
);
CREATE UNIQUE INDEX message_event_id ON message (app_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX message_app ON message (app_id, id);
CREATE INDEX message_created ON message (created_at) WHERE payload_expunged_at IS NULL;

-- The queue: one row per (message, endpoint). Pending (1) and sending (3) rows are due at
-- next_attempt_at; for a sending row that time is the end of its lease.
CREATE TABLE delivery (
  id TEXT COLLATE "C" PRIMARY KEY,
  msg_id TEXT COLLATE "C" NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  app_id TEXT COLLATE "C" NOT NULL,
  endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  status SMALLINT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  trigger_type SMALLINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE status IN (1, 3);
CREATE INDEX delivery_open ON delivery (endpoint_id, created_at, id) WHERE status IN (1, 3);
-- Live leases per endpoint (the in-flight limit).
CREATE INDEX delivery_sending ON delivery (endpoint_id, next_attempt_at) WHERE status = 3;
CREATE INDEX delivery_endpoint ON delivery (endpoint_id, created_at);
CREATE INDEX delivery_msg ON delivery (msg_id);

CREATE TABLE attempt (
  id TEXT COLLATE "C" PRIMARY KEY,
  delivery_id TEXT COLLATE "C" NOT NULL,
  msg_id TEXT COLLATE "C" NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  app_id TEXT COLLATE "C" NOT NULL,
  url TEXT NOT NULL,
  status SMALLINT NOT NULL,
  response_status_code INTEGER NOT NULL,
  response TEXT NOT NULL,
  response_headers TEXT NOT NULL,
  request_headers TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  trigger_type SMALLINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX attempt_endpoint ON attempt (endpoint_id, id);
CREATE INDEX attempt_msg ON attempt (msg_id, id);
CREATE INDEX attempt_delivery ON attempt (delivery_id);
CREATE INDEX attempt_created ON attempt (created_at);

CREATE TABLE idempotency (
  key TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'inbound, endpoint kind, attempt series',
    sql: `
-- 'http' endpoints are sent to by the dispatcher; 'listen' endpoints by a connected
-- \`hookline listen\` client.
ALTER TABLE endpoint ADD COLUMN kind TEXT NOT NULL DEFAULT 'http';
CREATE INDEX endpoint_kind ON endpoint (kind);

-- An inbound source: a provider posts to /in/{name}. Its destinations are the endpoints of an
-- application the source owns (app_id), so forwarding uses the ordinary delivery queue.
-- verification and forward_secrets are sealed (encrypted) JSON; dedupe and event_type JSON text.
CREATE TABLE source (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  app_id TEXT COLLATE "C" NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  description TEXT NOT NULL,
  verification TEXT NOT NULL,
  forward_secrets TEXT NOT NULL,
  dedupe TEXT,
  event_type TEXT,
  max_body_bytes INTEGER,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

-- Every request received on /in/{name}, byte for byte (headers: JSON text of [name, value]
-- pairs, as received). An accepted event has a message row with the same id (the webhook-id its
-- destinations see); rejected and duplicate requests do not. Retention empties old bodies and
-- headers and sets body_expunged_at.
CREATE TABLE inbound_event (
  id TEXT COLLATE "C" PRIMARY KEY,
  source_id TEXT COLLATE "C" NOT NULL REFERENCES source(id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  event_type TEXT NOT NULL,
  dedupe_key TEXT,
  duplicate_of TEXT COLLATE "C",
  verify_code TEXT,
  verify_detail TEXT,
  content_type TEXT,
  headers TEXT NOT NULL,
  body BYTEA NOT NULL,
  received_at BIGINT NOT NULL,
  body_expunged_at BIGINT
);
CREATE INDEX inbound_event_source ON inbound_event (source_id, id);
CREATE INDEX inbound_event_unaccepted ON inbound_event (source_id, id) WHERE status IN ('rejected', 'duplicate');
CREATE INDEX inbound_event_dedupe ON inbound_event (source_id, dedupe_key, received_at)
  WHERE dedupe_key IS NOT NULL AND status = 'accepted';
CREATE INDEX inbound_event_received ON inbound_event (received_at) WHERE body_expunged_at IS NULL;

-- The endpoint health series reads an endpoint's attempts by time.
CREATE INDEX attempt_endpoint_time ON attempt (endpoint_id, created_at);
`,
  },
  {
    version: 3,
    name: 'due order index',
    sql: `
-- Claims take due deliveries in (next_attempt_at, id) order: with id in the index the oldest
-- are read in order instead of sorting the whole backlog on every claim.
DROP INDEX delivery_due;
CREATE INDEX delivery_due ON delivery (next_attempt_at, id) WHERE status IN (1, 3);
`,
  },
  {
    version: 4,
    name: 'source handshakes, allowlists, split requests',
    sql: `
-- handshake: sealed (encrypted) JSON of the handshakes answered at /in/{name} (it may hold a
-- challenge secret); NULL means the defaults. allowed_ips: JSON text array of IPs/CIDRs; NULL: anyone.
ALTER TABLE source ADD COLUMN handshake TEXT;
ALTER TABLE source ADD COLUMN allowed_ips TEXT;

-- The request's method: a handshake may come as a GET (Dropbox's challenge).
ALTER TABLE inbound_event ADD COLUMN method TEXT NOT NULL DEFAULT 'POST';

-- Handshake requests (a provider checking the URL) are kept and pruned like rejected ones.
DROP INDEX inbound_event_unaccepted;
CREATE INDEX inbound_event_unaccepted ON inbound_event (source_id, id)
  WHERE status IN ('rejected', 'duplicate', 'handshake');

-- A request that carries several events (a Salesforce Outbound Message) is stored once in
-- inbound_event and forwarded as one message per part (msg_id); dedupe_key (the notification id)
-- finds repeats of a part.
CREATE TABLE inbound_part (
  msg_id TEXT COLLATE "C" PRIMARY KEY,
  event_id TEXT COLLATE "C" NOT NULL REFERENCES inbound_event(id) ON DELETE CASCADE,
  source_id TEXT COLLATE "C" NOT NULL,
  dedupe_key TEXT,
  received_at BIGINT NOT NULL
);
CREATE INDEX inbound_part_event ON inbound_part (event_id, msg_id);
CREATE INDEX inbound_part_dedupe ON inbound_part (source_id, dedupe_key, received_at)
  WHERE dedupe_key IS NOT NULL;
`,
  },
  {
    version: 5,
    name: 'chat destination template',
    sql: `
-- Chat destinations (kind slack, discord, teams): the message template, JSON text, or NULL for
-- the platform's default message; and the rendered message each attempt sent (NULL when the
-- attempt sent the message payload as stored).
ALTER TABLE endpoint ADD COLUMN template TEXT;
ALTER TABLE attempt ADD COLUMN request_body TEXT;
`,
  },
  {
    version: 6,
    name: 'app tokens',
    sql: `
-- Tokens scoped to one application (\`POST /api/v1/auth/app-portal-access/{app}\`). Only the
-- SHA-256 of a token is kept; a token stops working at expires_at or once revoked.
CREATE TABLE app_token (
  id TEXT COLLATE "C" PRIMARY KEY,
  app_id TEXT COLLATE "C" NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  read_only BOOLEAN NOT NULL,
  feature_flags TEXT,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX app_token_app ON app_token (app_id);
`,
  },
  {
    version: 7,
    name: 'endpoint timeout',
    sql: `
-- How long one request to the endpoint may take (ms); NULL: the server's HOOKLINE_DELIVERY_TIMEOUT.
ALTER TABLE endpoint ADD COLUMN timeout_ms INTEGER;
`,
  },
  {
    version: 8,
    name: 'claim in one statement',
    sql: `
-- An endpoint's due deliveries in due order: what a claim leases for it, and how a claim finds
-- the endpoints with due work behind another endpoint's backlog.
CREATE INDEX delivery_endpoint_due ON delivery (endpoint_id, next_attempt_at, id) WHERE status IN (${OPEN});

-- Deliveries per second to an endpoint (store/claim-plan.ts rateOf): its own rate, else the
-- default of chat kinds, else its application's. NULL or 0: no limit.
CREATE FUNCTION hookline_rate_of(endpoint_rate integer, app_rate integer, endpoint_kind text,
  chat_kinds text[], chat_rate integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN endpoint_rate IS NOT NULL THEN endpoint_rate
              WHEN endpoint_kind = ANY(chat_kinds) THEN chat_rate
              ELSE app_rate END
$$;

-- Leases due deliveries (store/postgres/claim.ts), called as one autocommit statement. Every
-- per-endpoint limit is decided by one claim at a time per endpoint, across all processes,
-- without ever waiting for another claim:
-- 1. Candidate endpoints in due order: those of the oldest due rows (the due index), then, when
--    those cannot fill the batch, every other endpoint with due work (one index probe each), so
--    a blocked backlog never hides other work.
-- 2. For each, a transaction-scoped advisory lock, try only: an endpoint another claim holds is
--    skipped (that claim serves it). Locks are taken only until the batch can be filled.
-- 3. Then, in a new statement (under READ COMMITTED it sees every lease committed by the
--    claims that held the lock before), the limits as store/claim-plan.ts planClaim decides
--    them: live leases below p_per_endpoint, FIFO (only the oldest open delivery, when due and
--    nothing is in flight), rate (one per claim, slots ceil(p_slot_ms / rate) ms apart).
-- 4. One statement leases the oldest p_limit picks, moves the rate slots of the endpoints that
--    got one, and returns the leased rows with their message, inbound request and endpoint.
CREATE FUNCTION hookline_claim(
  p_now bigint,
  -- How long a lease lasts (each pick's lease is decided with its endpoint's limits).
  p_lease_ms bigint,
  p_limit integer,
  p_per_endpoint integer,
  p_skip text[],
  p_only text[],
  p_exclude_kinds text[],
  -- Rate slots count from here (the caller's now plus the time until it sent the call) plus the
  -- time this call took to get its locks.
  p_slot_from bigint,
  p_slot_ms integer,
  p_chat_kinds text[],
  p_chat_rate integer,
  -- Endpoints with their own request timeout are leased for p_lease_timeouts of it plus
  -- p_lease_slack_ms (core/lease.ts) when p_lease_per_endpoint; others for p_lease_ms.
  p_lease_per_endpoint boolean,
  p_lease_timeouts integer,
  p_lease_slack_ms integer
) RETURNS TABLE (
  id text, msg_id text, app_id text, endpoint_id text, attempts integer, trigger_type smallint, lease_until bigint,
  event_type text, payload text, msg_created_at bigint, body bytea, content_type text,
  inbound_headers text, url text, disabled boolean, headers text, secrets text, svix_headers boolean,
  metadata text, kind text, template text, uid text, description text, timeout_ms integer
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  -- Advisory lock class of claims (7240001..3: migrations, test template, inbound dedupe).
  lock_class CONSTANT integer := 7240004;
  -- Locks live in a table shared with every transaction: a claim tries at most this many (only
  -- endpoints that turned out blocked between the look and the lock make it try more than the
  -- batch needs).
  max_tries CONSTANT integer := greatest(2 * p_limit, 64);
  v_tries integer := 0;
  v_stage integer := 0; -- 0: no candidates read; 1: the window read; 2: the rest read
  v_window_full boolean := false;
  v_raw_ids text[];
  v_raw_n integer[];
  v_seen text[] := '{}';
  v_ids text[] := '{}'; -- candidates not visibly blocked, in due order
  v_n integer[] := '{}'; -- of each, its rows in the window (NULL: not from the window)
  v_est integer[] := '{}'; -- how many each could take, as seen before its lock
  v_count integer := 0;
  v_i integer := 1;
  v_locked text[] := '{}';
  v_locked_n integer[] := '{}';
  v_locked_est integer := 0;
  v_slot_from bigint;
  v_pick_ids text[] := '{}';
  v_pick_due bigint[] := '{}';
  v_pick_eps text[] := '{}';
  v_pick_slots bigint[] := '{}';
  v_pick_until bigint[] := '{}';
  v_g_ids text[];
  v_g_due bigint[];
  v_g_eps text[];
  v_g_slots bigint[];
  v_g_until bigint[];
BEGIN
  -- Step 3 relies on each statement taking a new snapshot.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'hookline_claim must run under READ COMMITTED';
  END IF;
  IF p_limit <= 0 OR p_per_endpoint <= 0 THEN
    RETURN;
  END IF;
  LOOP
    -- Lock candidates, in due order, until they could fill the batch.
    WHILE v_i <= v_count AND cardinality(v_pick_ids) + v_locked_est < p_limit AND v_tries < max_tries LOOP
      v_tries := v_tries + 1;
      IF pg_try_advisory_xact_lock(lock_class, hashtext(v_ids[v_i])) THEN
        v_locked := v_locked || v_ids[v_i];
        v_locked_n := v_locked_n || v_n[v_i];
        v_locked_est := v_locked_est + v_est[v_i];
      END IF;
      v_i := v_i + 1;
    END LOOP;
    IF cardinality(v_locked) > 0 THEN
      v_slot_from := greatest(p_now,
        p_slot_from + (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint);
      -- The locked endpoints' limits, counted now, and the rows each may take. An endpoint takes
      -- at most its rows in the window when the window's rows fill the batch (rows past the
      -- window are newer than all of them).
      SELECT coalesce(array_agg(x.id), '{}'), coalesce(array_agg(x.due), '{}'),
             coalesce(array_agg(x.eid), '{}'), coalesce(array_agg(x.slot), '{}'), coalesce(array_agg(x.until), '{}')
        INTO v_g_ids, v_g_due, v_g_eps, v_g_slots, v_g_until
        FROM (
          SELECT d.id, d.next_attempt_at AS due, g.eid,
                 CASE WHEN g.rate > 0 THEN v_slot_from + ceil(p_slot_ms::numeric / g.rate)::bigint END AS slot,
                 p_now + g.lease_ms AS until
            FROM (
              SELECT r.*, least(r.room, CASE
                       WHEN sum(least(coalesce(r.n, r.room), r.room)) OVER () >= p_limit - cardinality(v_pick_ids)
                       THEN coalesce(r.n, r.room)
                       ELSE p_limit - cardinality(v_pick_ids) END) AS take
                FROM (
                  -- The endpoint's limits, and the lease its deliveries get.
                  SELECT e.id AS eid, e.fifo, rt.rate, c.n,
                         CASE WHEN p_lease_per_endpoint AND e.timeout_ms IS NOT NULL
                              THEN p_lease_timeouts * e.timeout_ms::bigint + p_lease_slack_ms
                              ELSE p_lease_ms END AS lease_ms, CASE
                           WHEN rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now THEN 0
                           WHEN e.fifo THEN CASE WHEN l.live = 0 THEN 1 ELSE 0 END
                           WHEN rt.rate > 0 THEN least(p_per_endpoint - l.live, 1)
                           ELSE p_per_endpoint - l.live END AS room
                    FROM unnest(v_locked, v_locked_n) AS c(eid, n)
                    JOIN endpoint e ON e.id = c.eid
                    JOIN app a ON a.id = e.app_id
                    CROSS JOIN LATERAL (SELECT coalesce(hookline_rate_of(e.throttle_rate, a.throttle_rate, e.kind,
                                          p_chat_kinds, p_chat_rate), 0) AS rate) rt
                    CROSS JOIN LATERAL (SELECT count(*)::integer AS live FROM delivery s
                                         WHERE s.endpoint_id = e.id AND s.status = ${SENDING} AND s.next_attempt_at > p_now) l
                ) r
            ) g
            CROSS JOIN LATERAL (
              (SELECT h.id, h.next_attempt_at FROM delivery h
                WHERE g.fifo AND h.endpoint_id = g.eid AND h.status IN (${OPEN})
                ORDER BY h.created_at, h.id LIMIT 1)
              UNION ALL
              (SELECT o.id, o.next_attempt_at FROM delivery o
                WHERE NOT g.fifo AND o.endpoint_id = g.eid AND o.status IN (${OPEN}) AND o.next_attempt_at <= p_now
                ORDER BY o.next_attempt_at, o.id LIMIT g.take)
            ) d
           WHERE g.take > 0 AND d.next_attempt_at <= p_now
        ) x;
      v_pick_ids := v_pick_ids || v_g_ids;
      v_pick_due := v_pick_due || v_g_due;
      v_pick_eps := v_pick_eps || v_g_eps;
      v_pick_slots := v_pick_slots || v_g_slots;
      v_pick_until := v_pick_until || v_g_until;
      v_locked := '{}';
      v_locked_n := '{}';
      v_locked_est := 0;
    END IF;
    EXIT WHEN cardinality(v_pick_ids) >= p_limit OR v_tries >= max_tries;
    CONTINUE WHEN v_i <= v_count;
    EXIT WHEN v_stage = 2 OR (v_stage = 1 AND NOT v_window_full);
    IF v_stage = 0 AND p_only IS NULL THEN
      -- The window: the oldest due rows, read through the due index.
      v_stage := 1;
      SELECT array_agg(w.eid ORDER BY w.pos), array_agg(w.cnt ORDER BY w.pos),
             coalesce(sum(w.cnt), 0) >= p_limit * 4
        INTO v_raw_ids, v_raw_n, v_window_full
        FROM (SELECT o.endpoint_id AS eid, min(o.pos) AS pos, count(*)::integer AS cnt
                FROM (SELECT d.endpoint_id, row_number() OVER (ORDER BY d.next_attempt_at, d.id) AS pos
                        FROM (SELECT d.endpoint_id, d.next_attempt_at, d.id FROM delivery d
                               WHERE d.status IN (${OPEN}) AND d.next_attempt_at <= p_now
                               ORDER BY d.next_attempt_at, d.id LIMIT p_limit * 4) d) o
               GROUP BY o.endpoint_id) w;
    ELSE
      v_stage := 2;
      v_raw_n := NULL;
      IF p_only IS NULL THEN
        -- Every other endpoint with due work, by its oldest due row: a skip scan over the
        -- endpoints with open deliveries, one index probe each (the first entry of an endpoint
        -- is its oldest open row).
        WITH RECURSIVE eps(eid, due, did) AS (
          (SELECT d.endpoint_id, d.next_attempt_at, d.id FROM delivery d WHERE d.status IN (${OPEN})
            ORDER BY d.endpoint_id, d.next_attempt_at, d.id LIMIT 1)
          UNION ALL
          SELECT nx.endpoint_id, nx.next_attempt_at, nx.id
            FROM eps CROSS JOIN LATERAL (
              SELECT d.endpoint_id, d.next_attempt_at, d.id FROM delivery d
               WHERE d.status IN (${OPEN}) AND d.endpoint_id > eps.eid
               ORDER BY d.endpoint_id, d.next_attempt_at, d.id LIMIT 1) nx
        )
        SELECT array_agg(eps.eid ORDER BY eps.due, eps.did) INTO v_raw_ids
          FROM eps
         WHERE eps.due <= p_now AND NOT (eps.eid = ANY(v_seen)) AND NOT (eps.eid = ANY(p_skip));
      ELSE
        SELECT array_agg(o.eid ORDER BY f.next_attempt_at, f.id) INTO v_raw_ids
          FROM (SELECT DISTINCT u.eid FROM unnest(p_only) AS u(eid)) o
          CROSS JOIN LATERAL (SELECT d.next_attempt_at, d.id FROM delivery d
                               WHERE d.endpoint_id = o.eid AND d.status IN (${OPEN}) AND d.next_attempt_at <= p_now
                               ORDER BY d.next_attempt_at, d.id LIMIT 1) f;
      END IF;
    END IF;
    v_raw_ids := coalesce(v_raw_ids, '{}');
    v_seen := v_seen || v_raw_ids;
    -- Leave out, before locking, what is out of scope and what is visibly blocked: at its
    -- in-flight limit, waiting for its rate slot, FIFO with its head in flight or not due.
    SELECT coalesce(array_agg(c.eid ORDER BY c.ord), '{}'), coalesce(array_agg(c.n ORDER BY c.ord), '{}'),
           coalesce(array_agg(CASE WHEN e.fifo OR rt.rate > 0 THEN 1
                                   ELSE least(coalesce(c.n, p_per_endpoint), p_per_endpoint - l.live) END
                              ORDER BY c.ord), '{}')
      INTO v_ids, v_n, v_est
      FROM unnest(v_raw_ids, v_raw_n) WITH ORDINALITY AS c(eid, n, ord)
      JOIN endpoint e ON e.id = c.eid
      JOIN app a ON a.id = e.app_id
      CROSS JOIN LATERAL (SELECT coalesce(hookline_rate_of(e.throttle_rate, a.throttle_rate, e.kind,
                            p_chat_kinds, p_chat_rate), 0) AS rate) rt
      CROSS JOIN LATERAL (SELECT count(*)::integer AS live FROM (
                            SELECT 1 FROM delivery s
                             WHERE s.endpoint_id = c.eid AND s.status = ${SENDING} AND s.next_attempt_at > p_now
                             LIMIT p_per_endpoint) s) l
     WHERE NOT (c.eid = ANY(p_skip)) AND NOT (e.kind = ANY(p_exclude_kinds))
       AND l.live < p_per_endpoint
       AND NOT (rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now)
       AND NOT (e.fifo AND (l.live > 0 OR (SELECT h.next_attempt_at FROM delivery h
                                             WHERE h.endpoint_id = c.eid AND h.status IN (${OPEN})
                                             ORDER BY h.created_at, h.id LIMIT 1) > p_now));
    v_count := cardinality(v_ids);
    v_i := 1;
  END LOOP;
  IF cardinality(v_pick_ids) = 0 THEN
    RETURN;
  END IF;
  -- The oldest p_limit picks.
  SELECT array_agg(u.id ORDER BY u.due, u.id), array_agg(u.due ORDER BY u.due, u.id),
         array_agg(u.eid ORDER BY u.due, u.id), array_agg(u.slot ORDER BY u.due, u.id),
         array_agg(u.until ORDER BY u.due, u.id)
    INTO v_g_ids, v_g_due, v_g_eps, v_g_slots, v_g_until
    FROM (SELECT * FROM unnest(v_pick_ids, v_pick_due, v_pick_eps, v_pick_slots, v_pick_until)
                 AS p(id, due, eid, slot, until)
           ORDER BY p.due, p.id LIMIT p_limit) u;
  -- The rows of endpoints whose rate slot moves are locked before any delivery row (in id
  -- order, like every writer of endpoint rows): a claim never waits while it holds deliveries.
  PERFORM 1 FROM endpoint e
    WHERE e.id IN (SELECT u.eid FROM unnest(v_g_eps, v_g_slots) AS u(eid, slot) WHERE u.slot IS NOT NULL)
    ORDER BY e.id FOR NO KEY UPDATE OF e;
  RETURN QUERY
    WITH p AS (
      SELECT * FROM unnest(v_g_ids, v_g_due, v_g_eps, v_g_slots, v_g_until) AS u(id, due, eid, slot, until)
    ), leased AS (
      UPDATE delivery d SET status = ${SENDING}, next_attempt_at = p.until, updated_at = p_now
        FROM p
       WHERE p.id = d.id
         AND d.id IN (SELECT l.id FROM delivery l
                       WHERE l.id IN (SELECT p.id FROM p) AND l.status IN (${OPEN}) AND l.next_attempt_at <= p_now
                       FOR UPDATE SKIP LOCKED)
      RETURNING d.id, d.msg_id, d.app_id, d.endpoint_id, d.attempts, d.trigger_type, d.next_attempt_at AS lease_until
    ), throttled AS (
      UPDATE endpoint e SET throttle_next_at = p.slot
        FROM p WHERE e.id = p.eid AND p.slot IS NOT NULL AND p.id IN (SELECT leased.id FROM leased)
    )
    SELECT l.id, l.msg_id, l.app_id, l.endpoint_id, l.attempts, l.trigger_type, l.lease_until,
           m.event_type, m.payload, m.created_at, i.body, i.content_type, i.headers,
           e.url, e.disabled, e.headers, e.secrets, e.svix_headers, e.metadata, e.kind, e.template, e.uid,
           e.description, e.timeout_ms
      FROM leased l
      JOIN p ON p.id = l.id
      JOIN message m ON m.id = l.msg_id
      LEFT JOIN inbound_event i ON i.id = l.msg_id
      JOIN endpoint e ON e.id = l.endpoint_id
     ORDER BY p.due, p.id;
END
$$;
`,
  },
  {
    version: 9,
    name: 'claims take turns across endpoints',
    sql: `
DROP FUNCTION hookline_claim(bigint, bigint, integer, integer, text[], text[], text[], bigint, integer, text[],
  integer, boolean, integer, integer);

-- The endpoints with open deliveries after p_from in id order, at most p_n of them, each with
-- its oldest open delivery's due time: one probe of delivery_endpoint_due each (the first entry
-- of an endpoint is its oldest open row, and a leased row is due when its lease runs out).
CREATE FUNCTION hookline_walk(p_from text, p_n integer) RETURNS TABLE (n integer, eid text, due bigint)
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE walk(n, eid, due) AS (
    (SELECT 1, d.endpoint_id, d.next_attempt_at FROM delivery d
      WHERE d.status IN (${OPEN}) AND d.endpoint_id > p_from AND p_n > 0
      ORDER BY d.endpoint_id, d.next_attempt_at, d.id LIMIT 1)
    UNION ALL
    SELECT walk.n + 1, nx.endpoint_id, nx.next_attempt_at
      FROM walk CROSS JOIN LATERAL (
        SELECT d.endpoint_id, d.next_attempt_at FROM delivery d
         WHERE d.status IN (${OPEN}) AND d.endpoint_id > walk.eid
         ORDER BY d.endpoint_id, d.next_attempt_at, d.id LIMIT 1) nx
     WHERE walk.n < p_n
  )
  SELECT walk.n, walk.eid, walk.due FROM walk
$$;

-- Leases due deliveries (store/postgres/claim.ts), called as one autocommit statement, with the
-- rules of store/claim-plan.ts. Every per-endpoint limit is decided by one claim at a time per
-- endpoint, across all processes, without ever waiting for another claim:
-- 1. The endpoints with due work: those of the live rows (due in the last p_live_ms, at most
--    p_window), and those of the oldest p_window due rows (the due index) when that window holds
--    every due row; otherwise a walk over the endpoints with open deliveries from p_after
--    (wrapping once), p_scan at most.
-- 2. Those visibly blocked are left out; the others get a transaction-scoped advisory lock,
--    try only: an endpoint another claim holds is skipped (that claim serves it). Endpoints with
--    live rows first, then in turn order (after p_after first), until their shares fill the
--    batch: each counts for what it can take (its room, and its due rows when the window shows
--    them all), at most the batch over the candidates or 8 (a quarter of a small batch),
--    whichever is more.
-- 3. Then, in a new statement (under READ COMMITTED it sees every lease committed by the
--    claims that held the lock before), each locked endpoint's room: live leases below
--    p_per_endpoint, FIFO (only the oldest open delivery, when due and nothing is in flight),
--    rate (one per claim, slots ceil(p_slot_ms / rate) ms apart).
-- 4. Live first: rows due in the last p_live_ms, in due order, within each endpoint's room
--    (FIFO endpoints only send their head, in their turn). Then round robin in turn order (one
--    each, then a second each, ...) shares the rest out; an endpoint with fewer due rows than
--    its share leaves the rest to the others in a second round.
-- 5. One statement leases the picks, moves the rate slots of the endpoints that got one, and
--    returns the leased rows with their message, inbound request and endpoint, and turn_after:
--    where the next claim's turns start (the last endpoint served, else where the walk stopped).
--    When nothing is leased but a walk happened, one row with only turn_after set says so.
CREATE FUNCTION hookline_claim(
  p_now bigint,
  -- How long a lease lasts (each pick's lease is decided with its endpoint's limits).
  p_lease_ms bigint,
  p_limit integer,
  p_per_endpoint integer,
  p_skip text[],
  p_only text[],
  p_exclude_kinds text[],
  -- Rate slots count from here (the caller's now plus the time until it sent the call) plus the
  -- time this call took to get its locks.
  p_slot_from bigint,
  p_slot_ms integer,
  p_chat_kinds text[],
  p_chat_rate integer,
  -- Endpoints with their own request timeout are leased for p_lease_timeouts of it plus
  -- p_lease_slack_ms (core/lease.ts) when p_lease_per_endpoint; others for p_lease_ms.
  p_lease_per_endpoint boolean,
  p_lease_timeouts integer,
  p_lease_slack_ms integer,
  -- Turns start after this endpoint id ('' : from the first).
  p_after text,
  -- Due rows read first, and endpoints walked past them at most.
  p_window integer,
  p_scan integer,
  -- Deliveries due at most this long ago are live: they go first.
  p_live_ms integer
) RETURNS TABLE (
  id text, msg_id text, app_id text, endpoint_id text, attempts integer, trigger_type smallint, lease_until bigint,
  event_type text, payload text, msg_created_at bigint, body bytea, content_type text,
  inbound_headers text, url text, disabled boolean, headers text, secrets text, svix_headers boolean,
  metadata text, kind text, template text, uid text, description text, timeout_ms integer, turn_after text
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  -- Advisory lock class of claims (7240001..3: migrations, test template, inbound dedupe).
  lock_class CONSTANT integer := 7240004;
  -- Locks live in a table shared with every transaction: a claim tries at most this many.
  max_tries CONSTANT integer := greatest(2 * p_limit, 64);
  v_tries integer := 0;
  v_seen integer;
  v_walked integer;
  v_scanned text; -- where a walk stopped; NULL: no walk
  v_tail text;
  v_cands text[];
  v_ids text[];
  v_locked text[] := '{}';
  v_slot_from bigint;
  v_g_eid text[];
  v_g_room integer[];
  v_g_fifo boolean[];
  v_g_slot bigint[];
  v_g_until bigint[];
  v_got integer[];
  v_take integer[];
  v_n integer[];
  v_total integer := 0;
  v_pick_ids text[] := '{}';
  v_pick_rank integer[] := '{}';
  v_pick_ord integer[] := '{}';
  v_r_ids text[];
  v_r_rank integer[];
  v_r_ord integer[];
  v_served integer;
  v_live_ids text[] := '{}';
  v_live_eps text[] := '{}';
  v_est integer[];
  v_cand_n integer[] := '{}';
  v_locked_est integer := 0;
  v_share integer;
  -- The smallest share of a batch an endpoint is locked for.
  min_share CONSTANT integer := 8;
BEGIN
  -- Step 3 relies on each statement taking a new snapshot.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'hookline_claim must run under READ COMMITTED';
  END IF;
  IF p_limit <= 0 OR p_per_endpoint <= 0 THEN
    RETURN;
  END IF;
  -- 1. The endpoints with due work.
  IF p_only IS NOT NULL THEN
    SELECT array_agg(o.eid) INTO v_cands
      FROM (SELECT DISTINCT u.eid FROM unnest(p_only) AS u(eid)) o
     WHERE EXISTS (SELECT 1 FROM delivery d WHERE d.endpoint_id = o.eid AND d.status IN (${OPEN})
                     AND d.next_attempt_at <= p_now);
  ELSE
    SELECT coalesce(array_agg(l.id ORDER BY l.next_attempt_at, l.id), '{}'),
           coalesce(array_agg(l.endpoint_id ORDER BY l.next_attempt_at, l.id), '{}')
      INTO v_live_ids, v_live_eps
      FROM (SELECT d.id, d.endpoint_id, d.next_attempt_at FROM delivery d
             WHERE d.status IN (${OPEN}) AND d.next_attempt_at > p_now - p_live_ms AND d.next_attempt_at <= p_now
             ORDER BY d.next_attempt_at, d.id LIMIT p_window) l;
    SELECT array_agg(w.eid), array_agg(w.n), coalesce(sum(w.n), 0) INTO v_cands, v_cand_n, v_seen
      FROM (SELECT d.endpoint_id AS eid, count(*)::integer AS n
              FROM (SELECT d.endpoint_id FROM delivery d
                     WHERE d.status IN (${OPEN}) AND d.next_attempt_at <= p_now
                     ORDER BY d.next_attempt_at, d.id LIMIT p_window) d
             GROUP BY d.endpoint_id) w;
    IF v_seen >= p_window THEN
      -- More may be due behind the window: walk the endpoints from where the last claim stopped.
      -- (How many each has due is not known then: v_cand_n stays empty.)
      v_cand_n := '{}';
      SELECT array_agg(w.eid ORDER BY w.n) FILTER (WHERE w.due <= p_now), coalesce(max(w.n), 0),
             (array_agg(w.eid ORDER BY w.n DESC))[1]
        INTO v_cands, v_walked, v_scanned
        FROM hookline_walk(p_after, p_scan) w;
      IF v_walked < p_scan AND p_after <> '' THEN
        SELECT array_agg(w.eid ORDER BY w.n) FILTER (WHERE w.due <= p_now), (array_agg(w.eid ORDER BY w.n DESC))[1]
          INTO v_ids, v_tail
          FROM hookline_walk('', p_scan - v_walked) w
         WHERE w.eid <= p_after;
        v_cands := coalesce(v_cands, '{}') || coalesce(v_ids, '{}');
        v_scanned := coalesce(v_tail, v_scanned);
      END IF;
    END IF;
  END IF;
  -- 2. In turn order, without what is out of scope or visibly blocked (at its in-flight limit,
  -- waiting for its rate slot, FIFO with its head in flight or not due); then the locks.
  SELECT coalesce(array_agg(c.eid ORDER BY c.live_pos, c.eid <= p_after, c.eid), '{}'),
         coalesce(array_agg(CASE WHEN e.fifo OR rt.rate > 0 THEN 1
                                 ELSE least(coalesce(c.n, p_per_endpoint), p_per_endpoint - l.live) END
                            ORDER BY c.live_pos, c.eid <= p_after, c.eid), '{}')
    INTO v_ids, v_est
    FROM (SELECT u.eid, min(u.live_pos) AS live_pos, max(u.n) AS n
            FROM (SELECT x.eid, NULL::bigint AS live_pos, x.n
                    FROM unnest(coalesce(v_cands, '{}'), v_cand_n) AS x(eid, n)
                  UNION ALL
                  SELECT x.eid, x.pos, NULL::integer FROM unnest(v_live_eps) WITH ORDINALITY AS x(eid, pos)) u
           GROUP BY u.eid) c
    JOIN endpoint e ON e.id = c.eid
    JOIN app a ON a.id = e.app_id
    CROSS JOIN LATERAL (SELECT coalesce(hookline_rate_of(e.throttle_rate, a.throttle_rate, e.kind,
                          p_chat_kinds, p_chat_rate), 0) AS rate) rt
    CROSS JOIN LATERAL (SELECT count(*)::integer AS live FROM (
                          SELECT 1 FROM delivery s
                           WHERE s.endpoint_id = c.eid AND s.status = ${SENDING} AND s.next_attempt_at > p_now
                           LIMIT p_per_endpoint) s) l
   WHERE NOT (c.eid = ANY(p_skip)) AND NOT (e.kind = ANY(p_exclude_kinds))
     AND l.live < p_per_endpoint
     AND NOT (rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now)
     AND NOT (e.fifo AND (l.live > 0 OR (SELECT h.next_attempt_at FROM delivery h
                                           WHERE h.endpoint_id = c.eid AND h.status IN (${OPEN})
                                           ORDER BY h.created_at, h.id LIMIT 1) > p_now));
  -- Each locked endpoint is counted for its share of the batch (at least min_share): a claim
  -- locks only as many endpoints as the batch needs, and a claim running at the same time in
  -- another process serves the next ones instead of finding them all taken.
  v_share := greatest(ceil(p_limit::numeric / greatest(cardinality(v_ids), 1))::integer,
                      least(min_share, ceil(p_limit::numeric / 4)::integer));
  FOR i IN 1 .. cardinality(v_ids) LOOP
    EXIT WHEN v_locked_est >= p_limit OR v_tries >= max_tries;
    v_tries := v_tries + 1;
    IF pg_try_advisory_xact_lock(lock_class, hashtext(v_ids[i])) THEN
      v_locked := v_locked || v_ids[i];
      v_locked_est := v_locked_est + least(v_est[i], v_share);
    END IF;
  END LOOP;
  IF cardinality(v_locked) > 0 THEN
    v_slot_from := greatest(p_now,
      p_slot_from + (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint);
    -- 3. The locked endpoints' room, counted now, and the lease and rate slot of their picks.
    SELECT array_agg(g.eid ORDER BY g.ord), array_agg(g.room ORDER BY g.ord), array_agg(g.fifo ORDER BY g.ord),
           array_agg(g.slot ORDER BY g.ord), array_agg(g.until ORDER BY g.ord)
      INTO v_g_eid, v_g_room, v_g_fifo, v_g_slot, v_g_until
      FROM (
        SELECT c.eid, c.ord, e.fifo,
               CASE WHEN rt.rate > 0 THEN v_slot_from + ceil(p_slot_ms::numeric / rt.rate)::bigint END AS slot,
               p_now + CASE WHEN p_lease_per_endpoint AND e.timeout_ms IS NOT NULL
                            THEN p_lease_timeouts * e.timeout_ms::bigint + p_lease_slack_ms
                            ELSE p_lease_ms END AS until,
               greatest(0, CASE
                 WHEN rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now THEN 0
                 WHEN e.fifo THEN CASE WHEN l.live = 0 THEN 1 ELSE 0 END
                 WHEN rt.rate > 0 THEN least(p_per_endpoint - l.live, 1)
                 ELSE p_per_endpoint - l.live END) AS room
          FROM (SELECT x.eid, row_number() OVER (ORDER BY x.eid <= p_after, x.eid) AS ord
                  FROM unnest(v_locked) AS x(eid)) c
          JOIN endpoint e ON e.id = c.eid
          JOIN app a ON a.id = e.app_id
          CROSS JOIN LATERAL (SELECT coalesce(hookline_rate_of(e.throttle_rate, a.throttle_rate, e.kind,
                                p_chat_kinds, p_chat_rate), 0) AS rate) rt
          CROSS JOIN LATERAL (SELECT count(*)::integer AS live FROM delivery s
                               WHERE s.endpoint_id = e.id AND s.status = ${SENDING} AND s.next_attempt_at > p_now) l
      ) g;
    v_got := array_fill(0, ARRAY[cardinality(v_g_eid)]);
    -- 4. Live first, in due order, within each endpoint's room.
    SELECT coalesce(array_agg(x.id ORDER BY x.pos), '{}'), coalesce(array_agg(x.ord ORDER BY x.pos), '{}'),
           -- Live picks go out before every turn, in due order (ranks below 1).
           coalesce(array_agg(x.pos::integer - p_window ORDER BY x.pos), '{}')
      INTO v_r_ids, v_r_ord, v_r_rank
      FROM (SELECT y.id, y.pos, y.ord FROM (
              SELECT l.id, l.pos, g.ord, row_number() OVER (PARTITION BY g.ord ORDER BY l.pos) AS k
                FROM unnest(v_live_ids, v_live_eps) WITH ORDINALITY AS l(id, eid, pos)
                JOIN unnest(v_g_eid) WITH ORDINALITY AS g(eid, ord) ON g.eid = l.eid
               WHERE NOT v_g_fifo[g.ord]) y
             WHERE y.k <= v_g_room[y.ord]
             ORDER BY y.pos LIMIT p_limit) x;
    v_pick_ids := v_r_ids;
    v_pick_ord := v_r_ord;
    v_pick_rank := v_r_rank;
    v_total := cardinality(v_r_ids);
    SELECT array_agg(v_g_room[g.ord] - (SELECT count(*)::integer FROM unnest(v_r_ord) AS o(ord) WHERE o.ord = g.ord)
                     ORDER BY g.ord)
      INTO v_g_room FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
    -- Then round robin, in two rounds at most.
    FOR r IN 1 .. 2 LOOP
      EXIT WHEN v_total >= p_limit;
      SELECT array_agg(coalesce(t.take, 0) ORDER BY g.ord) INTO v_take
        FROM generate_series(1, cardinality(v_g_eid)) AS g(ord)
        LEFT JOIN (SELECT q.ord, count(*)::integer AS take
                     FROM (SELECT g2.ord FROM generate_series(1, cardinality(v_g_eid)) AS g2(ord)
                             CROSS JOIN LATERAL generate_series(1, v_g_room[g2.ord]) AS k(k)
                            ORDER BY k.k, g2.ord LIMIT p_limit - v_total) q
                    GROUP BY q.ord) t ON t.ord = g.ord;
      EXIT WHEN coalesce((SELECT sum(x) FROM unnest(v_take) AS x), 0) = 0;
      SELECT coalesce(array_agg(d.id ORDER BY d.rank, d.ord), '{}'), coalesce(array_agg(d.rank ORDER BY d.rank, d.ord), '{}'),
             coalesce(array_agg(d.ord ORDER BY d.rank, d.ord), '{}')
        INTO v_r_ids, v_r_rank, v_r_ord
        FROM (
          SELECT x.id, g.ord, v_got[g.ord] + row_number() OVER (PARTITION BY g.ord ORDER BY x.next_attempt_at, x.id) AS rank
            FROM generate_series(1, cardinality(v_g_eid)) AS g(ord)
            CROSS JOIN LATERAL (
              (SELECT h.id, h.next_attempt_at FROM delivery h
                WHERE v_g_fifo[g.ord] AND h.endpoint_id = v_g_eid[g.ord] AND h.status IN (${OPEN})
                  AND v_got[g.ord] = 0
                ORDER BY h.created_at, h.id LIMIT 1)
              UNION ALL
              (SELECT o.id, o.next_attempt_at FROM delivery o
                WHERE NOT v_g_fifo[g.ord] AND o.endpoint_id = v_g_eid[g.ord] AND o.status IN (${OPEN})
                  AND o.next_attempt_at <= p_now
                  AND NOT (o.id = ANY(v_pick_ids))
                ORDER BY o.next_attempt_at, o.id LIMIT v_take[g.ord])
            ) x
           WHERE v_take[g.ord] > 0 AND x.next_attempt_at <= p_now
        ) d;
      v_pick_ids := v_pick_ids || v_r_ids;
      v_pick_rank := v_pick_rank || v_r_rank;
      v_pick_ord := v_pick_ord || v_r_ord;
      v_total := v_total + cardinality(v_r_ids);
      -- An endpoint that had fewer than its share is done; the others may take more.
      SELECT array_agg((SELECT count(*)::integer FROM unnest(v_r_ord) AS o(ord) WHERE o.ord = g.ord) ORDER BY g.ord)
        INTO v_n FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
      SELECT array_agg(CASE WHEN v_n[g.ord] < v_take[g.ord] THEN 0 ELSE v_g_room[g.ord] - v_take[g.ord] END ORDER BY g.ord),
             array_agg(v_got[g.ord] + v_n[g.ord] ORDER BY g.ord)
        INTO v_g_room, v_got FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
    END LOOP;
  END IF;
  IF v_total = 0 THEN
    IF v_scanned IS NOT NULL THEN
      turn_after := v_scanned;
      RETURN NEXT;
    END IF;
    RETURN;
  END IF;
  -- The next claim's turns start after the last endpoint served in turn (live picks aside).
  v_served := (SELECT max(u.ord) FROM unnest(v_pick_ord, v_pick_rank) AS u(ord, rank) WHERE u.rank > 0);
  -- The rows of endpoints whose rate slot moves are locked before any delivery row (in id
  -- order, like every writer of endpoint rows): a claim never waits while it holds deliveries.
  PERFORM 1 FROM endpoint e
    WHERE e.id IN (SELECT v_g_eid[o] FROM unnest(v_pick_ord) AS o WHERE v_g_slot[o] IS NOT NULL)
    ORDER BY e.id FOR NO KEY UPDATE OF e;
  -- 5. The picks in the order they go out: the first of each endpoint in turn, then the second...
  RETURN QUERY
    WITH p AS (
      SELECT u.id, u.rank, u.ord, v_g_eid[u.ord] AS eid, v_g_slot[u.ord] AS slot, v_g_until[u.ord] AS until
        FROM unnest(v_pick_ids, v_pick_rank, v_pick_ord) AS u(id, rank, ord)
    ), leased AS (
      UPDATE delivery d SET status = ${SENDING}, next_attempt_at = p.until, updated_at = p_now
        FROM p
       WHERE p.id = d.id
         AND d.id IN (SELECT l.id FROM delivery l
                       WHERE l.id IN (SELECT p.id FROM p) AND l.status IN (${OPEN}) AND l.next_attempt_at <= p_now
                       FOR UPDATE SKIP LOCKED)
      RETURNING d.id, d.msg_id, d.app_id, d.endpoint_id, d.attempts, d.trigger_type, d.next_attempt_at AS lease_until
    ), throttled AS (
      UPDATE endpoint e SET throttle_next_at = p.slot
        FROM p WHERE e.id = p.eid AND p.slot IS NOT NULL AND p.id IN (SELECT leased.id FROM leased)
    )
    SELECT l.id, l.msg_id, l.app_id, l.endpoint_id, l.attempts, l.trigger_type, l.lease_until,
           m.event_type, m.payload, m.created_at, i.body, i.content_type, i.headers,
           e.url, e.disabled, e.headers, e.secrets, e.svix_headers, e.metadata, e.kind, e.template, e.uid,
           e.description, e.timeout_ms, coalesce(v_g_eid[v_served], p_after)
      FROM leased l
      JOIN p ON p.id = l.id
      JOIN message m ON m.id = l.msg_id
      LEFT JOIN inbound_event i ON i.id = l.msg_id
      JOIN endpoint e ON e.id = l.endpoint_id
     ORDER BY p.rank, p.ord;
END
$$;
`,
  },
  {
    version: 10,
    name: 'background tasks',
    sql: `
-- Work an API call starts and answers at once (recover, replays, purges, stats), as Svix's
-- background tasks: \`GET /api/v1/background-task[/{id}]\`. app_id is NULL for a task across
-- applications (admin only). data is the task's progress and result, JSON text. Tasks used to
-- be kept in \`setting\` under background_task:{id}; those short-lived rows are dropped.
CREATE TABLE background_task (
  id TEXT COLLATE "C" PRIMARY KEY,
  app_id TEXT COLLATE "C" REFERENCES app(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX background_task_app ON background_task (app_id, id);
CREATE INDEX background_task_updated ON background_task (updated_at);
DELETE FROM setting WHERE key LIKE 'background\\_task:%' ESCAPE '\\';
`,
  },
  {
    version: 11,
    name: 'event type retry schedule and payload validation',
    sql: `
-- An event type's own retry schedule (JSON array of delays in ms; NULL: the server's), and
-- whether messages of it are checked against its JSON Schema on publish (NULL: the server's
-- HOOKLINE_VALIDATE_PAYLOADS).
ALTER TABLE event_type ADD COLUMN retry_schedule TEXT;
ALTER TABLE event_type ADD COLUMN validate_payload BOOLEAN;
`,
  },
  {
    version: 12,
    name: 'endpoint authentication and transformations',
    sql: `
-- What only some endpoints have: OAuth client credentials and an mTLS client certificate (both
-- sealed JSON), a CA to trust (PEM) and a transformation (JSON: code, enabled, updated_at).
-- A row exists only while one of them is set; the delivery engine loads them all.
CREATE TABLE endpoint_extra (
  endpoint_id TEXT COLLATE "C" PRIMARY KEY REFERENCES endpoint(id) ON DELETE CASCADE,
  app_id TEXT COLLATE "C" NOT NULL,
  oauth TEXT,
  mtls TEXT,
  ca TEXT,
  transformation TEXT,
  updated_at BIGINT NOT NULL
);
`,
  },
  {
    version: 13,
    name: 'message tokens',
    sql: `
-- What an application token opens: 'portal' (its application's routes, as before) or 'message'
-- (only publishing to its application: POST /api/v1/auth/app/{app}/create-message-token), and
-- the name a message token was given.
ALTER TABLE app_token ADD COLUMN scope TEXT NOT NULL DEFAULT 'portal';
ALTER TABLE app_token ADD COLUMN name TEXT;
`,
  },
  {
    version: 14,
    name: 'attempts partitioned by day',
    sql: `
-- The attempt log is partitioned by id, one partition per UTC day: ids are KSUIDs, which sort by
-- their creation second, so an id range is a time range and the primary key stays the id alone.
-- Retention drops a day's partition once all of it is past the retention period instead of
-- deleting its rows one by one (postgres/retention.ts). The attempts stored before this
-- migration stay in one partition that ends where the first daily one begins; a default
-- partition catches any attempt no daily partition covers (the days ahead are created at every
-- start and every retention pass, see hookline_attempt_partitions).

-- The smallest id with this prefix that can be made at p_ms (core/ids.ts idFloor): 4 bytes of
-- seconds since the KSUID epoch, 16 zero bytes, as 27 base62 digits.
CREATE FUNCTION hookline_id_floor(p_prefix TEXT, p_ms BIGINT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  n NUMERIC := greatest(0, floor(p_ms / 1000.0) - 1400000000) * 340282366920938463463374607431768211456;
  digits TEXT := '';
BEGIN
  FOR i IN 1..27 LOOP
    digits := substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (n % 62)::int + 1, 1) || digits;
    n := div(n, 62);
  END LOOP;
  RETURN p_prefix || digits;
END $$;

ALTER TABLE attempt RENAME TO attempt_before_partitions;
CREATE TABLE attempt (LIKE attempt_before_partitions INCLUDING DEFAULTS) PARTITION BY RANGE (id);
ALTER TABLE attempt ADD CONSTRAINT attempt_id_key PRIMARY KEY (id);
ALTER TABLE attempt ADD CONSTRAINT attempt_msg_fk FOREIGN KEY (msg_id) REFERENCES message(id) ON DELETE CASCADE;
ALTER TABLE attempt ADD CONSTRAINT attempt_endpoint_fk FOREIGN KEY (endpoint_id) REFERENCES endpoint(id) ON DELETE CASCADE;
CREATE INDEX attempt_by_endpoint ON attempt (endpoint_id, id);
CREATE INDEX attempt_by_msg ON attempt (msg_id, id);
CREATE INDEX attempt_by_delivery ON attempt (delivery_id);
CREATE INDEX attempt_by_created ON attempt (created_at);
CREATE INDEX attempt_by_endpoint_time ON attempt (endpoint_id, created_at);
DO $$ BEGIN
  EXECUTE format('ALTER TABLE attempt ATTACH PARTITION attempt_before_partitions FOR VALUES FROM (MINVALUE) TO (%L)',
    hookline_id_floor('atmpt_', (floor(extract(epoch FROM now()) / 86400) + 1)::bigint * 86400000));
END $$;
CREATE TABLE attempt_default PARTITION OF attempt DEFAULT;

-- Makes sure the daily partitions from p_now's day to p_days later exist; returns how many it
-- made. A day that overlaps the partition from before partitioning, or whose attempts already
-- went to the default partition, is left to those; a day whose lock is not free within a second
-- is made by the next call.
CREATE FUNCTION hookline_attempt_partitions(p_now BIGINT, p_days INT) RETURNS INT
LANGUAGE plpgsql SET lock_timeout = '1s' AS $$
DECLARE
  made INT := 0;
  day_start BIGINT;
  part TEXT;
BEGIN
  FOR d IN 0..p_days LOOP
    day_start := (floor(p_now / 86400000.0)::bigint + d) * 86400000;
    part := 'attempt_' || to_char(to_timestamp(day_start / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD');
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    BEGIN
      -- Made on its own, then attached: attaching locks the attempt table less than creating
      -- a partition of it does, and inserts go on meanwhile.
      EXECUTE format('CREATE TABLE %I (LIKE attempt INCLUDING DEFAULTS)', part);
      EXECUTE format('ALTER TABLE attempt ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part,
        hookline_id_floor('atmpt_', day_start), hookline_id_floor('atmpt_', day_start + 86400000));
      made := made + 1;
    EXCEPTION WHEN invalid_object_definition OR check_violation OR lock_not_available THEN
      NULL;
    END;
  END LOOP;
  RETURN made;
END $$;

-- Drops the attempt partitions that hold nothing made at or after p_before (whole days past the
-- retention period, and the partition from before partitioning once all of it is); returns how
-- many. One whose lock is not free within a second is dropped by a later pass.
CREATE FUNCTION hookline_attempt_drop(p_before BIGINT) RETURNS INT
LANGUAGE plpgsql SET lock_timeout = '1s' AS $$
DECLARE
  dropped INT := 0;
  floor_id TEXT := hookline_id_floor('atmpt_', p_before);
  r RECORD;
BEGIN
  FOR r IN
    SELECT c.relname AS part, substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']*)''\\)') AS upper
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'attempt'::regclass
  LOOP
    CONTINUE WHEN r.upper IS NULL OR r.upper COLLATE "C" > floor_id COLLATE "C";
    BEGIN
      EXECUTE format('DROP TABLE %I', r.part);
      dropped := dropped + 1;
    EXCEPTION WHEN lock_not_available THEN
      NULL;
    END;
  END LOOP;
  RETURN dropped;
END $$;
SELECT hookline_attempt_partitions((extract(epoch FROM now()) * 1000)::bigint, 7);
`,
  },
  {
    version: 15,
    name: 'polling endpoints',
    sql: `
-- Polling endpoints (endpoint kind 'poller'): each consumer's position in the endpoint's
-- messages. after_id: the id of the last message it has read ('' = from the start; message ids
-- order by time); committed_offset: the number of the last offset it committed (offsets handed
-- out by a poll count on from it). A poller token names the one endpoint it may poll.
CREATE TABLE poller_consumer (
  endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  consumer_id TEXT COLLATE "C" NOT NULL,
  after_id TEXT COLLATE "C" NOT NULL,
  committed_offset BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (endpoint_id, consumer_id)
);
ALTER TABLE app_token ADD COLUMN endpoint_id TEXT COLLATE "C";
`,
  },
  {
    version: 16,
    name: 'ordering keys',
    sql: `
-- A message's ordering key (NULL: none). Its deliveries carry the key and their number in the
-- line of (endpoint, key), counted by ordering_sequence (ingest bumps it with an upsert, so
-- concurrent publishers to one key queue behind each other's row lock and numbers follow commit
-- order); a keyed delivery is only sent when it is the first open one of its line and nothing of
-- that line is in flight (store/claim-plan.ts).
ALTER TABLE message ADD COLUMN ordering_key TEXT;
ALTER TABLE delivery ADD COLUMN ordering_key TEXT COLLATE "C";
ALTER TABLE delivery ADD COLUMN sequence INTEGER;
CREATE TABLE ordering_sequence (
  endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  ordering_key TEXT COLLATE "C" NOT NULL,
  last_seq INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, ordering_key)
);
-- Only keyed rows are indexed: endpoints without keys pay nothing.
CREATE INDEX delivery_key_open ON delivery (endpoint_id, ordering_key, sequence, id)
  WHERE ordering_key IS NOT NULL AND status IN (${OPEN});
CREATE INDEX delivery_key_sending ON delivery (endpoint_id, ordering_key, next_attempt_at)
  WHERE ordering_key IS NOT NULL AND status = ${SENDING};

-- Whether the keyed delivery p_id may be leased now: no open delivery of its (endpoint, key)
-- comes before it (by sequence, then id) and none is in flight. Two index probes.
CREATE FUNCTION hookline_key_free(p_eid text, p_key text, p_seq integer, p_id text, p_now bigint)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT NOT EXISTS (SELECT 1 FROM delivery k
                      WHERE k.endpoint_id = p_eid AND k.ordering_key = p_key AND k.ordering_key IS NOT NULL
                        AND k.status IN (${OPEN}) AND (k.sequence, k.id) < (p_seq, p_id))
     AND NOT EXISTS (SELECT 1 FROM delivery s
                      WHERE s.endpoint_id = p_eid AND s.ordering_key = p_key AND s.ordering_key IS NOT NULL
                        AND s.status = ${SENDING} AND s.next_attempt_at > p_now AND s.id <> p_id)
$$;

DROP FUNCTION hookline_claim(bigint, bigint, integer, integer, text[], text[], text[], bigint, integer, text[],
  integer, boolean, integer, integer, text, integer, integer, integer);

-- Leases due deliveries (store/postgres/claim.ts), called as one autocommit statement, with the
-- rules of store/claim-plan.ts. Every per-endpoint limit is decided by one claim at a time per
-- endpoint, across all processes, without ever waiting for another claim:
-- 1. The endpoints with due work: those of the live rows (due in the last p_live_ms, at most
--    p_window), and those of the oldest p_window due rows (the due index) when that window holds
--    every due row; otherwise a walk over the endpoints with open deliveries from p_after
--    (wrapping once), p_scan at most.
-- 2. Those visibly blocked are left out; the others get a transaction-scoped advisory lock,
--    try only: an endpoint another claim holds is skipped (that claim serves it). Endpoints with
--    live rows first, then in turn order (after p_after first), until their shares fill the
--    batch: each counts for what it can take (its room, and its due rows when the window shows
--    them all), at most the batch over the candidates or 8 (a quarter of a small batch),
--    whichever is more.
-- 3. Then, in a new statement (under READ COMMITTED it sees every lease committed by the
--    claims that held the lock before), each locked endpoint's room: live leases below
--    p_per_endpoint, FIFO (only the oldest open delivery, when due and nothing is in flight),
--    rate (one per claim, slots ceil(p_slot_ms / rate) ms apart).
-- 4. Live first: rows due in the last p_live_ms, in due order, within each endpoint's room
--    (FIFO endpoints only send their head, in their turn; a keyed row only when it is the head
--    of its (endpoint, key) line and nothing of that line is in flight: hookline_key_free). Then round robin in turn order (one
--    each, then a second each, ...) shares the rest out; an endpoint with fewer due rows than
--    its share leaves the rest to the others in a second round.
-- 5. One statement leases the picks, moves the rate slots of the endpoints that got one, and
--    returns the leased rows with their message, inbound request and endpoint, and turn_after:
--    where the next claim's turns start (the last endpoint served, else where the walk stopped).
--    When nothing is leased but a walk happened, one row with only turn_after set says so.
CREATE FUNCTION hookline_claim(
  p_now bigint,
  -- How long a lease lasts (each pick's lease is decided with its endpoint's limits).
  p_lease_ms bigint,
  p_limit integer,
  p_per_endpoint integer,
  p_skip text[],
  p_only text[],
  p_exclude_kinds text[],
  -- Rate slots count from here (the caller's now plus the time until it sent the call) plus the
  -- time this call took to get its locks.
  p_slot_from bigint,
  p_slot_ms integer,
  p_chat_kinds text[],
  p_chat_rate integer,
  -- Endpoints with their own request timeout are leased for p_lease_timeouts of it plus
  -- p_lease_slack_ms (core/lease.ts) when p_lease_per_endpoint; others for p_lease_ms.
  p_lease_per_endpoint boolean,
  p_lease_timeouts integer,
  p_lease_slack_ms integer,
  -- Turns start after this endpoint id ('' : from the first).
  p_after text,
  -- Due rows read first, and endpoints walked past them at most.
  p_window integer,
  p_scan integer,
  -- Deliveries due at most this long ago are live: they go first.
  p_live_ms integer
) RETURNS TABLE (
  id text, msg_id text, app_id text, endpoint_id text, attempts integer, trigger_type smallint, lease_until bigint,
  event_type text, payload text, msg_created_at bigint, body bytea, content_type text,
  inbound_headers text, url text, disabled boolean, headers text, secrets text, svix_headers boolean,
  metadata text, kind text, template text, uid text, description text, timeout_ms integer, ordering_key text,
  sequence integer, turn_after text
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  -- Advisory lock class of claims (7240001..3: migrations, test template, inbound dedupe).
  lock_class CONSTANT integer := 7240004;
  -- Locks live in a table shared with every transaction: a claim tries at most this many.
  max_tries CONSTANT integer := greatest(2 * p_limit, 64);
  v_tries integer := 0;
  v_seen integer;
  v_walked integer;
  v_scanned text; -- where a walk stopped; NULL: no walk
  v_tail text;
  v_cands text[];
  v_ids text[];
  v_locked text[] := '{}';
  v_slot_from bigint;
  v_g_eid text[];
  v_g_room integer[];
  v_g_fifo boolean[];
  v_g_slot bigint[];
  v_g_until bigint[];
  v_got integer[];
  v_take integer[];
  v_n integer[];
  v_total integer := 0;
  v_pick_ids text[] := '{}';
  v_pick_rank integer[] := '{}';
  v_pick_ord integer[] := '{}';
  v_r_ids text[];
  v_r_rank integer[];
  v_r_ord integer[];
  v_served integer;
  v_live_ids text[] := '{}';
  v_live_eps text[] := '{}';
  v_live_keyed boolean[] := '{}';
  v_est integer[];
  v_cand_n integer[] := '{}';
  v_locked_est integer := 0;
  v_share integer;
  -- The smallest share of a batch an endpoint is locked for.
  min_share CONSTANT integer := 8;
BEGIN
  -- Step 3 relies on each statement taking a new snapshot.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'hookline_claim must run under READ COMMITTED';
  END IF;
  IF p_limit <= 0 OR p_per_endpoint <= 0 THEN
    RETURN;
  END IF;
  -- 1. The endpoints with due work.
  IF p_only IS NOT NULL THEN
    SELECT array_agg(o.eid) INTO v_cands
      FROM (SELECT DISTINCT u.eid FROM unnest(p_only) AS u(eid)) o
     WHERE EXISTS (SELECT 1 FROM delivery d WHERE d.endpoint_id = o.eid AND d.status IN (${OPEN})
                     AND d.next_attempt_at <= p_now);
  ELSE
    SELECT coalesce(array_agg(l.id ORDER BY l.next_attempt_at, l.id), '{}'),
           coalesce(array_agg(l.endpoint_id ORDER BY l.next_attempt_at, l.id), '{}'),
           coalesce(array_agg(l.keyed ORDER BY l.next_attempt_at, l.id), '{}')
      INTO v_live_ids, v_live_eps, v_live_keyed
      FROM (SELECT d.id, d.endpoint_id, d.next_attempt_at, d.ordering_key IS NOT NULL AS keyed FROM delivery d
             WHERE d.status IN (${OPEN}) AND d.next_attempt_at > p_now - p_live_ms AND d.next_attempt_at <= p_now
             ORDER BY d.next_attempt_at, d.id LIMIT p_window) l;
    SELECT array_agg(w.eid), array_agg(w.n), coalesce(sum(w.n), 0) INTO v_cands, v_cand_n, v_seen
      FROM (SELECT d.endpoint_id AS eid, count(*)::integer AS n
              FROM (SELECT d.endpoint_id FROM delivery d
                     WHERE d.status IN (${OPEN}) AND d.next_attempt_at <= p_now
                     ORDER BY d.next_attempt_at, d.id LIMIT p_window) d
             GROUP BY d.endpoint_id) w;
    IF v_seen >= p_window THEN
      -- More may be due behind the window: walk the endpoints from where the last claim stopped.
      -- (How many each has due is not known then: v_cand_n stays empty.)
      v_cand_n := '{}';
      SELECT array_agg(w.eid ORDER BY w.n) FILTER (WHERE w.due <= p_now), coalesce(max(w.n), 0),
             (array_agg(w.eid ORDER BY w.n DESC))[1]
        INTO v_cands, v_walked, v_scanned
        FROM hookline_walk(p_after, p_scan) w;
      IF v_walked < p_scan AND p_after <> '' THEN
        SELECT array_agg(w.eid ORDER BY w.n) FILTER (WHERE w.due <= p_now), (array_agg(w.eid ORDER BY w.n DESC))[1]
          INTO v_ids, v_tail
          FROM hookline_walk('', p_scan - v_walked) w
         WHERE w.eid <= p_after;
        v_cands := coalesce(v_cands, '{}') || coalesce(v_ids, '{}');
        v_scanned := coalesce(v_tail, v_scanned);
      END IF;
    END IF;
  END IF;
  -- 2. In turn order, without what is out of scope or visibly blocked (at its in-flight limit,
  -- waiting for its rate slot, FIFO with its head in flight or not due); then the locks.
  SELECT coalesce(array_agg(c.eid ORDER BY c.live_pos, c.eid <= p_after, c.eid), '{}'),
         coalesce(array_agg(CASE WHEN e.fifo OR rt.rate > 0 THEN 1
                                 ELSE least(coalesce(c.n, p_per_endpoint), p_per_endpoint - l.live) END
                            ORDER BY c.live_pos, c.eid <= p_after, c.eid), '{}')
    INTO v_ids, v_est
    FROM (SELECT u.eid, min(u.live_pos) AS live_pos, max(u.n) AS n
            FROM (SELECT x.eid, NULL::bigint AS live_pos, x.n
                    FROM unnest(coalesce(v_cands, '{}'), v_cand_n) AS x(eid, n)
                  UNION ALL
                  SELECT x.eid, x.pos, NULL::integer FROM unnest(v_live_eps) WITH ORDINALITY AS x(eid, pos)) u
           GROUP BY u.eid) c
    JOIN endpoint e ON e.id = c.eid
    JOIN app a ON a.id = e.app_id
    CROSS JOIN LATERAL (SELECT coalesce(hookline_rate_of(e.throttle_rate, a.throttle_rate, e.kind,
                          p_chat_kinds, p_chat_rate), 0) AS rate) rt
    CROSS JOIN LATERAL (SELECT count(*)::integer AS live FROM (
                          SELECT 1 FROM delivery s
                           WHERE s.endpoint_id = c.eid AND s.status = ${SENDING} AND s.next_attempt_at > p_now
                           LIMIT p_per_endpoint) s) l
   WHERE NOT (c.eid = ANY(p_skip)) AND NOT (e.kind = ANY(p_exclude_kinds))
     AND l.live < p_per_endpoint
     AND NOT (rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now)
     AND NOT (e.fifo AND (l.live > 0 OR (SELECT h.next_attempt_at FROM delivery h
                                           WHERE h.endpoint_id = c.eid AND h.status IN (${OPEN})
                                           ORDER BY h.created_at, h.id LIMIT 1) > p_now));
  -- Each locked endpoint is counted for its share of the batch (at least min_share): a claim
  -- locks only as many endpoints as the batch needs, and a claim running at the same time in
  -- another process serves the next ones instead of finding them all taken.
  v_share := greatest(ceil(p_limit::numeric / greatest(cardinality(v_ids), 1))::integer,
                      least(min_share, ceil(p_limit::numeric / 4)::integer));
  FOR i IN 1 .. cardinality(v_ids) LOOP
    EXIT WHEN v_locked_est >= p_limit OR v_tries >= max_tries;
    v_tries := v_tries + 1;
    IF pg_try_advisory_xact_lock(lock_class, hashtext(v_ids[i])) THEN
      v_locked := v_locked || v_ids[i];
      v_locked_est := v_locked_est + least(v_est[i], v_share);
    END IF;
  END LOOP;
  IF cardinality(v_locked) > 0 THEN
    v_slot_from := greatest(p_now,
      p_slot_from + (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint);
    -- 3. The locked endpoints' room, counted now, and the lease and rate slot of their picks.
    SELECT array_agg(g.eid ORDER BY g.ord), array_agg(g.room ORDER BY g.ord), array_agg(g.fifo ORDER BY g.ord),
           array_agg(g.slot ORDER BY g.ord), array_agg(g.until ORDER BY g.ord)
      INTO v_g_eid, v_g_room, v_g_fifo, v_g_slot, v_g_until
      FROM (
        SELECT c.eid, c.ord, e.fifo,
               CASE WHEN rt.rate > 0 THEN v_slot_from + ceil(p_slot_ms::numeric / rt.rate)::bigint END AS slot,
               p_now + CASE WHEN p_lease_per_endpoint AND e.timeout_ms IS NOT NULL
                            THEN p_lease_timeouts * e.timeout_ms::bigint + p_lease_slack_ms
                            ELSE p_lease_ms END AS until,
               greatest(0, CASE
                 WHEN rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now THEN 0
                 WHEN e.fifo THEN CASE WHEN l.live = 0 THEN 1 ELSE 0 END
                 WHEN rt.rate > 0 THEN least(p_per_endpoint - l.live, 1)
                 ELSE p_per_endpoint - l.live END) AS room
          FROM (SELECT x.eid, row_number() OVER (ORDER BY x.eid <= p_after, x.eid) AS ord
                  FROM unnest(v_locked) AS x(eid)) c
          JOIN endpoint e ON e.id = c.eid
          JOIN app a ON a.id = e.app_id
          CROSS JOIN LATERAL (SELECT coalesce(hookline_rate_of(e.throttle_rate, a.throttle_rate, e.kind,
                                p_chat_kinds, p_chat_rate), 0) AS rate) rt
          CROSS JOIN LATERAL (SELECT count(*)::integer AS live FROM delivery s
                               WHERE s.endpoint_id = e.id AND s.status = ${SENDING} AND s.next_attempt_at > p_now) l
      ) g;
    v_got := array_fill(0, ARRAY[cardinality(v_g_eid)]);
    -- 4. Live first, in due order, within each endpoint's room.
    SELECT coalesce(array_agg(x.id ORDER BY x.pos), '{}'), coalesce(array_agg(x.ord ORDER BY x.pos), '{}'),
           -- Live picks go out before every turn, in due order (ranks below 1).
           coalesce(array_agg(x.pos::integer - p_window ORDER BY x.pos), '{}')
      INTO v_r_ids, v_r_ord, v_r_rank
      FROM (SELECT y.id, y.pos, y.ord FROM (
              SELECT l.id, l.pos, g.ord, row_number() OVER (PARTITION BY g.ord ORDER BY l.pos) AS k
                FROM unnest(v_live_ids, v_live_eps, v_live_keyed) WITH ORDINALITY AS l(id, eid, keyed, pos)
                JOIN unnest(v_g_eid) WITH ORDINALITY AS g(eid, ord) ON g.eid = l.eid
               WHERE NOT v_g_fifo[g.ord]
                 -- Only a keyed delivery is looked at again (its line decides).
                 AND (NOT l.keyed
                      OR EXISTS (SELECT 1 FROM delivery ld WHERE ld.id = l.id
                                   AND hookline_key_free(ld.endpoint_id, ld.ordering_key, ld.sequence, ld.id, p_now)))) y
             WHERE y.k <= v_g_room[y.ord]
             ORDER BY y.pos LIMIT p_limit) x;
    v_pick_ids := v_r_ids;
    v_pick_ord := v_r_ord;
    v_pick_rank := v_r_rank;
    v_total := cardinality(v_r_ids);
    SELECT array_agg(v_g_room[g.ord] - (SELECT count(*)::integer FROM unnest(v_r_ord) AS o(ord) WHERE o.ord = g.ord)
                     ORDER BY g.ord)
      INTO v_g_room FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
    -- Then round robin, in two rounds at most.
    FOR r IN 1 .. 2 LOOP
      EXIT WHEN v_total >= p_limit;
      SELECT array_agg(coalesce(t.take, 0) ORDER BY g.ord) INTO v_take
        FROM generate_series(1, cardinality(v_g_eid)) AS g(ord)
        LEFT JOIN (SELECT q.ord, count(*)::integer AS take
                     FROM (SELECT g2.ord FROM generate_series(1, cardinality(v_g_eid)) AS g2(ord)
                             CROSS JOIN LATERAL generate_series(1, v_g_room[g2.ord]) AS k(k)
                            ORDER BY k.k, g2.ord LIMIT p_limit - v_total) q
                    GROUP BY q.ord) t ON t.ord = g.ord;
      EXIT WHEN coalesce((SELECT sum(x) FROM unnest(v_take) AS x), 0) = 0;
      SELECT coalesce(array_agg(d.id ORDER BY d.rank, d.ord), '{}'), coalesce(array_agg(d.rank ORDER BY d.rank, d.ord), '{}'),
             coalesce(array_agg(d.ord ORDER BY d.rank, d.ord), '{}')
        INTO v_r_ids, v_r_rank, v_r_ord
        FROM (
          SELECT x.id, g.ord, v_got[g.ord] + row_number() OVER (PARTITION BY g.ord ORDER BY x.next_attempt_at, x.id) AS rank
            FROM generate_series(1, cardinality(v_g_eid)) AS g(ord)
            CROSS JOIN LATERAL (
              (SELECT h.id, h.next_attempt_at FROM delivery h
                WHERE v_g_fifo[g.ord] AND h.endpoint_id = v_g_eid[g.ord] AND h.status IN (${OPEN})
                  AND v_got[g.ord] = 0
                ORDER BY h.created_at, h.id LIMIT 1)
              UNION ALL
              (SELECT o.id, o.next_attempt_at FROM delivery o
                WHERE NOT v_g_fifo[g.ord] AND o.endpoint_id = v_g_eid[g.ord] AND o.status IN (${OPEN})
                  AND o.next_attempt_at <= p_now
                  AND NOT (o.id = ANY(v_pick_ids))
                  AND (o.ordering_key IS NULL
                       OR hookline_key_free(o.endpoint_id, o.ordering_key, o.sequence, o.id, p_now))
                ORDER BY o.next_attempt_at, o.id LIMIT v_take[g.ord])
            ) x
           WHERE v_take[g.ord] > 0 AND x.next_attempt_at <= p_now
        ) d;
      v_pick_ids := v_pick_ids || v_r_ids;
      v_pick_rank := v_pick_rank || v_r_rank;
      v_pick_ord := v_pick_ord || v_r_ord;
      v_total := v_total + cardinality(v_r_ids);
      -- An endpoint that had fewer than its share is done; the others may take more.
      SELECT array_agg((SELECT count(*)::integer FROM unnest(v_r_ord) AS o(ord) WHERE o.ord = g.ord) ORDER BY g.ord)
        INTO v_n FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
      SELECT array_agg(CASE WHEN v_n[g.ord] < v_take[g.ord] THEN 0 ELSE v_g_room[g.ord] - v_take[g.ord] END ORDER BY g.ord),
             array_agg(v_got[g.ord] + v_n[g.ord] ORDER BY g.ord)
        INTO v_g_room, v_got FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
    END LOOP;
  END IF;
  IF v_total = 0 THEN
    IF v_scanned IS NOT NULL THEN
      turn_after := v_scanned;
      RETURN NEXT;
    END IF;
    RETURN;
  END IF;
  -- The next claim's turns start after the last endpoint served in turn (live picks aside).
  v_served := (SELECT max(u.ord) FROM unnest(v_pick_ord, v_pick_rank) AS u(ord, rank) WHERE u.rank > 0);
  -- The rows of endpoints whose rate slot moves are locked before any delivery row (in id
  -- order, like every writer of endpoint rows): a claim never waits while it holds deliveries.
  PERFORM 1 FROM endpoint e
    WHERE e.id IN (SELECT v_g_eid[o] FROM unnest(v_pick_ord) AS o WHERE v_g_slot[o] IS NOT NULL)
    ORDER BY e.id FOR NO KEY UPDATE OF e;
  -- 5. The picks in the order they go out: the first of each endpoint in turn, then the second...
  RETURN QUERY
    WITH p AS (
      SELECT u.id, u.rank, u.ord, v_g_eid[u.ord] AS eid, v_g_slot[u.ord] AS slot, v_g_until[u.ord] AS until
        FROM unnest(v_pick_ids, v_pick_rank, v_pick_ord) AS u(id, rank, ord)
    ), leased AS (
      UPDATE delivery d SET status = ${SENDING}, next_attempt_at = p.until, updated_at = p_now
        FROM p
       WHERE p.id = d.id
         AND d.id IN (SELECT l.id FROM delivery l
                       WHERE l.id IN (SELECT p.id FROM p) AND l.status IN (${OPEN}) AND l.next_attempt_at <= p_now
                       FOR UPDATE SKIP LOCKED)
      RETURNING d.id, d.msg_id, d.app_id, d.endpoint_id, d.attempts, d.trigger_type, d.next_attempt_at AS lease_until,
        d.ordering_key, d.sequence
    ), throttled AS (
      UPDATE endpoint e SET throttle_next_at = p.slot
        FROM p WHERE e.id = p.eid AND p.slot IS NOT NULL AND p.id IN (SELECT leased.id FROM leased)
    )
    SELECT l.id, l.msg_id, l.app_id, l.endpoint_id, l.attempts, l.trigger_type, l.lease_until,
           m.event_type, m.payload, m.created_at, i.body, i.content_type, i.headers,
           e.url, e.disabled, e.headers, e.secrets, e.svix_headers, e.metadata, e.kind, e.template, e.uid,
           e.description, e.timeout_ms, l.ordering_key, l.sequence, coalesce(v_g_eid[v_served], p_after)
      FROM leased l
      JOIN p ON p.id = l.id
      JOIN message m ON m.id = l.msg_id
      LEFT JOIN inbound_event i ON i.id = l.msg_id
      JOIN endpoint e ON e.id = l.endpoint_id
     ORDER BY p.rank, p.ord;
END
$$;
`,
  },
  {
    version: 17,
    name: 'source ingest settings',
    sql: `
-- Sealed (encrypted) JSON of what the Svix Ingest API (/ingest/api/v1/source) keeps for a
-- source: its Svix type, uid and metadata, and the tokens of its receive URL
-- (/in/{name}/{token}). NULL: none of them (the receive URL is /in/{name}).
ALTER TABLE source ADD COLUMN ingest TEXT;
`,
  },
  {
    version: 18,
    name: 'message trace context',
    sql: `
-- The W3C traceparent of the request that published the message (or of Hookline's own span for
-- it, when tracing is on): every delivery attempt carries it on, so a trace runs from the
-- publisher's call into the receiver. Null when there was none.
ALTER TABLE message ADD COLUMN traceparent TEXT;
`,
  },
  {
    version: 19,
    name: 'application alert email',
    sql: `
-- Where Hookline emails an application's owner when one of its endpoints is disabled (and, if
-- the operator turns it on, when a message is exhausted): a comma-separated list of addresses,
-- set with PATCH /api/v1/app/{app}/alert-email. NULL: no alert emails.
ALTER TABLE app ADD COLUMN alert_email TEXT;
`,
  },
  {
    version: 20,
    name: 'inbound request bytes partitioned by day',
    // A getter: it derives the claim from migration 16, which exists once this list does.
    get sql() {
      return `
-- A received request's bytes (content type, headers, body) move out of inbound_event into
-- inbound_body, partitioned by id per UTC day like the attempt log (migration 14; inbound event
-- ids are message ids, KSUIDs that sort by their second). Retention drops a day's partition once
-- all of it is past the retention period and none of its requests is still being forwarded;
-- the records in inbound_event stay. What is left goes row by row, setting body_expunged_at.
CREATE TABLE inbound_body (
  id TEXT COLLATE "C" NOT NULL,
  content_type TEXT,
  headers TEXT NOT NULL,
  body BYTEA NOT NULL
) PARTITION BY RANGE (id);
ALTER TABLE inbound_body ADD CONSTRAINT inbound_body_pkey PRIMARY KEY (id);
ALTER TABLE inbound_body ADD CONSTRAINT inbound_body_event_fk
  FOREIGN KEY (id) REFERENCES inbound_event(id) ON DELETE CASCADE;
DO $$ BEGIN
  EXECUTE format('CREATE TABLE inbound_body_before_partitions PARTITION OF inbound_body FOR VALUES FROM (MINVALUE) TO (%L)',
    hookline_id_floor('msg_', (floor(extract(epoch FROM now()) / 86400) + 1)::bigint * 86400000));
END $$;
CREATE TABLE inbound_body_default PARTITION OF inbound_body DEFAULT;
INSERT INTO inbound_body (id, content_type, headers, body)
  SELECT id, content_type, headers, body FROM inbound_event WHERE body_expunged_at IS NULL;
DROP INDEX inbound_event_received;
ALTER TABLE inbound_event DROP COLUMN headers, DROP COLUMN body;

-- When a partition of bytes was dropped: the events below upper_id whose bytes are missing lost
-- them at dropped_at (what the API shows as bodyExpungedAt).
CREATE TABLE inbound_body_drop (
  upper_id TEXT COLLATE "C" PRIMARY KEY,
  dropped_at BIGINT NOT NULL
);

-- Migration 14's hookline_attempt_partitions for any table partitioned by day on ids with
-- p_prefix: makes p_table's partitions p_table_YYYYMMDD from p_now's day to p_days later (a day
-- that overlaps an older partition, or whose rows went to the default one, is left to those);
-- returns how many.
CREATE FUNCTION hookline_day_partitions(p_table TEXT, p_prefix TEXT, p_now BIGINT, p_days INT) RETURNS INT
LANGUAGE plpgsql SET lock_timeout = '1s' AS $$
DECLARE
  made INT := 0;
  day_start BIGINT;
  part TEXT;
BEGIN
  FOR d IN 0..p_days LOOP
    day_start := (floor(p_now / 86400000.0)::bigint + d) * 86400000;
    part := p_table || '_' || to_char(to_timestamp(day_start / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD');
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    BEGIN
      EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, p_table);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', p_table, part,
        hookline_id_floor(p_prefix, day_start), hookline_id_floor(p_prefix, day_start + 86400000));
      made := made + 1;
    EXCEPTION WHEN invalid_object_definition OR check_violation OR lock_not_available THEN
      NULL;
    END;
  END LOOP;
  RETURN made;
END $$;

-- Migration 14's function is now this one for the attempt log (processes of the version before
-- still call it during an upgrade), and one call makes the days ahead of every table partitioned
-- by day, at start and at every retention pass.
CREATE OR REPLACE FUNCTION hookline_attempt_partitions(p_now BIGINT, p_days INT) RETURNS INT
LANGUAGE sql AS $$ SELECT hookline_day_partitions('attempt', 'atmpt_', p_now, p_days) $$;
CREATE FUNCTION hookline_partitions_ahead(p_now BIGINT, p_days INT) RETURNS INT
LANGUAGE sql AS $$
  SELECT hookline_day_partitions('attempt', 'atmpt_', p_now, p_days)
       + hookline_day_partitions('inbound_body', 'msg_', p_now, p_days)
$$;

-- Drops the partitions of inbound_body that hold nothing received at or after p_before and no
-- request whose forwarding is still open, and notes each drop in inbound_body_drop at p_now;
-- returns how many. One whose lock is not free within a second is dropped by a later pass.
CREATE FUNCTION hookline_inbound_body_drop(p_before BIGINT, p_now BIGINT) RETURNS INT
LANGUAGE plpgsql SET lock_timeout = '1s' AS $$
DECLARE
  dropped INT := 0;
  floor_id TEXT := hookline_id_floor('msg_', p_before);
  busy BOOLEAN;
  r RECORD;
BEGIN
  FOR r IN
    SELECT c.relname AS part,
      substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']*)''\\)') AS upper
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'inbound_body'::regclass
  LOOP
    CONTINUE WHEN r.upper IS NULL OR r.upper COLLATE "C" > floor_id COLLATE "C";
    -- Only the day's own requests hold it (an old message still waiting for a dead endpoint
    -- does not): each of its rows looked up in delivery by msg_id.
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I b JOIN delivery d ON d.msg_id = b.id WHERE d.status IN (${OPEN}))',
      r.part) INTO busy;
    CONTINUE WHEN busy;
    BEGIN
      EXECUTE format('DROP TABLE %I', r.part);
      INSERT INTO inbound_body_drop (upper_id, dropped_at) VALUES (r.upper, p_now) ON CONFLICT DO NOTHING;
      dropped := dropped + 1;
    EXCEPTION WHEN lock_not_available THEN
      NULL;
    END;
  END LOOP;
  RETURN dropped;
END $$;
SELECT hookline_partitions_ahead((extract(epoch FROM now()) * 1000)::bigint, ${PARTITION_DAYS_AHEAD});

${claimFromInboundBody()}
`;
    },
  },
  {
    version: 21,
    name: 'no partition for the time before partitioning when there was nothing then',
    sql: `
-- Migrations 14 and 20 keep what the attempt log and the inbound request bytes held before they
-- were partitioned in one partition, *_before_partitions, which reaches to the end of the day of
-- the upgrade. On a new database (or one that had stored nothing yet) that partition is empty,
-- and it takes the first day's rows, which then go only once that whole partition is past the
-- retention period. An empty one is dropped here: every day gets a partition of its own (the
-- migration run makes today's and the days ahead right after), and days before it can be made
-- too (an import of older history). Locked first, so no insert lands in it in between.
DO $$
DECLARE
  t TEXT;
  empty BOOLEAN;
BEGIN
  FOREACH t IN ARRAY ARRAY['attempt', 'inbound_body'] LOOP
    CONTINUE WHEN to_regclass(t || '_before_partitions') IS NULL;
    EXECUTE format('LOCK TABLE %I, %I IN ACCESS EXCLUSIVE MODE', t, t || '_before_partitions');
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I)', t || '_before_partitions') INTO empty;
    IF empty THEN
      EXECUTE format('DROP TABLE %I', t || '_before_partitions');
    END IF;
  END LOOP;
END $$;
`,
  },
  {
    version: 22,
    name: 'message payloads partitioned by day',
    // A getter: it derives the claim from migration 20's.
    get sql() {
      return `
-- New messages keep their payload apart from their record, in message_payload, partitioned by id
-- per UTC day like the attempt log (migration 14; message ids are KSUIDs, which sort by their
-- second). Retention drops a day's payloads whole once all of that day is past the retention
-- period and none of its messages still waits for a delivery; the message records stay. Before
-- this, retention emptied payloads one UPDATE per message, a row version and index entries each,
-- which took the CPU deliveries needed on a busy database.
--
-- Payloads stored before stay in message.payload until retention empties them there (no copy at
-- upgrade); a new message's payload column is NULL. message_with_payload reads both.
CREATE TABLE message_payload (
  id TEXT COLLATE "C" NOT NULL,
  payload TEXT NOT NULL
) PARTITION BY RANGE (id);
ALTER TABLE message_payload ADD CONSTRAINT message_payload_pkey PRIMARY KEY (id);
ALTER TABLE message_payload ADD CONSTRAINT message_payload_message_fk
  FOREIGN KEY (id) REFERENCES message(id) ON DELETE CASCADE;
CREATE TABLE message_payload_default PARTITION OF message_payload DEFAULT;
ALTER TABLE message ALTER COLUMN payload DROP NOT NULL;
-- Retention's index of payloads still in their rows (migration 1's covered every message not
-- expunged, which is every new one now).
DROP INDEX message_created;
CREATE INDEX message_payload_in_row ON message (created_at) WHERE payload IS NOT NULL AND payload_expunged_at IS NULL;

-- A message as the API reads it: its payload from wherever it is ('{}' once expunged). A column
-- added to message later is added here too.
CREATE VIEW message_with_payload AS
  SELECT m.id, m.app_id, m.event_id, m.event_type, coalesce(m.payload, p.payload, '{}') AS payload,
    m.channels, m.tags, m.created_at, m.payload_expunged_at, m.ordering_key, m.traceparent
  FROM message m LEFT JOIN message_payload p ON p.id = m.id;

CREATE OR REPLACE FUNCTION hookline_partitions_ahead(p_now BIGINT, p_days INT) RETURNS INT
LANGUAGE sql AS $$
  SELECT hookline_day_partitions('attempt', 'atmpt_', p_now, p_days)
       + hookline_day_partitions('inbound_body', 'msg_', p_now, p_days)
       + hookline_day_partitions('message_payload', 'msg_', p_now, p_days)
$$;

-- Retention drops the partitions past the period one transaction each (postgres/retention.ts),
-- which migrations 14 and 20's functions did all in one: dropping a partition locks the table it
-- belongs to and the tables its foreign keys reference (message, endpoint), and inserts into them
-- wait meanwhile, so those locks are held for one drop at a time, and waited for at most 100 ms.

-- The partitions of p_table (partitioned by day on ids with p_prefix) that hold nothing made at
-- or after p_before, oldest first: name and upper bound.
CREATE FUNCTION hookline_partitions_before(p_table TEXT, p_prefix TEXT, p_before BIGINT)
RETURNS TABLE (part TEXT, upper TEXT)
LANGUAGE sql STABLE AS $$
  SELECT c.relname::text, b.upper
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
    LATERAL (SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']*)''\\)') AS upper) b
  WHERE i.inhparent = p_table::regclass
    AND b.upper COLLATE "C" <= hookline_id_floor(p_prefix, p_before) COLLATE "C"
  ORDER BY b.upper
$$;

-- Drops partition p_part, unless p_waits and one of its rows (a message payload, a request's
-- bytes) belongs to a message with a delivery still open; returns whether it did. p_noted_upper:
-- an inbound_body partition's upper bound, noted in inbound_body_drop at p_now. A lock not free
-- within 100 ms leaves the partition to a later pass.
CREATE FUNCTION hookline_partition_drop(p_part TEXT, p_waits BOOLEAN, p_noted_upper TEXT, p_now BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql SET lock_timeout = '100ms' AS $$
DECLARE
  busy BOOLEAN := false;
BEGIN
  IF p_waits THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I b JOIN delivery d ON d.msg_id = b.id WHERE d.status IN (${OPEN}))',
      p_part) INTO busy;
    IF busy THEN
      RETURN false;
    END IF;
  END IF;
  EXECUTE format('DROP TABLE %I', p_part);
  IF p_noted_upper IS NOT NULL THEN
    INSERT INTO inbound_body_drop (upper_id, dropped_at) VALUES (p_noted_upper, p_now) ON CONFLICT DO NOTHING;
  END IF;
  RETURN true;
EXCEPTION WHEN lock_not_available THEN
  RETURN false;
END $$;
SELECT hookline_partitions_ahead((extract(epoch FROM now()) * 1000)::bigint, ${PARTITION_DAYS_AHEAD});

${claimWithPayloadTable()}
`;
    },
  },
  {
    version: 23,
    name: 'the claim planned once per connection',
    // A getter: it derives the claim from migration 22's.
    get sql() {
      return `
-- hookline_claim runs about twenty statements per call. PL/pgSQL keeps a plan per statement and
-- connection, but by default re-plans a statement with the call's values whenever its generic
-- plan is estimated dearer than the plans made for values, and that held for most of the
-- claim's: planning was most of the time a claim took (a third of the PostgreSQL process's
-- time while one worker drained one endpoint). The claim now uses its generic plans, planned once
-- per connection, never JIT compilation (a generic plan's estimate can pass jit_above_cost, and
-- compiling takes longer than any claim) and never bitmap scans (a generic plan made before the
-- statistics knew of a large backlog read and sorted all of one endpoint's due rows at every
-- claim). The round robin reads each endpoint's due rows in endpoint order, so that its generic
-- plan walks delivery_endpoint_due for one endpoint instead of the due index of every endpoint.
${claimWithGenericPlans()}
`;
    },
  },
  {
    version: 24,
    name: 'the claim locks its picks by their ids',
    // A getter: it derives the claim from migration 23's.
    get sql() {
      return `
-- The claim locks the deliveries it picked before leasing them (FOR UPDATE SKIP LOCKED). Written
-- as "the due rows whose id is among the picks", its plan - made once per connection, from the
-- statistics of that moment, often those of an empty table - read every due row from the start
-- of the due index and compared each with every pick: with a backlog of 5,832 due rows, 85 ms of
-- a claim of 61 (auto_explain, --store postgres --only e2e once publishing outran delivery). It now
-- looks the picks up by primary key; the due and status conditions are written so that no other
-- index can serve them, and sequential scans are off for the claim, so no plan reads the whole
-- table however small it was when planned.
${claimLockingPicksById()}
`;
    },
  },
  {
    version: 25,
    name: 'the claim leases its picks without joining them',
    // A getter: it derives the claim from migration 24's.
    get sql() {
      return `
-- The claim's last statement leased its picks by joining the delivery rows to a list of the
-- picks (their rank, endpoint, lease and rate slot), and joined the leased rows to that list
-- again to return them in order. Estimated at a few rows, both joins were nested loops that
-- compared every leased row with every pick: 2 x 4,096 comparisons for a claim of 64. The lease
-- and the rate slot are the endpoint's (found in the short list of locked endpoints), and the
-- order is the pick's position in the picks' arrays: no join left.
${claimLeasingWithoutJoins()}
`;
    },
  },
  {
    version: 26,
    name: 'the claim says which endpoints are FIFO, and when the due work it leaves may go',
    // A getter: it derives the claim from migration 25's.
    get sql() {
      return `
-- A FIFO endpoint's next delivery may go as soon as the one before it is recorded. The claim
-- returns each delivery's endpoint with its fifo flag, so that the worker recording it claims
-- again at once; it waited for its next look at the queue before (50 ms while work is due but
-- blocked): 20-30 deliveries a second per FIFO endpoint at most.
-- And a claim says what it leaves (store/claim-plan.ts, whatIsLeft): until when it waits
-- (blocked_until) - the earliest retry of a FIFO endpoint's head or rate slot among the endpoints
-- it saw; NULL when nothing it left waits for a time (the endpoints the worker asked it to skip
-- and those it filled come back when a slot frees up, a FIFO line when its delivery in flight is
-- recorded); p_now when it cannot tell (a claimable endpoint it did not lock, a walk) - and, on
-- each delivery, whether its endpoint got all its room (filled). The worker looked again every
-- 50 ms while any work was due, for as long as a FIFO endpoint's retry was hours away.
-- A function's columns cannot be changed in place: it is dropped and created again, in this
-- migration's transaction.
DROP FUNCTION hookline_claim(bigint, bigint, integer, integer, text[], text[], text[], bigint, integer, text[],
  integer, boolean, integer, integer, text, integer, integer, integer);
${claimSayingWhatItLeft()}
`;
    },
  },
  {
    version: 27,
    name: 'a claim that stops short of an endpoint with more due says so',
    // A getter: it derives the claim from migration 26's.
    get sql() {
      return `
-- A claim takes its batch in two rounds of turns; an endpoint that had as many due as its share
-- in both (room left, it never ran out) may have more due when the claim stops, short of its
-- limit because others ran out, or at its limit. Migration 26's claim said such an endpoint had
-- got all it had due (blocked_until NULL), and the worker, told nothing was left, waited for its
-- idle poll (5 s) with those deliveries due: seen as the last seconds of a drain over 100
-- endpoints. It now says p_now: look again shortly.
${claimSayingWhatItStoppedShortOf()}
`;
    },
  },
  {
    version: 28,
    name: "a day's payloads wait for open deliveries found through the day's message ids",
    // A getter: it derives the function from migration 22's.
    get sql() {
      return `
-- Before dropping a day of message payloads or inbound request bytes, retention checks that no
-- delivery of those messages is still open. Migration 22's check joined the partition to
-- delivery, and PostgreSQL read the whole delivery table for it (a sequential scan keeping the
-- open ones, then the partition's index): ~130 ms per partition over 1.1M deliveries, and 20
-- such partitions when retention catches up, on the CPU that delivers. It now reads the
-- deliveries of the partition's own id range (ids sort by time: a day's messages) through
-- delivery_msg, and only those of its rows: the same answer, ~5 ms for a day of 17,000.
${partitionDropByIdRange()}
`;
    },
  },
  {
    version: 29,
    name: "the claim reads payloads from the partitions of its messages' days only",
    // A getter: it derives the claim from migration 27's.
    get sql() {
      return `
-- The claim reads each leased delivery's payload (message_payload) and forwarded request bytes
-- (inbound_body), tables partitioned by day of message id, by the message id of each leased row.
-- Its plan is made once per connection (migration 23), so the partition is chosen row by row at
-- run time, and PostgreSQL starts an index scan of every partition at every claim before it
-- knows which rows come: a database keeping 40 days of history started ~100 scans a claim to use
-- two (4.8 -> 6.9 ms a claim on the grown database of \`npm run bench -- --grow\`). The claim now
-- reads the smallest and largest message id of its picks first and bounds both joins by them,
-- which PostgreSQL prunes by when the claim starts: only the partitions of the days the picked
-- messages were published in are opened.
${claimOpeningItsDaysOnly()}
`;
    },
  },
  {
    version: 30,
    name: "the claim returns its messages' trace context",
    // A getter: it derives the claim from migration 29's.
    get sql() {
      return `
-- The claim joins each leased delivery to its message, but the worker's statement looked the
-- message up again for its trace context (traceparent), one index probe per delivery, and once
-- more for a message its own snapshot, taken before the function's, did not show yet. The claim
-- now returns the message's traceparent with the rest. A function's columns cannot be changed in
-- place: it is dropped and created again, in this migration's transaction.
DROP FUNCTION hookline_claim(bigint, bigint, integer, integer, text[], text[], text[], bigint, integer, text[],
  integer, boolean, integer, integer, text, integer, integer, integer);
${claimWithTraceContext()}
`;
    },
  },
  {
    version: 31,
    name: "the claim finds its picks' message ids by the picks' own ids",
    // A getter: it derives the claim from migration 30's.
    get sql() {
      return `
-- Migration 29's claim reads the smallest and largest message id of its picks before leasing
-- them. PostgreSQL answers a min() and max() of an indexed column by walking that index from
-- either end, and the claim's plan, made once per connection when the queue was small, did that
-- here: it walked delivery_msg, every delivery ever made, until it met one of the picks - more
-- PostgreSQL CPU per delivery end to end, not less (--store postgres --only e2e, four alternated
-- pairs: 371-466 µs against 500-786). The ids are now read through the picks' primary keys only.
${claimReadingPickMessagesById()}
`;
    },
  },
  {
    version: 32,
    name: 'the next due time is read in due order, whatever the statistics say',
    sql: `
-- A worker with nothing to claim asks when the queue next has work: the earliest due time of an
-- open delivery at the head of its line. Planned at every call from the statistics of the
-- moment, that query read whichever index of open deliveries the planner picked when it believed
-- there were none (ANALYZE ran while every delivery was done: every partial index of open
-- deliveries counted 0 rows), scanning all their entries, dead ones included, and sorting:
-- 30-50 ms a call on a database of 1M deliveries with a thousand open, and 7-16 ms of planning
-- (npm run bench -- --grow). This function, planned once per connection, walks the due index
-- (delivery_due, or delivery_endpoint_due for given endpoints) in due order and stops at the
-- first line head: sorts are off inside it, so no plan can read another index and sort it.
-- p_after: only times after it; p_exclude_kinds: leave out endpoints of these kinds; p_only: only
-- these endpoints (NULL: all).
CREATE FUNCTION hookline_next_due(p_after BIGINT, p_exclude_kinds TEXT[], p_only TEXT[]) RETURNS BIGINT
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET jit = off SET enable_sort = off
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
BEGIN
  IF p_only IS NOT NULL THEN
    RETURN (SELECT min(f.t) FROM unnest(p_only) AS o(id)
      CROSS JOIN LATERAL (
        SELECT d.next_attempt_at AS t FROM delivery d
         WHERE d.endpoint_id = o.id AND d.status IN (${OPEN}) AND d.next_attempt_at > p_after
           AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.id = d.endpoint_id AND e.kind = ANY(p_exclude_kinds))
           AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM delivery k
                 WHERE k.endpoint_id = d.endpoint_id AND k.ordering_key = d.ordering_key AND k.ordering_key IS NOT NULL
                   AND k.status IN (${OPEN}) AND (k.sequence, k.id) < (d.sequence, d.id)))
         ORDER BY d.endpoint_id, d.next_attempt_at, d.id LIMIT 1) f);
  END IF;
  RETURN (SELECT d.next_attempt_at FROM delivery d
           WHERE d.status IN (${OPEN}) AND d.next_attempt_at > p_after
             AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.id = d.endpoint_id AND e.kind = ANY(p_exclude_kinds))
             AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM delivery k
                   WHERE k.endpoint_id = d.endpoint_id AND k.ordering_key = d.ordering_key AND k.ordering_key IS NOT NULL
                     AND k.status IN (${OPEN}) AND (k.sequence, k.id) < (d.sequence, d.id)))
           ORDER BY d.next_attempt_at, d.id LIMIT 1);
END $$;
`,
  },
  {
    version: 33,
    name: 'the claim reads the due window in due order, whatever the statistics say',
    // A getter: it derives the claim from migration 31's.
    get sql() {
      return `
-- The claim's first reads take the due window: the first p_window due deliveries in due order
-- (which endpoints have work, and how much) and those that fell due in the last p_live_ms. Its
-- plans are made once per connection from the statistics of that moment, and statistics taken
-- while the queue was empty (an ANALYZE of a quiet queue: every partial index of open
-- deliveries counts 0 rows) made the window read every due delivery through
-- delivery_endpoint_due and sort them, to keep the first 400: with 100,000 due behind an
-- endpoint back from an outage, 15 ms of a 22 ms claim. The window is now read by a function of
-- its own, planned once per connection too, with sorts off: the only plan left walks delivery_due
-- in due order and stops at the window's end. (Sorts stay on in the rest of the claim, where
-- plans without them are worse.)
CREATE FUNCTION hookline_due_window(p_now BIGINT, p_live_ms INTEGER, p_window INTEGER,
  OUT live_ids TEXT[], OUT live_eps TEXT[], OUT live_keyed BOOLEAN[], OUT eids TEXT[], OUT ns INTEGER[],
  OUT seen INTEGER)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET jit = off SET enable_sort = off
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
BEGIN
  SELECT coalesce(array_agg(l.id ORDER BY l.next_attempt_at, l.id), '{}'),
         coalesce(array_agg(l.endpoint_id ORDER BY l.next_attempt_at, l.id), '{}'),
         coalesce(array_agg(l.keyed ORDER BY l.next_attempt_at, l.id), '{}')
    INTO live_ids, live_eps, live_keyed
    FROM (SELECT d.id, d.endpoint_id, d.next_attempt_at, d.ordering_key IS NOT NULL AS keyed FROM delivery d
           WHERE d.status IN (${OPEN}) AND d.next_attempt_at > p_now - p_live_ms AND d.next_attempt_at <= p_now
           ORDER BY d.next_attempt_at, d.id LIMIT p_window) l;
  SELECT array_agg(w.eid), array_agg(w.n), coalesce(sum(w.n), 0) INTO eids, ns, seen
    FROM (SELECT d.endpoint_id AS eid, count(*)::integer AS n
            FROM (SELECT d.endpoint_id FROM delivery d
                   WHERE d.status IN (${OPEN}) AND d.next_attempt_at <= p_now
                   ORDER BY d.next_attempt_at, d.id LIMIT p_window) d
           GROUP BY d.endpoint_id) w;
END $$;
${claimReadingTheWindowInOrder()}
`;
    },
  },
  {
    version: 34,
    name: "the claim's walk over endpoints probes each endpoint's due rows in order, whatever the statistics say",
    // A getter: it derives the walk from migration 9's.
    get sql() {
      return `
-- When more is due than the claim's window holds, the claim walks the endpoints with open
-- deliveries (hookline_walk, migration 9): one probe of delivery_endpoint_due per endpoint, the
-- next endpoint after the last. That SQL function was planned inside the claim, once per
-- connection, and with the statistics of a quiet queue (migration 33) each step of the walk read
-- every due delivery through delivery_due and sorted them to find the next endpoint: with 30,000
-- due over 100 endpoints, 440 ms a claim (node bench/pg-claim.ts --quiet). It is now PL/pgSQL,
-- planned once per connection with sorts off: each step is one ordered probe again.
${walkInOrder()}
`;
    },
  },
  {
    version: 35,
    name: "a claim leaves another worker's busy endpoint to it until its work has waited",
    // A getter: it derives the claim from migration 33's.
    get sql() {
      return `
-- With several workers, each endpoint has one first in line (notify.ts). The others took its due
-- work too whenever they claimed, and a busy endpoint's leases were split among them: more
-- claims, each bringing fewer deliveries, and smaller completions, for the same deliveries (4
-- workers on one endpoint cost a third more CPU per delivery than 1). A claim now leaves an
-- endpoint it is told is another's first (p_defer) to that worker while at least p_defer_hot of
-- its deliveries are in flight (that worker is serving it) and its oldest due delivery has
-- waited less than p_defer_ms (it is not behind), and says when that wait ends (blocked_until).
-- An endpoint with less in flight is anyone's, as before: a quiet endpoint's new message goes
-- with the next claim of any worker, not only when its first in line is free. The new
-- parameters change the function's signature: it is dropped and created again, in this
-- migration's transaction.
DROP FUNCTION hookline_claim(bigint, bigint, integer, integer, text[], text[], text[], bigint, integer, text[],
  integer, boolean, integer, integer, text, integer, integer, integer);
${claimLeavingOthersEndpoints()}
`;
    },
  },
  {
    version: 36,
    name: 'new deliveries may be leased to the accepting process as they are written (ingest handoff)',
    sql: `
-- A process that serves the API and delivers (role all) leases a new delivery to its own
-- dispatcher in the statement that writes it, when the delivery is due now and its endpoint is
-- plain (no FIFO order, no rate limit, no ordering key): live traffic goes from the commit to
-- the sender without a notification and a claim, and without the row version a lease writes.
-- The limit that holds across processes, p_per_endpoint deliveries of an endpoint leased at a
-- time (the claims' p_per_endpoint), is decided as a claim decides it: under the endpoint's claim
-- lock (class 7240004), counting its live leases with a snapshot taken after the lock (a VOLATILE
-- function's statements each take one). The lock is held until the ingest commits, so the next
-- claim or handoff for the endpoint counts what this one leased.
-- Unlike a claim, which only tries the lock (and skips an endpoint another claim holds), the
-- ingest waits for it: with only tries, an ingest meeting a claim or another ingest of the same
-- endpoint queued its deliveries for a claim, whose lock made the next ingest queue its own, and
-- live traffic went by claims again. The wait is one claim's or one ingest's statement at most
-- (a try-lock that meets a waiter fails, so claims do not pass it). The locks are taken in the
-- order of their keys, before the ingest statement takes any other lock (its messages wait for
-- this function), and claims never wait for one: no wait here can close a cycle. An endpoint
-- already at its limit by a count without the lock is not waited for.
-- Returns, for each endpoint with room, how many of p_wants[i] it may lease.
CREATE FUNCTION hookline_handoff(p_eids text[], p_wants integer[], p_per_endpoint integer, p_now bigint)
  RETURNS TABLE(endpoint_id text, granted integer)
  LANGUAGE plpgsql VOLATILE
  SET plan_cache_mode = force_generic_plan SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  r record;
  v_live integer;
BEGIN
  FOR r IN SELECT x.eid, x.want FROM unnest(p_eids, p_wants) AS x(eid, want) ORDER BY hashtext(x.eid), x.eid LOOP
    FOR pass IN 1 .. 2 LOOP
      -- Pass 1 without the lock (is there room at all?), pass 2 under it.
      IF pass = 2 THEN
        PERFORM pg_advisory_xact_lock(7240004, hashtext(r.eid));
      END IF;
      SELECT count(*)::integer INTO v_live FROM (
        SELECT 1 FROM delivery s
         WHERE s.endpoint_id = r.eid AND s.status = 3 AND s.next_attempt_at > p_now
         LIMIT p_per_endpoint) s;
      EXIT WHEN v_live >= p_per_endpoint;
      IF pass = 2 THEN
        endpoint_id := r.eid;
        granted := least(r.want, p_per_endpoint - v_live);
        RETURN NEXT;
      END IF;
    END LOOP;
  END LOOP;
END
$$;
`,
  },
  {
    version: 37,
    name: 'the attempt log, payloads and deliveries check no foreign key as they are written; deletions clear them',
    sql: `
-- A foreign key is checked on every row written into the table that holds it: a lookup of the
-- referenced row that also locks it (FOR KEY SHARE, which writes the lock into that row), run as
-- a trigger per row. A message and its delivery paid for six: the message's application, its
-- payload's message, the delivery's message and endpoint, and its attempt's message and
-- endpoint. Four of them only ever served deletions: a payload and a delivery are written in
-- the statement that writes their message (or for a message read first), an attempt for a
-- delivery it holds, and nothing deletes a message but its application's deletion, which
-- deletes the application's endpoints. Without them PostgreSQL spends about a sixth less CPU
-- per delivery (docs/benchmarks.md).
--
-- What a deletion takes with it is now said by triggers that run only when one happens:
--   - an endpoint's deletion deletes its attempt log (its deliveries still go by their foreign
--     key to the endpoint);
--   - a message's deletion deletes its payload.
-- An application's deletion reaches both through its endpoints and messages. The foreign keys of
-- message to app and delivery to endpoint stay: they refuse a message or a delivery that races
-- the deletion of what it belongs to (ingest routes again).
--
-- A completion recording an attempt while its endpoint is deleted: the endpoint's deletion
-- deletes its deliveries first (the foreign key's cascade, a trigger named "RI_...", which runs
-- before "hookline_..." as triggers run in the order of their names), waiting for the completion
-- that holds a delivery's row; then its attempts, in a statement that sees what that completion
-- committed. A completion that comes later finds its delivery gone and logs nothing.
ALTER TABLE attempt DROP CONSTRAINT attempt_msg_fk;
ALTER TABLE attempt DROP CONSTRAINT attempt_endpoint_fk;
ALTER TABLE message_payload DROP CONSTRAINT message_payload_message_fk;
ALTER TABLE delivery DROP CONSTRAINT delivery_msg_id_fkey;

CREATE FUNCTION hookline_endpoint_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM attempt WHERE endpoint_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER hookline_endpoint_deleted AFTER DELETE ON endpoint
  FOR EACH ROW EXECUTE FUNCTION hookline_endpoint_deleted();

CREATE FUNCTION hookline_message_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM message_payload WHERE id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER hookline_message_deleted AFTER DELETE ON message
  FOR EACH ROW EXECUTE FUNCTION hookline_message_deleted();
`,
  },
  {
    version: 38,
    name: 'the attempt log keeps no index by delivery',
    sql: `
-- attempt_by_delivery is read by no query (the attempt log is read by application, endpoint,
-- message and time), and every attempt wrote an entry into it. SQLite drops its own in its
-- migration 24.
DROP INDEX attempt_by_delivery;
`,
  },
  {
    version: 39,
    name: 'the attempt log keeps no index by time',
    sql: `
-- Attempt ids are made when the attempt starts, and sort by that second: a time window over the
-- attempt log is a range of ids, served by the primary key and the (endpoint, id) index
-- (store/shared/attempt-window.ts). Every attempt wrote an entry into each of these two, the one
-- by endpoint and time on a page of its endpoint's. SQLite drops its own in its migration 25.
DROP INDEX attempt_by_created;
DROP INDEX attempt_by_endpoint_time;
`,
  },
  {
    version: 40,
    name: 'a claim that raced another worker leases what is still due, or says to look again now',
    // A getter: it derives the claim from migration 35's.
    get sql() {
      return `
-- A claim reads its due window, then the endpoints' room, locks them, picks and leases, each in a
-- statement of its own. Another worker's claim committing in between could leave this one with
-- nothing leased and nothing said (blocked_until NULL: "nothing left waits"), though work was
-- due: its worker then slept until its idle poll (5 s), and with two workers on one endpoint
-- the other one had left that endpoint to it (migration 35), so deliveries stopped for 5 s
-- (npm run bench, docs/benchmarks.md). Three ways, each mended here:
-- - Its live picks came from the window, read before the lock: deliveries another claim had
--   leased since were picked, then not leased. Each is now looked at again under the lock.
-- - An endpoint with room when the candidates were read and none once locked (another claim
--   leased up to its limit in between) got no picks and said nothing: it now says "now".
-- - Picks another transaction held (SKIP LOCKED), or that changed before the lease: the claim
--   leased fewer than it picked and still said what the picks implied; it now says "now", and
--   a claim that leased none of its picks returns that in a row of its own.
${claimSayingWhenItRaced()}
`;
    },
  },
];

/**
 * Migration 40's claim: migration 35's, except that its live picks are looked at again under the
 * endpoint's lock, and that an endpoint found without room once locked, or picks it could not
 * lease, make it say "look again now" (see the migration).
 */
function claimSayingWhenItRaced(): string {
  return editOnce(claimLeavingOthersEndpoints(), 'migration 40: hookline_claim of migration 35', [
    ['CREATE FUNCTION hookline_claim(', 'CREATE OR REPLACE FUNCTION hookline_claim('],
    [
      `             WHERE y.k <= v_g_room[y.ord]
             ORDER BY y.pos LIMIT p_limit) x;`,
      `             WHERE y.k <= v_g_room[y.ord]
               -- Looked at again under the endpoint's lock (the window was read before it): one
               -- another claim leased since is left out, and the turns fill its room.
               AND EXISTS (SELECT 1 FROM delivery ld WHERE ld.id = y.id AND ld.status IN (${OPEN})
                             AND ld.next_attempt_at <= p_now)
             ORDER BY y.pos LIMIT p_limit) x;`,
    ],
    [
      '    v_room0 := v_g_room;\n',
      `    v_room0 := v_g_room;
    -- Room when the candidates were read, none once locked: another claim leased up to its limit
    -- in between, and its due work waits for those leases.
    IF EXISTS (SELECT 1 FROM unnest(v_room0) AS r(room) WHERE r.room = 0) THEN
      v_blocked := p_now;
    END IF;
`,
    ],
    [
      'coalesce(v_g_eid[v_served], p_after), v_blocked,',
      `coalesce(v_g_eid[v_served], p_after),
           -- Fewer leased than picked: picks held or changed since, look again now.
           CASE WHEN (SELECT count(*) FROM leased) < v_total THEN p_now ELSE v_blocked END,`,
    ],
    [
      '     ORDER BY v_pick_rank[l.pick], v_pick_ord[l.pick];\n',
      `     ORDER BY v_pick_rank[l.pick], v_pick_ord[l.pick];
  IF NOT FOUND THEN
    -- None of its picks could be leased: nothing to return but that.
    turn_after := coalesce(v_g_eid[v_served], p_after);
    blocked_until := p_now;
    RETURN NEXT;
  END IF;
`,
    ],
  ]);
}

/**
 * Migration 35's claim: migration 33's, leaving the endpoints of `p_defer` with `p_defer_hot`
 * deliveries in flight until their oldest due delivery has waited `p_defer_ms` (see the
 * migration).
 */
function claimLeavingOthersEndpoints(): string {
  return editOnce(claimReadingTheWindowInOrder(), 'migration 35: hookline_claim of migration 33', [
    ['CREATE OR REPLACE FUNCTION hookline_claim(', 'CREATE FUNCTION hookline_claim('],
    [
      '  p_live_ms integer\n)',
      `  p_live_ms integer,
  -- Endpoints another worker is first in line for: while p_defer_hot of their deliveries are in
  -- flight, taken only once their oldest due delivery has waited p_defer_ms.
  p_defer text[],
  p_defer_ms integer,
  p_defer_hot integer
)`,
    ],
    [
      '      END AS until) b\n',
      `      END AS until) b0
    -- Another worker's endpoint, busy: left to it until its oldest due delivery has waited (one
    -- probe of delivery_endpoint_due).
    CROSS JOIN LATERAL (SELECT CASE WHEN c.eid = ANY(p_defer) AND l.live >= p_defer_hot THEN (
        SELECT CASE WHEN f.next_attempt_at + p_defer_ms > p_now THEN f.next_attempt_at + p_defer_ms END
          FROM delivery f
         WHERE f.endpoint_id = c.eid AND f.status IN (${OPEN}) AND f.next_attempt_at <= p_now
         ORDER BY f.endpoint_id, f.next_attempt_at, f.id LIMIT 1) END AS until) df
    CROSS JOIN LATERAL (SELECT coalesce(b0.until, df.until) AS until) b
`,
    ],
  ]);
}

/** Migration 33's claim: migration 31's, its due window read by hookline_due_window. */
function claimReadingTheWindowInOrder(): string {
  return editOnce(claimReadingPickMessagesById(), 'migration 33: hookline_claim of migration 31', [
    [
      `    SELECT coalesce(array_agg(l.id ORDER BY l.next_attempt_at, l.id), '{}'),
           coalesce(array_agg(l.endpoint_id ORDER BY l.next_attempt_at, l.id), '{}'),
           coalesce(array_agg(l.keyed ORDER BY l.next_attempt_at, l.id), '{}')
      INTO v_live_ids, v_live_eps, v_live_keyed
      FROM (SELECT d.id, d.endpoint_id, d.next_attempt_at, d.ordering_key IS NOT NULL AS keyed FROM delivery d
             WHERE d.status IN (${OPEN}) AND d.next_attempt_at > p_now - p_live_ms AND d.next_attempt_at <= p_now
             ORDER BY d.next_attempt_at, d.id LIMIT p_window) l;
    SELECT array_agg(w.eid), array_agg(w.n), coalesce(sum(w.n), 0) INTO v_cands, v_cand_n, v_seen
      FROM (SELECT d.endpoint_id AS eid, count(*)::integer AS n
              FROM (SELECT d.endpoint_id FROM delivery d
                     WHERE d.status IN (${OPEN}) AND d.next_attempt_at <= p_now
                     ORDER BY d.next_attempt_at, d.id LIMIT p_window) d
             GROUP BY d.endpoint_id) w;
`,
      `    SELECT w.live_ids, w.live_eps, w.live_keyed, w.eids, w.ns, w.seen
      INTO v_live_ids, v_live_eps, v_live_keyed, v_cands, v_cand_n, v_seen
      FROM hookline_due_window(p_now, p_live_ms, p_window) w;
`,
    ],
  ]);
}

/** Migration 31's claim: migration 30's, its picks' message ids read by the picks' ids (see the migration). */
function claimReadingPickMessagesById(): string {
  return editOnce(claimWithTraceContext(), 'migration 31: hookline_claim of migration 30', [
    ['CREATE FUNCTION hookline_claim(', 'CREATE OR REPLACE FUNCTION hookline_claim('],
    [
      '  SELECT min(d.msg_id), max(d.msg_id) INTO v_msg_lo, v_msg_hi FROM delivery d WHERE d.id = ANY(v_pick_ids);',
      `  -- (msg_id || ''): no index has it, so no plan looks for the bounds in delivery_msg.
  SELECT min(d.msg_id || ''), max(d.msg_id || '') INTO v_msg_lo, v_msg_hi FROM delivery d WHERE d.id = ANY(v_pick_ids);`,
    ],
  ]);
}

/** Migration 30's claim: migration 29's, also returning the message's traceparent. */
function claimWithTraceContext(): string {
  return editOnce(claimOpeningItsDaysOnly(), 'migration 30: hookline_claim of migration 29', [
    ['CREATE OR REPLACE FUNCTION hookline_claim(', 'CREATE FUNCTION hookline_claim('],
    ['blocked_until bigint, filled boolean\n)', 'blocked_until bigint, filled boolean, traceparent text\n)'],
    [
      '           l.endpoint_id = ANY(v_filled)\n',
      '           l.endpoint_id = ANY(v_filled), m.traceparent\n',
    ],
  ]);
}

/**
 * Migration 29's claim: migration 27's, except that the payload and request-bytes joins are
 * bounded by the picks' smallest and largest message id (see the migration).
 */
function claimOpeningItsDaysOnly(): string {
  return editOnce(claimSayingWhatItStoppedShortOf(), 'migration 29: hookline_claim of migration 27', [
    [
      '  v_share integer;\n',
      `  v_share integer;
  -- The picks' smallest and largest message id: the days of message_payload and inbound_body read.
  v_msg_lo text;
  v_msg_hi text;
`,
    ],
    [
      '  -- 5. The picks in the order they go out',
      `  SELECT min(d.msg_id), max(d.msg_id) INTO v_msg_lo, v_msg_hi FROM delivery d WHERE d.id = ANY(v_pick_ids);
  -- 5. The picks in the order they go out`,
    ],
    [
      'LEFT JOIN message_payload mp ON mp.id = l.msg_id',
      'LEFT JOIN message_payload mp ON mp.id = l.msg_id AND mp.id >= v_msg_lo AND mp.id <= v_msg_hi',
    ],
    [
      'LEFT JOIN inbound_body i ON i.id = l.msg_id',
      'LEFT JOIN inbound_body i ON i.id = l.msg_id AND i.id >= v_msg_lo AND i.id <= v_msg_hi',
    ],
  ]);
}

/**
 * Migration 34's `hookline_walk`: migration 9's query, word for word, in PL/pgSQL planned once
 * per connection with sorts off (see the migration).
 */
function walkInOrder(): string {
  const what = 'migration 34: hookline_walk of migration 9';
  return editOnce(releasedFunction(9, 'hookline_walk', what), what, [
    ['CREATE FUNCTION hookline_walk(', 'CREATE OR REPLACE FUNCTION hookline_walk('],
    [
      'LANGUAGE sql STABLE AS $$\n',
      `LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan SET jit = off SET enable_sort = off
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
`,
    ],
    [
      '  SELECT walk.n, walk.eid, walk.due FROM walk\n$$;',
      '  SELECT walk.n, walk.eid, walk.due FROM walk;\nEND $$;',
    ],
  ]);
}

/**
 * Migration 28's `hookline_partition_drop`: migration 22's, word for word, except that its check
 * for open deliveries reads the partition's id range of `delivery_msg`. Derived from the released
 * text, like `claimFromInboundBody`.
 */
function partitionDropByIdRange(): string {
  const what = 'migration 28: hookline_partition_drop of migration 22';
  return editOnce(releasedFunction(22, 'hookline_partition_drop', what), what, [
    ['CREATE FUNCTION hookline_partition_drop(', 'CREATE OR REPLACE FUNCTION hookline_partition_drop('],
    [
      `EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I b JOIN delivery d ON d.msg_id = b.id WHERE d.status IN (${OPEN}))',`,
      `EXECUTE format('SELECT EXISTS (SELECT 1 FROM delivery d
        WHERE d.msg_id >= (SELECT min(id) FROM %1$I) AND d.msg_id <= (SELECT max(id) FROM %1$I)
          AND d.status IN (${OPEN}) AND EXISTS (SELECT 1 FROM %1$I b WHERE b.id = d.msg_id))',`,
    ],
  ]);
}

/** Migration 27's claim: migration 26's, except that room left after its turns means 'now'. */
function claimSayingWhatItStoppedShortOf(): string {
  return editOnce(claimSayingWhatItLeft(), 'migration 27: hookline_claim of migration 26', [
    ['CREATE FUNCTION hookline_claim(', 'CREATE OR REPLACE FUNCTION hookline_claim('],
    [
      `        INTO v_g_room, v_got FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
    END LOOP;
`,
      `        INTO v_g_room, v_got FROM generate_series(1, cardinality(v_g_eid)) AS g(ord);
    END LOOP;
    -- Room left after the turns: the endpoint never ran out, more of it may be due now.
    IF EXISTS (SELECT 1 FROM unnest(v_g_room) AS r(room) WHERE r.room > 0) THEN
      v_blocked := p_now;
    END IF;
`,
    ],
  ]);
}

/**
 * `fn` with each `[from, to]` of `edits` applied, each `from` found exactly once (else `what` was
 * not found as expected, and the migrations fail at load rather than drift from the released
 * text they derive from). `to` goes in as written (`$$` included).
 */
function editOnce(fn: string, what: string, edits: readonly (readonly [string, string])[]): string {
  let out = fn;
  for (const [from, to] of edits) {
    if (out.split(from).length !== 2) throw new Error(`${what} not found as expected`);
    out = out.replace(from, () => to);
  }
  return out;
}

/** The text of migration `version`'s `CREATE FUNCTION name(...) ... $$;`, as released. */
function releasedFunction(version: number, name: string, what: string): string {
  const m = POSTGRES_MIGRATIONS.find((x) => x.version === version)!.sql;
  const start = m.indexOf(`CREATE FUNCTION ${name}(`);
  const end = m.indexOf('$$;', start) + '$$;'.length;
  if (start < 0 || end < start) throw new Error(`${what} not found as expected`);
  return m.slice(start, end);
}

/**
 * Migration 20's claim: migration 16's \`hookline_claim\`, word for word, except that a forwarded
 * request's bytes are read from inbound_body. Derived from the released text so the two cannot
 * drift apart; a change to migration 16 that breaks the derivation fails at load.
 */
function claimFromInboundBody(): string {
  const what = 'migration 20: hookline_claim of migration 16';
  return editOnce(releasedFunction(16, 'hookline_claim', what), what, [
    ['CREATE FUNCTION hookline_claim(', 'CREATE OR REPLACE FUNCTION hookline_claim('],
    ['LEFT JOIN inbound_event i ON i.id = l.msg_id', 'LEFT JOIN inbound_body i ON i.id = l.msg_id'],
  ]);
}

/**
 * Migration 22's claim: migration 20's, except that a message's payload is read from
 * message_payload when its row has none.
 */
function claimWithPayloadTable(): string {
  const join = 'JOIN message m ON m.id = l.msg_id';
  return editOnce(claimFromInboundBody(), 'migration 22: hookline_claim of migration 20', [
    [join, `${join}\n      LEFT JOIN message_payload mp ON mp.id = l.msg_id`],
    ['m.event_type, m.payload,', "m.event_type, coalesce(m.payload, mp.payload, '{}'),"],
  ]);
}

/**
 * Migration 26's claim: migration 25's, except that it returns each delivery's endpoint with its
 * fifo flag, `blocked_until` (when the due work it did not lease may be claimed) and `filled`
 * (whether the delivery's endpoint got all its room; see the migration). Created anew: its
 * columns change.
 */
function claimSayingWhatItLeft(): string {
  return editOnce(claimLeasingWithoutJoins(), 'migration 26: hookline_claim of migration 25', [
    ['CREATE OR REPLACE FUNCTION hookline_claim(', 'CREATE FUNCTION hookline_claim('],
    [
      'description text, timeout_ms integer, ordering_key text,',
      'description text, timeout_ms integer, fifo boolean, ordering_key text,',
    ],
    [
      'sequence integer, turn_after text\n)',
      'sequence integer, turn_after text, blocked_until bigint, filled boolean\n)',
    ],
    // What it leaves (claim-plan.ts, whatIsLeft): a claimable endpoint it did not lock, or a
    // walk, and it cannot tell.
    [
      '  IF cardinality(v_locked) > 0 THEN\n',
      `  IF v_walk OR cardinality(v_locked) < cardinality(v_ids) THEN
    v_blocked := p_now;
  END IF;
  IF cardinality(v_locked) > 0 THEN
`,
    ],
    [
      '    v_got := array_fill(0, ARRAY[cardinality(v_g_eid)]);\n',
      '    v_got := array_fill(0, ARRAY[cardinality(v_g_eid)]);\n    v_room0 := v_g_room;\n',
    ],
    [
      '  v_scanned text; -- where a walk stopped; NULL: no walk\n',
      "  v_scanned text; -- where a walk stopped; NULL: no walk\n  v_walk boolean := false;\n  v_blocked bigint;\n  v_room0 integer[];\n  v_filled text[] := '{}';\n",
    ],
    ['    IF v_seen >= p_window THEN\n', '    IF v_seen >= p_window THEN\n      v_walk := true;\n'],
    [
      `  SELECT coalesce(array_agg(c.eid ORDER BY c.live_pos, c.eid <= p_after, c.eid), '{}'),
         coalesce(array_agg(CASE WHEN e.fifo OR rt.rate > 0 THEN 1
                                 ELSE least(coalesce(c.n, p_per_endpoint), p_per_endpoint - l.live) END
                            ORDER BY c.live_pos, c.eid <= p_after, c.eid), '{}')
    INTO v_ids, v_est`,
      `  SELECT coalesce(array_agg(c.eid ORDER BY c.live_pos, c.eid <= p_after, c.eid) FILTER (WHERE b.until IS NULL), '{}'),
         coalesce(array_agg(CASE WHEN e.fifo OR rt.rate > 0 THEN 1
                                 ELSE least(coalesce(c.n, p_per_endpoint), p_per_endpoint - l.live) END
                            ORDER BY c.live_pos, c.eid <= p_after, c.eid) FILTER (WHERE b.until IS NULL), '{}'),
         min(b.until)
    INTO v_ids, v_est, v_blocked`,
    ],
    [
      `   WHERE NOT (c.eid = ANY(p_skip)) AND NOT (e.kind = ANY(p_exclude_kinds))
     AND l.live < p_per_endpoint
     AND NOT (rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now)
     AND NOT (e.fifo AND (l.live > 0 OR (SELECT h.next_attempt_at FROM delivery h
                                           WHERE h.endpoint_id = c.eid AND h.status IN (${OPEN})
                                           ORDER BY h.created_at, h.id LIMIT 1) > p_now));`,
      `    -- Until when an endpoint is blocked (claim-plan.ts, blockedUntil); NULL: it is not.
    CROSS JOIN LATERAL (SELECT CASE
        WHEN l.live >= p_per_endpoint THEN p_now
        WHEN rt.rate > 0 AND coalesce(e.throttle_next_at, 0) > p_now THEN e.throttle_next_at
        WHEN e.fifo AND l.live > 0 THEN p_now
        WHEN e.fifo THEN (SELECT CASE WHEN h.next_attempt_at > p_now THEN h.next_attempt_at END FROM delivery h
                           WHERE h.endpoint_id = c.eid AND h.status IN (${OPEN})
                           ORDER BY h.created_at, h.id LIMIT 1)
      END AS until) b
   WHERE NOT (c.eid = ANY(p_skip)) AND NOT (e.kind = ANY(p_exclude_kinds));`,
    ],
    [
      `  IF v_total = 0 THEN
    IF v_scanned IS NOT NULL THEN
      turn_after := v_scanned;
      RETURN NEXT;
    END IF;`,
      `  -- A rate-limited endpoint that got its delivery waits for its next slot; one that got all
  -- its room (neither FIFO nor rate-limited) is filled.
  IF cardinality(v_g_eid) > 0 THEN
    SELECT least(v_blocked, min(v_g_slot[g.ord]) FILTER (WHERE g.n > 0)),
           coalesce(array_agg(v_g_eid[g.ord]) FILTER (WHERE NOT v_g_fifo[g.ord] AND v_g_slot[g.ord] IS NULL
                                                        AND v_room0[g.ord] > 0 AND g.n >= v_room0[g.ord]), '{}')
      INTO v_blocked, v_filled
      FROM (SELECT o.ord, (SELECT count(*)::integer FROM unnest(v_pick_ord) AS p(ord) WHERE p.ord = o.ord) AS n
              FROM generate_series(1, cardinality(v_g_eid)) AS o(ord)) g;
  END IF;
  IF v_total = 0 THEN
    IF v_scanned IS NOT NULL OR v_blocked IS NOT NULL THEN
      turn_after := coalesce(v_scanned, p_after);
      blocked_until := v_blocked;
      RETURN NEXT;
    END IF;`,
    ],
    [
      'e.description, e.timeout_ms, l.ordering_key, l.sequence, coalesce(v_g_eid[v_served], p_after)',
      'e.description, e.timeout_ms, e.fifo, l.ordering_key, l.sequence, coalesce(v_g_eid[v_served], p_after), v_blocked,\n           l.endpoint_id = ANY(v_filled)',
    ],
  ]);
}

/**
 * Migration 25's claim: migration 24's, except that its last statement leases and returns the
 * picks without joining them to the list of picks (see the migration).
 */
function claimLeasingWithoutJoins(): string {
  return editOnce(claimLockingPicksById(), 'migration 25: hookline_claim of migration 24', [
    [
      `WITH p AS (
      SELECT u.id, u.rank, u.ord, v_g_eid[u.ord] AS eid, v_g_slot[u.ord] AS slot, v_g_until[u.ord] AS until
        FROM unnest(v_pick_ids, v_pick_rank, v_pick_ord) AS u(id, rank, ord)
    ), leased AS (
      UPDATE delivery d SET status = ${SENDING}, next_attempt_at = p.until, updated_at = p_now
        FROM p
       WHERE p.id = d.id
         AND d.id IN`,
      `WITH leased AS (
      UPDATE delivery d
         SET status = ${SENDING}, next_attempt_at = v_g_until[array_position(v_g_eid, d.endpoint_id)], updated_at = p_now
       WHERE d.id IN`,
    ],
    [
      `d.ordering_key, d.sequence
    ), throttled AS (
      UPDATE endpoint e SET throttle_next_at = p.slot
        FROM p WHERE e.id = p.eid AND p.slot IS NOT NULL AND p.id IN (SELECT leased.id FROM leased)
    )`,
      `d.ordering_key, d.sequence, array_position(v_pick_ids, d.id) AS pick
    ), throttled AS (
      UPDATE endpoint e SET throttle_next_at = v_g_slot[array_position(v_g_eid, e.id)]
       WHERE e.id IN (SELECT leased.endpoint_id FROM leased) AND v_g_slot[array_position(v_g_eid, e.id)] IS NOT NULL
    )`,
    ],
    ['      FROM leased l\n      JOIN p ON p.id = l.id\n', '      FROM leased l\n'],
    ['     ORDER BY p.rank, p.ord;', '     ORDER BY v_pick_rank[l.pick], v_pick_ord[l.pick];'],
  ]);
}

/**
 * Migration 24's claim: migration 23's, except that it locks its picks through the primary key
 * (see the migration) and never plans a sequential scan.
 */
function claimLockingPicksById(): string {
  return editOnce(claimWithGenericPlans(), 'migration 24: hookline_claim of migration 23', [
    ['SET enable_bitmapscan = off AS $$', 'SET enable_bitmapscan = off SET enable_seqscan = off AS $$'],
    [
      `WHERE l.id IN (SELECT p.id FROM p) AND l.status IN (${OPEN}) AND l.next_attempt_at <= p_now`,
      `WHERE l.id = ANY(v_pick_ids) AND (l.status + 0) IN (${OPEN}) AND (l.next_attempt_at + 0) <= p_now`,
    ],
  ]);
}

/**
 * Migration 23's claim: migration 22's, planned once per connection (generic plans, no JIT, no
 * bitmap scans), and its round robin ordered by endpoint first (the same rows: one endpoint per
 * lateral subquery).
 */
function claimWithGenericPlans(): string {
  return editOnce(claimWithPayloadTable(), 'migration 23: hookline_claim of migration 22', [
    [
      ') LANGUAGE plpgsql VOLATILE AS $$',
      ') LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan SET jit = off SET enable_bitmapscan = off AS $$',
    ],
    [
      'ORDER BY o.next_attempt_at, o.id LIMIT v_take[g.ord])',
      'ORDER BY o.endpoint_id, o.next_attempt_at, o.id LIMIT v_take[g.ord])',
    ],
  ]);
}
