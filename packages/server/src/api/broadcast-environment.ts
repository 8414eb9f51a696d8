/**
 * Admin calls across applications: `POST /msg/broadcast` (one message to every application, as
 * a background task) and the environment's `export` / `import`: event types, applications and
 * their endpoints (signing secrets and custom headers included) as one JSON document, to move
 * between Hookline instances or from Svix. Application tokens never reach these routes (auth.ts
 * keeps them under /app/{their app}).
 */
import Type, { type Static } from 'typebox';
import { parseAddressList } from '../core/email-address.ts';
import { HooklineError, invalid } from '../core/errors.ts';
import type { App, Endpoint, EventType } from '../core/types.ts';
import { createApplication } from './application.ts';
import type { BackgroundTasks } from './background-task.ts';
import type { ApiContext, Routes } from './context.ts';
import { createEndpoint } from './endpoint.ts';
import { createMessage } from './message.ts';
import { checkMessagePayload, eventTypesChanged } from './payload-schema.ts';
import {
  ApplicationIn,
  BackgroundTaskOut,
  ChannelList,
  DateTime,
  EndpointIn,
  EventTypeIn,
  NoContent,
  Nullable,
  ValidationErrorOut,
} from './schemas.ts';
import { appOut, endpointOut, eventTypeOut, iso } from './wire.ts';

const MessageBroadcastIn = Type.Object(
  {
    eventType: Type.String({ pattern: '^[a-zA-Z0-9\\-_.]+$', maxLength: 256 }),
    payload: Type.Record(Type.String(), Type.Unknown()),
    eventId: Type.Optional(Nullable(Type.String({ pattern: '^[a-zA-Z0-9\\-_.]+$', maxLength: 256 }))),
    channels: Type.Optional(Nullable(ChannelList)),
    payloadRetentionPeriod: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 90 }))),
    payloadRetentionHours: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  },
  { $id: 'MessageBroadcastIn' },
);

const ExportedEndpoint = Type.Object({
  ...EndpointIn.properties,
  id: Type.Optional(Type.String()),
  createdAt: Type.Optional(DateTime),
  updatedAt: Type.Optional(DateTime),
});
const ExportedApplication = Type.Object({
  ...ApplicationIn.properties,
  id: Type.Optional(Type.String()),
  createdAt: Type.Optional(DateTime),
  updatedAt: Type.Optional(DateTime),
  alertEmail: Type.Optional(Nullable(Type.String({ maxLength: 8192 }))),
  endpoints: Type.Optional(Type.Array(ExportedEndpoint, { maxItems: 10_000 })),
});
const EnvironmentIn = Type.Object(
  {
    eventTypes: Type.Optional(Nullable(Type.Array(EventTypeIn, { maxItems: 10_000 }))),
    settings: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
    connectors: Type.Optional(Nullable(Type.Array(Type.Unknown()))),
    applications: Type.Optional(
      Nullable(
        Type.Array(ExportedApplication, {
          maxItems: 10_000,
          description: 'Hookline: applications and their endpoints (matched by uid on import)',
        }),
      ),
    ),
  },
  { $id: 'EnvironmentIn' },
);
type EnvironmentIn = Static<typeof EnvironmentIn>;
const EnvironmentOut = Type.Object(
  {
    version: Type.Integer(),
    createdAt: DateTime,
    eventTypes: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    settings: Nullable(Type.Record(Type.String(), Type.Unknown())),
    connectors: Type.Array(Type.Unknown()),
    applications: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'EnvironmentOut' },
);

/** Pages through a list to the end. */
async function all<T>(
  list: (after: string | null) => Promise<{ items: T[]; more: boolean }>,
  key: (t: T) => string,
): Promise<T[]> {
  const out: T[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await list(after);
    out.push(...page.items);
    if (!page.more || page.items.length === 0) return out;
    after = key(page.items.at(-1)!);
  }
}

const page = (after: string | null) => ({ limit: 250, after, before: null, order: 'asc' as const });

/** An endpoint as the environment document carries it: what creating it again takes. */
function exportedEndpoint(e: Endpoint) {
  const { version: _v, filterTypes: _f, rateLimit: _r, ...out } = endpointOut(e);
  return {
    ...out,
    // The current signing secret, so receivers keep verifying after a move.
    secret: e.secrets.find((s) => s.expiresAt === null)?.key ?? e.secrets[0]?.key ?? null,
    headers: e.headers,
  };
}

