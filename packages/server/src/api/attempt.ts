/** `/api/v1/app/{app}/attempt`: the log of every delivery attempt, and resending. */
import Type from 'typebox';
import { notFound } from '../core/errors.ts';
import type { DeliveryStatusCode, Message } from '../core/types.ts';
import type { AttemptFilter } from '../store/store.ts';
import { loadApp } from './application.ts';
import { hiddenEventTypes } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { assertDeliverable, loadEndpoint } from './endpoint.ts';
import { commaList, loadMessage, parseTime } from './message.ts';
import { listOut, pageQuery } from './pagination.ts';
import { AttemptDetailOut, AttemptListQuery, AttemptOut, EmptyOut, ErrorOut, listOf } from './schemas.ts';
import { attemptOut } from './wire.ts';

const tags = ['Message Attempt'];

/** The list filters of the query, and the event types hidden from the caller left out. */
function filterOf(appId: string, q: AttemptListQuery, hidden: string[]): AttemptFilter {
  return {
    appId,
    excludeEventTypes: hidden,
    ...(q.status !== undefined ? { status: q.status as DeliveryStatusCode } : {}),
    ...(q.status_code_class !== undefined ? { statusCodeClass: q.status_code_class } : {}),
    ...(q.channel !== undefined ? { channel: q.channel } : {}),
    eventTypes: commaList(q.event_types),
    before: parseTime(q.before),
    after: parseTime(q.after),
  };
}

export function attemptRoutes(api: Routes, ctx: ApiContext): void {
  const list = async (filter: AttemptFilter, q: AttemptListQuery) => {
    const pq = pageQuery(q, 'desc');
    const page = await ctx.store.listAttempts(filter, pq);
    const withContent = q.with_content !== false;
    const messages = new Map<string, Message>();
    if (q.with_msg) {
      for (const a of page.items) {
        if (!messages.has(a.msgId)) {
          const m = await ctx.store.getMessage(filter.appId, a.msgId);
          if (m) messages.set(a.msgId, m);
        }
      }
    }
    return listOut(
      page,
      pq,
      (a) => a.id,
      (a) => attemptOut(a, messages.get(a.msgId), withContent),
    );
  };

  api.get(
    '/app/:app_id/attempt/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'List attempts made to an endpoint, newest first',
        params: Type.Object({ app_id: Type.String(), endpoint_id: Type.String() }),
        querystring: AttemptListQuery,
        response: { 200: listOf(AttemptOut, 'MessageAttemptOut') },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const hidden = await hiddenEventTypes(ctx.store, req.principal);
      return list({ ...filterOf(app.id, req.query, hidden), endpointId: ep.id }, req.query);
    },
  );

  api.get(
    '/app/:app_id/attempt/msg/:msg_id',
    {
      schema: {
        tags,
        summary: 'List attempts made for a message, newest first',
        params: Type.Object({ app_id: Type.String(), msg_id: Type.String() }),
        querystring: AttemptListQuery,
        response: { 200: listOf(AttemptOut, 'MessageAttemptOut') },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const msg = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      // The message is visible (or loadMessage answered 404): its attempts are too.
      const filter: AttemptFilter = { ...filterOf(app.id, req.query, []), msgId: msg.id };
      if (req.query.endpoint_id) filter.endpointId = (await loadEndpoint(ctx, app, req.query.endpoint_id)).id;
      return list(filter, req.query);
    },
  );

  api.get(
    '/app/:app_id/msg/:msg_id/attempt/:attempt_id',
    {
      schema: {
        tags,
        summary: 'Get one attempt, with the request headers sent and the response headers received',
        params: Type.Object({ app_id: Type.String(), msg_id: Type.String(), attempt_id: Type.String() }),
        response: { 200: AttemptDetailOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const msg = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      const a = await ctx.store.getAttempt(app.id, req.params.attempt_id);
      if (!a || a.msgId !== msg.id) throw notFound('attempt');
      return {
        ...attemptOut(a),
        requestHeaders: a.requestHeaders,
        requestBody: a.requestBody ?? null,
        responseHeaders: a.responseHeaders,
      };
    },
  );

  api.post(
    '/app/:app_id/msg/:msg_id/endpoint/:endpoint_id/resend',
    {
      schema: {
        tags,
        summary: 'Send a message to an endpoint again (same webhook-id)',
        params: Type.Object({ app_id: Type.String(), msg_id: Type.String(), endpoint_id: Type.String() }),
        response: { 202: EmptyOut, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const msg = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      const ep = assertDeliverable(await loadEndpoint(ctx, app, req.params.endpoint_id));
      await ctx.store.resend(msg, ep.id, ctx.ids('delivery'), ctx.clock.now());
      return reply.code(202).send({});
    },
  );
}
