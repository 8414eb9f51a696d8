/**
 * Every closed set of names Hookline's records and API use, declared once. The types in
 * core/types.ts, the request/response schemas (so validation refuses other values and
 * `/openapi.json` lists them) and the dashboard all take them from here.
 *
 * No imports: the dashboard bundles this file as it is.
 */

/** Chat platforms whose incoming webhooks Hookline can post messages to. */
export const CHAT_KINDS = ['slack', 'discord', 'teams'] as const;
export type ChatKind = (typeof CHAT_KINDS)[number];
export const isChatKind = (kind: string | null | undefined): kind is ChatKind =>
  (CHAT_KINDS as readonly string[]).includes(kind ?? '');

/**
 * How deliveries reach an endpoint: `http` (the dispatcher POSTs to `url`), `listen` (a
 * `hookline listen` client connected to the server takes them over a WebSocket and forwards
 * them to a local URL; while none is connected they wait in the queue), or a chat destination
 * (`slack`, `discord`, `teams`): `url` is the platform's incoming-webhook URL and the dispatcher
 * posts each message rendered as that platform's chat message, unsigned. A `poller` endpoint
 * (Svix's polling endpoint) is never sent anything: its consumers read the messages it would
 * get through `/api/v1/app/{app}/poller/{endpoint}` and `.../polling-endpoint/...`.
 */
export const ENDPOINT_KINDS = ['http', 'listen', ...CHAT_KINDS, 'poller'] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

/** What a source can forward to: an HTTP endpoint or a chat channel (never a `listen` client). */
export const SOURCE_DESTINATION_KINDS = ['http', ...CHAT_KINDS] as const;
export type SourceDestinationKind = (typeof SOURCE_DESTINATION_KINDS)[number];

/**
 * What became of a request received on `/in/{source}`: accepted (verified, forwarded), rejected
 * (failed verification), duplicate (of an accepted one), handshake (a provider's check of the
 * URL, answered at once and never forwarded).
 */
export const INBOUND_STATUSES = ['accepted', 'rejected', 'duplicate', 'handshake'] as const;
export type InboundStatus = (typeof INBOUND_STATUSES)[number];

/**
 * The signature schemes of `@hookline/receiver` (its `SCHEME_NAMES`, in its order; a test checks
 * the two lists agree), which a source's verification can name.
 */
export const RECEIVER_SCHEMES = [
  'standard-webhooks',
  'svix',
  'stripe',
  'github',
  'shopify',
  'slack',
  'twilio',
  'paddle',
  'discord',
  'hubspot',
  'salesforce',
] as const;

/**
 * How a source checks that a request comes from its provider: a `@hookline/receiver` scheme,
 * `hmac` (the generic HMAC scheme, configured by the source's `hmac` settings), or `none`.
 */
export const SOURCE_SCHEMES = [...RECEIVER_SCHEMES, 'hmac', 'none'] as const;
export type SourceScheme = (typeof SOURCE_SCHEMES)[number];

/** Delivery and attempt states, numbered as in the Svix API. */
export const DeliveryStatus = { success: 0, pending: 1, fail: 2, sending: 3, canceled: 4 } as const;
export type DeliveryStatusName = keyof typeof DeliveryStatus;
export type DeliveryStatusCode = (typeof DeliveryStatus)[DeliveryStatusName];
/** Every delivery status code, in order. */
export const DELIVERY_STATUS_CODES = Object.values(DeliveryStatus) as DeliveryStatusCode[];
export const DELIVERY_STATUS_NAMES = Object.keys(DeliveryStatus) as DeliveryStatusName[];
/** A status code's name (`statusText` on the wire); undefined for a number that is not a status. */
export const STATUS_TEXT = Object.fromEntries(
  Object.entries(DeliveryStatus).map(([name, code]) => [code, name]),
) as Readonly<Record<DeliveryStatusCode, DeliveryStatusName>> &
  Readonly<Record<number, DeliveryStatusName | undefined>>;

/** Why an attempt was made: the schedule (first try and retries) or a person (resend, recover). */
export const TriggerType = { scheduled: 0, manual: 1 } as const;
export type TriggerTypeCode = (typeof TriggerType)[keyof typeof TriggerType];
export const TRIGGER_TYPE_CODES = Object.values(TriggerType) as TriggerTypeCode[];

/** Svix's background task kinds (`BackgroundTaskType`) that Hookline runs. */
export const BACKGROUND_TASK_KINDS = [
  'endpoint.recover',
  'endpoint.replay',
  'endpoint.bulk-replay',
  'application.purge_content',
  'application.stats',
  'event-type.aggregate',
  'message.broadcast',
  'sdk.generate',
] as const;
export type BackgroundTaskKind = (typeof BACKGROUND_TASK_KINDS)[number];
export const BACKGROUND_TASK_STATUSES = ['running', 'finished', 'failed'] as const;
export type BackgroundTaskStatus = (typeof BACKGROUND_TASK_STATUSES)[number];
