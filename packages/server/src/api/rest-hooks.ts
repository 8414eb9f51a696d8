/**
 * `/api/v1/app/{app}/hook`: REST Hooks (resthooks.org), the way Zapier, Make, n8n and Pipedream
 * subscribe to webhooks. When a user turns a Zap on, the platform POSTs a target URL and an
 * event here and keeps the returned `id`; turning it off DELETEs that id. A "perform list" call
 * (`/hook/sample`) fetches recent payloads so the user can map fields.
 *
 * A subscription is an ordinary endpoint of the application, marked in its metadata (see
 * `core/rest-hook.ts`): retries, the attempt log, resend and recover all apply, and the endpoint
 * API lists it too. Its uid is derived from (target URL, event types), which makes subscribing
 * twice with the same pair return the existing subscription, even when two requests race.
 * A target answering `410 Gone` disables its subscription (the dispatcher sees the mark).
 */
import { createHash } from 'node:crypto';
import Type from 'typebox';
import { HooklineError, invalid, notFound, type ValidationIssue } from '../core/errors.ts';
import { isRestHook, REST_HOOK_MARK } from '../core/rest-hook.ts';
import type { App, Endpoint, EventType } from '../core/types.ts';
import { StoreConflictError } from '../store/store-errors.ts';
import { loadApp, loadAppToChange } from './application.ts';
import { visibleTo } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { createEndpoint, unknownEventTypeIssues } from './endpoint.ts';
import { listOut, pageQuery } from './pagination.ts';
import {
  ErrorOut,
  ListQuery,
  listOf,
  NoContent,
  RestHookIn,
  RestHookOut,
  RestHookUnsubscribeIn,
  SampleLimitQuery,
  SampleQuery,
  SamplesOut,
  ValidationErrorOut,
} from './schemas.ts';
import { iso } from './wire.ts';

const tags = ['REST Hooks'];
const AppParams = Type.Object({ app_id: Type.String({ description: 'Application id or uid' }) });
const HookParams = Type.Object({
  app_id: Type.String({ description: 'Application id or uid' }),
  hook_id: Type.String({ description: 'Subscription id (the id returned on subscribe)' }),
});
const NameParams = Type.Object({ event_type_name: Type.String() });
const MARK = { [REST_HOOK_MARK.key]: REST_HOOK_MARK.value };
/** Most subscriptions one unsubscribe-by-URL call removes (a URL rarely has more than a few). */
const UNSUBSCRIBE_MAX = 1000;

function hookOut(e: Endpoint) {
  return {
    id: e.id,
    targetUrl: e.url,
    event: e.eventTypes?.[0] ?? '',
    eventTypes: e.eventTypes ?? [],
    description: e.description,
    disabled: e.disabled,
    createdAt: iso(e.createdAt),
  };
}

/** The uid of the subscription of one (target URL, event types) pair. */
function hookUid(targetUrl: string, eventTypes: string[]): string {
  const digest = createHash('sha256')
    .update(`${targetUrl}\n${eventTypes.join('\n')}`)
    .digest('hex');
  return `hook-${digest.slice(0, 32)}`;
}

/** The endpoint validation speaks of `url` and `eventTypes`; REST Hook clients sent other names. */
function renameIssues(err: unknown, eventField: 'event' | 'eventTypes'): unknown {
  if (!(err instanceof HooklineError) || err.code !== 'validation' || !err.issues) return err;
  const issues: ValidationIssue[] = err.issues.map((i) => {
    const [part, field, ...rest] = i.loc;
    if (part !== 'body') return i;
    if (field === 'url')
      return { ...i, loc: ['body', 'targetUrl', ...rest], msg: i.msg.replace(/^url/, 'targetUrl') };
    if (field === 'eventTypes' && eventField === 'event') return { ...i, loc: ['body', 'event'] };
    return i;
  });
  return new HooklineError('validation', issues[0]?.msg ?? err.message, issues);
}

async function loadHook(ctx: ApiContext, app: App, id: string): Promise<Endpoint> {
  const ep = await ctx.store.getEndpoint(app.id, id);
  if (!ep || !isRestHook(ep.metadata)) throw notFound('subscription');
  return ep;
}

/** A payload as a perform-list item: an object with an `id` (Zapier deduplicates by it). */
function sampleItem(payload: unknown, id: string): Record<string, unknown> | null {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const p = payload as Record<string, unknown>;
  return 'id' in p ? p : { id, ...p };
}

/** The `examples` of the newest schema version of an event type that has any. */
export function schemaExamples(t: EventType, limit: number): Record<string, unknown>[] {
  const versions = Object.keys(t.schemas ?? {}).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  for (const v of versions) {
    const examples = (t.schemas![v] as { examples?: unknown } | null)?.examples;
    if (!Array.isArray(examples) || examples.length === 0) continue;
    return examples
      .map((e, i) => sampleItem(e, `${t.name}.example.${i + 1}`))
      .filter((e): e is Record<string, unknown> => e !== null)
      .slice(0, limit);
  }
  return [];
}

