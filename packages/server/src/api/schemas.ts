/**
 * Request and response schemas of the management API. The same objects validate requests
 * (Ajv, through Fastify) and describe the API in `/openapi.json` (through @fastify/swagger).
 *
 * Field names follow the Svix API. Where the v1 and v2 Svix clients spell a field differently
 * (`filterTypes`/`eventTypes`, `rateLimit`/`throttleRate`) both spellings are accepted, and
 * responses carry both.
 */
import Type, { type Static, type TSchema } from 'typebox';
import {
  BACKGROUND_TASK_KINDS,
  BACKGROUND_TASK_STATUSES,
  DELIVERY_STATUS_CODES,
  DELIVERY_STATUS_NAMES,
  ENDPOINT_KINDS,
  INBOUND_STATUSES,
  SOURCE_DESTINATION_KINDS,
  SOURCE_SCHEMES,
  TRIGGER_TYPE_CODES,
} from '../core/enums.ts';
import { SECRET_PATTERN, UID_PATTERN } from '../core/formats.ts';

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Uid = Type.String({
  pattern: UID_PATTERN,
  maxLength: 256,
  description: 'Your own id for it: 1–256 of [a-zA-Z0-9-_.]',
});
const Metadata = Type.Record(Type.String(), Type.String());
export const DateTime = Type.String({ format: 'date-time' });
export const NameList = Type.Array(Type.String({ pattern: UID_PATTERN, maxLength: 256 }), {
  minItems: 1,
  maxItems: 256,
});
export const ChannelList = Type.Array(Type.String({ pattern: UID_PATTERN, maxLength: 128 }), {
  minItems: 1,
  maxItems: 10,
});

export const ErrorOut = Type.Object({ code: Type.String(), detail: Type.String() }, { $id: 'HttpError' });
export const ValidationErrorOut = Type.Object(
  {
    code: Type.Optional(
      Type.String({
        description: 'Set for a coded field error such as `payload_invalid`; absent for plain validation',
      }),
    ),
    detail: Type.Array(
      Type.Object({
        loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
        msg: Type.String(),
        type: Type.String(),
      }),
    ),
  },
  { $id: 'HTTPValidationError' },
);

// ---- pagination -------------------------------------------------------------------------
export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250, default: 50 })),
  iterator: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
  order: Type.Optional(Type.Union([Type.Literal('ascending'), Type.Literal('descending')])),
});
export type ListQuery = Static<typeof ListQuery>;

/** A page of `T`, as `listOf(T)` describes it. */
export type ListOut<T> = Omit<Static<ReturnType<typeof listOf>>, 'data'> & { data: T[] };
export const listOf = <T extends TSchema>(item: T, name: string) =>
  Type.Object(
    {
      data: Type.Array(item),
      iterator: Nullable(Type.String()),
      prevIterator: Nullable(Type.String()),
      done: Type.Boolean(),
    },
    { $id: `ListResponse_${name}_` },
  );

// ---- applications -----------------------------------------------------------------------
export const ApplicationIn = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    uid: Type.Optional(Nullable(Uid)),
    throttleRate: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 65535 }))),
    rateLimit: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 65535 }))),
    metadata: Type.Optional(Metadata),
  },
  { $id: 'ApplicationIn' },
);
export type ApplicationIn = Static<typeof ApplicationIn>;
export const ApplicationPatch = Type.Partial(ApplicationIn, { $id: 'ApplicationPatch' });
export type ApplicationPatch = Static<typeof ApplicationPatch>;
export const ApplicationOut = Type.Object(
  {
    id: Type.String(),
    uid: Nullable(Type.String()),
    name: Type.String(),
    throttleRate: Nullable(Type.Integer()),
    rateLimit: Nullable(Type.Integer()),
    metadata: Metadata,
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'ApplicationOut' },
);
export type ApplicationOut = Static<typeof ApplicationOut>;

