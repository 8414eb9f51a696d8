/**
 * The one interface between Hookline and its database. Each adapter (SQLite now, PostgreSQL
 * for scale-out) implements all of it, and the contract tests run against every adapter.
 * Code asks a store what it can do (`capabilities`), never which database it is.
 *
 * Adapters convert snake_case columns to the camelCase records of `core/types.ts`; nothing
 * above this layer sees SQL.
 */

import type { DeliveryOutcome } from '../core/outcome.ts';
import type {
  App,
  AppToken,
  Attempt,
  BackgroundTask,
  BackgroundTaskKind,
  BackgroundTaskStatus,
  DeliveryStatusCode,
  Endpoint,
  EndpointExtras,
  EndpointKind,
  EndpointSecret,
  EventType,
  InboundEvent,
  InboundStatus,
  Message,
  PollerConsumer,
  Source,
  SourceSettings,
  TriggerTypeCode,
} from '../core/types.ts';

import type { OverviewQueries } from './overview-types.ts';

export type { DeliveryOutcome };

export interface StoreCapabilities {
  /** Several processes may share this database (claims must be safe across processes). */
  multiProcess: boolean;
  /**
   * How many write transactions the store runs at once to good effect (1: one connection, or
   * writes serialize anyway). Group commits keep up to this many batches in flight.
   */
  parallelWrites: number;
  /**
   * Every statement runs synchronously on the event loop (node:sqlite): a long batch of
   * background work stalls requests and deliveries meanwhile, so it is kept short.
   */
  synchronousWrites: boolean;
  /**
   * How long finished attempts wait to be recorded together (ms): the write they share costs a
   * round trip and a statement (PostgreSQL) or an fsync (SQLite with FULL). 0: what finished in
   * the same turn of the event loop is recorded together (SQLite with NORMAL, whose commit is a
   * write to the WAL on this thread). A delivery holds its endpoint's slot until its outcome is
   * recorded, so the wait is paid in slots (docs/benchmarks.md).
   */
  outcomeBatchWaitMs: number;
  /**
   * Attempt logs, message payloads and inbound request bytes are kept in one partition per UTC
   * day (PostgreSQL): retention removes them a whole day at a time, once all of the day is past
   * the period, by dropping its partitions instead of deleting their rows.
   */
  historyByDay: boolean;
}

/** Keyset pagination as Svix does it: `iterator` is the last key seen, `-key` pages backwards. */
export interface PageQuery {
  limit: number;
  /** Continue after this key (in list order). */
  after: string | null;
  /** Page backwards: the items just before this key (in list order). */
  before: string | null;
  order: 'asc' | 'desc';
}

export interface Page<T> {
  items: T[];
  /** More items exist past the last one returned (in the direction of travel). */
  more: boolean;
}

export interface MessageFilter {
  eventTypes?: string[];
  /** None of these event types (the ones an application token may not see). */
  excludeEventTypes?: string[];
  channel?: string;
  /** In any of these channels. */
  anyChannel?: string[];
  tag?: string;
  /** Ids strictly below this one (ids order by the second they were made in). */
  idBelow?: string;
  /** Messages created strictly before / after these times. */
  before?: number;
  after?: number;
}

/** Narrows `listEndpoints`; every condition given must hold. */
export interface EndpointFilter {
  /** Exactly this URL. */
  url?: string;
  /** The endpoint's metadata holds every one of these key/value pairs. */
  metadata?: Record<string, string>;
}

export interface AttemptFilter {
  appId: string;
  endpointId?: string;
  msgId?: string;
  /** Any of these messages (the messages an inbound request was split into; at most 100). */
  msgIds?: string[];
  status?: DeliveryStatusCode;
  /** 1xx..5xx as 100..500; 0 for "no response". */
  statusCodeClass?: number;
  eventTypes?: string[];
  /** Only attempts for messages of none of these event types. */
  excludeEventTypes?: string[];
  channel?: string;
  before?: number;
  after?: number;
}

