/**
 * More of Svix's sending API: canceling an endpoint's queued messages, its rate-limit status,
 * counting its attempts, an attempt's headers, a message's raw payload, a test attempt that
 * answers with the attempt it made, and the polling API (`GET /app/{app}/events`, and
 * `GET /events` across applications) for consumers that cannot receive webhooks.
 */
import Type from 'typebox';
import { HooklineError, notFound } from '../core/errors.ts';
import { idFloor } from '../core/ids.ts';
import type { DeliveryStatusCode, Message } from '../core/types.ts';
import { MASKED_HEADER_VALUE } from '../delivery/headers.ts';
import type { MessageFilter } from '../store/store.ts';
import { loadApp } from './application.ts';
import { hiddenEventTypes } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { assertDeliverable, loadEndpoint } from './endpoint.ts';
import { commaList, createMessage, loadMessage, parseTime } from './message.ts';
import { listOut, pageQuery } from './pagination.ts';
import {
  AttemptOut,
  ErrorOut,
  listOf,
  MessageIn,
  MessageOut,
  NoContent,
  ValidationErrorOut,
} from './schemas.ts';
import {
  AttemptCountQuery,
  CancelMsgsIn,
  CountOut,
  EndpointThrottleRateStatusOut,
  EventsQuery,
  MessageAttemptHeadersOut,
  MessageEventsOut,
  MessageRawPayloadOut,
  MessageSearchIn,
} from './sending-schemas.ts';
import { attemptOut, messageOut } from './wire.ts';

const EpParams = Type.Object({
  app_id: Type.String(),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});

/**
 * Polling returns messages in id order, and ids order by the second they were made in: the
 * newest two seconds are held back, so a message committed a moment after a later-numbered one
 * is never skipped by an iterator that moved past it.
 */
export const SETTLE_MS = 2_000;
/** How often a test attempt looks whether its attempt was recorded. */
const TEST_POLL_MS = 20;

/**
 * One page of polled messages after `iterator` (or from `after`), oldest first. Also what the
 * polling endpoints (api/poller.ts) read.
 */
export async function poll(
  ctx: ApiContext,
  list: (
    filter: MessageFilter,
    page: { limit: number; after: string | null; before: null; order: 'asc' },
  ) => Promise<{
    items: Message[];
    more: boolean;
  }>,
  q: {
    limit?: number;
    iterator?: string | null;
    event_types?: string | string[];
    channels?: string | string[];
    after?: string | null;
  },
  hidden: string[],
) {
  const page = await list(
    {
      eventTypes: commaList(q.event_types),
      excludeEventTypes: hidden,
      anyChannel: commaList(q.channels),
      after: q.iterator ? undefined : parseTime(q.after),
      idBelow: idFloor('message', ctx.clock.now() - SETTLE_MS),
    },
    { limit: q.limit ?? 50, after: q.iterator || null, before: null, order: 'asc' },
  );
  return {
    data: page.items.map((m) => messageOut(m, true)),
    iterator: page.items.at(-1)?.id ?? q.iterator ?? '',
    done: !page.more,
  };
}