// ---- endpoints --------------------------------------------------------------------------
const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: 65536 }),
  description: Type.String({ maxLength: 65536 }),
  uid: Nullable(Uid),
  disabled: Type.Boolean(),
  eventTypes: Nullable(NameList),
  filterTypes: Nullable(NameList),
  channels: Nullable(ChannelList),
  throttleRate: Nullable(Type.Integer({ minimum: 0, maximum: 65535 })),
  rateLimit: Nullable(Type.Integer({ minimum: 0, maximum: 65535 })),
  metadata: Metadata,
  version: Type.Integer({ minimum: 1 }),
  svixHeaders: Type.Boolean({ description: 'Hookline: also send svix-id/-timestamp/-signature copies.' }),
  fifo: Type.Boolean({
    description:
      'Hookline: strict FIFO. One delivery at a time, in message order; a retry holds back the ones behind it.',
  }),
  timeout: Nullable(
    Type.Integer({
      minimum: 1,
      maximum: 300,
      description:
        "Hookline: seconds one request to this endpoint may take before the attempt fails as a timeout; null: the server's HOOKLINE_DELIVERY_TIMEOUT.",
    }),
  ),
};
const SecretTypeIn = Type.Union([Type.Literal('hmac-sha256'), Type.Literal('ed25519')], {
  description:
    'Hookline: the kind of secret generated when none is given: hmac-sha256 (whsec_, v1 signatures, the default) or ed25519 (whsk_, v1a signatures; receivers verify with the public key)',
});
// The closed sets of core/enums.ts are `{type, enum}`: validation refuses other values with a 422
// that lists the allowed ones, and /openapi.json shows them to clients and SDK generators.
const EndpointKindSchema = Type.Enum(ENDPOINT_KINDS, {
  type: 'string',
  description:
    'Hookline: `http` (default) delivers to `url`; `listen` delivers to a connected `hookline listen` client, which forwards to `url` on its machine; `slack`, `discord` and `teams` post each message, rendered as a chat message of that platform and unsigned, to the incoming-webhook `url`; `poller` is a polling endpoint: nothing is sent to it (`url` is kept, never called), its consumers read its messages through `/app/{app_id}/poller/{endpoint_id}`.',
});
const EndpointTemplate = Nullable(
  Type.Record(Type.String(), Type.Unknown(), {
    description:
      "Hookline, chat destinations only: the message body as a JSON object whose string values are Liquid templates, rendered against {eventType, msgId, timestamp, payload, link, endpoint: {id, uid, description}}. Null: the platform's default message.",
  }),
);
const Headers = Type.Record(Type.String({ pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$" }), Type.String());
export const EndpointIn = Type.Object(
  {
    url: endpointFields.url,
    description: Type.Optional(endpointFields.description),
    uid: Type.Optional(endpointFields.uid),
    disabled: Type.Optional(endpointFields.disabled),
    eventTypes: Type.Optional(endpointFields.eventTypes),
    filterTypes: Type.Optional(endpointFields.filterTypes),
    channels: Type.Optional(endpointFields.channels),
    throttleRate: Type.Optional(endpointFields.throttleRate),
    rateLimit: Type.Optional(endpointFields.rateLimit),
    metadata: Type.Optional(endpointFields.metadata),
    version: Type.Optional(endpointFields.version),
    secret: Type.Optional(Nullable(Type.String({ pattern: SECRET_PATTERN }))),
    secretType: Type.Optional(SecretTypeIn),
    headers: Type.Optional(Nullable(Headers)),
    svixHeaders: Type.Optional(endpointFields.svixHeaders),
    kind: Type.Optional(EndpointKindSchema),
    template: Type.Optional(EndpointTemplate),
    fifo: Type.Optional(endpointFields.fifo),
    timeout: Type.Optional(endpointFields.timeout),
  },
  { $id: 'EndpointIn' },
);
export type EndpointIn = Static<typeof EndpointIn>;
/** Any field of EndpointIn but the ones with routes of their own (headers) or used only on create. */
export const EndpointPatch = Type.Partial(Type.Omit(EndpointIn, ['secretType', 'headers']), {
  $id: 'EndpointPatch',
});
export type EndpointPatch = Static<typeof EndpointPatch>;
export const EndpointOut = Type.Object(
  {
    id: Type.String(),
    uid: Nullable(Type.String()),
    url: Type.String(),
    description: Type.String(),
    disabled: Type.Boolean(),
    eventTypes: Nullable(Type.Array(Type.String())),
    filterTypes: Nullable(Type.Array(Type.String())),
    channels: Nullable(Type.Array(Type.String())),
    throttleRate: Nullable(Type.Integer()),
    rateLimit: Nullable(Type.Integer()),
    metadata: Metadata,
    version: Type.Integer(),
    svixHeaders: Type.Boolean(),
    kind: EndpointKindSchema,
    template: EndpointTemplate,
    fifo: Type.Boolean(),
    timeout: endpointFields.timeout,
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'EndpointOut' },
);
export type EndpointOut = Static<typeof EndpointOut>;
export const EndpointSecretOut = Type.Object({ key: Type.String() }, { $id: 'EndpointSecretOut' });
export type EndpointSecretOut = Static<typeof EndpointSecretOut>;
export const EndpointPublicKeyOut = Type.Object(
  {
    key: Type.String({
      description: 'whpk_ + base64 of the Ed25519 public key that verifies v1a signatures',
    }),
    activeKeys: Type.Array(Type.String(), {
      description:
        'Public keys of every secret still signing (the current one first, then those in their grace period)',
    }),
  },
  { $id: 'EndpointPublicKeyOut' },
);
export const EndpointSecretRotateIn = Type.Object(
  {
    key: Type.Optional(Nullable(Type.String({ pattern: SECRET_PATTERN }))),
    secretType: Type.Optional(SecretTypeIn),
    gracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 86400 })),
  },
  { $id: 'EndpointSecretRotateIn' },
);
export type EndpointSecretRotateIn = Static<typeof EndpointSecretRotateIn>;
export const EndpointHeadersIn = Type.Object({ headers: Headers }, { $id: 'EndpointHeadersIn' });
export const EndpointHeadersPatchIn = Type.Object(
  { headers: Type.Record(Type.String(), Nullable(Type.String())) },
  { $id: 'EndpointHeadersPatchIn' },
);
export const EndpointHeadersOut = Type.Object(
  { headers: Type.Record(Type.String(), Type.String()), sensitive: Type.Array(Type.String()) },
  { $id: 'EndpointHeadersOut' },
);
export const RecoverIn = Type.Object(
  { since: DateTime, until: Type.Optional(Nullable(DateTime)) },
  { $id: 'RecoverIn' },
);
const TaskStatusSchema = Type.Enum(BACKGROUND_TASK_STATUSES, { type: 'string' });
const TaskKindSchema = Type.Enum(BACKGROUND_TASK_KINDS, { type: 'string' });
export const BackgroundTaskOut = Type.Object(
  {
    id: Type.String(),
    status: TaskStatusSchema,
    task: TaskKindSchema,
    data: Type.Record(Type.String(), Type.Unknown()),
    updatedAt: DateTime,
  },
  { $id: 'BackgroundTaskOut' },
);
export const BackgroundTaskListQuery = Type.Object({
  ...ListQuery.properties,
  app_id: Type.Optional(
    Type.String({
      description:
        "Only this application's tasks, by id or uid (a Hookline extension; an application token sees only its own anyway)",
    }),
  ),
  status: Type.Optional(TaskStatusSchema),
  task: Type.Optional(TaskKindSchema),
});
export type BackgroundTaskOut = Static<typeof BackgroundTaskOut>;
export const EndpointStatsOut = Type.Object(
  {
    success: Type.Integer(),
    pending: Type.Integer(),
    sending: Type.Integer(),
    fail: Type.Integer(),
    canceled: Type.Integer(),
  },
  { $id: 'EndpointStats' },
);
/** An endpoint's health over time (`.../stats/series`, see api/stats.ts). */
const SeriesBucketOut = Type.Object(
  {
    start: Type.String({ format: 'date-time' }),
    attempts: Type.Integer({ description: 'Attempts made in this bucket.' }),
    successes: Type.Integer({ description: 'Attempts answered with a 2xx.' }),
    p50Ms: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Median duration; null when no attempts.',
    }),
    p95Ms: Type.Union([Type.Integer(), Type.Null()], {
      description: '95th percentile duration (nearest rank); null when no attempts.',
    }),
  },
  { $id: 'EndpointSeriesBucket' },
);
export const SeriesOut = Type.Object(
  {
    since: Type.String({ format: 'date-time', description: 'Start of the first bucket.' }),
    until: Type.String({ format: 'date-time' }),
    bucketSeconds: Type.Integer(),
    disabled: Type.Boolean(),
    failingSince: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the endpoint started failing without a success since; null when healthy.',
    }),
    data: Type.Array(SeriesBucketOut, { description: 'Every bucket of the window, oldest first.' }),
  },
  { $id: 'EndpointSeriesOut' },
);
export type SeriesOut = Static<typeof SeriesOut>;