export function broadcastEnvironmentRoutes(api: Routes, ctx: ApiContext, tasks: BackgroundTasks): void {
  api.post(
    '/msg/broadcast',
    {
      schema: {
        tags: ['Message'],
        summary:
          'Publish one message to every application (admin only); runs as a background task. With an eventId, an application that has it already is skipped',
        body: MessageBroadcastIn,
        response: { 202: BackgroundTaskOut, 413: ValidationErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const input = { ...req.body, channels: req.body.channels ?? null };
      // A payload its event type's schema refuses is refused once, here, not once per application.
      await checkMessagePayload(ctx.store, input.eventType, input.payload, ctx.config.validatePayloads);
      const task = await tasks.start(
        'message.broadcast',
        null,
        { eventType: input.eventType, applications: 0, skipped: 0 },
        async (progress) => {
          let applications = 0;
          let skipped = 0;
          let after: string | null = null;
          for (;;) {
            const p = await ctx.store.listApps(page(after));
            for (const app of p.items) {
              try {
                await createMessage(ctx, app, input, { withContent: false });
                applications++;
              } catch (err) {
                // This application has the eventId already, or was deleted meanwhile.
                if (!(err instanceof HooklineError)) throw err;
                skipped++;
              }
            }
            await progress({ applications, skipped });
            if (!p.more || p.items.length === 0) return { applications, skipped };
            after = p.items.at(-1)!.id;
          }
        },
      );
      return reply.code(202).send(task);
    },
  );

  api.post(
    '/environment/export',
    {
      schema: {
        tags: ['Environment'],
        summary:
          'Export event types, applications and endpoints (with their signing secrets and headers) as one document (admin only)',
        response: { 200: EnvironmentOut },
      },
    },
    async () => {
      const eventTypes = await all<EventType>(
        (after) => ctx.store.listEventTypes(page(after), true),
        (t) => t.name,
      );
      const apps = await all<App>(
        (after) => ctx.store.listApps(page(after)),
        (a) => a.id,
      );
      const applications = [];
      for (const a of apps) {
        const eps = await all<Endpoint>(
          (after) => ctx.store.listEndpoints(a.id, page(after)),
          (e) => e.id,
        );
        const { rateLimit: _r, ...app } = appOut(a);
        const alertEmail = await ctx.store.getAppAlertEmail(a.id);
        applications.push({ ...app, alertEmail, endpoints: eps.map(exportedEndpoint) });
      }
      return {
        version: 1,
        createdAt: iso(ctx.clock.now()),
        eventTypes: eventTypes.map((t) => eventTypeOut(t)),
        settings: null,
        connectors: [],
        applications,
      };
    },
  );

  api.post(
    '/environment/import',
    {
      schema: {
        tags: ['Environment'],
        summary:
          'Import an exported environment (admin only): event types are created or updated; applications and endpoints are matched by uid and created when missing (ones without a uid are always created)',
        body: EnvironmentIn,
        response: { 204: NoContent, 409: ValidationErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      await importEnvironment(ctx, req.principal, req.body);
      eventTypesChanged(ctx.store);
      return reply.code(204).send(null);
    },
  );
}

async function importEnvironment(
  ctx: ApiContext,
  principal: Parameters<typeof createEndpoint>[1],
  env: EnvironmentIn,
): Promise<void> {
  // Alert emails are checked before anything is written.
  const alertEmails = (env.applications ?? []).map((a, i) => {
    try {
      return parseAddressList(a.alertEmail ?? '');
    } catch (err) {
      throw invalid(['body', 'applications', i, 'alertEmail'], (err as Error).message);
    }
  });
  const now = ctx.clock.now();
  for (const t of env.eventTypes ?? []) {
    const existing = await ctx.store.getEventType(t.name);
    const next: EventType = {
      ...(existing ?? { createdAt: now }),
      name: t.name,
      description: t.description,
      archived: t.archived ?? false,
      deprecated: t.deprecated ?? false,
      schemas: t.schemas ?? null,
      groupName: t.groupName ?? null,
      featureFlags: t.featureFlags ?? (t.featureFlag ? [t.featureFlag] : null),
      validatePayload:
        t.validatePayload !== undefined ? t.validatePayload : (existing?.validatePayload ?? null),
      updatedAt: now,
    };
    if (existing) await ctx.store.updateEventType(next);
    else await ctx.store.insertEventType(next);
  }
  for (const [i, a] of (env.applications ?? []).entries()) {
    const { endpoints = [], id: _id, createdAt: _c, updatedAt: _u, alertEmail: _a, ...appIn } = a;
    const { app, created } = await createApplication(ctx, appIn, true);
    // As its other settings, an application that exists already keeps its alert email.
    const addresses = alertEmails[i]!;
    if (created && addresses.length > 0) await ctx.store.setAppAlertEmail(app.id, addresses.join(', '));
    for (const e of endpoints) {
      const { id: _eid, createdAt: _ec, updatedAt: _eu, ...epIn } = e;
      if (epIn.uid && (await ctx.store.getEndpoint(app.id, epIn.uid))) continue;
      await createEndpoint(ctx, principal, app, epIn);
    }
  }
}
