/**
 * Svix's statistics calls: active applications, endpoint counts, an application's attempts by
 * event type and over time, and the usage aggregates that run as background tasks (deliveries
 * per application, messages per event type). Also `GET /auth/whoami`. Everything across
 * applications is admin only (an application token is refused outside its application's routes).
 */
import Type from 'typebox';
import { invalid } from '../core/errors.ts';
import { loadApp } from './application.ts';
import type { BackgroundTasks } from './background-task.ts';
import type { ApiContext, Routes } from './context.ts';
import { commaList } from './message.ts';
import { CommaList, DateTime, ErrorOut, Nullable, ValidationErrorOut } from './schemas.ts';
import { iso } from './wire.ts';

const DAY_MS = 86_400_000;
const PERIOD_MS = { OneDay: DAY_MS, OneHour: 3_600_000, FiveMinutes: 300_000 } as const;
/** At most this many buckets in one attempt series. */
const MAX_BUCKETS = 2000;
const EventTypesQuery = Type.Optional(Type.Union([CommaList, Type.Array(Type.String())]));

const AttemptCountsOut = Type.Object(
  { success: Type.Integer(), failure: Type.Integer(), canceled: Type.Integer() },
  { $id: 'AppAttemptEventTypeStats' },
);
const AppAttemptStatsOut = Type.Object(
  {
    by_event_type: Type.Record(Type.String(), AttemptCountsOut),
    total_success: Type.Integer(),
    total_failure: Type.Integer(),
    total_canceled: Type.Integer(),
    since: DateTime,
    until: DateTime,
  },
  { $id: 'AppAttemptStatsOut' },
);
const Period = Type.Union([Type.Literal('OneDay'), Type.Literal('OneHour'), Type.Literal('FiveMinutes')]);
const AttemptStatisticsResponse = Type.Object(
  {
    startDate: DateTime,
    endDate: DateTime,
    period: Period,
    data: Type.Object({
      successCount: Nullable(Type.Array(Type.Integer())),
      failureCount: Nullable(Type.Array(Type.Integer())),
      canceledCount: Nullable(Type.Array(Type.Integer())),
    }),
  },
  { $id: 'AttemptStatisticsResponse' },
);
const TaskStarted = {
  id: Type.String(),
  status: Type.String(),
  task: Type.String(),
  updatedAt: DateTime,
};

function range(
  since: string | undefined | null,
  until: string | undefined | null,
  now: number,
  loc: string[],
) {
  const u = until ? Date.parse(until) : now;
  const s = since ? Date.parse(since) : u - 28 * DAY_MS;
  if (s >= u) throw invalid([...loc, 'since'], 'since must be before until');
  return { since: s, until: u };
}