export const CONCURRENCY_STATES = ['steady', 'increasing', 'backed_off', 'paused'] as const;
export const EndpointConcurrencyOut = Type.Object(
  {
    scope: Type.Literal('process', {
      description:
        'Every process that delivers keeps its own view: this is what the process that answered knows. With several workers (PostgreSQL), ask each, or read it as a sample.',
    }),
    delivering: Type.Boolean({
      description:
        'The answering process sends deliveries (role `all` or `worker`); an `api` process knows nothing.',
    }),
    adaptive: Type.Boolean({ description: 'false when HOOKLINE_ADAPTIVE_CONCURRENCY=false: a fixed limit.' }),
    limit: Type.Integer({
      description: 'Requests this process may have in flight to the endpoint (none while paused).',
    }),
    min: Type.Integer(),
    max: Type.Integer({ description: 'HOOKLINE_ENDPOINT_CONCURRENCY.' }),
    state: Type.Enum(CONCURRENCY_STATES, {
      description:
        'steady: at the maximum; increasing: growing back after a back-off; backed_off: cut after an overload signal; paused: nothing is sent until `pausedUntil`.',
    }),
    reason: Type.String({
      description:
        'Why, in words: "backed off after HTTP 503", "paused until … by Retry-After on HTTP 429", …',
    }),
    pausedUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    latencyMs: Type.Union([
      Type.Object({
        recent: Type.Integer({ description: 'Smoothed duration of recent 2xx answers.' }),
        usual: Type.Integer({ description: 'The lowest recent one: the endpoint unloaded.' }),
      }),
      Type.Null(),
    ]),
    changedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    inFlight: Type.Integer({ description: 'Requests this process has in flight to the endpoint.' }),
    waiting: Type.Integer({ description: 'Deliveries this process holds in hand for it.' }),
  },
  { $id: 'EndpointConcurrencyOut' },
);
export type EndpointConcurrencyOut = Static<typeof EndpointConcurrencyOut>;

export const StatsQuery = Type.Object({
  since: Type.Optional(Nullable(DateTime)),
  until: Type.Optional(Nullable(DateTime)),
});

