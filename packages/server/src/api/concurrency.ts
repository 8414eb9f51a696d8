/**
 * `GET /api/v1/app/{app}/endpoint/{endpoint}/concurrency`: how many requests the delivery engine
 * sends the endpoint at once right now, and why (it adapts to the endpoint's answers and pauses
 * when the endpoint asks: `delivery/adaptive.ts`). A Hookline extension; Svix has no such route.
 *
 * The state lives in the memory of each process that delivers, so the answer is what the
 * answering process knows (`scope: "process"`).
 */
import Type from 'typebox';
import { loadApp } from './application.ts';
import type { ApiContext, Routes } from './context.ts';
import { loadEndpoint } from './endpoint.ts';
import { EndpointConcurrencyOut, ErrorOut } from './schemas.ts';
import { iso } from './wire.ts';

const Params = Type.Object({
  app_id: Type.String(),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});

export function concurrencyRoutes(api: Routes, ctx: ApiContext): void {
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/concurrency',
    {
      schema: {
        tags: ['Endpoint'],
        summary: "The endpoint's current concurrency and why",
        description:
          "Requests in flight allowed to the endpoint now (adaptive: cut on 429/503/504, timeouts and rising latency, grown back while it answers fast and 2xx), a pause asked for by Retry-After or a used-up rate limit, and this process's requests in flight and in hand. Per process: with several workers each has its own view.",
        params: Params,
        response: { 200: EndpointConcurrencyOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const max = ctx.config.delivery.perEndpointConcurrency;
      const c = ctx.concurrency?.(ep.id) ?? {
        adaptive: ctx.config.delivery.adaptiveConcurrency,
        limit: max,
        min: 1,
        max,
        state: 'steady' as const,
        reason: 'this server does not deliver itself',
        pausedUntil: null,
        latencyMs: null,
        changedAt: null,
        delivering: false,
        inFlight: 0,
        waiting: 0,
      };
      return {
        scope: 'process' as const,
        delivering: c.delivering,
        adaptive: c.adaptive,
        limit: c.limit,
        min: c.min,
        max: c.max,
        state: c.state,
        reason: c.delivering
          ? c.reason
          : 'this process does not deliver (role api): ask a worker, each keeps its own view',
        pausedUntil: c.pausedUntil === null ? null : iso(c.pausedUntil),
        latencyMs: c.latencyMs,
        changedAt: c.changedAt === null ? null : iso(c.changedAt),
        inFlight: c.inFlight,
        waiting: c.waiting,
      };
    },
  );
}
