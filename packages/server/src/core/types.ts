/**
 * The words Hookline uses, and the records behind them.
 *
 * - **Application** (`app_…`): one customer of the sending SaaS; owns endpoints and messages.
 * - **Endpoint** (`ep_…`): a URL of that customer that receives webhooks, with its secrets,
 *   filters (event types, channels), custom headers and state (enabled, failing since).
 * - **Event type**: a named kind of event (`invoice.paid`), with an optional schema.
 * - **Message** (`msg_…`): one event published to an application. Its id is the `webhook-id`
 *   every endpoint sees, on every retry, resend and replay.
 * - **Delivery** (`dlv_…`): one message on its way to one endpoint — the unit of the queue.
 *   It is pending, sending (leased by a worker until a deadline), succeeded or failed.
 * - **Attempt** (`atmpt_…`): one HTTP request made for a delivery, with what came back.
 * - **Lease**: the deadline until which a worker owns a delivery it claimed. A worker that dies
 *   lets the lease run out and another claims the delivery again (at-least-once delivery).
 *
 * Times are milliseconds since the epoch inside Hookline and RFC 3339 strings on the wire.
 * The closed sets of names (kinds, statuses, schemes) are declared in core/enums.ts.
 */
import type {
  BackgroundTaskKind,
  BackgroundTaskStatus,
  DeliveryStatusCode,
  EndpointKind,
  InboundStatus,
  SourceDestinationKind,
  SourceScheme,
  TriggerTypeCode,
} from './enums.ts';

export type { BackgroundTaskKind, BackgroundTaskStatus } from './enums.ts';

export {
  CHAT_KINDS,
  type ChatKind,
  DeliveryStatus,
  type DeliveryStatusCode,
  type EndpointKind,
  type InboundStatus,
  isChatKind,
  type SourceDestinationKind,
  type SourceScheme,
  STATUS_TEXT,
  TriggerType,
  type TriggerTypeCode,
} from './enums.ts';