// ---- event types ------------------------------------------------------------------------
const Schemas = Type.Record(Type.String(), Type.Unknown());
export const EventTypeIn = Type.Object(
  {
    name: Type.String({ pattern: UID_PATTERN, maxLength: 256 }),
    description: Type.String({ maxLength: 65536 }),
    archived: Type.Optional(Type.Boolean()),
    deprecated: Type.Optional(Type.Boolean()),
    schemas: Type.Optional(Nullable(Schemas)),
    groupName: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
    featureFlags: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 256 })))),
    featureFlag: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
    validatePayload: Type.Optional(
      Nullable(
        Type.Boolean({
          description:
            "Check message payloads against the newest of `schemas` on publish (422 payload_invalid); null: the server's HOOKLINE_VALIDATE_PAYLOADS. A Hookline extension.",
        }),
      ),
    ),
  },
  { $id: 'EventTypeIn' },
);
export type EventTypeIn = Static<typeof EventTypeIn>;
/** PUT: EventTypeIn without the name (it is in the path). */
export const EventTypeUpdate = Type.Omit(EventTypeIn, ['name'], { $id: 'EventTypeUpdate' });
export type EventTypeUpdate = Static<typeof EventTypeUpdate>;
export const EventTypePatch = Type.Partial(EventTypeUpdate, { $id: 'EventTypePatch' });
export type EventTypePatch = Static<typeof EventTypePatch>;
export const EventTypeOut = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    archived: Type.Boolean(),
    deprecated: Type.Boolean(),
    schemas: Nullable(Schemas),
    groupName: Nullable(Type.String()),
    featureFlags: Nullable(Type.Array(Type.String())),
    featureFlag: Nullable(Type.String()),
    validatePayload: Nullable(Type.Boolean()),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'EventTypeOut' },
);
export type EventTypeOut = Static<typeof EventTypeOut>;
export const EventTypeListQuery = Type.Object({
  ...ListQuery.properties,
  include_archived: Type.Optional(Type.Boolean()),
  with_content: Type.Optional(Type.Boolean()),
});

// ---- messages ---------------------------------------------------------------------------
export const MessageIn = Type.Object(
  {
    eventType: Type.String({ pattern: UID_PATTERN, maxLength: 256 }),
    payload: Type.Record(Type.String(), Type.Unknown(), {
      description: 'The JSON object every endpoint receives.',
    }),
    eventId: Type.Optional(Nullable(Uid)),
    channels: Type.Optional(Nullable(ChannelList)),
    tags: Type.Optional(
      Nullable(Type.Array(Type.String({ pattern: UID_PATTERN, maxLength: 128 }), { maxItems: 5 })),
    ),
    payloadRetentionPeriod: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 90 }))),
    payloadRetentionHours: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    deliverAt: Type.Optional(Nullable(DateTime)),
    application: Type.Optional(Nullable(ApplicationIn)),
    transformationsParams: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
    orderingKey: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: 256,
          // Sent back as the webhook-ordering-key header: printable ASCII, no space at either end.
          pattern: '^[!-~]([ -~]*[!-~])?$',
          description:
            'Hookline extension. Deliveries of messages with the same key to the same endpoint go out one at a time, in publish order, each with a webhook-sequence header (1, 2, ... per endpoint and key); other keys and unkeyed messages are not held up.',
        }),
      ),
    ),
  },
  { $id: 'MessageIn' },
);
export type MessageIn = Static<typeof MessageIn>;
export const MessageOut = Type.Object(
  {
    id: Type.String(),
    eventId: Nullable(Type.String()),
    eventType: Type.String(),
    payload: Type.Record(Type.String(), Type.Unknown()),
    channels: Nullable(Type.Array(Type.String())),
    tags: Nullable(Type.Array(Type.String())),
    timestamp: DateTime,
    orderingKey: Type.Optional(
      Type.String({ description: 'Hookline extension: the ordering key, when set.' }),
    ),
  },
  { $id: 'MessageOut' },
);
export type MessageOut = Static<typeof MessageOut>;
export const WithContentQuery = Type.Object({ with_content: Type.Optional(Type.Boolean()) });
export const CommaList = Type.String({ description: 'Comma-separated list' });
export const MessageListQuery = Type.Object({
  ...ListQuery.properties,
  channel: Type.Optional(Type.String()),
  before: Type.Optional(Nullable(DateTime)),
  after: Type.Optional(Nullable(DateTime)),
  with_content: Type.Optional(Type.Boolean()),
  tag: Type.Optional(Type.String()),
  event_types: Type.Optional(Type.Union([CommaList, Type.Array(Type.String())])),
});
export type MessageListQuery = Static<typeof MessageListQuery>;

// ---- attempts ---------------------------------------------------------------------------
export const DeliveryStatusSchema = Type.Enum(DELIVERY_STATUS_CODES, {
  type: 'integer',
  description: '0 success, 1 pending, 2 fail, 3 sending, 4 canceled',
});
export const AttemptOut = Type.Object(
  {
    id: Type.String(),
    msgId: Type.String(),
    endpointId: Type.String(),
    url: Type.String(),
    response: Type.String(),
    responseStatusCode: Type.Integer(),
    responseDurationMs: Type.Integer(),
    status: DeliveryStatusSchema,
    statusText: Type.Enum(DELIVERY_STATUS_NAMES, { type: 'string', description: 'The name of `status`' }),
    triggerType: Type.Enum(TRIGGER_TYPE_CODES, { type: 'integer', description: '0 scheduled, 1 manual' }),
    timestamp: DateTime,
    msg: Type.Optional(MessageOut),
  },
  { $id: 'MessageAttemptOut' },
);
export type AttemptOut = Static<typeof AttemptOut>;
export const AttemptDetailOut = Type.Object(
  {
    ...AttemptOut.properties,
    requestHeaders: Type.Record(Type.String(), Type.String()),
    requestBody: Nullable(
      Type.String({
        description:
          'Hookline: the body sent when it was not the message payload (the rendered message of a chat destination); null when the payload was sent as stored.',
      }),
    ),
    responseHeaders: Type.Record(Type.String(), Type.String()),
  },
  { $id: 'MessageAttemptDetailOut' },
);
export type AttemptDetailOut = Static<typeof AttemptDetailOut>;
export const AttemptListQuery = Type.Object({
  ...ListQuery.properties,
  status: Type.Optional(DeliveryStatusSchema),
  status_code_class: Type.Optional(Type.Integer({ minimum: 0, maximum: 500 })),
  channel: Type.Optional(Type.String()),
  tag: Type.Optional(Type.String()),
  endpoint_id: Type.Optional(Type.String()),
  before: Type.Optional(Nullable(DateTime)),
  after: Type.Optional(Nullable(DateTime)),
  with_content: Type.Optional(Type.Boolean()),
  with_msg: Type.Optional(Type.Boolean()),
  expanded_statuses: Type.Optional(Type.Boolean()),
  event_types: Type.Optional(Type.Union([CommaList, Type.Array(Type.String())])),
});
export type AttemptListQuery = Static<typeof AttemptListQuery>;