/** One message to store, with the deliveries it fans out to (already routed). */
export interface IngestItem {
  message: Message;
  /** When the first attempt is due (now, or a requested `deliverAt`). */
  dueAt: number;
  /** Deliveries the message produces: one per matching endpoint, decided inside the transaction. */
  route: (endpoints: RoutingEndpoint[]) => string[];
  /** Stores the API response under this key in the same transaction (client retries replay it). */
  idempotency?: { key: string; response: StoredResponse; expiresAt: number };
  newDeliveryId: () => string;
  /** The W3C traceparent every attempt of this message carries on (see `tracing.ts`). */
  traceparent?: string | null;
}

/**
 * This process's dispatcher, offered new deliveries as they are written: live traffic goes from
 * the commit straight to the sender, without a claim query. Only deliveries due now, without an
 * ordering key, to `http` endpoints with no FIFO order and no rate limit (theirs or their
 * application's), are offered; the rest wait for a claim as usual. The dispatcher accounts for
 * what it takes exactly as for what it claims, so its concurrency limits hold either way. A store
 * shared by several processes (PostgreSQL) also holds a handed-off delivery to the limit every
 * claim keeps across processes, `perEndpoint` leased at a time: it decides as a claim does, under
 * the endpoint's claim lock; what it may not lease is queued for a claim.
 */
export interface IngestHandoff {
  /** Inside the transaction: whether the dispatcher takes this delivery now (it reserves a slot). */
  take(endpointId: string): boolean;
  /** The lease of a taken delivery when its endpoint has no timeout of its own. */
  readonly leaseMs: number;
  /** The most deliveries of one endpoint leased at a time across processes (a claim's `perEndpoint`). */
  readonly perEndpoint: number;
  /** After the commit: the taken deliveries, leased to this process, to send. */
  taken(deliveries: ClaimedDelivery[]): void;
  /**
   * The slots reserved for these endpoints (one per entry) are free: the transaction rolled back,
   * or (PostgreSQL) the endpoint had no room across processes and those deliveries were queued.
   */
  untake(endpointIds: string[]): void;
}

export type IngestResult =
  | { ok: true; deliveries: number }
  | { ok: false; reason: 'duplicate_event_id'; existing: Message }
  /** The application was deleted between the API's lookup and the commit. */
  | { ok: false; reason: 'app_not_found' };

export interface RoutingEndpoint {
  id: string;
  disabled: boolean;
  eventTypes: string[] | null;
  channels: string[] | null;
}

/** A delivery a worker has leased, with all it needs to make the request. */
export interface ClaimedDelivery {
  id: string;
  msgId: string;
  appId: string;
  endpointId: string;
  /** Attempts already made before this one. */
  attempts: number;
  triggerType: TriggerTypeCode;
  eventType: string;
  payload: string;
  /** When the message was created (the time a chat message shows). */
  msgCreatedAt: number;
  leaseUntil: number;
  /** The message's ordering key, and this delivery's number in its (endpoint, key) line. */
  orderingKey?: string;
  sequence?: number;
  /** Set when the message is an inbound event: the provider's request, forwarded as it came. */
  inbound?: { body: Buffer; contentType: string | null; headers: [string, string][] };
  /** The message's W3C traceparent, when it was published with one (see `tracing.ts`). */
  traceparent?: string | null;
  endpoint: {
    url: string;
    disabled: boolean;
    headers: Record<string, string>;
    secrets: EndpointSecret[];
    svixHeaders: boolean;
    /** The endpoint's metadata (a REST Hook subscription is marked there, see `core/rest-hook.ts`). */
    metadata?: Record<string, string>;
    /** Chat kinds are rendered as a chat message and sent unsigned (`delivery/chat.ts`). */
    kind: EndpointKind;
    /** A chat destination's message template (`Endpoint.template`), or null for the default. */
    template: Record<string, unknown> | null;
    /** What a chat template may show of its endpoint. */
    uid: string | null;
    description: string;
    /** The endpoint's own request timeout (ms), or null for the server's. */
    timeoutMs: number | null;
    /**
     * One delivery at a time, in order (`Endpoint.fifo`): when this one is recorded, the next of
     * the endpoint may go.
     */
    fifo: boolean;
  };
}

