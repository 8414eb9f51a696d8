/**
 * More of Svix's event type API: each event type's own retry schedule, and the catalog from and
 * to an OpenAPI document's `webhooks` (or `x-webhooks`) section: each webhook is an event type
 * whose JSON Schema is its request body's (references to `components.schemas` inlined).
 */
import Type, { type Static } from 'typebox';
import { invalid, notFound } from '../core/errors.ts';
import { UID_PATTERN } from '../core/formats.ts';
import type { EventType } from '../core/types.ts';
import type { BackgroundTasks } from './background-task.ts';
import type { ApiContext, Routes } from './context.ts';
import { eventTypesChanged } from './payload-schema.ts';
import { BackgroundTaskOut, ErrorOut, Nullable, RetryScheduleInOut, ValidationErrorOut } from './schemas.ts';

const tags = ['Event Type'];
const NameParams = Type.Object({ event_type_name: Type.String() });
const ImportIn = Type.Object(
  {
    dryRun: Type.Optional(Type.Boolean({ default: false })),
    replaceAll: Type.Optional(Type.Boolean({ default: false })),
    spec: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
    specRaw: Type.Optional(Nullable(Type.String({ maxLength: 10_000_000 }))),
  },
  { $id: 'EventTypeImportOpenApiIn' },
);
type ImportIn = Static<typeof ImportIn>;
const FromOpenApi = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    schemas: Nullable(Type.Record(Type.String(), Type.Unknown())),
    deprecated: Type.Boolean(),
    groupName: Nullable(Type.String()),
    featureFlags: Nullable(Type.Array(Type.String())),
  },
  { $id: 'EventTypeFromOpenApi' },
);
const ImportOut = Type.Object(
  {
    data: Type.Object({
      modified: Type.Array(Type.String()),
      to_modify: Nullable(Type.Array(FromOpenApi)),
    }),
  },
  { $id: 'EventTypeImportOpenApiOut' },
);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `$ref`s to `#/components/schemas/...` replaced by what they name (cycles and depth bounded). */
function inline(schema: unknown, components: Json, seen: string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((s) => inline(s, components, seen));
  if (!isObject(schema)) return schema;
  const ref = schema.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    const name = ref.slice('#/components/schemas/'.length);
    const target = components[name];
    if (!isObject(target) || seen.includes(name) || seen.length > 32) return { type: 'object' };
    return inline(target, components, [...seen, name]);
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, inline(v, components, seen)]));
}

/** The event types an OpenAPI document's webhooks describe; 422 pointing at what is wrong. */
export function eventTypesFromOpenApi(doc: Json): Static<typeof FromOpenApi>[] {
  const hooks =
    (isObject(doc.webhooks) ? doc.webhooks : null) ??
    (isObject(doc['x-webhooks']) ? doc['x-webhooks'] : null);
  if (!hooks)
    throw invalid(['body', 'spec', 'webhooks'], 'the document has no webhooks (or x-webhooks) section');
  const components =
    isObject(doc.components) && isObject(doc.components.schemas) ? doc.components.schemas : {};
  const out: Static<typeof FromOpenApi>[] = [];
  for (const [name, item] of Object.entries(hooks)) {
    if (!new RegExp(UID_PATTERN).test(name) || name.length > 256)
      throw invalid(['body', 'spec', 'webhooks', name], 'an event type name is 1–256 of [a-zA-Z0-9-_.]');
    const op = isObject(item) ? (item.post ?? Object.values(item).find(isObject)) : null;
    if (!isObject(op)) throw invalid(['body', 'spec', 'webhooks', name], 'the webhook has no operation');
    const body = isObject(op.requestBody) && isObject(op.requestBody.content) ? op.requestBody.content : {};
    const json = isObject(body['application/json']) ? body['application/json'] : null;
    const schema = json && isObject(json.schema) ? (inline(json.schema, components) as Json) : null;
    const flags =
      op['x-svix-feature-flags'] ?? (op['x-svix-feature-flag'] ? [op['x-svix-feature-flag']] : null);
    out.push({
      name,
      description: String(op.description ?? op.summary ?? ''),
      schemas: schema ? { '1': schema } : null,
      deprecated: op.deprecated === true,
      groupName: typeof op['x-svix-group-name'] === 'string' ? op['x-svix-group-name'] : null,
      featureFlags: Array.isArray(flags) ? flags.map(String) : null,
    });
  }
  return out;
}