// ---- inbound sources --------------------------------------------------------------------
const SourceName = Type.String({
  pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$',
  description: 'Unique and URL-safe: the provider posts to /in/{name}. 1–128 of [a-zA-Z0-9_.-].',
});
const HeaderName = Type.String({ pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$", maxLength: 256 });
const JsonPath = Type.String({
  pattern: '^[^.]+(\\.[^.]+)*$',
  maxLength: 256,
  description: 'Dotted path into a JSON body, e.g. data.object.id',
});
const HmacSettings = Type.Object(
  {
    header: HeaderName,
    algorithm: Type.Optional(
      Type.Union([Type.Literal('sha1'), Type.Literal('sha256'), Type.Literal('sha512')]),
    ),
    encoding: Type.Optional(Type.Union([Type.Literal('hex'), Type.Literal('base64')])),
    prefix: Type.Optional(Type.String({ maxLength: 64 })),
    template: Type.Optional(Type.String({ maxLength: 256 })),
    timestampHeader: Type.Optional(HeaderName),
    timestampUnit: Type.Optional(Type.Union([Type.Literal('seconds'), Type.Literal('milliseconds')])),
    idHeader: Type.Optional(HeaderName),
    secretEncoding: Type.Optional(
      Type.Union([Type.Literal('utf8'), Type.Literal('base64'), Type.Literal('hex')]),
    ),
  },
  { additionalProperties: false, description: 'Settings of the generic HMAC scheme (scheme "hmac").' },
);
export const SourceVerificationIn = Type.Object(
  {
    scheme: Type.Enum(SOURCE_SCHEMES, {
      type: 'string',
      description:
        'A provider scheme of @hookline/receiver, hmac (generic, configured by `hmac`) or none (accept every request)',
    }),
    secrets: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), {
        maxItems: 5,
        description: 'Newest first; any of them verifies (for a provider-side rotation). Never returned.',
      }),
    ),
    tolerance: Type.Optional(
      Nullable(
        Type.Integer({ minimum: 0, maximum: 7 * 86400, description: "Seconds; null: the scheme's default" }),
      ),
    ),
    url: Type.Optional(
      Nullable(Type.String({ format: 'uri', maxLength: 2048, description: 'Public URL (Twilio)' })),
    ),
    hmac: Type.Optional(Nullable(HmacSettings)),
  },
  { additionalProperties: false },
);
const RequestFieldIn = {
  header: Type.Optional(Nullable(HeaderName)),
  jsonPath: Type.Optional(Nullable(JsonPath)),
};
export const DedupeIn = Type.Object(
  {
    ...RequestFieldIn,
    windowSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 86400, default: 86400 })),
  },
  {
    additionalProperties: false,
    description:
      'Requests with the same key within the window of an accepted one are answered 200 and not forwarded. Without header or jsonPath the key is the id the scheme reports (webhook-id, Stripe event id, X-GitHub-Delivery, ...).',
  },
);
const SourceDestinationKindSchema = Type.Enum(SOURCE_DESTINATION_KINDS, {
  type: 'string',
  description:
    '`http` (default) forwards the request as it came, signed by Hookline; `slack`, `discord` and `teams` post it as a chat message of that platform (its JSON body rendered, unsigned) to the incoming-webhook `url`.',
});
export const SourceDestinationIn = Type.Object(
  {
    id: Type.Optional(
      Type.String({ description: 'Keep an existing destination (and its history) on update' }),
    ),
    url: Type.String({ minLength: 1, maxLength: 65536 }),
    headers: Type.Optional(Nullable(Headers)),
    eventTypes: Type.Optional(
      Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 256 })),
    ),
    disabled: Type.Optional(Type.Boolean()),
    kind: Type.Optional(SourceDestinationKindSchema),
    template: Type.Optional(EndpointTemplate),
  },
  { additionalProperties: false },
);
const ChallengeIn = Type.Object(
  {
    preset: Type.Optional(
      Type.Union([Type.Literal('graph'), Type.Literal('dropbox'), Type.Literal('zoom'), Type.Null()], {
        description:
          'graph (Microsoft Graph validationToken), dropbox (GET ?challenge=) or zoom (endpoint.url_validation); fields given here override it',
      }),
    ),
    method: Type.Optional(
      Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('ANY')], {
        description: 'The method the challenge comes with (default ANY)',
      }),
    ),
    query: Type.Optional(
      Nullable(Type.String({ minLength: 1, maxLength: 256, description: 'The query parameter holding it' })),
    ),
    jsonPath: Type.Optional(Nullable(JsonPath)),
    when: Type.Optional(
      Nullable(
        Type.Object(
          { jsonPath: JsonPath, equals: Type.String({ maxLength: 1024 }) },
          {
            additionalProperties: false,
            description: 'Only when this JSON path of the body equals `equals`',
          },
        ),
      ),
    ),
    respond: Type.Optional(
      Type.Union([Type.Literal('text'), Type.Literal('json')], {
        description: 'text: the value as text/plain; json: {field: value} (default text)',
      }),
    ),
    field: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 256 }))),
    hmacField: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: 256,
          description: 'With json: also this field, holding hex HMAC-SHA256(secret, value)',
        }),
      ),
    ),
    secret: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: 1024,
          description: 'HMAC key (Zoom: the secret token). Kept when omitted on update; never returned.',
        }),
      ),
    ),
    verify: Type.Optional(
      Type.Boolean({ description: "The request must pass the source's verification first (default true)" }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A challenge the provider sends to check the URL; answered at once, logged, never forwarded.',
  },
);
export const SourceHandshakeIn = Type.Object(
  {
    provider: Type.Optional(
      Type.Boolean({
        description:
          "Answer the scheme's own handshakes: Slack url_verification, Discord PING and interaction answer, Salesforce Ack and split (default true)",
      }),
    ),
    discordResponse: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Answer to a forwarded Discord interaction (default {"type":5}, deferred)',
      }),
    ),
    challenge: Type.Optional(Nullable(ChallengeIn)),
  },
  { additionalProperties: false },
);
export type SourceHandshakeIn = Static<typeof SourceHandshakeIn>;
const sourceFields = {
  name: SourceName,
  description: Type.String({ maxLength: 65536 }),
  verification: SourceVerificationIn,
  forwardSecret: Nullable(
    Type.String({
      pattern: SECRET_PATTERN,
      description: 'Signs forwarded requests: whsec_ (HMAC) or whsk_ (Ed25519). Generated when absent.',
    }),
  ),
  dedupe: Nullable(DedupeIn),
  eventType: Nullable(
    Type.Object(RequestFieldIn, {
      additionalProperties: false,
      description: "Where the event type is read from; default: the provider's usual header or field",
    }),
  ),
  maxBodyBytes: Nullable(Type.Integer({ minimum: 1, maximum: 64 * 1024 * 1024 })),
  handshake: SourceHandshakeIn,
  allowedIps: Nullable(
    Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      maxItems: 256,
      description: 'IPs or CIDRs (v4, v6) allowed to post to /in/{name}; null or absent: anyone',
    }),
  ),
  destinations: Type.Array(SourceDestinationIn, { minItems: 1, maxItems: 20 }),
};
export const SourceIn = Type.Object(
  {
    name: sourceFields.name,
    description: Type.Optional(sourceFields.description),
    verification: sourceFields.verification,
    forwardSecret: Type.Optional(sourceFields.forwardSecret),
    dedupe: Type.Optional(sourceFields.dedupe),
    eventType: Type.Optional(sourceFields.eventType),
    maxBodyBytes: Type.Optional(sourceFields.maxBodyBytes),
    handshake: Type.Optional(sourceFields.handshake),
    allowedIps: Type.Optional(sourceFields.allowedIps),
    destinations: sourceFields.destinations,
  },
  { $id: 'SourceIn' },
);
export type SourceIn = Static<typeof SourceIn>;
export const SourcePatch = Type.Partial(Type.Object(sourceFields), { $id: 'SourcePatch' });
export type SourcePatch = Static<typeof SourcePatch>;
const RequestFieldOut = { header: Nullable(Type.String()), jsonPath: Nullable(Type.String()) };
export const SourceOut = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    ingestPath: Type.String({
      description:
        'Where the provider posts: /in/{name}, or /in/{name}/{token} for a source whose URL has a token',
    }),
    appId: Type.String({ description: 'The application whose endpoints are the destinations' }),
    verification: Type.Object({
      scheme: Type.Enum(SOURCE_SCHEMES, { type: 'string' }),
      secretCount: Type.Integer(),
      tolerance: Nullable(Type.Integer()),
      url: Nullable(Type.String()),
      hmac: Nullable(Type.Record(Type.String(), Type.Unknown())),
    }),
    forwardSecretType: Type.String({ description: 'hmac-sha256 or ed25519' }),
    dedupe: Nullable(Type.Object({ ...RequestFieldOut, windowSeconds: Type.Integer() })),
    eventType: Nullable(Type.Object(RequestFieldOut)),
    maxBodyBytes: Nullable(Type.Integer()),
    handshake: Type.Object({
      provider: Type.Boolean(),
      discordResponse: Type.Record(Type.String(), Type.Unknown()),
      challenge: Nullable(
        Type.Object({
          preset: Nullable(Type.String()),
          method: Type.String(),
          query: Nullable(Type.String()),
          jsonPath: Nullable(Type.String()),
          when: Nullable(Type.Object({ jsonPath: Type.String(), equals: Type.String() })),
          respond: Type.String(),
          field: Nullable(Type.String()),
          hmacField: Nullable(Type.String()),
          hasSecret: Type.Boolean(),
          verify: Type.Boolean(),
        }),
      ),
    }),
    allowedIps: Nullable(Type.Array(Type.String())),
    destinations: Type.Array(
      Type.Object({
        id: Type.String(),
        url: Type.String(),
        headers: Type.Record(Type.String(), Type.String()),
        eventTypes: Nullable(Type.Array(Type.String())),
        disabled: Type.Boolean(),
        kind: SourceDestinationKindSchema,
        template: EndpointTemplate,
      }),
    ),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'SourceOut' },
);
export type SourceOut = Static<typeof SourceOut>;
const InboundStatusSchema = Type.Enum(INBOUND_STATUSES, {
  type: 'string',
  description:
    'accepted (verified, forwarded), rejected (failed verification), duplicate (of an accepted one) or handshake (answered at once, never forwarded)',
});
export const InboundEventOut = Type.Object(
  {
    id: Type.String({ description: 'Also the webhook-id destinations receive' }),
    sourceId: Type.String(),
    status: InboundStatusSchema,
    eventType: Type.String(),
    dedupeKey: Nullable(Type.String()),
    duplicateOf: Nullable(Type.String()),
    verification: Nullable(Type.Object({ code: Type.String(), detail: Type.String() })),
    method: Type.String({ description: 'POST, or GET for a challenge that comes as GET' }),
    contentType: Nullable(Type.String()),
    bodySize: Type.Integer(),
    receivedAt: DateTime,
    bodyExpungedAt: Type.Union([DateTime, Type.Null()], {
      description: 'When retention deleted the body and headers (bodySize is then 0); null while kept',
    }),
    messageIds: Nullable(
      Type.Array(Type.String(), {
        description:
          'When the request was split (a Salesforce Outbound Message): the messages it was forwarded as, one per new notification; null when the event id is the message id',
      }),
    ),
  },
  { $id: 'InboundEventOut' },
);
export type InboundEventOut = Static<typeof InboundEventOut>;
export const InboundEventDetailOut = Type.Object(
  {
    ...InboundEventOut.properties,
    headers: Type.Array(Type.Tuple([Type.String(), Type.String()]), {
      description: 'As received: original case and order, repeats kept',
    }),
    body: Type.String(),
    bodyEncoding: Type.Union([Type.Literal('utf8'), Type.Literal('base64')], {
      description: 'utf8 when the bytes are valid UTF-8 text, else base64',
    }),
    attempts: Type.Array(AttemptOut, {
      description: 'The latest forwarding attempts (up to 50, newest first); all of them under /attempt',
    }),
  },
  { $id: 'InboundEventDetailOut' },
);
export type InboundEventDetailOut = Static<typeof InboundEventDetailOut>;
export const InboundEventListQuery = Type.Object({
  ...ListQuery.properties,
  status: Type.Optional(InboundStatusSchema),
  before: Type.Optional(Nullable(DateTime)),
  after: Type.Optional(Nullable(DateTime)),
});
/** Most retries in one schedule, and the longest wait between two attempts. */
const MAX_RETRIES = 50;
const MAX_DELAY_SECS = 7 * 86_400;