/**
 * Which part of the queue a claim (or `nextDueAt`) looks at. The dispatcher leaves out `listen`
 * endpoints; a `hookline listen` stream takes only its own endpoint.
 */
export interface DeliveryScope {
  /** Only deliveries to these endpoints. */
  onlyEndpoints?: string[];
  /** Leave out deliveries to endpoints of these kinds. */
  excludeKinds?: EndpointKind[];
}

export interface ClaimOptions extends DeliveryScope {
  now: number;
  limit: number;
  leaseMs: number;
  /**
   * Endpoints with a timeout of their own (`Endpoint.timeoutMs`) are leased for
   * `leaseFor(timeoutMs)` (core/lease.ts) instead of `leaseMs`. Each claimed delivery says its
   * lease in `leaseUntil`.
   */
  leasePerEndpoint?: boolean;
  /**
   * In-flight limit per endpoint: a claim leaves every endpoint with at most this many live
   * leases, counting those of every worker process. Claims also keep each endpoint's strict
   * FIFO mode and rate limit (`throttleRate` of the endpoint, else of its application).
   */
  perEndpoint: number;
  /** Endpoints that are at their in-flight limit in this worker. */
  skipEndpoints: string[];
  /**
   * Endpoints another worker is first in line for (`leadsEndpoint`): while at least `deferHot`
   * (default 1) of an endpoint's deliveries are in flight (that worker is serving it), its due
   * work is left to it until the oldest of it has waited `deferMs` (default 0), and
   * `blockedUntil` says when that is. Only a store shared by several dispatchers (PostgreSQL)
   * has them; others ignore them.
   */
  deferEndpoints?: readonly string[];
  deferMs?: number;
  deferHot?: number;
}

/** What a claim leased, and what it says of the due work it left. */
export interface Claim {
  deliveries: ClaimedDelivery[];
  /**
   * Until when the due work it left waits, as far as the claim can tell: the earliest time a
   * FIFO endpoint's head is retried, a rate-limited endpoint's next slot comes or an endpoint of
   * `deferEndpoints` may be taken. Null when
   * nothing it left waits for a time: the work of `skipEndpoints` and of `filled` endpoints
   * comes back when a slot frees up, a FIFO or key line's when its delivery in flight is
   * recorded (and that of `excludeKinds` is another dispatcher's). A time at or before the
   * claim's `now` when something it left waits for what it cannot time (another worker's
   * leases, a claim running elsewhere) or when it did not see every endpoint with due work:
   * look again shortly.
   */
  blockedUntil: number | null;
  /**
   * Endpoints it gave all the room they had (their in-flight limit, counting every worker's
   * leases): more of their work may be due. The worker comes back for it when a slot of its
   * frees up; when it holds too few of those leases for that, it looks again shortly.
   */
  filled: string[];
}

/**
 * Where a batched recovery stands: first the endpoint's failed and canceled deliveries (in
 * creation order), then the application's messages it never had a delivery for (in id order).
 */
export type RecoverCursor =
  | { step: 'failed'; createdAt: number; id: string }
  | { step: 'missed'; id: string | null };

/** One batch of a recovery (see `Store.recoverBatch`). */
export interface RecoverBatchRequest {
  appId: string;
  endpointId: string;
  /** Failed and canceled deliveries created in [since, until) go back in the queue. */
  since: number;
  until: number;
  /**
   * Messages created in [missedSince, until) that were never queued for the endpoint get a
   * delivery. The caller passes the later of `since` and the endpoint's creation: a message
   * older than the endpoint was never meant for it.
   */
  missedSince: number;
  now: number;
  /** Where the previous batch stopped; null for the first one. */
  cursor: RecoverCursor | null;
  /** Most rows one batch looks at, per step. */
  limit: number;
  matches: (eventType: string, channels: string[] | null) => boolean;
  newDeliveryId: () => string;
}

