/**
 * Request and response schemas of the rest of Svix's sending API (see api/sending.ts): field
 * names and shapes as in Svix's OpenAPI document.
 */
import Type, { type Static } from 'typebox';
import { DELIVERY_STATUS_NAMES } from '../core/enums.ts';
import { UID_PATTERN } from '../core/formats.ts';
import {
  ChannelList,
  CommaList,
  DateTime,
  DeliveryStatusSchema,
  ListQuery,
  MessageOut,
  Nullable,
} from './schemas.ts';

const StatusText = Type.Enum(DELIVERY_STATUS_NAMES, { type: 'string', description: 'The name of `status`' });
const EventTypeName = Type.String({ pattern: UID_PATTERN, maxLength: 256 });

export const EventExampleIn = Type.Object(
  {
    eventType: EventTypeName,
    exampleIndex: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 0,
        description: 'Which of the schema’s examples to send (default the first)',
      }),
    ),
  },
  { $id: 'EventExampleIn' },
);

/** A message with its status at one endpoint (`listAttemptedMessages`). */
export const EndpointMessageOut = Type.Object(
  {
    id: Type.String(),
    eventId: Nullable(Type.String()),
    eventType: Type.String(),
    payload: Type.Record(Type.String(), Type.Unknown()),
    channels: Nullable(Type.Array(Type.String())),
    tags: Nullable(Type.Array(Type.String())),
    timestamp: DateTime,
    status: DeliveryStatusSchema,
    statusText: StatusText,
    nextAttempt: Nullable(DateTime),
  },
  { $id: 'EndpointMessageOut' },
);

export const EndpointMessageListQuery = Type.Object({
  ...ListQuery.properties,
  channel: Type.Optional(Type.String()),
  tag: Type.Optional(Type.String()),
  status: Type.Optional(DeliveryStatusSchema),
  before: Type.Optional(Nullable(DateTime)),
  after: Type.Optional(Nullable(DateTime)),
  with_content: Type.Optional(Type.Boolean()),
  expanded_statuses: Type.Optional(Type.Boolean()),
  event_types: Type.Optional(Type.Union([CommaList, Type.Array(Type.String())])),
});

/** An endpoint with a message's status there (`listAttemptedDestinations`). */
export const MessageEndpointOut = Type.Object(
  {
    id: Type.String(),
    uid: Nullable(Type.String()),
    url: Type.String(),
    description: Type.String(),
    disabled: Type.Boolean(),
    eventTypes: Nullable(Type.Array(Type.String())),
    channels: Nullable(Type.Array(Type.String())),
    throttleRate: Nullable(Type.Integer()),
    rateLimit: Nullable(Type.Integer()),
    createdAt: DateTime,
    updatedAt: DateTime,
    status: DeliveryStatusSchema,
    statusText: StatusText,
    nextAttempt: Nullable(DateTime),
  },
  { $id: 'MessageEndpointOut' },
);

export const ReplayWindowIn = Type.Object(
  { since: DateTime, until: Type.Optional(Nullable(DateTime)) },
  { $id: 'EndpointReplayIn' },
);
export type ReplayWindowIn = Static<typeof ReplayWindowIn>;

export const BulkReplayIn = Type.Object(
  {
    since: DateTime,
    until: Type.Optional(Nullable(DateTime)),
    eventTypes: Type.Optional(Nullable(Type.Array(EventTypeName, { maxItems: 256 }))),
    channel: Type.Optional(Nullable(Type.String({ pattern: UID_PATTERN, maxLength: 128 }))),
    tag: Type.Optional(Nullable(Type.String({ pattern: UID_PATTERN, maxLength: 128 }))),
    status: Type.Optional(Nullable(DeliveryStatusSchema)),
    statusCodeClass: Type.Optional(
      Nullable(Type.Union([0, 100, 200, 300, 400, 500].map((c) => Type.Literal(c)))),
    ),
  },
  { $id: 'BulkReplayIn' },
);
export type BulkReplayIn = Static<typeof BulkReplayIn>;

export const MessagePrecheckIn = Type.Object(
  { eventType: EventTypeName, channels: Type.Optional(Nullable(ChannelList)) },
  { $id: 'MessagePrecheckIn' },
);
export const MessagePrecheckOut = Type.Object(
  { active: Type.Boolean({ description: 'Some enabled endpoint would get such a message' }) },
  { $id: 'MessagePrecheckOut' },
);

/** The most ids one bulk expunge takes. */
export const BULK_EXPUNGE_MAX = 1000;
export const BulkExpungeContentsIn = Type.Object(
  { ids: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: BULK_EXPUNGE_MAX })) },
  { $id: 'BulkExpungeContentsIn' },
);
export const BulkExpungeContentsOut = Type.Object(
  {
    results: Type.Record(Type.String(), Type.Union([Type.Literal('expunged'), Type.Literal('not-found')])),
  },
  { $id: 'BulkExpungeContentsOut' },
);

export const CancelMsgsIn = Type.Object({ createdBefore: DateTime }, { $id: 'CancelMsgsIn' });

export const EndpointThrottleRateStatusOut = Type.Object(
  {
    status: Type.Union([Type.Literal('Ok'), Type.Literal('RateLimited')]),
    throttledSince: Nullable(DateTime),
  },
  { $id: 'EndpointThrottleRateStatusOut' },
);

export const MessageRawPayloadOut = Type.Object(
  { payload: Type.String({ description: 'The payload exactly as stored (JSON text)' }) },
  { $id: 'MessageRawPayloadOut' },
);

export const CountOut = Type.Object(
  { count: Type.Integer({ minimum: 0 }), approximated: Type.Boolean() },
  { $id: 'CountOut' },
);

export const AttemptCountQuery = Type.Object({
  status: Type.Optional(DeliveryStatusSchema),
  status_code_class: Type.Optional(Type.Integer({ minimum: 0, maximum: 500 })),
  channel: Type.Optional(Type.String()),
  before: Type.Optional(Nullable(DateTime)),
  after: Type.Optional(Nullable(DateTime)),
  event_types: Type.Optional(Type.Union([CommaList, Type.Array(Type.String())])),
});

export const MessageAttemptHeadersOut = Type.Object(
  {
    sentHeaders: Type.Record(Type.String(), Type.String()),
    responseHeaders: Nullable(Type.Array(Type.Array(Type.String(), { minItems: 2, maxItems: 2 }))),
    sensitive: Type.Array(Type.String(), { description: 'Headers whose values are masked in sentHeaders' }),
  },
  { $id: 'MessageAttemptHeadersOut' },
);

export const EventsQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250, default: 50 })),
  iterator: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
  event_types: Type.Optional(Type.Union([CommaList, Type.Array(Type.String())])),
  channels: Type.Optional(Type.Union([CommaList, Type.Array(Type.String())])),
  after: Type.Optional(Nullable(DateTime)),
});

export const MessageEventsOut = Type.Object(
  {
    data: Type.Array(MessageOut),
    iterator: Type.String({ description: 'Pass it back to get the messages that come next' }),
    done: Type.Boolean(),
  },
  { $id: 'MessageEventsOut' },
);

export const MessageSearchIn = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
    iterator: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
    channel: Type.Optional(Nullable(Type.String({ maxLength: 128 }))),
    before: Type.Optional(Nullable(DateTime)),
    after: Type.Optional(Nullable(DateTime)),
    with_content: Type.Optional(Type.Boolean()),
    tag: Type.Optional(Nullable(Type.String({ maxLength: 128 }))),
    event_types: Type.Optional(Nullable(Type.Array(EventTypeName, { maxItems: 256 }))),
  },
  { $id: 'MessageSearchIn' },
);