export const Duration = Type.Object(
  {
    secs: Type.Integer({ minimum: 0, maximum: MAX_DELAY_SECS }),
    nanos: Type.Integer({ minimum: 0, maximum: 999_999_999 }),
  },
  { $id: 'Duration' },
);
/** An event type's own retry schedule (`/event-type/{name}/retry-schedule`), in Svix's wire form. */
export const RetryScheduleInOut = Type.Object(
  {
    retrySchedule: Type.Optional(
      Nullable(
        Type.Array(Duration, {
          maxItems: MAX_RETRIES,
          description: "Waits after the 1st, 2nd, ... failed attempt; null: the server's schedule",
        }),
      ),
    ),
  },
  { $id: 'RetryScheduleInOut' },
);
export type RetryScheduleInOut = Static<typeof RetryScheduleInOut>;

/** The secret forwarded requests are signed with (`GET /source/{source}/secret`). */
export const SourceSecretOut = Type.Object({
  key: Type.String(),
  publicKey: Type.Union([Type.String(), Type.Null()], {
    description: 'For an Ed25519 (whsk_) secret: the whpk_ key destinations verify with',
  }),
});
export type SourceSecretOut = Static<typeof SourceSecretOut>;
export const SourceSecretRotateIn = Type.Object(
  { ...EndpointSecretRotateIn.properties },
  { $id: 'SourceSecretRotateIn' },
);
export const ReplayIn = Type.Object(
  { destinationId: Type.Optional(Nullable(Type.String({ description: 'Only this destination' }))) },
  { $id: 'ReplayIn' },
);
export const ReplayOut = Type.Object(
  { id: Type.String(), deliveries: Type.Integer({ description: 'Deliveries queued' }) },
  { $id: 'ReplayOut' },
);
export type ReplayOut = Static<typeof ReplayOut>;