export interface StoredResponse {
  status: number;
  body: string;
}

/** The queue at a glance, for `/metrics`. */
export interface QueueStats {
  /** Deliveries waiting (pending), including retries scheduled for later. */
  pending: number;
  /** Deliveries pending whose time has come. */
  due: number;
  /** Deliveries leased by a worker (sending). */
  sending: number;
  /** `next_attempt_at` of the oldest due pending delivery, or null when none is due. */
  oldestDueAt: number | null;
  /** Enabled endpoints failing without a success for longer than each threshold (ms). */
  failingEndpoints: { thresholdMs: number; count: number }[];
}

export interface EndpointStats {
  success: number;
  pending: number;
  sending: number;
  fail: number;
  canceled: number;
}

/** Attempts to one endpoint in one time bucket (see `Store.endpointSeries`). */
export interface SeriesBucket {
  /** Start of the bucket (ms); buckets are `since + k * bucketMs`. */
  start: number;
  attempts: number;
  successes: number;
  /** Nearest-rank percentiles of the attempts' durations in this bucket. */
  p50Ms: number;
  p95Ms: number;
}

/** One request received on `/in/{source}`, to store (and, when accepted, queue) in one transaction. */
export interface InboundItem {
  event: InboundEvent;
  /** The source's application: an accepted event becomes one of its messages. */
  appId: string;
  /**
   * An accepted event whose `dedupeKey` matches an accepted event of the same source received at
   * or after this time is stored as a duplicate of it instead (and not queued). Null: no check.
   */
  dedupeSince: number | null;
  /**
   * The destinations (endpoints of `appId`) a message of this event type goes to, decided inside
   * the transaction.
   */
  route: (endpoints: RoutingEndpoint[], eventType: string) => string[];
  /**
   * When an accepted request carries several events (a Salesforce Outbound Message: one per
   * notification), each is its own message: the request is stored once, and each part whose
   * `dedupeKey` was not accepted for this source since `dedupeSince` becomes a message with its
   * own id and JSON payload. If every part is such a repeat, the request is stored as a duplicate.
   */
  parts?: InboundPart[];
  newDeliveryId: () => string;
  /**
   * A request stored as rejected, duplicate or handshake pushes out the oldest of its source's
   * such requests beyond this many (anyone can post junk to /in). Accepted ones are never pruned.
   */
  keepUnaccepted: number;
  /** The W3C traceparent the request's messages carry on to their destinations (`tracing.ts`). */
  traceparent?: string | null;
}

/** One event of a request split into several messages (see InboundItem.parts). */
export interface InboundPart {
  msgId: string;
  eventType: string;
  dedupeKey: string | null;
  /** The message payload (JSON text) its destinations receive. */
  payload: string;
}

export type InboundResult =
  /** `messages`: with parts, the ids of the parts that became messages (the others repeat earlier ones). */
  | { status: 'accepted'; deliveries: number; messages?: string[] }
  | { status: 'duplicate'; duplicateOf: string }
  | { status: 'rejected' }
  | { status: 'handshake' }
  /** The source was deleted between the lookup and the commit. */
  | { status: 'source_not_found' };

export interface InboundEventFilter {
  status?: InboundStatus;
  /** Received strictly before / after these times. */
  before?: number;
  after?: number;
}

/** A message's state at one endpoint: its newest delivery there. */
export interface DeliveryState {
  status: DeliveryStatusCode;
  /** When the next attempt is due, for a pending delivery; null otherwise. */
  nextAttemptAt: number | null;
}

export interface BackgroundTaskFilter {
  /** Only this application's tasks. */
  appId?: string;
  status?: BackgroundTaskStatus;
  kind?: BackgroundTaskKind;
}

