/**
 * Every stored record's columns, declared once (see `table.ts`). The migrations of each database
 * create these columns; the round-trip test (`test/store-roundtrip.test.ts`) proves every field
 * comes back as written.
 *
 * Columns that belong to the queue's hot paths only (`delivery.*`, `endpoint.throttle_next_at`,
 * `message.payload_expunged_at`) are not part of any record and are written by the mirrored
 * `sqlite/` and `postgres/` files.
 */

import { leaseFor } from '../core/lease.ts';
import { handshakeFromColumn } from '../core/source-app.ts';
import {
  type App,
  type AppToken,
  type AppTokenScope,
  type Attempt,
  type BackgroundTask,
  type BackgroundTaskKind,
  type BackgroundTaskStatus,
  type DeliveryStatusCode,
  type Endpoint,
  type EndpointExtras,
  type EndpointKind,
  type EndpointSecret,
  type EventType,
  type InboundEvent,
  type InboundStatus,
  type Message,
  type Source,
  type SourceHandshake,
  TriggerType,
  type TriggerTypeCode,
} from '../core/types.ts';
import type { Row } from './sql.ts';
import type { ClaimedDelivery, IngestItem } from './store.ts';
import {
  bytes,
  type Codec,
  type CodecContext,
  column,
  defineTable,
  flag,
  flagOrNull,
  int,
  intOrNull,
  json,
  jsonArray,
  oneOf,
  sealed,
  sealedOrPlainJson,
  text,
  textOrNull,
} from './table.ts';

export const apps = defineTable<App>('app', {
  id: column('id', text),
  uid: column('uid', textOrNull),
  name: column('name', text),
  throttleRate: column('throttle_rate', intOrNull),
  metadata: column('metadata', json<Record<string, string>>()),
  createdAt: column('created_at', int),
  updatedAt: column('updated_at', int),
});

export const endpoints = defineTable<Endpoint>('endpoint', {
  id: column('id', text),
  appId: column('app_id', text),
  uid: column('uid', textOrNull),
  url: column('url', text),
  description: column('description', text),
  disabled: column('disabled', flag),
  eventTypes: column('event_types', jsonArray<string[] | null>()),
  channels: column('channels', jsonArray<string[] | null>()),
  throttleRate: column('throttle_rate', intOrNull),
  metadata: column('metadata', json<Record<string, string>>()),
  // Custom headers often carry credentials: sealed like the secrets (older rows: plain JSON).
  headers: column('headers', sealedOrPlainJson<Record<string, string>>()),
  secrets: column('secrets', sealed<EndpointSecret[]>()),
  svixHeaders: column('svix_headers', flag),
  failingSince: column('failing_since', intOrNull),
  timeoutMs: column('timeout_ms', intOrNull),
  kind: column('kind', oneOf<EndpointKind>('http') as Codec<EndpointKind | undefined>),
  fifo: column('fifo', flag),
  template: column(
    'template',
    json<Record<string, unknown> | null>() as Codec<Record<string, unknown> | null | undefined>,
  ),
  createdAt: column('created_at', int),
  updatedAt: column('updated_at', int),
});

/** Sealed JSON, or null when unset. */
const sealedOrNull = <T>(): Codec<T | null> => ({
  write: (v, ctx) => (v === null || v === undefined ? null : ctx.box.seal(JSON.stringify(v))),
  read: (v, ctx) => (v === null || v === undefined ? null : (JSON.parse(ctx.box.open(String(v))) as T)),
});

/** An endpoint's authentication beyond the signature and its transformation (see `EndpointExtras`). */
export const endpointExtras = defineTable<EndpointExtras>('endpoint_extra', {
  endpointId: column('endpoint_id', text),
  appId: column('app_id', text),
  // The client secret and the private key are credentials: sealed like the signing secrets.
  oauth: column('oauth', sealedOrNull<EndpointExtras['oauth']>() as Codec<EndpointExtras['oauth']>),
  mtls: column('mtls', sealedOrNull<EndpointExtras['mtls']>() as Codec<EndpointExtras['mtls']>),
  ca: column('ca', textOrNull),
  transformation: column(
    'transformation',
    json<EndpointExtras['transformation']>() as Codec<EndpointExtras['transformation']>,
  ),
  updatedAt: column('updated_at', int),
});

export const appTokens = defineTable<AppToken>('app_token', {
  id: column('id', text),
  appId: column('app_id', text),
  tokenHash: column('token_hash', text),
  readOnly: column('read_only', flag),
  featureFlags: column('feature_flags', json<string[] | null>()),
  scope: column('scope', oneOf<AppTokenScope>('portal')),
  name: column('name', textOrNull),
  endpointId: column('endpoint_id', textOrNull),
  expiresAt: column('expires_at', int),
  revokedAt: column('revoked_at', intOrNull),
  createdAt: column('created_at', int),
});