// ---- app-scoped tokens (Svix's app portal access) ------------------------------------------
export const APP_TOKEN_MAX_EXPIRY_SECONDS = 10 * 365 * 86_400;
export const AppPortalAccessIn = Type.Object(
  {
    application: Type.Optional(
      Nullable(
        Type.Object(ApplicationIn.properties, {
          description: 'Creates the application (uid: the one in the path) when it does not exist yet',
        }),
      ),
    ),
    expiry: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 1,
          maximum: APP_TOKEN_MAX_EXPIRY_SECONDS,
          description:
            'Seconds the token stays valid (default 7 days; up to 10 years for integrations such as a Zapier app)',
        }),
      ),
    ),
    featureFlags: Type.Optional(
      Nullable(
        Type.Array(Type.String({ maxLength: 256 }), {
          maxItems: 64,
          description: 'Event types carrying a feature flag can be subscribed to only with one of these',
        }),
      ),
    ),
    readOnly: Type.Optional(
      Nullable(Type.Boolean({ description: 'The token can read but not change anything' })),
    ),
  },
  { $id: 'AppPortalAccessIn' },
);
export type AppPortalAccessIn = Static<typeof AppPortalAccessIn>;
export const AppPortalAccessOut = Type.Object(
  {
    url: Type.String({
      description:
        "The application's page in the Hookline dashboard, with the token in the #key= fragment (as Svix's links carry it)",
    }),
    token: Type.String({ description: 'Bearer token for /api/v1/app/{app_id}/... routes only' }),
  },
  { $id: 'AppPortalAccessOut' },
);
/** Svix's longest message token: a year (also the default: Hookline tokens always expire). */
export const MESSAGE_TOKEN_MAX_EXPIRY_SECONDS = 365 * 86_400;
export const CreateTokenIn = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256, description: 'What the token is for' }),
    expiry: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 1,
          maximum: MESSAGE_TOKEN_MAX_EXPIRY_SECONDS,
          description: 'Seconds the token stays valid (default and most: a year)',
        }),
      ),
    ),
  },
  { $id: 'CreateTokenIn' },
);
export const ApiTokenOut = Type.Object(
  {
    id: Type.String(),
    name: Nullable(Type.String()),
    token: Type.String({ description: 'Bearer token for POST /api/v1/app/{app_id}/msg only' }),
    createdAt: DateTime,
    expiresAt: Nullable(DateTime),
    scopes: Nullable(Type.Array(Type.String())),
  },
  { $id: 'ApiTokenOut' },
);
export const ApplicationTokenExpireIn = Type.Object(
  {
    expiry: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 0,
          maximum: 86_400,
          description: 'Seconds until the tokens expire (default 0: at once)',
        }),
      ),
    ),
  },
  { $id: 'ApplicationTokenExpireIn' },
);

