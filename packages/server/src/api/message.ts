/** `/api/v1/app/{app}/msg`: publishing events, and reading them back. */
import Type from 'typebox';
import { HooklineError, invalid, notFound } from '../core/errors.ts';
import { endpointMatches } from '../core/routing.ts';
import type { App, Message } from '../core/types.ts';
import { inSpan, SpanKind } from '../tracing.ts';
import { publishingApp } from './app-lookup.ts';
import { createApplication } from './application.ts';
import { hiddenEventTypes, type Principal } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { IDEMPOTENCY_TTL_MS } from './idempotency.ts';
import { listOut, pageQuery } from './pagination.ts';
import { checkMessagePayload } from './payload-schema.ts';
import {
  ErrorOut,
  listOf,
  MessageIn,
  MessageListQuery,
  MessageOut,
  ValidationErrorOut,
  WithContentQuery,
} from './schemas.ts';
import { messageOut } from './wire.ts';

const tags = ['Message'];
const AppParams = Type.Object({ app_id: Type.String() });
const MsgParams = Type.Object({
  app_id: Type.String(),
  msg_id: Type.String({ description: 'Message id or eventId' }),
});

/** `a,b,c` or repeated parameters, as the clients send lists in query strings. */
export function commaList(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const parts = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim());
  const list = parts.filter(Boolean);
  return list.length > 0 ? list : undefined;
}

export const parseTime = (v: string | null | undefined): number | undefined =>
  v ? Date.parse(v) : undefined;

/** A message by id or eventId; one of an event type hidden from the caller is not found either. */
export async function loadMessage(
  ctx: ApiContext,
  principal: Principal | undefined,
  app: App,
  idOrEventId: string,
): Promise<Message> {
  const m = await ctx.store.getMessage(app.id, idOrEventId);
  if (!m || (await hiddenEventTypes(ctx.store, principal)).includes(m.eventType)) throw notFound('message');
  return m;
}

/** The ingest found the message's application gone (deleted since it was read): a 404. */
class ApplicationGone extends HooklineError {
  constructor() {
    super('not_found', 'application not found');
  }
}

/**
 * Publishes a message: stores it with one delivery per matching endpoint in one transaction
 * and returns only after the commit. A repeated `eventId` is refused with 409.
 */
export async function createMessage(
  ctx: ApiContext,
  app: App,
  input: MessageIn,
  options: {
    withContent: boolean;
    idempotencyKey?: string | undefined;
    /** This endpoint only, whatever its filters say (a test attempt). */
    only?: string;
    /** The W3C traceparent its deliveries carry on (`tracing.ts`). */
    traceparent?: string | null;
  },
): Promise<{ message: Message; body: ReturnType<typeof messageOut> }> {
  const now = ctx.clock.now();
  const payload = JSON.stringify(input.payload);
  if (Buffer.byteLength(payload) > ctx.config.maxPayloadBytes) {
    throw new HooklineError(
      'payload_too_large',
      `payload is larger than the ${ctx.config.maxPayloadBytes}-byte limit`,
    );
  }
  await checkMessagePayload(ctx.store, input.eventType, input.payload, ctx.config.validatePayloads);
  const deliverAt = parseTime(input.deliverAt);
  if (deliverAt !== undefined && deliverAt > now + 90 * 86_400_000) {
    throw invalid(['body', 'deliverAt'], 'deliverAt may be at most 90 days in the future');
  }
  const message: Message = {
    id: ctx.ids('message'),
    appId: app.id,
    eventId: input.eventId ?? null,
    eventType: input.eventType,
    payload,
    channels: input.channels ?? null,
    tags: input.tags ?? null,
    ...(input.orderingKey ? { orderingKey: input.orderingKey } : {}),
    createdAt: now,
  };
  // The payload as it came: what is stored is its JSON text, the same data.
  const body = messageOut(message, options.withContent, input.payload);
  const result = await ctx.ingest.add({
    message,
    dueAt: deliverAt !== undefined ? Math.max(now, deliverAt) : now,
    route: (endpoints) =>
      endpoints
        .filter((e) =>
          options.only !== undefined
            ? e.id === options.only
            : endpointMatches(e, message.eventType, message.channels),
        )
        .map((e) => e.id),
    newDeliveryId: () => ctx.ids('delivery'),
    traceparent: options.traceparent ?? null,
    ...(options.idempotencyKey
      ? {
          idempotency: {
            key: options.idempotencyKey,
            response: { status: 202, body: JSON.stringify(body) },
            expiresAt: now + IDEMPOTENCY_TTL_MS,
          },
        }
      : {}),
  });
  if (!result.ok) {
    if (result.reason === 'app_not_found') throw new ApplicationGone();
    throw new HooklineError(
      'conflict',
      `a message with eventId "${input.eventId}" exists already (${result.existing.id})`,
    );
  }
  return { message, body };
}