/** Attempts by outcome (failure: every attempt that neither succeeded nor was canceled). */
export interface AttemptCounts {
  success: number;
  failure: number;
  canceled: number;
}

export interface Store extends OverviewQueries {
  readonly capabilities: StoreCapabilities;
  /** Creates or upgrades the schema. Safe to call on every start. */
  migrate(): Promise<void>;
  /** How many of this version's migrations the database has not applied yet (0: up to date). */
  pendingMigrations(): Promise<number>;
  /** Cheap round trip: throws when the database cannot take requests. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Called after new deliveries are committed; workers use it to wake at once. `endpointIds`:
   * the endpoints they are for, when known (undefined: any endpoint may have new work).
   * `dispatcher`: the listener claims due work of any endpoint. Where several processes do
   * (PostgreSQL), each is told at once of the endpoints it is first in line for and of the
   * others a little later, instead of all of them claiming for the same news at once.
   */
  onDeliveriesQueued(
    listener: (endpointIds?: readonly string[]) => void,
    options?: { dispatcher?: boolean },
  ): () => void;
  /**
   * Whether this process's dispatcher is first in line for an endpoint's work among the
   * dispatchers connected (see `onDeliveriesQueued`). Absent, or true: it is (one process, or
   * not known yet). A dispatcher that is not comes back for such an endpoint's work less often.
   */
  leadsEndpoint?(endpointId: string): boolean;

  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
  /** Stores `value` unless the key has one already; returns the value the key now has. */
  setSettingIfAbsent(key: string, value: string): Promise<string>;
  /** Every setting whose key starts with `prefix`. */
  listSettings(prefix: string): Promise<{ key: string; value: string }[]>;
  deleteSettings(keys: string[]): Promise<void>;

  insertApp(app: App): Promise<void>;
  getApp(idOrUid: string): Promise<App | null>;
  /** The applications of the API's users; the ones inbound sources own are left out. */
  listApps(page: PageQuery): Promise<Page<App>>;
  updateApp(app: App): Promise<void>;
  deleteApp(id: string): Promise<void>;
  /** The application's alert email addresses (comma-separated, as set), or null. */
  getAppAlertEmail(appId: string): Promise<string | null>;
  setAppAlertEmail(appId: string, email: string | null): Promise<void>;

  insertEndpoint(endpoint: Endpoint): Promise<void>;
  getEndpoint(appId: string, idOrUid: string): Promise<Endpoint | null>;
  listEndpoints(appId: string, page: PageQuery, filter?: EndpointFilter): Promise<Page<Endpoint>>;
  updateEndpoint(endpoint: Endpoint): Promise<void>;
  deleteEndpoint(appId: string, id: string): Promise<void>;
  /** An endpoint's OAuth, mTLS, CA and transformation, or null when it has none. */
  getEndpointExtras(endpointId: string): Promise<EndpointExtras | null>;
  /** Writes them; with all four unset, removes the row. */
  putEndpointExtras(extras: EndpointExtras): Promise<void>;
  /** Every endpoint's extras (only endpoints that have some have a row). */
  listEndpointExtras(): Promise<EndpointExtras[]>;

  insertAppToken(token: AppToken): Promise<void>;
  /** The token with this hash (hex SHA-256), whether or not it is expired or revoked. */
  getAppTokenByHash(tokenHash: string): Promise<AppToken | null>;
  /** Revokes one token (no-op when it is revoked already). */
  revokeAppToken(id: string, now: number): Promise<void>;
  /** Makes every live token of an application expire at `at` at the latest; returns how many changed. */
  expireAppTokens(appId: string, at: number): Promise<number>;
  /** Whether a `poller` token of this endpoint is neither expired nor revoked at `now`. */
  hasLivePollerToken(endpointId: string, now: number): Promise<boolean>;
  /** Makes every live `poller` token of this endpoint expire at `at` at the latest. */
  expirePollerTokens(endpointId: string, at: number): Promise<number>;