// ---- REST Hooks (Zapier, Make, n8n, Pipedream) ---------------------------------------------
const TargetUrl = Type.String({ minLength: 1, maxLength: 65536 });
const EventName = Type.String({ pattern: UID_PATTERN, maxLength: 256 });
export const RestHookIn = Type.Object(
  {
    targetUrl: Type.Optional(TargetUrl),
    target_url: Type.Optional(TargetUrl),
    hookUrl: Type.Optional(TargetUrl),
    event: Type.Optional(EventName),
    eventTypes: Type.Optional(Type.Array(EventName, { minItems: 1, maxItems: 256 })),
    description: Type.Optional(Nullable(Type.String({ maxLength: 65536 }))),
  },
  {
    $id: 'RestHookIn',
    description:
      'The URL to send to (targetUrl, or target_url / hookUrl) and what to send: one event type (event) or several (eventTypes)',
  },
);
export type RestHookIn = Static<typeof RestHookIn>;
export const RestHookOut = Type.Object(
  {
    id: Type.String({ description: 'The subscription id (an endpoint id): keep it to unsubscribe' }),
    targetUrl: Type.String(),
    event: Type.String({ description: 'The first event type subscribed to' }),
    eventTypes: Type.Array(Type.String()),
    description: Type.String(),
    disabled: Type.Boolean({
      description: 'True once the target answered 410 Gone (or the endpoint was disabled otherwise)',
    }),
    createdAt: DateTime,
  },
  { $id: 'RestHookOut' },
);
export const RestHookUnsubscribeIn = Type.Pick(RestHookIn, ['targetUrl', 'target_url', 'hookUrl', 'event'], {
  $id: 'RestHookUnsubscribeIn',
  description: 'Removes every subscription of the application to this URL (only to this event, when given)',
});
export type RestHookUnsubscribeIn = Static<typeof RestHookUnsubscribeIn>;
export const SampleQuery = Type.Object({
  event: Type.String({ pattern: UID_PATTERN, maxLength: 256, description: 'Event type name' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 3 })),
});
export const SampleLimitQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 50, description: 'At most this many (default 50)' }),
  ),
});
export const SamplesOut = Type.Array(Type.Record(Type.String(), Type.Unknown()), {
  description: 'Payloads, newest first, each with an `id` (added when the payload has none)',
});

export const EmptyOut = Type.Object({}, { $id: 'EmptyResponse' });
export const NoContent = Type.Null({ description: 'No content' });

/** Schemas registered once with Fastify so OpenAPI shows them as named components. */
export const SHARED_SCHEMAS = [ErrorOut, ValidationErrorOut];