export const eventTypes = defineTable<EventType>('event_type', {
  name: column('name', text),
  description: column('description', text),
  archived: column('archived', flag),
  deprecated: column('deprecated', flag),
  schemas: column('schemas', json<Record<string, unknown> | null>()),
  groupName: column('group_name', textOrNull),
  featureFlags: column('feature_flags', json<string[] | null>()),
  retryScheduleMs: column('retry_schedule', json<number[] | null>() as Codec<number[] | null | undefined>),
  validatePayload: column('validate_payload', flagOrNull as Codec<boolean | null | undefined>),
  createdAt: column('created_at', int),
  updatedAt: column('updated_at', int),
});

export const messages = defineTable<Message>('message', {
  id: column('id', text),
  appId: column('app_id', text),
  eventId: column('event_id', textOrNull),
  eventType: column('event_type', text),
  payload: column('payload', text),
  channels: column('channels', jsonArray<string[] | null>()),
  tags: column('tags', jsonArray<string[] | null>()),
  orderingKey: column('ordering_key', textOrNull as Codec<string | null | undefined>),
  createdAt: column('created_at', int),
});

export const attempts = defineTable<Attempt>('attempt', {
  id: column('id', text),
  deliveryId: column('delivery_id', text),
  msgId: column('msg_id', text),
  endpointId: column('endpoint_id', text),
  appId: column('app_id', text),
  url: column('url', text),
  status: column('status', int as Codec<DeliveryStatusCode>),
  responseStatusCode: column('response_status_code', int),
  response: column('response', text),
  responseHeaders: column('response_headers', json<Record<string, string>>()),
  requestHeaders: column('request_headers', json<Record<string, string>>()),
  requestBody: column('request_body', textOrNull as Codec<string | null | undefined>),
  durationMs: column('duration_ms', {
    // PostgreSQL keeps whole milliseconds.
    write: (v: number) => Math.round(v),
    read: (v: unknown) => Number(v),
  }),
  triggerType: column('trigger_type', int as Codec<TriggerTypeCode>),
  createdAt: column('created_at', int),
});

const handshake: Codec<SourceHandshake> = {
  write: (v, ctx) => ctx.box.seal(JSON.stringify(v)),
  read: (v, ctx) => handshakeFromColumn(v === null || v === undefined ? null : ctx.box.open(String(v))),
};

const ingest: Codec<Source['ingest']> = {
  write: (v, ctx) => (v === null ? null : ctx.box.seal(JSON.stringify(v))),
  read: (v, ctx) => (v === null || v === undefined ? null : JSON.parse(ctx.box.open(String(v)))),
};

/** A source's own columns; its destinations are endpoints of its application. */
export const sources = defineTable<Omit<Source, 'destinations'>>('source', {
  id: column('id', text),
  name: column('name', text),
  appId: column('app_id', text),
  description: column('description', text),
  verification: column('verification', sealed<Source['verification']>()),
  forwardSecrets: column('forward_secrets', sealed<EndpointSecret[]>()),
  dedupe: column('dedupe', json<Source['dedupe']>()),
  eventType: column('event_type', json<Source['eventType']>()),
  maxBodyBytes: column('max_body_bytes', intOrNull),
  handshake: column('handshake', handshake),
  allowedIps: column('allowed_ips', json<string[] | null>()),
  ingest: column('ingest', ingest),
  createdAt: column('created_at', int),
  updatedAt: column('updated_at', int),
});

/**
 * A received request's record; its bytes are in `inbound_body` and the messages it was split into
 * in `inbound_part`.
 */
export const inboundEvents = defineTable<Omit<InboundEvent, 'messageIds' | 'headers' | 'body'>>(
  'inbound_event',
  {
    id: column('id', text),
    sourceId: column('source_id', text),
    status: column('status', text as Codec<InboundStatus>),
    eventType: column('event_type', text),
    dedupeKey: column('dedupe_key', textOrNull),
    duplicateOf: column('duplicate_of', textOrNull),
    verifyCode: column('verify_code', textOrNull),
    verifyDetail: column('verify_detail', textOrNull),
    method: column('method', text),
    contentType: column('content_type', textOrNull),
    receivedAt: column('received_at', int),
    bodyExpungedAt: column('body_expunged_at', intOrNull),
  },
);

/**
 * A received request's bytes, as forwarding needs them (its content type again, its headers and
 * body). Kept apart from `inbound_event` so that retention removes them without touching the
 * record: on PostgreSQL a day of them is one partition, dropped whole.
 */
export const inboundBodies = defineTable<Pick<InboundEvent, 'id' | 'contentType' | 'headers' | 'body'>>(
  'inbound_body',
  {
    id: column('id', text),
    contentType: column('content_type', textOrNull),
    headers: column('headers', json<[string, string][]>()),
    body: column('body', bytes),
  },
);

