/**
 * `GET /metrics` in Prometheus text format. Open by default, as Prometheus exporters usually
 * are (the numbers carry no ids or payloads, and Hookline binds to 127.0.0.1 unless told
 * otherwise). With `HOOKLINE_METRICS_TOKEN` set, a scrape needs `Authorization: Bearer <that
 * token>` (or the admin token), which Prometheus sends with `authorization: {credentials: ...}`.
 * `HOOKLINE_METRICS_PORT` serves the same on a port of its own, in any role (a worker-only
 * process has no API to serve it on).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { coerceError, HooklineError } from '../core/errors.ts';
import type { Metrics } from '../metrics.ts';
import { type AdminTokenHash, createAdminTokenHash, hashToken } from './auth.ts';
import type { ApiContext } from './context.ts';

/**
 * Checks a scrape's `Authorization` header: passes when no metrics token is configured, or when
 * it carries the metrics token or the admin token. Throws `authentication_failed` otherwise.
 */
export function createScrapeAuth(metricsToken: string | null, admin: AdminTokenHash) {
  const scrapeHash = metricsToken ? hashToken(metricsToken) : null;
  return async (authorization: string | undefined): Promise<void> => {
    if (!scrapeHash) return;
    const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
    const given = match ? hashToken(match[1]!) : null;
    if (!given || !(timingSafeEqual(given, scrapeHash) || timingSafeEqual(given, await admin.current()))) {
      throw new HooklineError(
        'authentication_failed',
        'this server protects /metrics: send "Authorization: Bearer <HOOKLINE_METRICS_TOKEN>"',
      );
    }
  };
}

export function metricsRoutes(ctx: ApiContext, metrics: Metrics) {
  const checkScrape = createScrapeAuth(
    ctx.config.metricsToken,
    createAdminTokenHash(ctx.store, ctx.config.adminToken, ctx.adminTokenHash),
  );
  return async (app: FastifyInstance) => {
    app.get(
      '/metrics',
      { schema: { tags: ['Health'], summary: 'Prometheus metrics (text format)', security: [] } },
      async (request, reply) => {
        await checkScrape(request.headers.authorization);
        const text = await metrics.render();
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  };
}

/** `/metrics` on a plain `node:http` server of its own; anything else is a coded 404. */
export function serveMetrics(
  metrics: Metrics,
  checkScrape: (authorization: string | undefined) => Promise<void>,
  logger: Logger,
) {
  return createServer(async (req, res) => {
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      reply(
        404,
        'application/json',
        JSON.stringify({ code: 'not_found', detail: 'this port serves GET /metrics only' }),
      );
      return;
    }
    try {
      await checkScrape(req.headers.authorization);
    } catch (err) {
      const e = err as HooklineError;
      reply(e.status, 'application/json', JSON.stringify(e.toBody()));
      return;
    }
    metrics.render().then(
      (text) => reply(200, metrics.registry.contentType, text),
      (err: unknown) => {
        logger.error({ err: coerceError(err) }, 'rendering metrics failed');
        reply(
          500,
          'application/json',
          JSON.stringify({ code: 'internal_error', detail: 'see the server log' }),
        );
      },
    );
  });
}

/** Starts `server` on host:port; resolves with its URL. */
export function listenOn(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      resolve(
        `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
      );
    });
  });
}