export function restHookRoutes(api: Routes, ctx: ApiContext): void {
  api.post(
    '/app/:app_id/hook',
    {
      schema: {
        tags,
        summary:
          'Subscribe a target URL to an event (REST Hooks); the same pair again returns the existing one',
        params: AppParams,
        body: RestHookIn,
        response: {
          200: RestHookOut,
          201: RestHookOut,
          403: ErrorOut,
          404: ErrorOut,
          422: ValidationErrorOut,
        },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      const b = req.body;
      const targetUrl = b.targetUrl ?? b.target_url ?? b.hookUrl;
      if (targetUrl === undefined)
        throw invalid(['body', 'targetUrl'], 'field required', 'value_error.missing');
      const eventField = b.eventTypes ? 'eventTypes' : 'event';
      const requested = b.eventTypes ?? (b.event !== undefined ? [b.event] : []);
      if (requested.length === 0) throw invalid(['body', 'event'], 'field required', 'value_error.missing');
      const eventTypes = [...new Set(requested)].sort();
      // Before the lookup below: an existing subscription must not reveal a type hidden from
      // this token (it is answered like an unknown one).
      const unknown = await unknownEventTypeIssues(ctx, req.principal, eventTypes);
      if (unknown.length > 0)
        throw renameIssues(new HooklineError('validation', unknown[0]!.msg, unknown), eventField);
      const uid = hookUid(targetUrl, eventTypes);
      const existing = await ctx.store.getEndpoint(app.id, uid);
      if (existing && isRestHook(existing.metadata)) {
        // Subscribing again after a 410 (or a manual disable) turns the subscription back on.
        if (!existing.disabled) return reply.code(200).send(hookOut(existing));
        const enabled = { ...existing, disabled: false, failingSince: null, updatedAt: ctx.clock.now() };
        await ctx.store.updateEndpoint(enabled);
        return reply.code(200).send(hookOut(enabled));
      }
      try {
        const ep = await createEndpoint(ctx, req.principal, app, {
          url: targetUrl,
          uid,
          eventTypes,
          description: b.description ?? `REST Hook: ${eventTypes.join(', ')}`,
          metadata: { ...MARK },
        });
        return reply.code(201).send(hookOut(ep));
      } catch (err) {
        // Two identical subscribe requests at once: the second finds the first one's endpoint.
        const conflict =
          err instanceof StoreConflictError || (err instanceof HooklineError && err.code === 'conflict');
        const raced = conflict ? await ctx.store.getEndpoint(app.id, uid) : null;
        if (raced && isRestHook(raced.metadata)) return reply.code(200).send(hookOut(raced));
        throw renameIssues(err, eventField);
      }
    },
  );

  api.get(
    '/app/:app_id/hook',
    {
      schema: {
        tags,
        summary: 'List the REST Hook subscriptions of the application',
        params: AppParams,
        querystring: ListQuery,
        response: { 200: listOf(RestHookOut, 'RestHookOut'), 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const q = pageQuery(req.query, 'desc');
      const page = await ctx.store.listEndpoints(app.id, q, { metadata: MARK });
      return listOut(page, q, (e) => e.id, hookOut);
    },
  );

  api.get(
    '/app/:app_id/hook/sample',
    {
      schema: {
        tags,
        summary:
          "Sample payloads of an event type for field mapping (Zapier's perform list): the most recent ones of this application, else the event type's schema examples, else []",
        params: AppParams,
        querystring: SampleQuery,
        response: { 200: SamplesOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const limit = req.query.limit ?? 3;
      const t = await ctx.store.getEventType(req.query.event);
      if (t && !visibleTo(req.principal, t)) return [];
      const recent = await ctx.store.listMessages(
        app.id,
        { eventTypes: [req.query.event] },
        { limit, after: null, before: null, order: 'desc' },
      );
      // Retention empties old payloads to {}: those are no sample.
      const payloads = recent.items
        .map((m) => sampleItem(JSON.parse(m.payload), m.id))
        .filter((p): p is Record<string, unknown> => p !== null && Object.keys(p).length > 1);
      if (payloads.length > 0) return payloads;
      return t ? schemaExamples(t, limit) : [];
    },
  );

  api.get(
    '/app/:app_id/hook/:hook_id',
    {
      schema: {
        tags,
        summary: 'Get a REST Hook subscription',
        params: HookParams,
        response: { 200: RestHookOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      return hookOut(await loadHook(ctx, app, req.params.hook_id));
    },
  );

  api.delete(
    '/app/:app_id/hook/:hook_id',
    {
      schema: {
        tags,
        summary: 'Unsubscribe (deletes the subscription endpoint)',
        params: HookParams,
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      const ep = await loadHook(ctx, app, req.params.hook_id);
      await ctx.store.deleteEndpoint(app.id, ep.id);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/app/:app_id/hook/unsubscribe',
    {
      schema: {
        tags,
        summary: 'Unsubscribe by target URL, for platforms that do not keep the subscription id',
        params: AppParams,
        body: RestHookUnsubscribeIn,
        response: { 204: NoContent, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      const b = req.body;
      const url = b.targetUrl ?? b.target_url ?? b.hookUrl;
      if (url === undefined) throw invalid(['body', 'targetUrl'], 'field required', 'value_error.missing');
      let removed = 0;
      let after: string | null = null;
      for (;;) {
        const page = await ctx.store.listEndpoints(
          app.id,
          { limit: 100, after, before: null, order: 'asc' },
          { url, metadata: MARK },
        );
        for (const ep of page.items) {
          if (b.event !== undefined && !ep.eventTypes?.includes(b.event)) continue;
          await ctx.store.deleteEndpoint(app.id, ep.id);
          removed++;
        }
        after = page.items.at(-1)?.id ?? null;
        if (!page.more || after === null || removed >= UNSUBSCRIBE_MAX) break;
      }
      if (removed === 0) throw notFound('subscription');
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/event-type/:event_type_name/sample',
    {
      schema: {
        tags: ['Event Type', ...tags],
        summary: "The examples of the event type's newest schema version that has any, each with an id",
        params: NameParams,
        querystring: SampleLimitQuery,
        response: { 200: SamplesOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const t = await ctx.store.getEventType(req.params.event_type_name);
      if (!t || !visibleTo(req.principal, t)) throw notFound('event type');
      return schemaExamples(t, req.query.limit ?? 50);
    },
  );
}
