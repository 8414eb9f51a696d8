/**
 * The rest of Svix's sending API, beside the core resources' own files: sending an event type's
 * example, expunging payloads and response bodies, a message's status at each endpoint (and an
 * endpoint's at each message), replays, and the message pre-check. Long work (replays, purging
 * an application's payloads) runs as a background task (`background-task.ts`).
 */
import Type from 'typebox';
import { HooklineError, invalid, notFound } from '../core/errors.ts';
import { endpointMatches } from '../core/routing.ts';
import { type DeliveryStatusCode, type Endpoint, type Message, STATUS_TEXT } from '../core/types.ts';
import type { DeliveryState, RecoverCursor } from '../store/store.ts';
import { loadApp } from './application.ts';
import { hiddenEventTypes, visibleTo } from './auth.ts';
import type { BackgroundTasks } from './background-task.ts';
import type { ApiContext, Routes } from './context.ts';
import { assertDeliverable, loadEndpoint, unknownEventTypeIssues } from './endpoint.ts';
import { commaList, loadMessage, parseTime } from './message.ts';
import { listOut, pageQuery } from './pagination.ts';
import {
  BackgroundTaskOut,
  ErrorOut,
  ListQuery,
  listOf,
  MessageOut,
  NoContent,
  ValidationErrorOut,
} from './schemas.ts';
import {
  BulkExpungeContentsIn,
  BulkExpungeContentsOut,
  BulkReplayIn,
  EndpointMessageListQuery,
  EndpointMessageOut,
  EventExampleIn,
  MessageEndpointOut,
  MessagePrecheckIn,
  MessagePrecheckOut,
  ReplayWindowIn,
} from './sending-schemas.ts';
import { iso, messageOut } from './wire.ts';

const EpParams = Type.Object({
  app_id: Type.String(),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});
const MsgParams = Type.Object({
  app_id: Type.String(),
  msg_id: Type.String({ description: 'Message id or eventId' }),
});
/** Rows one batch of a replay or purge looks at. */
const BATCH = 200;

const stateOut = (s: DeliveryState) => ({
  status: s.status,
  statusText: STATUS_TEXT[s.status] ?? 'unknown',
  nextAttempt: s.nextAttemptAt === null ? null : iso(s.nextAttemptAt),
});

/** The example to send: the newest schema version that has examples, `index`-th of them. */
function exampleOf(schemas: Record<string, unknown> | null, index: number): Record<string, unknown> | null {
  const versions = Object.keys(schemas ?? {}).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  for (const v of versions) {
    const examples = (schemas![v] as { examples?: unknown } | null)?.examples;
    if (!Array.isArray(examples) || examples.length === 0) continue;
    const e = examples[index];
    return e !== null && typeof e === 'object' && !Array.isArray(e) ? (e as Record<string, unknown>) : null;
  }
  return null;
}

/** `since`/`until` of a replay: since before until, until defaulting to now. */
function window(body: { since: string; until?: string | null | undefined }, now: number) {
  const since = Date.parse(body.since);
  const until = body.until ? Date.parse(body.until) : now + 1;
  if (since >= until) throw invalid(['body', 'since'], 'since must be before until');
  return { since, until };
}

