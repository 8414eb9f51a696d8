/**
 * `/api/v1/operational-webhook/endpoint`: the operator's own endpoints for operational webhooks
 * (see delivery/operational.ts), admin only. They are endpoints of Hookline's operational
 * application, so they are signed, retried and logged like every endpoint. This file also
 * reports the changes made to users' endpoints through the API (`endpoint.created`, `.updated`,
 * `.deleted`, `.enabled`, `.disabled`).
 */
import Type, { type Static } from 'typebox';
import { HooklineError, notFound, type ValidationIssue } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { generateSecret, normalizeSecret, rotateSecrets } from '../core/signing.ts';
import type { App, Endpoint } from '../core/types.ts';
import {
  createOperationalEvents,
  OPERATIONAL_EVENT_TYPES,
  type OperationalEvents,
} from '../delivery/operational.ts';
import { StoreConflictError } from '../store/store-errors.ts';
import type { ApiContext, Routes } from './context.ts';
import { assertSigningSecret, DEFAULT_GRACE_SECONDS, destinationProblems } from './destination-rules.ts';
import { listOut, pageQuery } from './pagination.ts';
import { DateTime, ErrorOut, ListQuery, listOf, NoContent, Nullable, ValidationErrorOut } from './schemas.ts';
import { iso } from './wire.ts';

const tags = ['Webhook Endpoint'];
const Params = Type.Object({ endpoint_id: Type.String({ description: 'Endpoint id or uid' }) });
const HeaderMap = Type.Record(Type.String({ pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$" }), Type.String());
const UidSchema = Type.String({ pattern: '^[a-zA-Z0-9\\-_.]+$', minLength: 1, maxLength: 256 });
const SecretSchema = Type.String({ pattern: '^(whsec_|whsk_|whsk1_|whpk_|whpk1_)?[a-zA-Z0-9+/=]{32,100}$' });

const upsertFields = {
  url: Type.String({ minLength: 1, maxLength: 65536 }),
  description: Type.Optional(Type.String({ maxLength: 65536 })),
  throttleRate: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 65535 }))),
  uid: Type.Optional(Nullable(UidSchema)),
  disabled: Type.Optional(Type.Boolean()),
  eventTypes: Type.Optional(
    Nullable(
      Type.Array(Type.Enum(OPERATIONAL_EVENT_TYPES, { type: 'string' }), { minItems: 1, maxItems: 8 }),
    ),
  ),
  metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
};
const EndpointInSchema = Type.Object(
  {
    ...upsertFields,
    secret: Type.Optional(Nullable(SecretSchema)),
    headers: Type.Optional(Nullable(HeaderMap)),
  },
  { $id: 'OperationalWebhookEndpointIn' },
);
const UpsertInSchema = Type.Object(upsertFields, { $id: 'OperationalWebhookEndpointUpsertIn' });
const EndpointOutSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Type.String(),
    throttleRate: Nullable(Type.Integer()),
    uid: Nullable(Type.String()),
    disabled: Type.Boolean(),
    eventTypes: Nullable(Type.Array(Type.String())),
    metadata: Type.Record(Type.String(), Type.String()),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'OperationalWebhookEndpointOut' },
);

const out = (e: Endpoint) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  throttleRate: e.throttleRate,
  uid: e.uid,
  disabled: e.disabled,
  eventTypes: e.eventTypes,
  metadata: e.metadata,
  createdAt: iso(e.createdAt),
  updatedAt: iso(e.updatedAt),
});

async function checkFields(
  ctx: ApiContext,
  f: { url: string; uid?: string | null; headers?: Record<string, string> | null },
) {
  const issues: ValidationIssue[] = (
    await destinationProblems({ url: f.url, headers: f.headers ?? null }, ctx.config.allowPrivateNetworks)
  ).map((p) => ({ loc: ['body', ...p.path], msg: p.msg, type: p.type }));
  if (f.uid && isId('endpoint', f.uid))
    issues.push({
      loc: ['body', 'uid'],
      msg: 'uid must not look like an endpoint id (ep_...)',
      type: 'value_error',
    });
  if (issues.length > 0) throw new HooklineError('validation', issues[0]!.msg, issues);
}

