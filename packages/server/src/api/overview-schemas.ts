/**
 * Response schemas of the dashboard's overview routes (`overview.ts`) and live feed (`live.ts`):
 * Hookline extensions, not part of the Svix API. Only TypeBox and the enums here, so the dashboard
 * can import these types without the server's runtime.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { DELIVERY_STATUS_CODES, INBOUND_STATUSES } from '../core/enums.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });

export const OVERVIEW_WINDOWS = {
  '1h': { ms: 3_600_000, bucket: 60 },
  '24h': { ms: 86_400_000, bucket: 900 },
} as const;
export type OverviewWindow = keyof typeof OVERVIEW_WINDOWS;

export const OverviewQuery = Type.Object({
  window: Type.Optional(
    Type.Enum(Object.keys(OVERVIEW_WINDOWS) as OverviewWindow[], {
      type: 'string',
      description: 'The last hour (1-minute buckets, the default) or the last 24 hours (15-minute buckets)',
    }),
  ),
});

export const OverviewOut = Type.Object(
  {
    since: DateTime,
    until: DateTime,
    bucketSeconds: Type.Integer(),
    totals: Type.Object({ attempts: Type.Integer(), successes: Type.Integer() }),
    series: Type.Array(
      Type.Object({ start: DateTime, attempts: Type.Integer(), successes: Type.Integer() }),
      { description: 'Every bucket of the window, oldest first (empty ones included)' },
    ),
    troubledEndpoints: Type.Array(
      Type.Object({
        id: Type.String(),
        appId: Type.String(),
        appName: Type.String(),
        url: Type.String(),
        disabled: Type.Boolean(),
        failingSince: Nullable(DateTime),
        updatedAt: DateTime,
      }),
      { description: 'Failing or disabled endpoints, the longest-failing first' },
    ),
    undelivered: Type.Array(
      Type.Object({
        endpointId: Type.String(),
        appId: Type.String(),
        url: Type.String(),
        count: Type.Integer(),
        oldestAt: DateTime,
        nextAttemptAt: DateTime,
      }),
      { description: 'What waits to be delivered, per endpoint, the oldest backlog first' },
    ),
    recentFailures: Type.Array(
      Type.Object({
        id: Type.String(),
        msgId: Type.String(),
        appId: Type.String(),
        endpointId: Type.String(),
        url: Type.String(),
        responseStatusCode: Type.Integer(),
        eventType: Type.String(),
        timestamp: DateTime,
      }),
    ),
    sources: Type.Array(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        appId: Type.String(),
        accepted: Type.Integer(),
        rejected: Type.Integer(),
        other: Type.Integer({ description: 'Duplicates and handshakes' }),
      }),
      { description: 'Requests each source received in the window (rejected ones as far as they are kept)' },
    ),
  },
  { $id: 'OverviewOut' },
);
export type OverviewOut = Static<typeof OverviewOut>;

/** `event: attempt` of the live feed. */
export const LiveAttemptOut = Type.Object({
  id: Type.String(),
  appId: Type.String(),
  msgId: Type.String(),
  endpointId: Type.String(),
  url: Type.String(),
  eventType: Type.String(),
  status: Type.Enum(DELIVERY_STATUS_CODES, { type: 'integer' }),
  responseStatusCode: Type.Integer(),
  responseDurationMs: Type.Integer(),
  triggerType: Type.Integer(),
  timestamp: DateTime,
});
export type LiveAttemptOut = Static<typeof LiveAttemptOut>;

/** `event: inbound` of the live feed. */
export const LiveInboundOut = Type.Object({
  id: Type.String(),
  appId: Type.String(),
  sourceId: Type.String(),
  sourceName: Type.String(),
  status: Type.Enum(INBOUND_STATUSES, { type: 'string' }),
  eventType: Type.String(),
  method: Type.String(),
  verification: Nullable(Type.Object({ code: Type.String(), detail: Type.String() })),
  receivedAt: DateTime,
});
export type LiveInboundOut = Static<typeof LiveInboundOut>;

export const LiveQuery = Type.Object({
  endpoint: Type.Optional(
    Type.String({ maxLength: 256, description: 'Only attempts to this endpoint (id)' }),
  ),
  msg: Type.Optional(Type.String({ maxLength: 256, description: 'Only attempts of this message (id)' })),
  source: Type.Optional(Type.String({ maxLength: 256, description: 'Only requests to this source (id)' })),
  kinds: Type.Optional(
    Type.String({
      pattern: '^(attempt|inbound)(,(attempt|inbound))*$',
      description: 'attempt, inbound or both (default)',
    }),
  ),
});
export type LiveQuery = Static<typeof LiveQuery>;