export function sendingExtraRoutes(api: Routes, ctx: ApiContext): void {
  api.post(
    '/app/:app_id/endpoint/:endpoint_id/cancel-msgs',
    {
      schema: {
        tags: ['Endpoint'],
        summary: "Cancel the endpoint's queued deliveries of messages created before a time",
        params: EpParams,
        body: CancelMsgsIn,
        response: { 204: NoContent, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const canceled = await ctx.store.cancelPendingDeliveries(
        ep.id,
        Date.parse(req.body.createdBefore),
        ctx.clock.now(),
      );
      ctx.metrics?.deliveriesCanceled('api', canceled);
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/app/:app_id/endpoint/:endpoint_id/rate-limit-status',
    {
      schema: {
        tags: ['Endpoint'],
        summary:
          "Whether the endpoint's rate limit (its own, or its application's) holds deliveries back now",
        params: EpParams,
        response: { 200: EndpointThrottleRateStatusOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const limited =
        (ep.throttleRate ?? app.throttleRate ?? 0) > 0 &&
        ((await ctx.store.endpointThrottleNextAt(ep.id)) ?? 0) > ctx.clock.now();
      // Hookline does not record when throttling began.
      return { status: limited ? ('RateLimited' as const) : ('Ok' as const), throttledSince: null };
    },
  );

  api.get(
    '/app/:app_id/attempt/endpoint/:endpoint_id/count',
    {
      schema: {
        tags: ['Message Attempt'],
        summary: 'Count the attempts made to an endpoint (with the list filters)',
        params: EpParams,
        querystring: AttemptCountQuery,
        response: { 200: CountOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const q = req.query;
      const count = await ctx.store.countAttempts({
        appId: app.id,
        endpointId: ep.id,
        excludeEventTypes: await hiddenEventTypes(ctx.store, req.principal),
        ...(q.status !== undefined ? { status: q.status as DeliveryStatusCode } : {}),
        ...(q.status_code_class !== undefined ? { statusCodeClass: q.status_code_class } : {}),
        ...(q.channel !== undefined ? { channel: q.channel } : {}),
        eventTypes: commaList(q.event_types),
        before: parseTime(q.before),
        after: parseTime(q.after),
      });
      return { count, approximated: false };
    },
  );

  api.get(
    '/app/:app_id/msg/:msg_id/attempt/:attempt_id/headers',
    {
      schema: {
        tags: ['Message Attempt'],
        summary:
          "An attempt's request headers as sent (custom header values masked) and the response's headers",
        params: Type.Object({ app_id: Type.String(), msg_id: Type.String(), attempt_id: Type.String() }),
        response: { 200: MessageAttemptHeadersOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const m = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      const a = await ctx.store.getAttempt(app.id, req.params.attempt_id);
      if (!a || a.msgId !== m.id) throw notFound('attempt');
      return {
        sentHeaders: a.requestHeaders,
        responseHeaders: Object.entries(a.responseHeaders),
        sensitive: Object.entries(a.requestHeaders)
          .filter(([, v]) => v === MASKED_HEADER_VALUE)
          .map(([k]) => k),
      };
    },
  );

  api.post(
    '/app/:app_id/msg/search',
    {
      schema: {
        tags: ['Message'],
        summary: 'List messages, newest first, with the filters in the body (as `GET /msg` takes them)',
        params: Type.Object({ app_id: Type.String() }),
        body: MessageSearchIn,
        response: { 200: listOf(MessageOut, 'MessageOut'), 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const b = req.body;
      const q = pageQuery({ limit: b.limit, iterator: b.iterator ?? null }, 'desc');
      const page = await ctx.store.listMessages(
        app.id,
        {
          eventTypes: b.event_types ?? undefined,
          excludeEventTypes: await hiddenEventTypes(ctx.store, req.principal),
          ...(b.channel ? { channel: b.channel } : {}),
          ...(b.tag ? { tag: b.tag } : {}),
          before: parseTime(b.before),
          after: parseTime(b.after),
        },
        q,
      );
      // As Svix: without `with_content: true` the payloads are left out.
      return listOut(
        page,
        q,
        (m) => m.id,
        (m) => messageOut(m, b.with_content === true),
      );
    },
  );

  api.get(
    '/app/:app_id/msg/:msg_id/raw',
    {
      schema: {
        tags: ['Message'],
        summary: "A message's payload as stored, as one string",
        params: Type.Object({ app_id: Type.String(), msg_id: Type.String() }),
        response: { 200: MessageRawPayloadOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const m = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      return { payload: m.payload };
    },
  );

  api.post(
    '/app/:app_id/endpoint/:endpoint_id/msg/test-attempt',
    {
      schema: {
        tags: ['Message'],
        summary:
          'Send a message to this endpoint only and answer with the attempt once it is made (504 test_attempt_timeout if it takes too long)',
        params: EpParams,
        body: MessageIn,
        response: { 201: AttemptOut, 404: ErrorOut, 422: ValidationErrorOut, 504: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = assertDeliverable(await loadEndpoint(ctx, app, req.params.endpoint_id));
      const { message } = await createMessage(
        ctx,
        app,
        { ...req.body, deliverAt: null },
        { withContent: true, only: ep.id },
      );
      const deadline = Date.now() + (ep.timeoutMs ?? ctx.config.delivery.timeoutMs) + 10_000;
      for (;;) {
        const page = await ctx.store.listAttempts(
          { appId: app.id, msgId: message.id, endpointId: ep.id },
          { limit: 1, after: null, before: null, order: 'asc' },
        );
        const a = page.items[0];
        if (a) return reply.code(201).send(attemptOut(a, message, true));
        if (Date.now() > deadline) {
          throw new HooklineError(
            'test_attempt_timeout',
            `no attempt was made within the time allowed; message ${message.id} stays queued for the endpoint`,
          );
        }
        await new Promise((r) => setTimeout(r, TEST_POLL_MS));
      }
    },
  );

  api.get(
    '/app/:app_id/events',
    {
      schema: {
        tags: ['Message'],
        summary:
          "Poll the application's messages, oldest first: pass back `iterator` to get the ones that came after (the newest two seconds are held back)",
        params: Type.Object({ app_id: Type.String() }),
        querystring: EventsQuery,
        response: { 200: MessageEventsOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const hidden = await hiddenEventTypes(ctx.store, req.principal);
      return poll(ctx, (f, p) => ctx.store.listMessages(app.id, f, p), req.query, hidden);
    },
  );

  api.get(
    '/events',
    {
      schema: {
        tags: ['Message'],
        summary:
          "Poll every application's messages, oldest first (admin only): pass back `iterator` to get the ones that came after",
        querystring: EventsQuery,
        response: { 200: MessageEventsOut },
      },
    },
    async (req) => poll(ctx, (f, p) => ctx.store.listAllMessages(f, p), req.query, []),
  );
}
