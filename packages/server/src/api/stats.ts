/**
 * `/api/v1/app/{app}/endpoint/{endpoint}/stats/series`: an endpoint's health over time (attempts,
 * successes and latency percentiles per time bucket), for charts such as the dashboard's.
 * A Hookline extension; Svix has no equivalent route.
 */
import Type, { type Static } from 'typebox';
import { invalid } from '../core/errors.ts';
import { loadApp } from './application.ts';
import type { ApiContext, Routes } from './context.ts';
import { loadEndpoint } from './endpoint.ts';
import { ErrorOut, SeriesOut, ValidationErrorOut } from './schemas.ts';
import { iso } from './wire.ts';

/** At most this many buckets per response, and this long a window: one request stays cheap. */
export const MAX_SERIES_BUCKETS = 500;
export const MAX_SERIES_WINDOW_MS = 28 * 86_400_000;
const DEFAULT_WINDOW_MS = 86_400_000;
const DEFAULT_BUCKETS = 48;

const SeriesParams = Type.Object({
  app_id: Type.String(),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});
const SeriesQuery = Type.Object({
  since: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'Start of the window; default: 24 hours before `until`.',
    }),
  ),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'End of the window; default: now.' })),
  bucket: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 86_400,
      description: `Bucket width in seconds; default: the window split into ${DEFAULT_BUCKETS}. At most ${MAX_SERIES_BUCKETS} buckets per window.`,
    }),
  ),
});
type SeriesQuery = Static<typeof SeriesQuery>;

/** Resolves the window and bucket width; bucket starts are aligned to multiples of the width. */
export function seriesWindow(
  q: SeriesQuery,
  now: number,
): { since: number; until: number; bucketMs: number } {
  const until = q.until !== undefined ? Date.parse(q.until) : now;
  const requestedSince = q.since !== undefined ? Date.parse(q.since) : until - DEFAULT_WINDOW_MS;
  if (requestedSince >= until) throw invalid(['query', 'since'], 'since must be before until');
  if (until - requestedSince > MAX_SERIES_WINDOW_MS)
    throw invalid(['query', 'since'], 'the window may span at most 28 days');
  const bucketMs =
    q.bucket !== undefined
      ? q.bucket * 1000
      : Math.max(1000, Math.ceil((until - requestedSince) / DEFAULT_BUCKETS / 1000) * 1000);
  const since = Math.floor(requestedSince / bucketMs) * bucketMs;
  if (Math.ceil((until - since) / bucketMs) > MAX_SERIES_BUCKETS) {
    throw invalid(
      ['query', 'bucket'],
      `the window would have more than ${MAX_SERIES_BUCKETS} buckets; use a wider bucket or a shorter window`,
    );
  }
  return { since, until, bucketMs };
}

export function statsRoutes(api: Routes, ctx: ApiContext): void {
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/stats/series',
    {
      schema: {
        tags: ['Endpoint'],
        summary: 'Attempts, successes and latency percentiles over time',
        description:
          'Splits the window into buckets of equal width and reports, for each, how many attempts were made, how many succeeded and their p50/p95 duration.',
        params: SeriesParams,
        querystring: SeriesQuery,
        response: { 200: SeriesOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const { since, until, bucketMs } = seriesWindow(req.query, ctx.clock.now());
      const found = new Map(
        (await ctx.store.endpointSeries(ep.id, since, until, bucketMs)).map((b) => [b.start, b]),
      );
      const data = [];
      for (let start = since; start < until; start += bucketMs) {
        const b = found.get(start);
        data.push({
          start: iso(start),
          attempts: b?.attempts ?? 0,
          successes: b?.successes ?? 0,
          p50Ms: b ? b.p50Ms : null,
          p95Ms: b ? b.p95Ms : null,
        });
      }
      return {
        since: iso(since),
        until: iso(until),
        bucketSeconds: bucketMs / 1000,
        disabled: ep.disabled,
        failingSince: ep.failingSince === null ? null : iso(ep.failingSince),
        data,
      };
    },
  );
}