  /** A polling endpoint's consumer, or null before its first poll or seek. */
  getPollerConsumer(endpointId: string, consumerId: string): Promise<PollerConsumer | null>;
  /** Creates the consumer as given unless it exists; answers the consumer as it is now. */
  ensurePollerConsumer(consumer: PollerConsumer): Promise<PollerConsumer>;
  /** Sets the consumer's position, creating it if absent (concurrent writes: the last wins). */
  putPollerConsumer(consumer: PollerConsumer): Promise<void>;
  /**
   * Moves the consumer to `afterId` and `offset` if its committed offset is still `fromOffset`;
   * false when another commit (or a seek) changed it first.
   */
  commitPollerConsumer(
    endpointId: string,
    consumerId: string,
    fromOffset: number,
    to: { afterId: string; offset: number },
    now: number,
  ): Promise<boolean>;

  insertEventType(eventType: EventType): Promise<void>;
  getEventType(name: string): Promise<EventType | null>;
  /** The subset of `names` that exist and are not archived. */
  existingEventTypes(names: string[]): Promise<Set<string>>;
  /** Every event type that carries feature flags, archived ones too (a short list). */
  flaggedEventTypes(): Promise<EventType[]>;
  listEventTypes(page: PageQuery, includeArchived: boolean): Promise<Page<EventType>>;
  /** Writes every field but `retryScheduleMs` (see setEventTypeRetrySchedule). */
  updateEventType(eventType: EventType): Promise<void>;
  /** Sets (or with null clears) an event type's retry schedule; false when there is no such event type. */
  setEventTypeRetrySchedule(name: string, scheduleMs: number[] | null, now: number): Promise<boolean>;
  /** Every event type's own retry schedule (the ones that have one). */
  eventTypeRetrySchedules(): Promise<Map<string, number[]>>;

  /**
   * Stores messages and their deliveries, all in ONE transaction. With a `handoff`, the store may
   * lease new deliveries to this process's dispatcher in the same transaction, sparing them the
   * claim (see `IngestHandoff`).
   */
  ingest(items: IngestItem[], handoff?: IngestHandoff | null): Promise<IngestResult[]>;
  getMessage(appId: string, idOrEventId: string): Promise<Message | null>;
  listMessages(appId: string, filter: MessageFilter, page: PageQuery): Promise<Page<Message>>;

  /** Leases due deliveries (pending, or sending with an expired lease). */
  claimDue(options: ClaimOptions): Promise<Claim>;
  /** Records attempts and moves deliveries on, in one transaction. Returns endpoints it disabled. */
  completeDeliveries(outcomes: DeliveryOutcome[], now: number): Promise<{ disabledEndpoints: string[] }>;
  /** Gives back leases without recording an attempt (graceful shutdown). */
  releaseDeliveries(ids: string[], now: number): Promise<void>;
  /**
   * Earliest time a pending delivery (in `scope`) becomes due, or null when there is none; with
   * `after`, the earliest after that time (the due work up to it is accounted for).
   */
  nextDueAt(scope?: DeliveryScope, after?: number): Promise<number | null>;
  /** Queue depth, age of the oldest due delivery and failing endpoints, for `/metrics`. */
  queueStats(now: number, failingThresholdsMs: number[]): Promise<QueueStats>;
  /** Queues a new manual delivery of a message to an endpoint. */
  resend(message: Message, endpointId: string, id: string, now: number): Promise<void>;
  /**
   * Brings back what an endpoint missed in [since, until), a batch at a time, each batch one
   * short transaction: failed and canceled deliveries go back in the queue, and messages that
   * were never queued for it (it was disabled, or did not exist yet) and that `matches` accepts
   * get a new delivery. Call again with `next` until it is null. Returns how many deliveries
   * this batch queued; like ingest, a batch that queued some wakes the workers.
   */
  recoverBatch(request: RecoverBatchRequest): Promise<{ queued: number; next: RecoverCursor | null }>;
  endpointStats(endpointId: string, since: number, until: number): Promise<EndpointStats>;
  /**
   * Attempts to an endpoint made in [since, until), grouped into buckets of `bucketMs` starting
   * at `since`, oldest first. Only buckets with at least one attempt are returned. Callers bound
   * the window and the number of buckets.
   */
  endpointSeries(endpointId: string, since: number, until: number, bucketMs: number): Promise<SeriesBucket[]>;