export const backgroundTasks = defineTable<BackgroundTask>('background_task', {
  id: column('id', text),
  appId: column('app_id', textOrNull),
  kind: column('kind', text as Codec<BackgroundTaskKind>),
  status: column('status', text as Codec<BackgroundTaskStatus>),
  data: column('data', json<Record<string, unknown>>()),
  createdAt: column('created_at', int),
  updatedAt: column('updated_at', int),
});

/** The endpoint fields a claimed delivery carries to the sender. */
export const CLAIMED_ENDPOINT_FIELDS = [
  'url',
  'disabled',
  'headers',
  'secrets',
  'svixHeaders',
  'metadata',
  'kind',
  'template',
  'uid',
  'description',
  'timeoutMs',
  'fifo',
] as const;

/** The endpoint as a claimed delivery carries it (from a row with `CLAIMED_ENDPOINT_FIELDS`). */
export function claimedEndpoint(row: Row, ctx: CodecContext): ClaimedDelivery['endpoint'] {
  const e = endpoints.pick(row, ctx, CLAIMED_ENDPOINT_FIELDS);
  return { ...e, kind: e.kind ?? 'http', template: e.template ?? null };
}

/**
 * What handing a new delivery straight to this process's dispatcher (IngestHandoff) reads of its
 * endpoint `e` and application `a`: the fields a claimed delivery carries, and both rate limits.
 */
export const HANDOFF_ENDPOINT_COLUMNS = `${endpoints.names(CLAIMED_ENDPOINT_FIELDS, 'e')}, e.throttle_rate,
  a.throttle_rate AS app_rate`;

/** An endpoint whose new deliveries may be handed off, with the lease they get. */
export type HandoffEndpoint = ClaimedDelivery['endpoint'] & { leaseMs: number };

/**
 * The endpoint of a row with `HANDOFF_ENDPOINT_COLUMNS` when its new deliveries may be handed off
 * (an `http` endpoint with no FIFO order and no rate limit, its own or its application's), with
 * their lease (`leaseMs` unless the endpoint has a timeout of its own); null when they must wait
 * for a claim.
 */
export function handoffEndpoint(row: Row, ctx: CodecContext, leaseMs: number): HandoffEndpoint | null {
  const e = claimedEndpoint(row, ctx);
  if (e.kind !== 'http' || e.fifo || row.throttle_rate !== null || row.app_rate !== null) return null;
  return { ...e, leaseMs: e.timeoutMs === null ? leaseMs : leaseFor(e.timeoutMs) };
}

/** A new delivery of `item`'s message, leased to this process's dispatcher as it is written. */
export function handedOffDelivery(
  item: IngestItem,
  id: string,
  endpointId: string,
  { leaseMs, ...endpoint }: HandoffEndpoint,
): ClaimedDelivery {
  const m = item.message;
  return {
    id,
    msgId: m.id,
    appId: m.appId,
    endpointId,
    attempts: 0,
    triggerType: TriggerType.scheduled,
    eventType: m.eventType,
    payload: m.payload,
    msgCreatedAt: m.createdAt,
    leaseUntil: m.createdAt + leaseMs,
    endpoint,
    traceparent: item.traceparent ?? null,
  };
}

/**
 * A leased delivery as the sender takes it, from a row with the delivery's columns, its
 * message's (`event_type`, `payload`, `msg_created_at`, `traceparent`) and, for an inbound event, the request's
 * (`body`, `content_type`, `inbound_headers`).
 */
export const claimedDelivery = (
  r: Row,
  leaseUntil: number,
  endpoint: ClaimedDelivery['endpoint'],
): ClaimedDelivery => ({
  id: String(r.id),
  msgId: String(r.msg_id),
  appId: String(r.app_id),
  endpointId: String(r.endpoint_id),
  attempts: Number(r.attempts),
  triggerType: Number(r.trigger_type) as TriggerTypeCode,
  eventType: String(r.event_type),
  payload: String(r.payload),
  msgCreatedAt: Number(r.msg_created_at),
  leaseUntil,
  ...(r.ordering_key !== null && r.ordering_key !== undefined
    ? { orderingKey: String(r.ordering_key), sequence: Number(r.sequence) }
    : {}),
  ...(r.body !== null && r.body !== undefined
    ? {
        inbound: {
          body: Buffer.from(r.body as Uint8Array),
          contentType: r.content_type === null ? null : String(r.content_type),
          headers: JSON.parse(String(r.inbound_headers)) as [string, string][],
        },
      }
    : {}),
  ...(r.traceparent ? { traceparent: String(r.traceparent) } : {}),
  endpoint,
});