export interface App {
  id: string;
  uid: string | null;
  name: string;
  throttleRate: number | null;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** An endpoint secret. The current one has no expiry; rotated-out ones sign until `expiresAt`. */
export interface EndpointSecret {
  key: string;
  expiresAt: number | null;
}

export interface Endpoint {
  id: string;
  appId: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  eventTypes: string[] | null;
  channels: string[] | null;
  throttleRate: number | null;
  metadata: Record<string, string>;
  /** Custom headers added to every request to this endpoint. */
  headers: Record<string, string>;
  /** Newest first. */
  secrets: EndpointSecret[];
  /** Also send `svix-id`, `svix-timestamp` and `svix-signature` copies of the signature headers. */
  svixHeaders: boolean;
  /** Start of the current unbroken run of failed attempts, or null while healthy. */
  failingSince: number | null;
  /**
   * How long one request to this endpoint may take, in ms; null: the server's
   * `HOOKLINE_DELIVERY_TIMEOUT`. A slow receiver can get more, a latency-sensitive one less.
   */
  timeoutMs: number | null;
  /** Absent means `http`. */
  kind?: EndpointKind;
  /**
   * Strict FIFO: deliveries to this endpoint go one at a time in message order; a delivery
   * waiting for a retry holds back the ones behind it.
   */
  fifo: boolean;
  /**
   * Chat destinations: the message body as a JSON object whose string values are Liquid
   * templates, or null (absent) for the platform's default message.
   */
  template?: Record<string, unknown> | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * OAuth 2.0 client credentials for an endpoint: Hookline asks `tokenUrl` for an access token and
 * sends it as `Authorization: Bearer`. The client secret is sealed at rest and never answered.
 */
export interface EndpointOauth {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  /** How the client authenticates to the token URL: HTTP Basic (default) or form fields. */
  authMethod: 'clientSecretBasic' | 'clientSecretPost';
  /** More form fields for the token request (`audience`, `resource`). */
  extraParams: Record<string, string>;
}

/** A client certificate (PEM) and its private key (PEM, sealed at rest) for mutual TLS. */
export interface EndpointMtls {
  certificate: string;
  key: string;
}

/** A JavaScript `handler(webhook)` run in a sandbox before each request to the endpoint. */
export interface EndpointTransformation {
  code: string;
  enabled: boolean;
  updatedAt: number;
}

/**
 * What only some endpoints have, kept apart from the endpoint row so the queue's hot paths do
 * not carry it: how Hookline authenticates beyond the signature (OAuth, mTLS, a CA of its own)
 * and a transformation. A row exists only while one of them is set.
 */
export interface EndpointExtras {
  endpointId: string;
  appId: string;
  oauth: EndpointOauth | null;
  mtls: EndpointMtls | null;
  /** PEM certificates trusted for this endpoint, on top of the system's. */
  ca: string | null;
  transformation: EndpointTransformation | null;
  updatedAt: number;
}

/**
 * A token that works only for one application's routes (`POST /api/v1/auth/app-portal-access/{app}`):
 * what a SaaS hands its customer, or the customer's Zapier app. Only its SHA-256 is stored.
 */
/**
 * Where one consumer of a polling endpoint (kind `poller`) stands: it has read the endpoint's
 * messages up to `afterId` ('' = none yet; message ids order by time), and committed offsets
 * up to `offset` (the offsets a poll hands out count on from it).
 */
export interface PollerConsumer {
  endpointId: string;
  consumerId: string;
  afterId: string;
  offset: number;
  updatedAt: number;
}

/** What an application token opens (see AppToken.scope). */
export type AppTokenScope = 'portal' | 'message' | 'poller';

export interface AppToken {
  id: string;
  appId: string;
  /** Hex SHA-256 of the token. */
  tokenHash: string;
  /** Refuses every request that changes something. */
  readOnly: boolean;
  featureFlags: string[] | null;
  /**
   * `portal`: the app portal's token (its application's routes); `message`: may only publish
   * messages to its application (`POST /api/v1/auth/app/{app}/create-message-token`); `poller`:
   * may only poll one polling endpoint (`endpointId`) of its application.
   */
  scope: AppTokenScope;
  /** The polling endpoint a `poller` token reads; null for the other scopes. */
  endpointId: string | null;
  /** The name a message token was created with; null for a portal token. */
  name: string | null;
  expiresAt: number;
  /** Set by `POST /api/v1/auth/logout`; the token stops working. */
  revokedAt: number | null;
  createdAt: number;
}

export interface EventType {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  schemas: Record<string, unknown> | null;
  groupName: string | null;
  featureFlags: string[] | null;
  /** Its own retry schedule (delays in ms after each failed attempt); null: the server's. */
  retryScheduleMs?: number[] | null;
  /** Check message payloads against its JSON Schema on publish; null: the server's default. */
  validatePayload?: boolean | null;
  createdAt: number;
  updatedAt: number;
}

export interface Message {
  id: string;
  appId: string;
  eventId: string | null;
  eventType: string;
  /** The payload as the exact JSON text every endpoint receives. */
  payload: string;
  channels: string[] | null;
  tags: string[] | null;
  /**
   * Deliveries of messages with the same key to the same endpoint go out one at a time, in
   * publish order (a Hookline extension). Absent or null: no key.
   */
  orderingKey?: string | null;
  createdAt: number;
}

export interface Attempt {
  /**
   * Made by the id generator when the attempt starts, with the clock that gives `createdAt`: its
   * second is `createdAt`'s (or, after the clock stepped back, a little later; never earlier). The
   * attempt log's time windows read by id range (`store/shared/attempt-window.ts`): it keeps no
   * index by time.
   */
  id: string;
  deliveryId: string;
  msgId: string;
  endpointId: string;
  appId: string;
  url: string;
  status: DeliveryStatusCode;
  /** HTTP status, or 0 when no response came back (timeout, refused, reset). */
  responseStatusCode: number;
  /** The response body (truncated), or the reason there was none. */
  response: string;
  responseHeaders: Record<string, string>;
  requestHeaders: Record<string, string>;
  /**
   * The body sent, when it is not the message payload: a chat destination's rendered message.
   * Absent or null: the payload (or the inbound event's body) was sent as stored.
   */
  requestBody?: string | null;
  durationMs: number;
  triggerType: TriggerTypeCode;
  /** When the attempt started (ms). */
  createdAt: number;
}

/*
 * Receiving (the inbound gateway):
 *
 * - **Source** (`src_…`): a provider (Stripe, GitHub, ...) that posts to `/in/{name}`, with how to
 *   verify it, how to spot duplicates and where to forward. Its destinations are the endpoints of
 *   an application the source owns, so forwarding is ordinary delivery (retries, attempts, resend).
 * - **Inbound event** (`msg_…`): one request received on `/in/{name}`, kept byte for byte. An
 *   accepted one is also a message of the source's application with the same id.
 */

/** How a source checks that a request comes from its provider (through `@hookline/receiver`). */
export interface SourceVerification {
  /** A `@hookline/receiver` scheme name, `hmac` (generic, configured by `hmac`), or `none`. */
  scheme: SourceScheme;
  /** Newest first; during a provider's secret rotation any of them verifies. */
  secrets: string[];
  /** Allowed clock distance in seconds; null keeps the scheme's default. */
  tolerance: number | null;
  /** The public URL the provider calls (Twilio signs it). */
  url: string | null;
  /** The generic HMAC scheme's settings (`GenericHmacConfig` of `@hookline/receiver`). */
  hmac: Record<string, unknown> | null;
}

/** Where a value is read from a request: a header, or a dotted path into a JSON body. */
export interface RequestField {
  header: string | null;
  jsonPath: string | null;
}

/** Requests with the same key within `windowMs` of an accepted one are duplicates. */
export interface DedupeRule extends RequestField {
  windowMs: number;
}

/** One place a source forwards to: an endpoint of the source's application. */
export interface SourceDestination {
  id: string;
  url: string;
  /** Added to every forwarded request. */
  headers: Record<string, string>;
  /** Only these event types are forwarded here; null forwards all. */
  eventTypes: string[] | null;
  disabled: boolean;
  /**
   * `http` forwards the provider's request as it came (signed by Hookline); a chat kind posts it,
   * rendered as a Slack, Discord or Teams message, to that platform's incoming webhook.
   */
  kind: SourceDestinationKind;
  /** A chat destination's message template (see `Endpoint.template`); null for the default. */
  template: Record<string, unknown> | null;
  /**
   * Endpoint fields the Svix Ingest API sets (`/ingest/api/v1/source/{id}/endpoint`): written
   * when present on a save, kept as they are when absent. Sources never carry them when read;
   * the Svix Ingest API reads them from the destination's endpoint.
   */
  description?: string;
  uid?: string | null;
  throttleRate?: number | null;
  metadata?: Record<string, string>;
}

/**
 * A token in a source's receive URL (`/in/{name}/{token}`). Rotated-out ones keep working until
 * `expiresAt`; the empty token stands for the URL without one (a source made without a token
 * whose token was rotated in).
 */
export interface IngestToken {
  token: string;
  expiresAt: number | null;
}

/** What a source made or changed through the Svix Ingest API keeps beyond Hookline's own fields. */
export interface SourceIngest {
  /** Svix's source `type` (`stripe`, `github`, `generic-webhook`, ...). */
  type: string;
  /** Svix's `uid`: the source's name when given. */
  uid: string | null;
  metadata: Record<string, string>;
  /** Newest first; empty: the receive URL carries no token (`/in/{name}`). */
  tokens: IngestToken[];
}

export interface Source {
  id: string;
  /** Unique and URL-safe: the provider posts to `/in/{name}`. */
  name: string;
  /** The application whose endpoints are the destinations. */
  appId: string;
  description: string;
  verification: SourceVerification;
  /** Secrets that sign forwarded requests (Standard Webhooks), newest first, like endpoint secrets. */
  forwardSecrets: EndpointSecret[];
  /** Null: no deduplication. A rule with neither header nor path uses the id the scheme reports. */
  dedupe: DedupeRule | null;
  /** Where the event type is read from; null uses the scheme's usual place. */
  eventType: RequestField | null;
  /** Largest accepted body; null uses the server's limit. */
  maxBodyBytes: number | null;
  /** Handshakes answered at `/in/{name}` (provider ones and a generic challenge rule). */
  handshake: SourceHandshake;
  /**
   * Client addresses (IPs or CIDRs, v4 and v6) allowed to post to `/in/{name}`; null: anyone.
   * Others are answered 403 before their body is read.
   */
  allowedIps: string[] | null;
  destinations: SourceDestination[];
  /** Svix Ingest settings and the receive URL's tokens; null for a source without either. */
  ingest: SourceIngest | null;
  createdAt: number;
  updatedAt: number;
}

/** A source without its destinations: what receiving a request on `/in` needs of it. */
export type SourceSettings = Omit<Source, 'destinations'>;

/**
 * A challenge a provider sends to check that the URL answers (Microsoft Graph's
 * `validationToken`, Dropbox's `challenge`, Zoom's `endpoint.url_validation`): where its value
 * is, and how it is echoed. Answered at once, logged as a `handshake` event, never forwarded.
 */
export interface ChallengeRule {
  /** The preset it was made from (`graph`, `dropbox`, `zoom`), or null for a custom rule. */
  preset: string | null;
  /** The HTTP method it comes with: GET, POST or ANY. */
  method: 'GET' | 'POST' | 'ANY';
  /** The value is this query parameter ... */
  query: string | null;
  /** ... or this dotted path into a JSON body. */
  jsonPath: string | null;
  /** Only when this JSON path of the body equals `equals` (for example Zoom's `event`). */
  when: { jsonPath: string; equals: string } | null;
  /** `text`: the value as text/plain; `json`: an object with the value under `field`. */
  respond: 'text' | 'json';
  field: string | null;
  /** With `json`: also this field, holding hex HMAC-SHA256(secret, value) (Zoom's encryptedToken). */
  hmacField: string | null;
  /** The HMAC key (encrypted at rest with the source's other secrets). */
  secret: string | null;
  /** The request must pass the source's verification first (Zoom signs its challenge). */
  verify: boolean;
}

export interface SourceHandshake {
  /**
   * Answer the scheme's own handshakes: Slack's url_verification, Discord's PING and answer to
   * interactions, Salesforce's Outbound Message acknowledgement and split into notifications.
   */
  provider: boolean;
  /** The JSON a forwarded Discord interaction is answered with (default `{"type":5}`, deferred). */
  discordResponse: Record<string, unknown>;
  challenge: ChallengeRule | null;
}

export interface InboundEvent {
  id: string;
  sourceId: string;
  /** See InboundStatus; rejected, duplicate and handshake requests are kept for inspection only. */
  status: InboundStatus;
  eventType: string;
  dedupeKey: string | null;
  /** For a duplicate: the accepted event it repeats. */
  duplicateOf: string | null;
  /** For a rejected request: the `@hookline/receiver` error code and message. */
  verifyCode: string | null;
  verifyDetail: string | null;
  /** The HTTP method (POST; a handshake may come as GET). */
  method: string;
  contentType: string | null;
  /** The request headers as received: names in their original case, in order, repeats kept. */
  headers: [string, string][];
  body: Buffer;
  receivedAt: number;
  /** Set when retention emptied the body and headers (the record itself stays). */
  bodyExpungedAt: number | null;
  /**
   * The messages an accepted request was forwarded as, when it was split (a Salesforce Outbound
   * Message: one per new notification); null when the event itself is the one message.
   */
  messageIds: string[] | null;
}

/** Work an API call started and answered at once; its progress is kept as it runs. */
export interface BackgroundTask {
  id: string;
  /** The application it works on (its app tokens may read it); null across applications. */
  appId: string | null;
  kind: BackgroundTaskKind;
  status: BackgroundTaskStatus;
  /** Progress and result, as the API shows them. */
  data: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}