/** Reports endpoint changes made through the API (the endpoint as it was is read before a change). */
function reportEndpointChanges(api: Routes, ctx: ApiContext, ops: OperationalEvents): void {
  const ENDPOINT = '/api/v1/app/:app_id/endpoint/:endpoint_id';
  const before = new WeakMap<object, { app: App; ep: Endpoint } | null>();
  api.addHook('preHandler', async (req) => {
    if (req.routeOptions.url !== ENDPOINT || req.method === 'GET') return;
    const p = req.params as { app_id: string; endpoint_id: string };
    const app = await ctx.store.getApp(p.app_id);
    const ep = app ? await ctx.store.getEndpoint(app.id, p.endpoint_id) : null;
    before.set(req, app && ep ? { app, ep } : null);
  });
  api.addHook('onSend', async (req, reply, payload) => {
    const route = req.routeOptions.url;
    const ok = reply.statusCode >= 200 && reply.statusCode < 300;
    if (!ok || (route !== ENDPOINT && route !== '/api/v1/app/:app_id/endpoint') || req.method === 'GET')
      return payload;
    const was = before.get(req) ?? null;
    if (req.method === 'DELETE') {
      if (was) await ops.endpoint('endpoint.deleted', was.app, was.ep);
      return payload;
    }
    if (typeof payload !== 'string') return payload;
    const body = JSON.parse(payload) as { id: string; uid: string | null; disabled: boolean };
    const app = was?.app ?? (await ctx.store.getApp((req.params as { app_id: string }).app_id));
    if (!app) return payload;
    const ep = { id: body.id, uid: body.uid, failingSince: null };
    if (!was) await ops.endpoint('endpoint.created', app, ep);
    else {
      await ops.endpoint('endpoint.updated', app, ep);
      if (was.ep.disabled !== body.disabled)
        await ops.endpoint(body.disabled ? 'endpoint.disabled' : 'endpoint.enabled', app, {
          ...ep,
          failingSince: was.ep.failingSince,
        });
    }
    return payload;
  });
}