  listAttempts(filter: AttemptFilter, page: PageQuery): Promise<Page<Attempt>>;
  getAttempt(appId: string, id: string): Promise<Attempt | null>;

  /**
   * Retention: deletes up to `batch` attempt logs created before `before`, and empties the
   * payloads of up to `batch` messages created before it (the message records stay, marked as
   * expunged at `now`). A message still waiting for a delivery keeps its payload. Inbound
   * requests received before `before` count as payloads too: their body and headers are emptied
   * (the event record stays), within the same `batch`, unless their message still waits for a
   * delivery. Small batches keep locks short; call again while it returns a full batch.
   */
  expunge(before: number, now: number, batch: number): Promise<{ payloads: number; attempts: number }>;
  /**
   * Retention's first step, before the batches of `expunge`: a store that keeps attempt logs in
   * time partitions (PostgreSQL: one per day) makes sure the partitions for the next days exist,
   * then drops those holding nothing made at or after `before`. Returns how many it dropped
   * (always 0 where attempts are not partitioned). `between`, when given, is awaited after each
   * partition it tries, with how long that took (the caller paces the drops: each locks the
   * table that inserts go to); it answers false to stop there, the rest left to a later pass.
   */
  dropHistory(
    before: number,
    now: number,
    between?: (tookMs: number) => Promise<boolean>,
  ): Promise<{ partitions: number }>;

  getIdempotentResponse(key: string, now: number): Promise<StoredResponse | null>;
  /**
   * Reserves an idempotency key for one request, atomically across processes: `reserved` when
   * this caller holds it now (a new key, or one whose earlier reservation or response expired),
   * the stored response when the key was answered already, or `pending` while another request
   * holds it. A reservation lasts until `reservedUntil` unless a response replaces it.
   */
  reserveIdempotencyKey(
    key: string,
    now: number,
    reservedUntil: number,
  ): Promise<'reserved' | 'pending' | StoredResponse>;
  /** Gives up a reservation that got no response to keep (an error, an aborted request). */
  releaseIdempotencyKey(key: string): Promise<void>;
  /** Keeps a response until `expiresAt`; also drops a few entries that expired before `now`. */
  putIdempotentResponse(key: string, response: StoredResponse, expiresAt: number, now: number): Promise<void>;

  /**
   * Creates a source with its application (id `source.appId`) and one endpoint per destination,
   * signed with the forwarding secrets, in one transaction.
   */
  insertSource(source: Source): Promise<void>;
  /** By id or name; destinations are the endpoints of its application. */
  getSource(idOrName: string): Promise<Source | null>;
  /** A source by id or name without its destinations: what `/in` reads for every request. */
  getSourceSettings(idOrName: string): Promise<SourceSettings | null>;
  listSources(page: PageQuery): Promise<Page<Source>>;
  /** Updates the source and makes its application's endpoints match `destinations` (same ids). */
  updateSource(source: Source): Promise<void>;
  /** Deletes the source, its application, destinations, events, deliveries and attempts. */
  deleteSource(id: string): Promise<void>;

