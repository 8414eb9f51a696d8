/**
 * PostgreSQL schema, as numbered migrations (the same tables as SQLite's, in PostgreSQL types).
 * A migration never changes once released; a new version appends one. Times are BIGINT
 * milliseconds; `channels`, `tags` and `event_types` are JSONB arrays (searched with `@>`),
 * other JSON (metadata, headers) is kept as the exact text the API stored. Ids and names use
 * the "C" collation whatever the database's locale: ids sort in creation order only byte by
 * byte, and keyset paging, FIFO order and claim ties all rely on that.
 */
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
    version: 8,
    name: 'endpoint timeout',
    sql: `
-- How long one request to the endpoint may take (ms); NULL: the server's HOOKLINE_DELIVERY_TIMEOUT.
ALTER TABLE endpoint ADD COLUMN timeout_ms INTEGER;
`,
  },
];
