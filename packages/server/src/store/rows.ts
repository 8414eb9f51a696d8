/**
 * Database rows to Hookline's records, shared by the adapters. Columns have the same names and
 * meanings in both schemas; only two encodings differ, and each adapter passes its own:
 * booleans (SQLite `0/1`, PostgreSQL `true/false`) and JSON arrays (SQLite text, PostgreSQL
 * JSONB, which the driver has already parsed).
 */
import type { SecretBox } from '../core/secret-box.ts';
import type {
  App,
  AppToken,
  Attempt,
  DeliveryStatusCode,
  Endpoint,
  EndpointKind,
  EndpointSecret,
  EventType,
  InboundEvent,
  InboundStatus,
  Message,
  TriggerTypeCode,
} from '../core/types.ts';

export type Row = Record<string, unknown>;

export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
export const parse = <T>(v: unknown): T =>
  v === null || v === undefined ? (null as T) : (JSON.parse(String(v)) as T);
export const num = (v: unknown): number => Number(v);
export const str = (v: unknown): string => String(v);
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export interface RowEncoding {
  /** A boolean column. */
  flag(v: unknown): boolean;
  /** A JSON array column (event types, channels, tags), or null. */
  list<T>(v: unknown): T;
}

export function createRowMappers(enc: RowEncoding, box: SecretBox) {
  const openSecrets = (sealed: unknown): EndpointSecret[] => parse<EndpointSecret[]>(box.open(str(sealed)));
  return {
    openSecrets,
    toApp: (r: Row): App => ({
      id: str(r.id),
      uid: strOrNull(r.uid),
      name: str(r.name),
      throttleRate: numOrNull(r.throttle_rate),
      metadata: parse(r.metadata),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    }),
    toEndpoint: (r: Row): Endpoint => ({
      id: str(r.id),
      appId: str(r.app_id),
      uid: strOrNull(r.uid),
      url: str(r.url),
      description: str(r.description),
      disabled: enc.flag(r.disabled),
      eventTypes: enc.list(r.event_types),
      channels: enc.list(r.channels),
      throttleRate: numOrNull(r.throttle_rate),
      metadata: parse(r.metadata),
      headers: parse(r.headers),
      secrets: openSecrets(r.secrets),
      svixHeaders: enc.flag(r.svix_headers),
      failingSince: numOrNull(r.failing_since),
      kind: (strOrNull(r.kind) ?? 'http') as EndpointKind,
      fifo: enc.flag(r.fifo),
      template: parse(r.template),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    }),
    toAppToken: (r: Row): AppToken => ({
      id: str(r.id),
      appId: str(r.app_id),
      tokenHash: str(r.token_hash),
      readOnly: enc.flag(r.read_only),
      featureFlags: parse(r.feature_flags),
      expiresAt: num(r.expires_at),
      revokedAt: numOrNull(r.revoked_at),
      createdAt: num(r.created_at),
    }),
    toEventType: (r: Row): EventType => ({
      name: str(r.name),
      description: str(r.description),
      archived: enc.flag(r.archived),
      deprecated: enc.flag(r.deprecated),
      schemas: parse(r.schemas),
      groupName: strOrNull(r.group_name),
      featureFlags: parse(r.feature_flags),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    }),
    toMessage: (r: Row): Message => ({
      id: str(r.id),
      appId: str(r.app_id),
      eventId: strOrNull(r.event_id),
      eventType: str(r.event_type),
      payload: str(r.payload),
      channels: enc.list(r.channels),
      tags: enc.list(r.tags),
      createdAt: num(r.created_at),
    }),
    toAttempt: (r: Row): Attempt => ({
      id: str(r.id),
      deliveryId: str(r.delivery_id),
      msgId: str(r.msg_id),
      endpointId: str(r.endpoint_id),
      appId: str(r.app_id),
      url: str(r.url),
      status: num(r.status) as DeliveryStatusCode,
      responseStatusCode: num(r.response_status_code),
      response: str(r.response),
      responseHeaders: parse(r.response_headers),
      requestHeaders: parse(r.request_headers),
      requestBody: strOrNull(r.request_body),
      durationMs: num(r.duration_ms),
      triggerType: num(r.trigger_type) as TriggerTypeCode,
      createdAt: num(r.created_at),
    }),
    toInboundEvent: (r: Row): InboundEvent => ({
      id: str(r.id),
      sourceId: str(r.source_id),
      status: str(r.status) as InboundStatus,
      eventType: str(r.event_type),
      dedupeKey: strOrNull(r.dedupe_key),
      duplicateOf: strOrNull(r.duplicate_of),
      verifyCode: strOrNull(r.verify_code),
      verifyDetail: strOrNull(r.verify_detail),
      contentType: strOrNull(r.content_type),
      headers: parse(r.headers),
      body: Buffer.from(r.body as Uint8Array),
      receivedAt: num(r.received_at),
      bodyExpungedAt: numOrNull(r.body_expunged_at),
      method: str(r.method),
      // JSON text of the split request's message ids (see EVENT_PARTS in the adapters).
      messageIds: ((ids) => (ids && ids.length > 0 ? ids : null))(parse<string[] | null>(r.message_ids)),
    }),
  };
}