  /**
   * Stores received requests, and for accepted ones the message (id = event id, payload `{}`,
   * the bytes stay with the event; or one message per new part, see InboundItem.parts) and its
   * deliveries, all in ONE transaction. Duplicates are
   * decided inside it, in order, so two copies in one batch are caught; an adapter shared by
   * several processes must also serialize that check per (source, dedupe key) across them (for
   * example with a transaction-scoped advisory lock), since a time window cannot be a unique index.
   */
  receiveInbound(items: InboundItem[]): Promise<InboundResult[]>;
  listInboundEvents(
    sourceId: string,
    filter: InboundEventFilter,
    page: PageQuery,
  ): Promise<Page<InboundEvent>>;
  getInboundEvent(sourceId: string, id: string): Promise<InboundEvent | null>;

  insertBackgroundTask(task: BackgroundTask): Promise<void>;
  /** Writes the task's status, data and updatedAt. */
  updateBackgroundTask(task: BackgroundTask): Promise<void>;
  getBackgroundTask(id: string): Promise<BackgroundTask | null>;
  listBackgroundTasks(filter: BackgroundTaskFilter, page: PageQuery): Promise<Page<BackgroundTask>>;
  /** Forgets ended tasks last updated before `before`, and ended ones beyond the newest `keep`. */
  pruneBackgroundTasks(before: number, keep: number): Promise<number>;

  /** Empties a message's payload (the record stays, marked expunged); false when there is no such message. */
  expungeMessageContent(appId: string, msgId: string, now: number): Promise<boolean>;
  /** Empties an attempt's response body; false when there is no such attempt. */
  expungeAttemptContent(appId: string, attemptId: string): Promise<boolean>;
  /** Empties the payloads of up to `limit` messages of the application not expunged yet; returns how many. */
  expungeAppContents(appId: string, now: number, limit: number): Promise<number>;
  /** The messages that have a delivery to the endpoint (newest delivery's state), paged by message id. */
  listEndpointMessages(
    appId: string,
    endpointId: string,
    filter: MessageFilter & { status?: DeliveryStatusCode },
    page: PageQuery,
  ): Promise<Page<DeliveryState & { message: Message }>>;
  /** Every application's messages (not inbound sources'), paged by id. */
  listAllMessages(filter: MessageFilter, page: PageQuery): Promise<Page<Message>>;
  /** Cancels the endpoint's pending deliveries created before `createdBefore`; returns how many. */
  cancelPendingDeliveries(endpointId: string, createdBefore: number, now: number): Promise<number>;
  /** An endpoint by id alone, whatever its application. */
  getEndpointById(id: string): Promise<Endpoint | null>;
  /** When the endpoint's rate limit lets its next delivery go (null: never throttled). */
  endpointThrottleNextAt(endpointId: string): Promise<number | null>;
  countAttempts(filter: AttemptFilter): Promise<number>;
  /** The endpoints a message has a delivery to (newest delivery's state), paged by endpoint id. */
  listMessageDestinations(
    appId: string,
    msgId: string,
    page: PageQuery,
  ): Promise<Page<DeliveryState & { endpoint: Endpoint }>>;

  /** Applications (not inbound sources') with an endpoint (an enabled one when `enabledOnly`). */
  countActiveApps(enabledOnly: boolean): Promise<number>;
  /** Endpoints of the API users' applications, enabled and disabled. */
  countEndpoints(): Promise<{ active: number; disabled: number }>;
  /** The application's attempts made in [since, until), by event type. */
  appAttemptStats(
    appId: string,
    since: number,
    until: number,
    eventTypes?: string[],
  ): Promise<Record<string, AttemptCounts>>;
  /** The application's attempts in [since, until) in buckets of `bucketMs` from `since` (only buckets with any). */
  appAttemptSeries(
    appId: string,
    since: number,
    until: number,
    bucketMs: number,
    eventTypes?: string[],
  ): Promise<(AttemptCounts & { bucket: number })[]>;
  /** Deliveries created in [since, until) per application (those with none are left out). */
  deliveriesPerApp(appIds: string[], since: number, until: number): Promise<Record<string, number>>;
  /** Messages of the API users' applications per event type. */
  messagesPerEventType(): Promise<{ eventType: string; messages: number }[]>;
}