export function messageRoutes(api: Routes, ctx: ApiContext): void {
  api.post(
    '/app/:app_id/msg',
    {
      schema: {
        tags,
        summary: 'Publish a message to every subscribed endpoint of the application',
        params: AppParams,
        querystring: WithContentQuery,
        body: MessageIn,
        response: { 202: MessageOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut, 422: ValidationErrorOut },
      },
    },
    (req, reply) =>
      // From the request to the commit; a child of the caller's span when it sent a traceparent.
      inSpan(
        ctx.tracing,
        'hookline.publish',
        SpanKind.SERVER,
        req.headers,
        () => ({ 'http.request.method': 'POST', 'http.route': '/api/v1/app/{app_id}/msg' }),
        async (traceparent, span) => {
          const publish = async (fresh: boolean) => {
            let app = await publishingApp(ctx.store, req.params.app_id, fresh);
            // An application token was checked against the application as it is now: never
            // publish to another one this process still remembers under that uid.
            const tokenApp = req.principal?.kind === 'app' ? req.principal.token.appId : null;
            if (app && tokenApp !== null && app.id !== tokenApp)
              app = await publishingApp(ctx.store, req.params.app_id, true);
            if (!app) {
              // Svix lets the message carry its application, created on first use under the path's uid.
              const inline = req.body.application;
              if (!inline) throw notFound('application');
              ({ app } = await createApplication(
                ctx,
                { ...inline, uid: inline.uid ?? req.params.app_id },
                true,
              ));
            }
            const out = await createMessage(ctx, app, req.body, {
              withContent: req.query.with_content !== false,
              idempotencyKey: req.idempotencyKey,
              traceparent,
            });
            return { app, ...out };
          };
          // The application as this process read it lately (app-lookup.ts); gone by the time
          // the message was stored, it is read again (another may have its uid now).
          const { app, message, body } = await publish(false).catch((err: unknown) => {
            if (err instanceof ApplicationGone) return publish(true);
            throw err;
          });
          req.idempotencyStored = req.idempotencyKey !== undefined;
          if (span?.isRecording()) {
            span.setAttributes({
              'hookline.app_id': app.id,
              'hookline.msg_id': message.id,
              'hookline.event_type': message.eventType,
              'http.response.status_code': 202,
            });
          }
          // Returned, not sent and the reply returned: an async function returning the reply
          // makes the promise wait on it as a thenable (a listener on the response stream until
          // it finishes), for every message.
          reply.code(202);
          return body;
        },
      ),
  );

  api.get(
    '/app/:app_id/msg',
    {
      schema: {
        tags,
        summary: 'List messages, newest first',
        params: AppParams,
        querystring: MessageListQuery,
        response: { 200: listOf(MessageOut, 'MessageOut') },
      },
    },
    async (req) => {
      const app = await ctx.store.getApp(req.params.app_id);
      if (!app) throw notFound('application');
      const q = pageQuery(req.query, 'desc');
      const page = await ctx.store.listMessages(
        app.id,
        {
          eventTypes: commaList(req.query.event_types),
          // An application token never lists messages of the event types hidden from it.
          excludeEventTypes: await hiddenEventTypes(ctx.store, req.principal),
          channel: req.query.channel,
          tag: req.query.tag,
          before: parseTime(req.query.before),
          after: parseTime(req.query.after),
        },
        q,
      );
      const withContent = req.query.with_content !== false;
      return listOut(
        page,
        q,
        (m) => m.id,
        (m) => messageOut(m, withContent),
      );
    },
  );

  api.get(
    '/app/:app_id/msg/:msg_id',
    {
      schema: {
        tags,
        summary: 'Get a message by id or eventId',
        params: MsgParams,
        querystring: WithContentQuery,
        response: { 200: MessageOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await ctx.store.getApp(req.params.app_id);
      if (!app) throw notFound('application');
      const m = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      return messageOut(m, req.query.with_content !== false);
    },
  );
}