/** The catalog as an OpenAPI 3.1 document whose `webhooks` are the event types. */
export function openApiFromEventTypes(types: EventType[]): Json {
  const webhooks: Json = {};
  for (const t of types) {
    const versions = Object.keys(t.schemas ?? {}).sort((a, b) => Number(b) - Number(a));
    const schema = versions.length > 0 ? t.schemas![versions[0]!] : { type: 'object' };
    webhooks[t.name] = {
      post: {
        operationId: t.name,
        summary: t.name,
        description: t.description,
        ...(t.deprecated ? { deprecated: true } : {}),
        ...(t.groupName ? { 'x-svix-group-name': t.groupName } : {}),
        ...(t.featureFlags && t.featureFlags.length > 0 ? { 'x-svix-feature-flags': t.featureFlags } : {}),
        requestBody: { content: { 'application/json': { schema } } },
        responses: { '2XX': { description: 'Return any 2XX status to show the webhook was received' } },
      },
    };
  }
  return { openapi: '3.1.0', info: { title: 'Webhooks', version: '1.0.0' }, paths: {}, webhooks };
}

async function allEventTypes(ctx: ApiContext, includeArchived: boolean): Promise<EventType[]> {
  const out: EventType[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await ctx.store.listEventTypes(
      { limit: 250, after, before: null, order: 'asc' },
      includeArchived,
    );
    out.push(...page.items);
    if (!page.more || page.items.length === 0) return out;
    after = page.items.at(-1)!.name;
  }
}

function parseSpec(b: ImportIn): Json {
  if (b.spec) return b.spec;
  if (b.specRaw) {
    try {
      const parsed: unknown = JSON.parse(b.specRaw);
      if (isObject(parsed)) return parsed;
    } catch {
      // answered below
    }
    throw invalid(
      ['body', 'specRaw'],
      'specRaw must be a JSON document (YAML is not read; convert it to JSON)',
    );
  }
  throw invalid(['body', 'spec'], 'send the document as spec (an object) or specRaw (JSON text)');
}

export function eventTypeExtraRoutes(api: Routes, ctx: ApiContext, tasks: BackgroundTasks): void {
  api.get(
    '/event-type/:event_type_name/retry-schedule',
    {
      schema: {
        tags,
        summary: "The event type's own retry schedule (null: the server's)",
        params: NameParams,
        response: { 200: RetryScheduleInOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const t = await ctx.store.getEventType(req.params.event_type_name);
      if (!t) throw notFound('event type');
      const ms = t.retryScheduleMs ?? null;
      return {
        retrySchedule:
          ms === null ? null : ms.map((d) => ({ secs: Math.floor(d / 1000), nanos: (d % 1000) * 1_000_000 })),
      };
    },
  );

  api.put(
    '/event-type/:event_type_name/retry-schedule',
    {
      schema: {
        tags,
        summary:
          'Set the retry schedule of every message of this event type (null: the server’s); the dispatchers use it within seconds',
        params: NameParams,
        body: RetryScheduleInOut,
        response: { 200: RetryScheduleInOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const schedule = req.body.retrySchedule ?? null;
      const ms =
        schedule === null ? null : schedule.map((d) => d.secs * 1000 + Math.round(d.nanos / 1_000_000));
      if (!(await ctx.store.setEventTypeRetrySchedule(req.params.event_type_name, ms, ctx.clock.now())))
        throw notFound('event type');
      return { retrySchedule: schedule };
    },
  );

  api.post(
    '/event-type/import/openapi',
    {
      schema: {
        tags,
        summary:
          "Create or update event types from an OpenAPI document's webhooks (spec, or specRaw as JSON text); replaceAll archives the others, dryRun changes nothing",
        body: ImportIn,
        response: { 200: ImportOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const found = eventTypesFromOpenApi(parseSpec(req.body));
      if (req.body.dryRun) return { data: { modified: [], to_modify: found } };
      const now = ctx.clock.now();
      const modified: string[] = [];
      for (const f of found) {
        const existing = await ctx.store.getEventType(f.name);
        const t: EventType = {
          ...(existing ?? { createdAt: now, validatePayload: null }),
          name: f.name,
          description: f.description,
          archived: false,
          deprecated: f.deprecated,
          schemas: f.schemas,
          groupName: f.groupName,
          featureFlags: f.featureFlags,
          updatedAt: now,
        };
        if (existing) await ctx.store.updateEventType(t);
        else await ctx.store.insertEventType(t);
        modified.push(f.name);
      }
      if (req.body.replaceAll) {
        const keep = new Set(found.map((f) => f.name));
        for (const t of await allEventTypes(ctx, false)) {
          if (keep.has(t.name)) continue;
          await ctx.store.updateEventType({ ...t, archived: true, updatedAt: now });
          modified.push(t.name);
        }
      }
      eventTypesChanged(ctx.store);
      return { data: { modified, to_modify: null } };
    },
  );

  api.post(
    '/event-type/export/openapi',
    {
      schema: {
        tags,
        summary:
          'Export the event types as an OpenAPI 3.1 document (its webhooks); runs as a background task (sdk.generate) whose data holds the document as `openapi`',
        response: { 202: BackgroundTaskOut },
      },
    },
    async (_req, reply) => {
      const task = await tasks.start('sdk.generate', null, {}, async () => ({
        openapi: openApiFromEventTypes(await allEventTypes(ctx, false)),
      }));
      return reply.code(202).send(task);
    },
  );
}
