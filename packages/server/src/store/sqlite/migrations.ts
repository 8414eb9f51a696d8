/**
 * SQLite schema, as numbered migrations. A migration never changes once released; a new
 * version appends one. Times are integer milliseconds; JSON columns hold arrays and maps.
 */
export const SQLITE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE setting (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE app (
  id TEXT PRIMARY KEY,
  uid TEXT UNIQUE,
  name TEXT NOT NULL,
  throttle_rate INTEGER,
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE endpoint (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  uid TEXT,
  url TEXT NOT NULL,
  description TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  event_types TEXT,
  channels TEXT,
  throttle_rate INTEGER,
  metadata TEXT NOT NULL,
  headers TEXT NOT NULL,
  secrets TEXT NOT NULL,
  svix_headers INTEGER NOT NULL,
  failing_since INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (app_id, uid)
);
CREATE INDEX endpoint_app ON endpoint (app_id, id);

CREATE TABLE event_type (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  archived INTEGER NOT NULL,
  deprecated INTEGER NOT NULL,
  schemas TEXT,
  group_name TEXT,
  feature_flags TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE message (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  event_id TEXT,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  channels TEXT,
  tags TEXT,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX message_event_id ON message (app_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX message_app ON message (app_id, id);

-- The queue: one row per (message, endpoint). Pending (1) and sending (2) rows are due at
-- next_attempt_at; for a sending row that time is the end of its lease.
CREATE TABLE delivery (
  id TEXT PRIMARY KEY,
  msg_id TEXT NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  app_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  status INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  trigger_type INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE status IN (1, 3);
CREATE INDEX delivery_endpoint ON delivery (endpoint_id, created_at);
CREATE INDEX delivery_msg ON delivery (msg_id);

CREATE TABLE attempt (
  id TEXT PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  msg_id TEXT NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  endpoint_id TEXT NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  app_id TEXT NOT NULL,
  url TEXT NOT NULL,
  status INTEGER NOT NULL,
  response_status_code INTEGER NOT NULL,
  response TEXT NOT NULL,
  response_headers TEXT NOT NULL,
  request_headers TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  trigger_type INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX attempt_endpoint ON attempt (endpoint_id, id);
CREATE INDEX attempt_msg ON attempt (msg_id, id);
CREATE INDEX attempt_delivery ON attempt (delivery_id);

CREATE TABLE idempotency (
  key TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'endpoint limits and retention',
    sql: `
-- Strict FIFO per endpoint, and the rate limiter's next free slot (ms).
ALTER TABLE endpoint ADD COLUMN fifo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoint ADD COLUMN throttle_next_at INTEGER;
-- Open deliveries per endpoint in order: in-flight counts and FIFO heads.
CREATE INDEX delivery_open ON delivery (endpoint_id, created_at, id) WHERE status IN (1, 3);
-- Live leases per endpoint (the in-flight limit).
CREATE INDEX delivery_sending ON delivery (endpoint_id, next_attempt_at) WHERE status = 3;
-- Retention: payloads deleted after the retention period leave the message behind, marked.
ALTER TABLE message ADD COLUMN payload_expunged_at INTEGER;
CREATE INDEX message_created ON message (created_at) WHERE payload_expunged_at IS NULL;
CREATE INDEX attempt_created ON attempt (created_at);
`,
  },
  {
    version: 3,
    name: 'inbound',
    sql: `
-- An inbound source: a provider posts to /in/{name}. Its destinations are the endpoints of an
-- application the source owns (app_id), so forwarding uses the ordinary delivery queue.
CREATE TABLE source (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  app_id TEXT NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  description TEXT NOT NULL,
  verification TEXT NOT NULL,
  forward_secrets TEXT NOT NULL,
  dedupe TEXT,
  event_type TEXT,
  max_body_bytes INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Every request received on /in/{name}, byte for byte. An accepted event has a message row with
-- the same id (the webhook-id its destinations see); rejected and duplicate requests do not.
CREATE TABLE inbound_event (
  id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL REFERENCES source(id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  event_type TEXT NOT NULL,
  dedupe_key TEXT,
  duplicate_of TEXT,
  verify_code TEXT,
  verify_detail TEXT,
  content_type TEXT,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX inbound_event_source ON inbound_event (source_id, id);
CREATE INDEX inbound_event_unaccepted ON inbound_event (source_id, id) WHERE status IN ('rejected', 'duplicate');
CREATE INDEX inbound_event_dedupe ON inbound_event (source_id, dedupe_key, received_at)
  WHERE dedupe_key IS NOT NULL AND status = 'accepted';
`,
  },
  {
    version: 4,
    name: 'endpoint kind',
    sql: `
-- 'http' endpoints are sent to by the dispatcher; 'listen' endpoints by a connected
-- \`hookline listen\` client.
ALTER TABLE endpoint ADD COLUMN kind TEXT NOT NULL DEFAULT 'http';
CREATE INDEX endpoint_kind ON endpoint (kind);
`,
  },
  {
    // The endpoint health series reads an endpoint's attempts by time.
    version: 5,
    name: 'attempt_endpoint_time',
    sql: 'CREATE INDEX attempt_endpoint_time ON attempt (endpoint_id, created_at);',
  },
  {
    version: 6,
    name: 'inbound retention',
    sql: `
-- Retention empties the body and headers of old inbound requests (once nothing waits to
-- forward them) and records when.
ALTER TABLE inbound_event ADD COLUMN body_expunged_at INTEGER;
CREATE INDEX inbound_event_received ON inbound_event (received_at) WHERE body_expunged_at IS NULL;
`,
  },
  {
    version: 7,
    name: 'due order index',
    sql: `
-- Claims take due deliveries in (next_attempt_at, id) order: with id in the index the oldest
-- are read in order instead of sorting the whole backlog on every claim.
DROP INDEX delivery_due;
CREATE INDEX delivery_due ON delivery (next_attempt_at, id) WHERE status IN (1, 3);
`,
  },
  {
    version: 8,
    name: 'source handshakes, allowlists, split requests',
    sql: `
-- handshake: sealed (encrypted) JSON of the handshakes answered at /in/{name} (it may hold a
-- challenge secret); NULL means the defaults. allowed_ips: JSON array of IPs/CIDRs; NULL: anyone.
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
  msg_id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL REFERENCES inbound_event(id) ON DELETE CASCADE,
  source_id TEXT NOT NULL,
  dedupe_key TEXT,
  received_at INTEGER NOT NULL
);
CREATE INDEX inbound_part_event ON inbound_part (event_id, msg_id);
CREATE INDEX inbound_part_dedupe ON inbound_part (source_id, dedupe_key, received_at)
  WHERE dedupe_key IS NOT NULL;
`,
  },
  {
    version: 9,
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
    version: 10,
    name: 'app tokens',
    sql: `
-- Tokens scoped to one application (\`POST /api/v1/auth/app-portal-access/{app}\`). Only the
-- SHA-256 of a token is kept; a token stops working at expires_at or once revoked.
CREATE TABLE app_token (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES app(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  read_only INTEGER NOT NULL,
  feature_flags TEXT,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX app_token_app ON app_token (app_id);
`,
  },
  {
    version: 11,
    name: 'endpoint timeout',
    sql: `
-- How long one request to the endpoint may take (ms); NULL: the server's HOOKLINE_DELIVERY_TIMEOUT.
ALTER TABLE endpoint ADD COLUMN timeout_ms INTEGER;
`,
  },
  {
    version: 12,
    name: 'claims take turns across endpoints',
    sql: `
-- An endpoint's due deliveries in due order: what a claim leases for it, and how a claim walks
-- the endpoints with due work (store/claim-plan.ts), one probe each.
CREATE INDEX delivery_endpoint_due ON delivery (endpoint_id, next_attempt_at, id) WHERE status IN (1, 3);
`,
  },
  {
    version: 13,
    name: 'background tasks',
    sql: `
-- Work an API call starts and answers at once (recover, replays, purges, stats), as Svix's
-- background tasks: \`GET /api/v1/background-task[/{id}]\`. app_id is NULL for a task across
-- applications (admin only). data is the task's progress and result, JSON text. Tasks used to
-- be kept in \`setting\` under background_task:{id}; those short-lived rows are dropped.
CREATE TABLE background_task (
  id TEXT PRIMARY KEY,
  app_id TEXT REFERENCES app(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX background_task_app ON background_task (app_id, id);
CREATE INDEX background_task_updated ON background_task (updated_at);
DELETE FROM setting WHERE key LIKE 'background\\_task:%' ESCAPE '\\';
`,
  },
  {
    version: 14,
    name: 'event type retry schedule and payload validation',
    sql: `
-- An event type's own retry schedule (JSON array of delays in ms; NULL: the server's), and
-- whether messages of it are checked against its JSON Schema on publish (NULL: the server's
-- HOOKLINE_VALIDATE_PAYLOADS).
ALTER TABLE event_type ADD COLUMN retry_schedule TEXT;
ALTER TABLE event_type ADD COLUMN validate_payload INTEGER;
`,
  },
  {
    version: 15,
    name: 'endpoint authentication and transformations',
    sql: `
-- What only some endpoints have: OAuth client credentials and an mTLS client certificate (both
-- sealed JSON), a CA to trust (PEM) and a transformation (JSON: code, enabled, updated_at).
-- A row exists only while one of them is set; the delivery engine loads them all.
CREATE TABLE endpoint_extra (
  endpoint_id TEXT PRIMARY KEY REFERENCES endpoint(id) ON DELETE CASCADE,
  app_id TEXT NOT NULL,
  oauth TEXT,
  mtls TEXT,
  ca TEXT,
  transformation TEXT,
  updated_at INTEGER NOT NULL
);
`,
  },
  {
    version: 16,
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
    version: 17,
    name: 'polling endpoints',
    sql: `
-- Polling endpoints (endpoint kind 'poller'): each consumer's position in the endpoint's
-- messages. after_id: the id of the last message it has read ('' = from the start; message ids
-- order by time); committed_offset: the number of the last offset it committed (offsets handed
-- out by a poll count on from it). A poller token names the one endpoint it may poll.
CREATE TABLE poller_consumer (
  endpoint_id TEXT NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  consumer_id TEXT NOT NULL,
  after_id TEXT NOT NULL,
  committed_offset INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, consumer_id)
);
ALTER TABLE app_token ADD COLUMN endpoint_id TEXT;
`,
  },
  {
    version: 18,
    name: 'ordering keys',
    sql: `
-- A message's ordering key (NULL: none). Its deliveries carry the key and their number in the
-- line of (endpoint, key), counted by ordering_sequence; a keyed delivery is only sent when it is
-- the first open one of its line and nothing of that line is in flight (store/claim-plan.ts).
ALTER TABLE message ADD COLUMN ordering_key TEXT;
ALTER TABLE delivery ADD COLUMN ordering_key TEXT;
ALTER TABLE delivery ADD COLUMN sequence INTEGER;
CREATE TABLE ordering_sequence (
  endpoint_id TEXT NOT NULL REFERENCES endpoint(id) ON DELETE CASCADE,
  ordering_key TEXT NOT NULL,
  last_seq INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, ordering_key)
) WITHOUT ROWID;
-- Only keyed rows are indexed: endpoints without keys pay nothing.
CREATE INDEX delivery_key_open ON delivery (endpoint_id, ordering_key, sequence, id)
  WHERE ordering_key IS NOT NULL AND status IN (1, 3);
CREATE INDEX delivery_key_sending ON delivery (endpoint_id, ordering_key, next_attempt_at)
  WHERE ordering_key IS NOT NULL AND status = 3;
`,
  },
  {
    version: 19,
    name: 'source ingest settings',
    sql: `
-- Sealed (encrypted) JSON of what the Svix Ingest API (/ingest/api/v1/source) keeps for a
-- source: its Svix type, uid and metadata, and the tokens of its receive URL
-- (/in/{name}/{token}). NULL: none of them (the receive URL is /in/{name}).
ALTER TABLE source ADD COLUMN ingest TEXT;
`,
  },
  {
    version: 20,
    name: 'message trace context',
    sql: `
-- The W3C traceparent of the request that published the message (or of Hookline's own span for
-- it, when tracing is on): every delivery attempt carries it on, so a trace runs from the
-- publisher's call into the receiver. Null when there was none.
ALTER TABLE message ADD COLUMN traceparent TEXT;
`,
  },
  {
    version: 21,
    name: 'application alert email',
    sql: `
-- Where Hookline emails an application's owner when one of its endpoints is disabled (and, if
-- the operator turns it on, when a message is exhausted): a comma-separated list of addresses,
-- set with PATCH /api/v1/app/{app}/alert-email. NULL: no alert emails.
ALTER TABLE app ADD COLUMN alert_email TEXT;
`,
  },
  {
    version: 22,
    name: 'inbound request bytes apart from their records',
    sql: `
-- A received request's bytes (content type, headers as JSON text of [name, value] pairs, body)
-- move out of inbound_event: retention deletes them here and sets the event's body_expunged_at,
-- and the record stays. The same tables as PostgreSQL's, where a day of bytes is one partition.
CREATE TABLE inbound_body (
  id TEXT PRIMARY KEY REFERENCES inbound_event(id) ON DELETE CASCADE,
  content_type TEXT,
  headers TEXT NOT NULL,
  body BLOB NOT NULL
);
INSERT INTO inbound_body (id, content_type, headers, body)
  SELECT id, content_type, headers, body FROM inbound_event WHERE body_expunged_at IS NULL;
DROP INDEX inbound_event_received;
ALTER TABLE inbound_event DROP COLUMN headers;
ALTER TABLE inbound_event DROP COLUMN body;
-- When a range of bytes went at once (PostgreSQL drops a day's partition; SQLite never writes
-- here): the events below upper_id whose bytes are missing lost them at dropped_at.
CREATE TABLE inbound_body_drop (
  upper_id TEXT PRIMARY KEY,
  dropped_at INTEGER NOT NULL
);
`,
  },
  {
    version: 23,
    name: 'messages read with their payload',
    sql: `
-- A message as the API reads it, payload included. Here the payload is a column of the message;
-- PostgreSQL keeps new payloads apart, in daily partitions (its migration 22), and its view of
-- the same name joins them. Shared queries read messages through this view on both stores.
CREATE VIEW message_with_payload AS SELECT * FROM message;
`,
  },
  {
    version: 24,
    name: 'the attempt log keeps no index by delivery',
    sql: `
-- attempt_delivery is read by no query (the attempt log is read by application, endpoint,
-- message and time), and every attempt wrote an entry into it. PostgreSQL drops its own in its
-- migration 38.
DROP INDEX attempt_delivery;
`,
  },
  {
    version: 25,
    name: 'the attempt log keeps no index by time',
    sql: `
-- Attempt ids are made when the attempt starts, and sort by that second: a time window over the
-- attempt log is a range of ids, served by the primary key and the (endpoint, id) index
-- (store/shared/attempt-window.ts). Every attempt wrote an entry into each of these two, the one
-- by endpoint and time on a page of its endpoint's. PostgreSQL drops its own in its migration 39.
DROP INDEX attempt_created;
DROP INDEX attempt_endpoint_time;
`,
  },
  {
    version: 26,
    name: 'deliveries in flight counted by the server',
    sql: `
-- A claim counts an endpoint's deliveries in flight from the leases the server holds
-- (sqlite/leases.ts): one process owns the file. Every handoff, claim and outcome wrote an entry
-- of this index on a page of its endpoint's. PostgreSQL, where several processes claim, keeps it.
DROP INDEX delivery_sending;
`,
  },
  {
    version: 27,
    name: 'the due index holds the endpoint',
    sql: `
-- A claim reads which endpoints the oldest due deliveries and the live ones belong to (and when
-- they fell due): with the endpoint and the status in the index, from the index alone, not from
-- each delivery's row (sqlite-claim-reads.test.ts).
DROP INDEX delivery_due;
CREATE INDEX delivery_due ON delivery (next_attempt_at, id, endpoint_id, status) WHERE status IN (1, 3);
`,
  },
];
