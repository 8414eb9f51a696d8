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
 */

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
   * Strict FIFO: deliveries to this endpoint go one at a time in message order; a delivery
   * waiting for a retry holds back the ones behind it.
   */
  fifo: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface EventType {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  schemas: Record<string, unknown> | null;
  groupName: string | null;
  featureFlags: string[] | null;
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
  createdAt: number;
}

/** Delivery and attempt states, numbered as in the Svix API. */
export const DeliveryStatus = { success: 0, pending: 1, fail: 2, sending: 3, canceled: 4 } as const;
export type DeliveryStatusCode = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];
export const STATUS_TEXT: Record<number, string> = {
  0: 'success',
  1: 'pending',
  2: 'fail',
  3: 'sending',
  4: 'canceled',
};

export const TriggerType = { scheduled: 0, manual: 1 } as const;
export type TriggerTypeCode = (typeof TriggerType)[keyof typeof TriggerType];

export interface Attempt {
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
  durationMs: number;
  triggerType: TriggerTypeCode;
  createdAt: number;
}