export function operationalWebhookRoutes(api: Routes, ctx: ApiContext): void {
  const ops = createOperationalEvents({
    store: ctx.store,
    ingest: ctx.ingest,
    ids: ctx.ids,
    clock: ctx.clock,
    logger: ctx.logger,
  });
  reportEndpointChanges(api, ctx, ops);

  const load = async (idOrUid: string): Promise<{ app: App; ep: Endpoint }> => {
    const appId = await ops.appId();
    const ep = appId ? await ctx.store.getEndpoint(appId, idOrUid) : null;
    if (!ep) throw notFound('endpoint');
    return { app: await ops.app(), ep };
  };

  const create = async (input: Static<typeof EndpointInSchema>, uid: string | null): Promise<Endpoint> => {
    assertSigningSecret(input.secret, ['body', 'secret']);
    await checkFields(ctx, { url: input.url, uid, headers: input.headers ?? null });
    const app = await ops.app();
    const now = ctx.clock.now();
    const ep: Endpoint = {
      id: ctx.ids('endpoint'),
      appId: app.id,
      uid,
      url: input.url,
      description: input.description ?? '',
      disabled: input.disabled ?? false,
      eventTypes: input.eventTypes ?? null,
      channels: null,
      throttleRate: input.throttleRate ?? null,
      metadata: input.metadata ?? {},
      headers: Object.fromEntries(Object.entries(input.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      secrets: [{ key: input.secret ? normalizeSecret(input.secret) : generateSecret(), expiresAt: null }],
      svixHeaders: false,
      failingSince: null,
      kind: 'http',
      template: null,
      fifo: false,
      timeoutMs: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await ctx.store.insertEndpoint(ep);
    } catch (err) {
      if (err instanceof StoreConflictError && uid)
        throw new HooklineError('conflict', `an endpoint with uid "${uid}" exists already`);
      throw err;
    }
    return ep;
  };

  api.get(
    '/operational-webhook/endpoint',
    {
      schema: {
        tags,
        summary: 'List the endpoints that receive operational webhooks',
        querystring: ListQuery,
        response: { 200: listOf(EndpointOutSchema, 'OperationalWebhookEndpointOut') },
      },
    },
    async (req) => {
      const q = pageQuery(req.query, 'desc');
      const appId = await ops.appId();
      const page = appId ? await ctx.store.listEndpoints(appId, q) : { items: [], more: false };
      return listOut(page, q, (e) => e.id, out);
    },
  );

  api.post(
    '/operational-webhook/endpoint',
    {
      schema: {
        tags,
        summary: `Add an endpoint for operational webhooks (${OPERATIONAL_EVENT_TYPES.join(', ')})`,
        body: EndpointInSchema,
        response: { 201: EndpointOutSchema, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => reply.code(201).send(out(await create(req.body, req.body.uid ?? null))),
  );

  api.get(
    '/operational-webhook/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Get an operational webhook endpoint',
        params: Params,
        response: { 200: EndpointOutSchema, 404: ErrorOut },
      },
    },
    async (req) => out((await load(req.params.endpoint_id)).ep),
  );

  api.put(
    '/operational-webhook/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Update an operational webhook endpoint, or create it under this uid',
        params: Params,
        body: UpsertInSchema,
        response: { 200: EndpointOutSchema, 201: EndpointOutSchema, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const appId = await ops.appId();
      const existing = appId ? await ctx.store.getEndpoint(appId, req.params.endpoint_id) : null;
      if (!existing) {
        if (isId('endpoint', req.params.endpoint_id)) throw notFound('endpoint');
        return reply.code(201).send(out(await create(b, b.uid ?? req.params.endpoint_id)));
      }
      await checkFields(ctx, { url: b.url, uid: b.uid ?? null });
      const next: Endpoint = {
        ...existing,
        url: b.url,
        description: b.description ?? '',
        throttleRate: b.throttleRate ?? null,
        uid: b.uid !== undefined ? b.uid : existing.uid,
        disabled: b.disabled ?? false,
        eventTypes: b.eventTypes ?? null,
        metadata: b.metadata ?? {},
        failingSince: b.disabled === false ? null : existing.failingSince,
        updatedAt: ctx.clock.now(),
      };
      try {
        await ctx.store.updateEndpoint(next);
      } catch (err) {
        if (err instanceof StoreConflictError)
          throw new HooklineError('conflict', `an endpoint with uid "${b.uid}" exists already`);
        throw err;
      }
      return out(next);
    },
  );

  api.delete(
    '/operational-webhook/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Delete an operational webhook endpoint',
        params: Params,
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const { app, ep } = await load(req.params.endpoint_id);
      await ctx.store.deleteEndpoint(app.id, ep.id);
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/operational-webhook/endpoint/:endpoint_id/secret',
    {
      schema: {
        tags,
        summary: "An operational webhook endpoint's signing secret",
        params: Params,
        response: {
          200: Type.Object({ key: Type.String() }, { $id: 'OperationalWebhookEndpointSecretOut' }),
          404: ErrorOut,
        },
      },
    },
    async (req) => {
      const { ep } = await load(req.params.endpoint_id);
      return { key: ep.secrets.find((s) => s.expiresAt === null)?.key ?? ep.secrets[0]!.key };
    },
  );

  api.post(
    '/operational-webhook/endpoint/:endpoint_id/secret/rotate',
    {
      schema: {
        tags,
        summary: 'Rotate the signing secret (the old one keeps signing for 24 hours)',
        params: Params,
        body: Type.Optional(
          Type.Object(
            { key: Type.Optional(Nullable(SecretSchema)) },
            { $id: 'OperationalWebhookEndpointSecretIn' },
          ),
        ),
        response: { 204: NoContent, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const { ep } = await load(req.params.endpoint_id);
      const key = req.body?.key ?? null;
      assertSigningSecret(key, ['body', 'key']);
      const now = ctx.clock.now();
      await ctx.store.updateEndpoint({
        ...ep,
        secrets: rotateSecrets(ep.secrets, key ? normalizeSecret(key) : null, DEFAULT_GRACE_SECONDS, now),
        updatedAt: now,
      });
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/operational-webhook/endpoint/:endpoint_id/headers',
    {
      schema: {
        tags,
        summary: "An operational webhook endpoint's custom headers",
        params: Params,
        response: {
          200: Type.Object(
            { headers: Type.Record(Type.String(), Type.String()), sensitive: Type.Array(Type.String()) },
            { $id: 'OperationalWebhookEndpointHeadersOut' },
          ),
          404: ErrorOut,
        },
      },
    },
    async (req) => ({ headers: (await load(req.params.endpoint_id)).ep.headers, sensitive: [] }),
  );

  api.put(
    '/operational-webhook/endpoint/:endpoint_id/headers',
    {
      schema: {
        tags,
        summary: "Replace an operational webhook endpoint's custom headers",
        params: Params,
        body: Type.Object({ headers: HeaderMap }, { $id: 'OperationalWebhookEndpointHeadersIn' }),
        response: { 204: NoContent, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const { ep } = await load(req.params.endpoint_id);
      await checkFields(ctx, { url: ep.url, headers: req.body.headers });
      const headers = Object.fromEntries(
        Object.entries(req.body.headers).map(([k, v]) => [k.toLowerCase(), v]),
      );
      await ctx.store.updateEndpoint({ ...ep, headers, updatedAt: ctx.clock.now() });
      return reply.code(204).send(null);
    },
  );
}
