/**
 * `GET /metrics` in Prometheus text format. Open by default, as Prometheus exporters usually
 * are (the numbers carry no ids or payloads, and Hookline binds to 127.0.0.1 unless told
 * otherwise). With `HOOKLINE_METRICS_TOKEN` set, a scrape needs `Authorization: Bearer <that
 * token>` (or the admin token), which Prometheus sends with `authorization: {credentials: ...}`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HooklineError } from '../core/errors.ts';
import type { Metrics } from '../metrics.ts';
import { hashToken } from './auth.ts';
import type { ApiContext } from './server.ts';

export function metricsRoutes(ctx: ApiContext, metrics: Metrics) {
  const scrapeHash = ctx.config.metricsToken ? hashToken(ctx.config.metricsToken) : null;
  return async (app: FastifyInstance) => {
    app.get(
      '/metrics',
      { schema: { tags: ['Health'], summary: 'Prometheus metrics (text format)', security: [] } },
      async (request, reply) => {
        if (scrapeHash) {
          const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization?.trim() ?? '');
          const given = match ? hashToken(match[1]!) : null;
          if (!given || !(timingSafeEqual(given, scrapeHash) || timingSafeEqual(given, ctx.adminTokenHash))) {
            throw new HooklineError(
              'authentication_failed',
              'this server protects /metrics: send "Authorization: Bearer <HOOKLINE_METRICS_TOKEN>"',
            );
          }
        }
        const text = await metrics.render();
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  };
}