export function usageStatsRoutes(api: Routes, ctx: ApiContext, tasks: BackgroundTasks): void {
  api.get(
    '/auth/whoami',
    {
      schema: {
        tags: ['Authentication'],
        summary: 'Who this token is: the admin token, or an application token (and its application)',
        response: {
          200: Type.Object(
            {
              envId: Nullable(Type.String()),
              appId: Nullable(Type.String()),
              permissionSource: Type.String(),
              sessionId: Nullable(Type.String()),
            },
            { $id: 'WhoamiOut' },
          ),
        },
      },
    },
    async (req) => {
      const p = req.principal;
      return p?.kind === 'app'
        ? { envId: null, appId: p.token.appId, permissionSource: 'SvixJwt', sessionId: null }
        : { envId: null, appId: null, permissionSource: 'GlobalAuthToken', sessionId: null };
    },
  );

  api.get(
    '/app/stats/count-active',
    {
      schema: {
        tags: ['Application'],
        summary: 'How many applications have an endpoint (an enabled one, unless exclude_disabled=false)',
        querystring: Type.Object({
          exclude_disabled: Type.Optional(Type.Boolean({ default: true })),
          exclude_svix_play: Type.Optional(Type.Boolean()),
        }),
        response: { 200: Type.Object({ count: Type.Integer() }, { $id: 'ActiveAppCount' }) },
      },
    },
    async (req) => ({ count: await ctx.store.countActiveApps(req.query.exclude_disabled !== false) }),
  );

  api.get(
    '/stats/endpoint/count',
    {
      schema: {
        tags: ['Statistics'],
        summary: 'How many endpoints there are, enabled and disabled',
        querystring: Type.Object({ exclude_svix_play: Type.Optional(Type.Boolean()) }),
        response: {
          200: Type.Object({ active: Type.Integer(), disabled: Type.Integer() }, { $id: 'EndpointCountOut' }),
        },
      },
    },
    async () => ctx.store.countEndpoints(),
  );

  api.get(
    '/app/:app_id/stats/attempts',
    {
      schema: {
        tags: ['Application'],
        summary: "The application's attempts in a window (default the last 28 days), by event type",
        params: Type.Object({ app_id: Type.String() }),
        querystring: Type.Object({
          since: Type.Optional(DateTime),
          until: Type.Optional(DateTime),
          event_types: EventTypesQuery,
        }),
        response: { 200: AppAttemptStatsOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const { since, until } = range(req.query.since, req.query.until, ctx.clock.now(), ['query']);
      const by = await ctx.store.appAttemptStats(app.id, since, until, commaList(req.query.event_types));
      const total = (k: 'success' | 'failure' | 'canceled') =>
        Object.values(by).reduce((n, c) => n + c[k], 0);
      return {
        by_event_type: by,
        total_success: total('success'),
        total_failure: total('failure'),
        total_canceled: total('canceled'),
        since: iso(since),
        until: iso(until),
      };
    },
  );

  api.get(
    '/stats/app/:app_id/attempt',
    {
      schema: {
        tags: ['Statistics'],
        summary: "The application's attempts over time: successes, failures and cancellations per period",
        params: Type.Object({ app_id: Type.String() }),
        querystring: Type.Object({
          startDate: Type.Optional(Nullable(DateTime)),
          endDate: Type.Optional(Nullable(DateTime)),
          period: Type.Optional(Period),
          event_types: EventTypesQuery,
        }),
        response: { 200: AttemptStatisticsResponse, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const period = req.query.period ?? 'OneDay';
      const bucketMs = PERIOD_MS[period];
      const r = range(req.query.startDate, req.query.endDate, ctx.clock.now(), ['query']);
      const since = Math.floor(r.since / bucketMs) * bucketMs;
      const buckets = Math.ceil((r.until - since) / bucketMs);
      if (buckets > MAX_BUCKETS)
        throw invalid(
          ['query', 'period'],
          `the window has more than ${MAX_BUCKETS} periods; use a longer period`,
        );
      const rows = await ctx.store.appAttemptSeries(
        app.id,
        since,
        r.until,
        bucketMs,
        commaList(req.query.event_types),
      );
      const series = (k: 'success' | 'failure' | 'canceled') => {
        const out = new Array<number>(buckets).fill(0);
        for (const row of rows) if (row.bucket < buckets) out[row.bucket] = row[k];
        return out;
      };
      return {
        startDate: iso(since),
        endDate: iso(r.until),
        period,
        data: {
          successCount: series('success'),
          failureCount: series('failure'),
          canceledCount: series('canceled'),
        },
      };
    },
  );

  api.post(
    '/stats/usage/app',
    {
      schema: {
        tags: ['Statistics'],
        summary:
          'Count the message deliveries of each application (or of `appIds`) in a window; runs as a background task whose data is `{appStats: [{appId, appUid, messageDestinations}]}`',
        body: Type.Object(
          {
            since: DateTime,
            until: DateTime,
            appIds: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 1000 }))),
          },
          { $id: 'AppUsageStatsIn' },
        ),
        response: {
          202: Type.Object(
            {
              ...TaskStarted,
              data: Type.Record(Type.String(), Type.Unknown()),
              unresolvedAppIds: Type.Array(Type.String()),
            },
            { $id: 'AppUsageStatsOut' },
          ),
          422: ValidationErrorOut,
        },
      },
    },
    async (req, reply) => {
      const { since, until } = range(req.body.since, req.body.until, ctx.clock.now(), ['body']);
      const apps: { id: string; uid: string | null }[] = [];
      const unresolvedAppIds: string[] = [];
      if (req.body.appIds) {
        for (const idOrUid of req.body.appIds) {
          const a = await ctx.store.getApp(idOrUid);
          if (a) apps.push(a);
          else unresolvedAppIds.push(idOrUid);
        }
      }
      const task = await tasks.start(
        'application.stats',
        null,
        { since: iso(since), until: iso(until), appStats: [] },
        async (progress) => {
          const appStats: { appId: string; appUid: string | null; messageDestinations: number }[] = [];
          const count = async (batch: { id: string; uid: string | null }[]) => {
            const n = await ctx.store.deliveriesPerApp(
              batch.map((a) => a.id),
              since,
              until,
            );
            for (const a of batch)
              appStats.push({ appId: a.id, appUid: a.uid, messageDestinations: n[a.id] ?? 0 });
            await progress({ appStats });
          };
          if (req.body.appIds) await count(apps);
          else {
            let after: string | null = null;
            for (;;) {
              const page = await ctx.store.listApps({ limit: 200, after, before: null, order: 'asc' });
              await count(page.items);
              if (!page.more) break;
              after = page.items.at(-1)!.id;
            }
          }
          return { appStats };
        },
      );
      return reply.code(202).send({ ...task, unresolvedAppIds });
    },
  );

  api.put(
    '/stats/usage/event-types',
    {
      schema: {
        tags: ['Statistics'],
        summary:
          'Count the messages of each event type across applications; runs as a background task whose data is `{eventTypes: [{eventType, messages}]}`',
        response: {
          202: Type.Object(
            { ...TaskStarted, data: Type.Record(Type.String(), Type.Unknown()) },
            { $id: 'AggregateEventTypesOut' },
          ),
        },
      },
    },
    async (_req, reply) => {
      const task = await tasks.start('event-type.aggregate', null, { eventTypes: [] }, async () => ({
        eventTypes: await ctx.store.messagesPerEventType(),
      }));
      return reply.code(202).send(task);
    },
  );
}