export function sendingRoutes(api: Routes, ctx: ApiContext, tasks: BackgroundTasks): void {
  // ---- send an example ---------------------------------------------------------------------
  api.post(
    '/app/:app_id/endpoint/:endpoint_id/send-example',
    {
      schema: {
        tags: ['Endpoint'],
        summary: "Send the event type's example payload (from its schema) to this endpoint only",
        params: EpParams,
        body: EventExampleIn,
        response: { 202: MessageOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = assertDeliverable(await loadEndpoint(ctx, app, req.params.endpoint_id));
      const t = await ctx.store.getEventType(req.body.eventType);
      if (!t || t.archived || !visibleTo(req.principal, t))
        throw invalid(['body', 'eventType'], `event type "${req.body.eventType}" does not exist`);
      const index = req.body.exampleIndex ?? 0;
      const example = exampleOf(t.schemas, index);
      if (!example) {
        throw invalid(
          index === 0 ? ['body', 'eventType'] : ['body', 'exampleIndex'],
          index === 0
            ? `event type "${t.name}" has no example in its schemas`
            : `event type "${t.name}" has no example object at index ${index}`,
        );
      }
      const now = ctx.clock.now();
      const message: Message = {
        id: ctx.ids('message'),
        appId: app.id,
        eventId: null,
        eventType: t.name,
        payload: JSON.stringify(example),
        channels: null,
        tags: null,
        createdAt: now,
      };
      const result = await ctx.ingest.add({
        message,
        dueAt: now,
        // This endpoint only, whatever its filters say.
        route: (endpoints) => endpoints.filter((e) => e.id === ep.id).map((e) => e.id),
        newDeliveryId: () => ctx.ids('delivery'),
      });
      if (!result.ok) throw notFound('application');
      return reply.code(202).send(messageOut(message, true));
    },
  );

  // ---- expunge ---------------------------------------------------------------------------
  api.delete(
    '/app/:app_id/msg/:msg_id/content',
    {
      schema: {
        tags: ['Message'],
        summary: "Delete a message's payload (the message and its attempts stay)",
        params: MsgParams,
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const m = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      if (!(await ctx.store.expungeMessageContent(app.id, m.id, ctx.clock.now()))) throw notFound('message');
      return reply.code(204).send(null);
    },
  );

  api.delete(
    '/app/:app_id/msg/:msg_id/attempt/:attempt_id/content',
    {
      schema: {
        tags: ['Message Attempt'],
        summary: "Delete an attempt's response body",
        params: Type.Object({ app_id: Type.String(), msg_id: Type.String(), attempt_id: Type.String() }),
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const m = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      const a = await ctx.store.getAttempt(app.id, req.params.attempt_id);
      if (!a || a.msgId !== m.id) throw notFound('attempt');
      await ctx.store.expungeAttemptContent(app.id, a.id);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/app/:app_id/msg/bulk-expunge',
    {
      schema: {
        tags: ['Message'],
        summary: 'Delete the payloads of several messages (by id or eventId)',
        params: Type.Object({ app_id: Type.String() }),
        body: BulkExpungeContentsIn,
        response: { 200: BulkExpungeContentsOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const hidden = await hiddenEventTypes(ctx.store, req.principal);
      const results: Record<string, 'expunged' | 'not-found'> = {};
      const now = ctx.clock.now();
      for (const id of req.body.ids ?? []) {
        const m = await ctx.store.getMessage(app.id, id);
        results[id] =
          m && !hidden.includes(m.eventType) && (await ctx.store.expungeMessageContent(app.id, m.id, now))
            ? 'expunged'
            : 'not-found';
      }
      return { results };
    },
  );

  api.post(
    '/app/:app_id/msg/expunge-all-contents',
    {
      schema: {
        tags: ['Message'],
        summary: 'Delete the payload of every message of the application; runs as a background task',
        params: Type.Object({ app_id: Type.String() }),
        response: { 202: BackgroundTaskOut, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const task = await tasks.start(
        'application.purge_content',
        app.id,
        { messagesExpunged: 0 },
        async (progress) => {
          let total = 0;
          for (;;) {
            const n = await ctx.store.expungeAppContents(app.id, ctx.clock.now(), BATCH);
            total += n;
            await progress({ messagesExpunged: total });
            if (n < BATCH) return { messagesExpunged: total };
          }
        },
      );
      return reply.code(202).send(task);
    },
  );

  // ---- status by endpoint and by message ---------------------------------------------------
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/msg',
    {
      schema: {
        tags: ['Message Attempt'],
        summary:
          'List the messages sent (or being sent) to an endpoint, each with its status there, newest first',
        params: EpParams,
        querystring: EndpointMessageListQuery,
        response: { 200: listOf(EndpointMessageOut, 'EndpointMessageOut'), 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const q = pageQuery(req.query, 'desc');
      const page = await ctx.store.listEndpointMessages(
        app.id,
        ep.id,
        {
          eventTypes: commaList(req.query.event_types),
          excludeEventTypes: await hiddenEventTypes(ctx.store, req.principal),
          channel: req.query.channel,
          tag: req.query.tag,
          before: parseTime(req.query.before),
          after: parseTime(req.query.after),
          ...(req.query.status !== undefined ? { status: req.query.status as DeliveryStatusCode } : {}),
        },
        q,
      );
      const withContent = req.query.with_content !== false;
      return listOut(
        page,
        q,
        (r) => r.message.id,
        (r) => ({ ...messageOut(r.message, withContent), ...stateOut(r) }),
      );
    },
  );

  api.get(
    '/app/:app_id/msg/:msg_id/endpoint',
    {
      schema: {
        tags: ['Message Attempt'],
        summary: 'List the endpoints a message was sent (or is being sent) to, each with its status there',
        params: MsgParams,
        querystring: ListQuery,
        response: { 200: listOf(MessageEndpointOut, 'MessageEndpointOut'), 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const m = await loadMessage(ctx, req.principal, app, req.params.msg_id);
      const q = pageQuery(req.query, 'asc');
      const page = await ctx.store.listMessageDestinations(app.id, m.id, q);
      return listOut(
        page,
        q,
        (r) => r.endpoint.id,
        (r) => ({ ...destinationOut(r.endpoint), ...stateOut(r) }),
      );
    },
  );

  // ---- replays -----------------------------------------------------------------------------
  api.post(
    '/app/:app_id/endpoint/:endpoint_id/replay-missing',
    {
      schema: {
        tags: ['Endpoint'],
        summary:
          'Send the endpoint every message since a time that it never got (it was disabled, filtered or did not exist); runs as a background task',
        params: EpParams,
        body: ReplayWindowIn,
        response: { 202: BackgroundTaskOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const now = ctx.clock.now();
      const { since, until } = window(req.body, now);
      const request = {
        appId: app.id,
        endpointId: ep.id,
        since,
        until,
        missedSince: since,
        now,
        limit: BATCH,
        matches: (eventType: string, channels: string[] | null) =>
          endpointMatches({ ...ep, disabled: false }, eventType, channels),
        newDeliveryId: () => ctx.ids('delivery'),
      };
      const task = await tasks.start(
        'endpoint.replay',
        app.id,
        { endpointId: ep.id, since: iso(since), until: iso(until), messagesQueued: 0 },
        async (progress) => {
          // Only the "never queued" step of a recovery: failed deliveries are not retried here.
          let cursor: RecoverCursor | null = { step: 'missed', id: null };
          let queued = 0;
          do {
            const batch = await ctx.store.recoverBatch({ ...request, cursor });
            queued += batch.queued;
            cursor = batch.next;
            await progress({ messagesQueued: queued });
          } while (cursor !== null);
          return { messagesQueued: queued };
        },
      );
      return reply.code(202).send(task);
    },
  );

  api.post(
    '/app/:app_id/endpoint/:endpoint_id/bulk-replay',
    {
      schema: {
        tags: ['Endpoint'],
        summary:
          'Send the endpoint again the messages it was sent in a time window, filtered by status, status code class, event types, channel or tag; runs as a background task',
        params: EpParams,
        body: BulkReplayIn,
        response: { 202: BackgroundTaskOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const b = req.body;
      const issues = await unknownEventTypeIssues(ctx, req.principal, b.eventTypes ?? []);
      if (issues.length > 0) throw new HooklineError('validation', issues[0]!.msg, issues);
      const { since, until } = window(b, ctx.clock.now());
      const filter = {
        ...(b.eventTypes && b.eventTypes.length > 0 ? { eventTypes: b.eventTypes } : {}),
        excludeEventTypes: await hiddenEventTypes(ctx.store, req.principal),
        ...(b.channel ? { channel: b.channel } : {}),
        ...(b.tag ? { tag: b.tag } : {}),
        ...(b.status !== undefined && b.status !== null ? { status: b.status as DeliveryStatusCode } : {}),
        after: since - 1,
        before: until,
      };
      const codeClass = b.statusCodeClass ?? null;
      const task = await tasks.start(
        'endpoint.bulk-replay',
        app.id,
        { endpointId: ep.id, since: iso(since), until: iso(until), messagesQueued: 0 },
        async (progress) => {
          let queued = 0;
          let after: string | null = null;
          for (;;) {
            const page = await ctx.store.listEndpointMessages(app.id, ep.id, filter, {
              limit: BATCH,
              after,
              before: null,
              order: 'asc',
            });
            for (const { message } of page.items) {
              if (codeClass !== null) {
                const hit = await ctx.store.listAttempts(
                  { appId: app.id, endpointId: ep.id, msgId: message.id, statusCodeClass: codeClass },
                  { limit: 1, after: null, before: null, order: 'desc' },
                );
                if (hit.items.length === 0) continue;
              }
              await ctx.store.resend(message, ep.id, ctx.ids('delivery'), ctx.clock.now());
              queued++;
            }
            after = page.items.at(-1)?.message.id ?? after;
            await progress({ messagesQueued: queued });
            if (!page.more) return { messagesQueued: queued };
          }
        },
      );
      return reply.code(202).send(task);
    },
  );

  // ---- pre-check ---------------------------------------------------------------------------
  api.post(
    '/app/:app_id/msg/precheck/active',
    {
      schema: {
        tags: ['Message'],
        summary: 'Would a message of this event type (and channels) go to any enabled endpoint?',
        params: Type.Object({ app_id: Type.String() }),
        body: MessagePrecheckIn,
        response: { 200: MessagePrecheckOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      let after: string | null = null;
      for (;;) {
        const page = await ctx.store.listEndpoints(app.id, { limit: 250, after, before: null, order: 'asc' });
        if (page.items.some((e) => endpointMatches(e, req.body.eventType, req.body.channels ?? null)))
          return { active: true };
        if (!page.more) return { active: false };
        after = page.items.at(-1)!.id;
      }
    },
  );
}

/** An endpoint as `MessageEndpointOut` shows it. */
function destinationOut(e: Endpoint) {
  return {
    id: e.id,
    uid: e.uid,
    url: e.url,
    description: e.description,
    disabled: e.disabled,
    eventTypes: e.eventTypes,
    channels: e.channels,
    throttleRate: e.throttleRate,
    rateLimit: e.throttleRate,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}
