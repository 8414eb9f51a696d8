/**
 * The dashboard's home: how deliveries are going for the whole instance (`GET /api/v1/overview`,
 * admin token) or one application (`GET /api/v1/app/{app}/overview`), in one request: attempts
 * and successes over time, failing or disabled endpoints, the undelivered backlog per endpoint,
 * recent failures and inbound sources with their accept/reject counts. Hookline extensions;
 * Svix has no equivalent routes. (Where one message stands at each endpoint is Svix's
 * `GET /api/v1/app/{app}/msg/{msg}/endpoint`, in api/sending.ts.)
 */
import Type from 'typebox';
import { loadApp } from './application.ts';
import { hiddenEventTypes, type Principal } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import {
  OVERVIEW_WINDOWS,
  type OverviewOut,
  OverviewOut as OverviewOutSchema,
  OverviewQuery,
  type OverviewWindow,
} from './overview-schemas.ts';
import { ErrorOut, ValidationErrorOut } from './schemas.ts';
import { iso } from './wire.ts';

/** Rows per list of the overview: it is a summary; the lists behind it page through the rest. */
const LIST_LIMIT = 20;

async function overview(
  ctx: ApiContext,
  appId: string | null,
  window: OverviewWindow,
  principal: Principal | undefined,
): Promise<OverviewOut> {
  const { ms, bucket } = OVERVIEW_WINDOWS[window];
  const bucketMs = bucket * 1000;
  const now = ctx.clock.now();
  // Buckets end with the current one, aligned on whole bucket widths.
  const until = (Math.floor(now / bucketMs) + 1) * bucketMs;
  const since = until - ms;
  const s = ctx.store;
  const hidden = await hiddenEventTypes(s, principal);
  const [buckets, troubled, undelivered, failures, sources] = await Promise.all([
    s.activitySeries(appId, since, until, bucketMs),
    s.troubledEndpoints(appId, LIST_LIMIT),
    s.undelivered(appId, LIST_LIMIT),
    s.recentFailures(appId, since, LIST_LIMIT, hidden),
    // An application token sees its own deliveries; sources are the admin's business.
    principal?.kind === 'app' ? Promise.resolve([]) : s.sourceRates(appId, since, LIST_LIMIT),
  ]);
  // `listen` endpoints are a developer's `hookline listen` session: an application token does not
  // see them (as in the endpoint list).
  const visible = <T extends { kind: string }>(list: T[]) =>
    principal?.kind === 'app' ? list.filter((e) => e.kind !== 'listen') : list;
  const found = new Map(buckets.map((b) => [b.start, b]));
  const series = [];
  let attempts = 0;
  let successes = 0;
  for (let start = since; start < until; start += bucketMs) {
    const b = found.get(start);
    attempts += b?.attempts ?? 0;
    successes += b?.successes ?? 0;
    series.push({ start: iso(start), attempts: b?.attempts ?? 0, successes: b?.successes ?? 0 });
  }
  return {
    since: iso(since),
    until: iso(until),
    bucketSeconds: bucket,
    totals: { attempts, successes },
    series,
    troubledEndpoints: visible(troubled).map(({ kind: _kind, ...e }) => ({
      ...e,
      failingSince: e.failingSince === null ? null : iso(e.failingSince),
      updatedAt: iso(e.updatedAt),
    })),
    undelivered: visible(undelivered).map(({ kind: _kind, ...u }) => ({
      ...u,
      oldestAt: iso(u.oldestAt),
      nextAttemptAt: iso(u.nextAttemptAt),
    })),
    recentFailures: failures.map(({ createdAt, ...f }) => ({ ...f, timestamp: iso(createdAt) })),
    sources,
  };
}

export function overviewRoutes(api: Routes, ctx: ApiContext): void {
  const tags = ['Overview'];
  api.get(
    '/overview',
    {
      schema: {
        tags,
        summary: 'How deliveries are going across every application (admin token)',
        querystring: OverviewQuery,
        response: { 200: OverviewOutSchema, 422: ValidationErrorOut },
      },
    },
    async (req) => overview(ctx, null, req.query.window ?? '1h', req.principal),
  );
  api.get(
    '/app/:app_id/overview',
    {
      schema: {
        tags,
        summary: 'How deliveries are going for one application',
        params: Type.Object({ app_id: Type.String() }),
        querystring: OverviewQuery,
        response: { 200: OverviewOutSchema, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      return overview(ctx, app.id, req.query.window ?? '1h', req.principal);
    },
  );
}
