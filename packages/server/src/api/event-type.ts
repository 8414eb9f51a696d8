/** `/api/v1/event-type`: the catalog of event types endpoints can subscribe to. */
import Type from 'typebox';
import { HooklineError, invalid, notFound } from '../core/errors.ts';
import type { EventType } from '../core/types.ts';
import { StoreConflictError } from '../store/store-errors.ts';
import { visibleTo } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { listOut, pageQuery } from './pagination.ts';
import { eventTypesChanged, schemaProblem } from './payload-schema.ts';
import {
  ErrorOut,
  EventTypeIn,
  EventTypeListQuery,
  EventTypeOut,
  EventTypePatch,
  EventTypeUpdate,
  listOf,
  NoContent,
} from './schemas.ts';
import { eventTypeOut } from './wire.ts';

const tags = ['Event Type'];
const NameParams = Type.Object({ event_type_name: Type.String() });

const flags = (b: { featureFlags?: string[] | null; featureFlag?: string | null }) =>
  b.featureFlags ?? (b.featureFlag ? [b.featureFlag] : null);

/** Turning payload validation on needs a schema that compiles. */
function checkValidationSetting(t: EventType): void {
  if (t.validatePayload !== true) return;
  const problem = schemaProblem(t.schemas);
  if (problem) throw invalid(['body', 'schemas'], `validatePayload is on, but ${problem}`);
}

async function loadEventType(ctx: ApiContext, name: string): Promise<EventType> {
  const t = await ctx.store.getEventType(name);
  if (!t) throw notFound('event type');
  return t;
}

export function eventTypeRoutes(api: Routes, ctx: ApiContext): void {
  // A change here is seen by the next publish in this process (others re-read within seconds).
  api.addHook('onSend', async (req, _reply, payload) => {
    if (req.method !== 'GET' && req.routeOptions.url?.includes('/event-type')) eventTypesChanged(ctx.store);
    return payload;
  });
  api.get(
    '/event-type',
    {
      schema: {
        tags,
        summary: 'List event types',
        querystring: EventTypeListQuery,
        response: { 200: listOf(EventTypeOut, 'EventTypeOut') },
      },
    },
    async (req) => {
      const q = pageQuery(req.query, 'asc');
      const page = await ctx.store.listEventTypes(q, req.query.include_archived === true);
      const withContent = req.query.with_content !== false;
      const out = listOut(
        page,
        q,
        (t) => t.name,
        (t) => t,
      );
      // An application token sees only the flagged event types its flags open (see auth.ts);
      // the iterators still come from the whole page, so paging never stalls.
      const data = out.data
        .filter((t) => visibleTo(req.principal, t))
        .map((t) => eventTypeOut(t, withContent));
      return { ...out, data };
    },
  );

  api.post(
    '/event-type',
    {
      schema: {
        tags,
        summary: 'Create an event type',
        body: EventTypeIn,
        response: { 201: EventTypeOut, 409: ErrorOut },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const now = ctx.clock.now();
      const existing = await ctx.store.getEventType(b.name);
      if (existing && !existing.archived) {
        throw new HooklineError('event_type_exists', `an event type named "${b.name}" exists already`);
      }
      const t: EventType = {
        name: b.name,
        description: b.description,
        archived: b.archived ?? false,
        deprecated: b.deprecated ?? false,
        schemas: b.schemas ?? null,
        groupName: b.groupName ?? null,
        featureFlags: flags(b),
        validatePayload: b.validatePayload ?? null,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      checkValidationSetting(t);
      // Creating an archived type again brings it back.
      if (existing) await ctx.store.updateEventType(t);
      else {
        try {
          await ctx.store.insertEventType(t);
        } catch (err) {
          // Created at the same time by another request (the name is the key).
          if (err instanceof StoreConflictError)
            throw new HooklineError('event_type_exists', `an event type named "${b.name}" exists already`);
          throw err;
        }
      }
      return reply.code(201).send(eventTypeOut(t));
    },
  );

  api.get(
    '/event-type/:event_type_name',
    {
      schema: {
        tags,
        summary: 'Get an event type',
        params: NameParams,
        response: { 200: EventTypeOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const t = await loadEventType(ctx, req.params.event_type_name);
      if (!visibleTo(req.principal, t)) throw notFound('event type');
      return eventTypeOut(t);
    },
  );

  api.put(
    '/event-type/:event_type_name',
    {
      schema: {
        tags,
        summary: 'Update or create an event type',
        params: NameParams,
        body: EventTypeUpdate,
        response: { 200: EventTypeOut, 201: EventTypeOut },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const now = ctx.clock.now();
      const existing = await ctx.store.getEventType(req.params.event_type_name);
      const t: EventType = {
        name: req.params.event_type_name,
        description: b.description,
        archived: b.archived ?? false,
        deprecated: b.deprecated ?? false,
        schemas: b.schemas ?? null,
        groupName: b.groupName ?? null,
        featureFlags: flags(b),
        // Svix clients never send it: a PUT without it keeps the event type's setting.
        validatePayload:
          b.validatePayload !== undefined ? b.validatePayload : (existing?.validatePayload ?? null),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      checkValidationSetting(t);
      if (!existing) {
        try {
          await ctx.store.insertEventType(t);
          return reply.code(201).send(eventTypeOut(t));
        } catch (err) {
          // The same PUT at once from another client created it first: this one updates it.
          if (!(err instanceof StoreConflictError)) throw err;
          const winner = await ctx.store.getEventType(t.name);
          if (!winner) throw err;
          t.createdAt = winner.createdAt;
        }
      }
      await ctx.store.updateEventType(t);
      return eventTypeOut(t);
    },
  );

  api.patch(
    '/event-type/:event_type_name',
    {
      schema: {
        tags,
        summary: 'Change some fields of an event type',
        params: NameParams,
        body: EventTypePatch,
        response: { 200: EventTypeOut },
      },
    },
    async (req) => {
      const existing = await loadEventType(ctx, req.params.event_type_name);
      const b = req.body;
      const t: EventType = {
        ...existing,
        ...(b.description !== undefined ? { description: b.description } : {}),
        ...(b.archived !== undefined ? { archived: b.archived } : {}),
        ...(b.deprecated !== undefined ? { deprecated: b.deprecated } : {}),
        ...(b.schemas !== undefined ? { schemas: b.schemas } : {}),
        ...(b.groupName !== undefined ? { groupName: b.groupName } : {}),
        ...(b.featureFlags !== undefined || b.featureFlag !== undefined ? { featureFlags: flags(b) } : {}),
        ...(b.validatePayload !== undefined ? { validatePayload: b.validatePayload } : {}),
        updatedAt: ctx.clock.now(),
      };
      checkValidationSetting(t);
      await ctx.store.updateEventType(t);
      return eventTypeOut(t);
    },
  );

  api.delete(
    '/event-type/:event_type_name',
    {
      schema: {
        tags,
        summary: 'Archive an event type (endpoints keep it; new endpoints cannot subscribe to it)',
        params: NameParams,
        querystring: Type.Object({ expunge: Type.Optional(Type.Boolean()) }),
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const existing = await loadEventType(ctx, req.params.event_type_name);
      await ctx.store.updateEventType({ ...existing, archived: true, updatedAt: ctx.clock.now() });
      return reply.code(204).send(null);
    },
  );
}
