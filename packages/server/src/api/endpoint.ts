/** `/api/v1/app/{app}/endpoint`: where an application's webhooks go, and how they are signed. */
import Type from 'typebox';
import { HooklineError, invalid, notFound, type ValidationIssue } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { endpointMatches } from '../core/routing.ts';
import {
  generateSecret,
  normalizeSecret,
  publicKeyFor,
  rotateSecrets,
  type SecretType,
} from '../core/signing.ts';
import { type App, type Endpoint, type EndpointKind, isChatKind } from '../core/types.ts';
import type { RecoverCursor } from '../store/store.ts';
import { StoreConflictError } from '../store/store-errors.ts';
import { isConflict, loadApp, loadAppToChange } from './application.ts';
import { hiddenEventTypes, type Principal } from './auth.ts';
import type { BackgroundTasks } from './background-task.ts';
import type { ApiContext, Routes } from './context.ts';
import { assertSigningSecret, DEFAULT_GRACE_SECONDS, destinationProblems } from './destination-rules.ts';
import { listOut, pageQuery } from './pagination.ts';
import {
  BackgroundTaskOut,
  EndpointHeadersIn,
  EndpointHeadersOut,
  EndpointHeadersPatchIn,
  EndpointIn,
  EndpointOut,
  EndpointPatch,
  EndpointPublicKeyOut,
  EndpointSecretOut,
  EndpointSecretRotateIn,
  EndpointStatsOut,
  ErrorOut,
  ListQuery,
  listOf,
  NoContent,
  RecoverIn,
  StatsQuery,
  ValidationErrorOut,
} from './schemas.ts';
import { endpointOut, iso } from './wire.ts';

/** An endpoint's `timeout` (seconds on the wire) as stored. */
const secondsToMs = (s: number | null | undefined): number | null =>
  s === null || s === undefined ? null : s * 1000;

const tags = ['Endpoint'];
const AppParams = Type.Object({ app_id: Type.String() });
const EpParams = Type.Object({
  app_id: Type.String(),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});
const DAY_MS = 86_400_000;

export async function loadEndpoint(ctx: ApiContext, app: App, idOrUid: string): Promise<Endpoint> {
  const ep = await ctx.store.getEndpoint(app.id, idOrUid);
  if (!ep) throw notFound('endpoint');
  return ep;
}

/** Refuses to send anything to a polling endpoint (kind `poller`): its consumers poll it. */
export function assertDeliverable(ep: Endpoint): Endpoint {
  if (ep.kind === 'poller') {
    throw new HooklineError(
      'poller_endpoint',
      `endpoint ${ep.id} is a polling endpoint: nothing is sent to it; its consumers read /api/v1/app/${ep.appId}/poller/${ep.id}`,
    );
  }
  return ep;
}

/**
 * The issues of event types that do not exist for this caller: unknown or archived ones, and for
 * an application token the flagged types its flags do not open — answered exactly alike, so a
 * token cannot learn that a hidden type exists. Types in `keep` (the endpoint has them already,
 * so the caller sees them on it) stay allowed, and a round trip of GET and PUT keeps working.
 */
export async function unknownEventTypeIssues(
  ctx: ApiContext,
  principal: Principal | undefined,
  names: string[],
  keep: readonly string[] | null = null,
): Promise<ValidationIssue[]> {
  if (names.length === 0) return [];
  const known = await ctx.store.existingEventTypes(names);
  const hidden = new Set(await hiddenEventTypes(ctx.store, principal));
  const issues: ValidationIssue[] = [];
  names.forEach((name, i) => {
    if (known.has(name) && (!hidden.has(name) || keep?.includes(name))) return;
    issues.push({
      loc: ['body', 'eventTypes', i],
      msg: `event type "${name}" does not exist`,
      type: 'value_error',
    });
  });
  return issues;
}

/** Checks what the schema cannot: URL safety, known event types, allowed headers, uid shape. */
async function validateEndpoint(
  ctx: ApiContext,
  access: { principal: Principal | undefined; keep?: readonly string[] | null },
  fields: {
    url?: string;
    eventTypes?: string[] | null;
    headers?: Record<string, string> | null;
    uid?: string | null;
    /** `listen` URLs are on the machine of the `hookline listen` client: never fetched by the server. */
    kind?: EndpointKind;
    /** A chat destination's message template (checked: parses, renders, size). */
    template?: Record<string, unknown> | null;
  },
): Promise<void> {
  const issues: ValidationIssue[] = (await destinationProblems(fields, ctx.config.allowPrivateNetworks)).map(
    (p) => ({ loc: ['body', ...p.path], msg: p.msg, type: p.type }),
  );
  if (fields.eventTypes)
    issues.push(...(await unknownEventTypeIssues(ctx, access.principal, fields.eventTypes, access.keep)));
  if (fields.uid && isId('endpoint', fields.uid)) {
    issues.push({
      loc: ['body', 'uid'],
      msg: 'uid must not look like an endpoint id (ep_...)',
      type: 'value_error',
    });
  }
  if (issues.length > 0) throw new HooklineError('validation', issues[0]!.msg, issues);
}

/**
 * The kind an endpoint changes to. `http` and the chat kinds share the dispatcher and change
 * freely (leaving a chat kind drops the template); `listen` endpoints are served by another
 * path (their URL is on a laptop) and `poller` endpoints by their consumers, so nothing changes
 * to or from either.
 */
function changeKind(ep: Endpoint, to: EndpointKind | undefined): Partial<Endpoint> {
  const from = ep.kind ?? 'http';
  if (to === undefined || to === from) return {};
  if (from === 'listen' || to === 'listen' || from === 'poller' || to === 'poller') {
    throw new HooklineError(
      'kind_change_not_allowed',
      `an endpoint of kind ${from} cannot become ${to}; create a new endpoint instead`,
    );
  }
  return isChatKind(to) ? { kind: to } : { kind: to, template: null };
}

/**
 * The kind and template an update leaves: `template` given wins; otherwise a kind change may drop
 * it; otherwise it stays. Svix clients send neither field, so both stay as they are.
 */
function kindAndTemplate(
  ep: Endpoint,
  body: { kind?: EndpointKind | undefined; template?: Record<string, unknown> | null | undefined },
) {
  const change = changeKind(ep, body.kind);
  const template =
    body.template !== undefined
      ? body.template
      : 'template' in change
        ? (change.template ?? null)
        : (ep.template ?? null);
  return { change, kind: change.kind ?? ep.kind, template };
}

async function ensureUidFree(ctx: ApiContext, app: App, uid: string | null | undefined, self?: string) {
  if (!uid) return;
  const other = await ctx.store.getEndpoint(app.id, uid);
  if (other && other.id !== self)
    throw new HooklineError('conflict', `an endpoint with uid "${uid}" exists already`);
}

export async function createEndpoint(
  ctx: ApiContext,
  principal: Principal | undefined,
  app: App,
  input: EndpointIn,
): Promise<Endpoint> {
  const eventTypes = input.eventTypes ?? input.filterTypes ?? null;
  assertSigningSecret(input.secret, ['body', 'secret']);
  await validateEndpoint(
    ctx,
    { principal },
    {
      url: input.url,
      eventTypes,
      headers: input.headers ?? null,
      uid: input.uid ?? null,
      kind: input.kind ?? 'http',
      template: input.template ?? null,
    },
  );
  await ensureUidFree(ctx, app, input.uid);
  const now = ctx.clock.now();
  const endpoint: Endpoint = {
    id: ctx.ids('endpoint'),
    appId: app.id,
    uid: input.uid ?? null,
    url: input.url,
    description: input.description ?? '',
    disabled: input.disabled ?? false,
    eventTypes,
    channels: input.channels ?? null,
    throttleRate: input.throttleRate ?? input.rateLimit ?? null,
    metadata: input.metadata ?? {},
    headers: lowerKeys(input.headers ?? {}),
    secrets: [
      {
        key: input.secret ? normalizeSecret(input.secret) : generateSecret(input.secretType ?? 'hmac-sha256'),
        expiresAt: null,
      },
    ],
    svixHeaders: input.svixHeaders ?? false,
    failingSince: null,
    kind: input.kind ?? 'http',
    template: input.template ?? null,
    fifo: input.fifo ?? false,
    timeoutMs: secondsToMs(input.timeout),
    createdAt: now,
    updatedAt: now,
  };
  try {
    await ctx.store.insertEndpoint(endpoint);
  } catch (err) {
    // Another request took the uid since the check above: the unique key decided.
    if (err instanceof StoreConflictError && input.uid)
      throw new HooklineError('conflict', `an endpoint with uid "${input.uid}" exists already`);
    throw err;
  }
  return endpoint;
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Applies a change; re-enabling an endpoint also forgets its failure streak. */
function withChanges(ep: Endpoint, changes: Partial<Endpoint>, now: number): Endpoint {
  const next = { ...ep, ...changes, updatedAt: now };
  if (ep.disabled && next.disabled === false) next.failingSince = null;
  return next;
}

/**
 * Rotates the signing secret; the old one keeps signing for the grace period. Without a key a new
 * one of `type` is generated (rotating from HMAC to Ed25519 sends both v1 and v1a meanwhile).
 */
export function rotateSecret(
  ep: Endpoint,
  newKey: string | null,
  graceSeconds: number,
  now: number,
  type: SecretType = 'hmac-sha256',
): Endpoint {
  return { ...ep, secrets: rotateSecrets(ep.secrets, newKey, graceSeconds, now, type), updatedAt: now };
}

/**
 * An endpoint's custom headers as the caller may see them. Their values often are credentials:
 * an application token (the customer's portal) gets every name in `sensitive` and no value, the
 * way Svix leaves out sensitive headers; it can still replace or remove them. The admin sees all.
 */
function headersOut(headers: Record<string, string>, principal: Principal | undefined) {
  if (principal?.kind !== 'app') return { headers, sensitive: [] };
  return { headers: {}, sensitive: Object.keys(headers).sort() };
}

/** How far back a recovery may reach (Svix's limit). */
export const RECOVER_WINDOW_MS = 14 * DAY_MS;
const RECOVER_GRACE_MS = 5 * 60_000;
/** Rows a recovery looks at per transaction: short enough that nothing waits on it for long. */
const RECOVER_BATCH = 200;

export function endpointRoutes(api: Routes, ctx: ApiContext, tasks: BackgroundTasks): void {
  api.get(
    '/app/:app_id/endpoint',
    {
      schema: {
        tags,
        summary: 'List endpoints',
        params: AppParams,
        querystring: ListQuery,
        response: { 200: listOf(EndpointOut, 'EndpointOut') },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const q = pageQuery(req.query, 'desc');
      const out = listOut(await ctx.store.listEndpoints(app.id, q), q, (e) => e.id, endpointOut);
      // `listen` endpoints are a developer's `hookline listen` session, not the customer's:
      // the app portal (application tokens) does not show them. The iterator still follows
      // the unfiltered page, so paging goes on past a page of hidden ones.
      if (req.principal?.kind === 'app') out.data = out.data.filter((e) => e.kind !== 'listen');
      return out;
    },
  );

  api.post(
    '/app/:app_id/endpoint',
    {
      schema: {
        tags,
        summary: 'Create an endpoint',
        params: AppParams,
        body: EndpointIn,
        response: { 201: EndpointOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      return reply.code(201).send(endpointOut(await createEndpoint(ctx, req.principal, app, req.body)));
    },
  );

  api.get(
    '/app/:app_id/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Get an endpoint',
        params: EpParams,
        response: { 200: EndpointOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      if (req.principal?.kind === 'app' && ep.kind === 'listen') throw notFound('endpoint');
      return endpointOut(ep);
    },
  );

  api.put(
    '/app/:app_id/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Update or create an endpoint',
        params: EpParams,
        body: EndpointIn,
        response: { 200: EndpointOut, 201: EndpointOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      let existing = await ctx.store.getEndpoint(app.id, req.params.endpoint_id);
      if (!existing) {
        if (isId('endpoint', req.params.endpoint_id)) throw notFound('endpoint');
        try {
          const created = await createEndpoint(ctx, req.principal, app, {
            ...req.body,
            uid: req.body.uid ?? req.params.endpoint_id,
          });
          return reply.code(201).send(endpointOut(created));
        } catch (err) {
          // The same PUT at once from another client created it first: this one updates it.
          existing = isConflict(err) ? await ctx.store.getEndpoint(app.id, req.params.endpoint_id) : null;
          if (!existing) throw err;
        }
      }
      const b = req.body;
      const eventTypes = b.eventTypes ?? b.filterTypes ?? null;
      const { change: kindChange, kind, template } = kindAndTemplate(existing, b);
      await validateEndpoint(
        ctx,
        { principal: req.principal, keep: existing.eventTypes },
        { url: b.url, eventTypes, uid: b.uid ?? null, kind, template },
      );
      await ensureUidFree(ctx, app, b.uid, existing.id);
      const ep = withChanges(
        existing,
        {
          ...kindChange,
          template,
          url: b.url,
          description: b.description ?? '',
          // A body without a uid keeps the endpoint's (see the application's PUT).
          uid: b.uid ?? existing.uid,
          disabled: b.disabled ?? false,
          eventTypes,
          channels: b.channels ?? null,
          throttleRate: b.throttleRate ?? b.rateLimit ?? null,
          metadata: b.metadata ?? {},
          svixHeaders: b.svixHeaders ?? existing.svixHeaders,
          fifo: b.fifo ?? existing.fifo,
          timeoutMs: b.timeout === undefined ? existing.timeoutMs : secondsToMs(b.timeout),
        },
        ctx.clock.now(),
      );
      await ctx.store.updateEndpoint(ep);
      return endpointOut(ep);
    },
  );

  api.patch(
    '/app/:app_id/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Change some fields of an endpoint',
        params: EpParams,
        body: EndpointPatch,
        response: { 200: EndpointOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      const existing = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const b = req.body;
      const eventTypes = b.eventTypes !== undefined ? b.eventTypes : b.filterTypes;
      const { change: kindChange, kind, template } = kindAndTemplate(existing, b);
      await validateEndpoint(
        ctx,
        { principal: req.principal, keep: existing.eventTypes },
        {
          // A new kind checks the URL again (chat kinds need https).
          ...(b.url !== undefined || kindChange.kind ? { url: b.url ?? existing.url } : {}),
          eventTypes: eventTypes ?? null,
          uid: b.uid ?? null,
          kind,
          ...(b.template !== undefined || kindChange.kind ? { template } : {}),
        },
      );
      await ensureUidFree(ctx, app, b.uid, existing.id);
      const changes: Partial<Endpoint> = { ...kindChange };
      if (b.template !== undefined) changes.template = b.template;
      if (b.url !== undefined) changes.url = b.url;
      if (b.description !== undefined) changes.description = b.description;
      if (b.uid !== undefined) changes.uid = b.uid;
      if (b.disabled !== undefined) changes.disabled = b.disabled;
      if (eventTypes !== undefined) changes.eventTypes = eventTypes;
      if (b.channels !== undefined) changes.channels = b.channels;
      if (b.throttleRate !== undefined || b.rateLimit !== undefined) {
        changes.throttleRate = b.throttleRate ?? b.rateLimit ?? null;
      }
      if (b.metadata !== undefined) changes.metadata = b.metadata;
      if (b.svixHeaders !== undefined) changes.svixHeaders = b.svixHeaders;
      if (b.fifo !== undefined) changes.fifo = b.fifo;
      if (b.timeout !== undefined) changes.timeoutMs = secondsToMs(b.timeout);
      let ep = withChanges(existing, changes, ctx.clock.now());
      assertSigningSecret(b.secret, ['body', 'secret']);
      if (b.secret) ep = rotateSecret(ep, b.secret, 0, ctx.clock.now());
      await ctx.store.updateEndpoint(ep);
      return endpointOut(ep);
    },
  );

  api.delete(
    '/app/:app_id/endpoint/:endpoint_id',
    { schema: { tags, summary: 'Delete an endpoint', params: EpParams, response: { 204: NoContent } } },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      await ctx.store.deleteEndpoint(app.id, ep.id);
      return reply.code(204).send(null);
    },
  );

  // ---- secret ------------------------------------------------------------------------------
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/secret',
    {
      schema: {
        tags,
        summary: "Get the endpoint's current signing secret",
        params: EpParams,
        response: { 200: EndpointSecretOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      return { key: ep.secrets[0]!.key };
    },
  );

  api.get(
    '/app/:app_id/endpoint/:endpoint_id/public-key',
    {
      schema: {
        tags,
        summary: 'Get the Ed25519 public key (whpk_) that verifies the v1a signatures of an endpoint',
        params: EpParams,
        response: { 200: EndpointPublicKeyOut, 409: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const now = ctx.clock.now();
      const current = publicKeyFor(ep.secrets[0]!.key);
      if (!current) {
        throw new HooklineError(
          'no_public_key',
          'this endpoint signs with an HMAC secret (whsec_); rotate its secret with secretType "ed25519" to sign with Ed25519',
        );
      }
      const activeKeys = ep.secrets
        .filter((s) => s.expiresAt === null || s.expiresAt > now)
        .map((s) => publicKeyFor(s.key))
        .filter((k): k is string => k !== null);
      return { key: current, activeKeys };
    },
  );

  api.post(
    '/app/:app_id/endpoint/:endpoint_id/secret/rotate',
    {
      schema: {
        tags,
        summary: 'Rotate the signing secret (the old one keeps signing for a grace period, 24 h by default)',
        params: EpParams,
        body: Type.Optional(EndpointSecretRotateIn),
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const body = req.body ?? {};
      assertSigningSecret(body.key, ['body', 'key']);
      const rotated = rotateSecret(
        ep,
        body.key ?? null,
        body.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
        ctx.clock.now(),
        body.secretType ?? 'hmac-sha256',
      );
      await ctx.store.updateEndpoint(rotated);
      return reply.code(204).send(null);
    },
  );

  // ---- headers -----------------------------------------------------------------------------
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/headers',
    {
      schema: {
        tags,
        summary: 'Get custom headers (for an application token: their names, in `sensitive`, without values)',
        params: EpParams,
        response: { 200: EndpointHeadersOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      return headersOut(ep.headers, req.principal);
    },
  );
  const setHeaders = async (
    appId: string,
    epId: string,
    next: (h: Record<string, string>) => Record<string, string>,
  ) => {
    const app = await loadAppToChange(ctx, appId);
    const ep = await loadEndpoint(ctx, app, epId);
    const headers = lowerKeys(next(ep.headers));
    await validateEndpoint(ctx, { principal: undefined }, { headers });
    await ctx.store.updateEndpoint({ ...ep, headers, updatedAt: ctx.clock.now() });
  };
  api.put(
    '/app/:app_id/endpoint/:endpoint_id/headers',
    {
      schema: {
        tags,
        summary: 'Replace custom headers',
        params: EpParams,
        body: EndpointHeadersIn,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await setHeaders(req.params.app_id, req.params.endpoint_id, () => req.body.headers);
      return reply.code(204).send(null);
    },
  );
  api.patch(
    '/app/:app_id/endpoint/:endpoint_id/headers',
    {
      schema: {
        tags,
        summary: 'Add, change or (with null) remove custom headers',
        params: EpParams,
        body: EndpointHeadersPatchIn,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await setHeaders(req.params.app_id, req.params.endpoint_id, (current) => {
        const out = { ...current };
        for (const [k, v] of Object.entries(req.body.headers)) {
          if (v === null) delete out[k.toLowerCase()];
          else out[k.toLowerCase()] = v;
        }
        return out;
      });
      return reply.code(204).send(null);
    },
  );

  // ---- recover and stats -------------------------------------------------------------------
  api.post(
    '/app/:app_id/endpoint/:endpoint_id/recover',
    {
      schema: {
        tags,
        summary:
          'Send again every failed message since a time (at most 14 days ago), and every message the endpoint missed while disabled; runs as a background task',
        params: EpParams,
        body: RecoverIn,
        response: { 202: BackgroundTaskOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const now = ctx.clock.now();
      const since = Date.parse(req.body.since);
      const until = req.body.until ? Date.parse(req.body.until) : now + 1;
      // As Svix: 14 days back at most, with a few minutes' grace for `now - 14 days` clients.
      if (since < now - RECOVER_WINDOW_MS - RECOVER_GRACE_MS)
        throw invalid(['body', 'since'], 'Cannot recover messages more than 14 days old');
      if (since >= until) throw invalid(['body', 'since'], 'since must be before until');
      const request = {
        appId: app.id,
        endpointId: ep.id,
        since,
        until,
        // A message older than the endpoint was never meant for it.
        missedSince: Math.max(since, ep.createdAt),
        now,
        limit: RECOVER_BATCH,
        matches: (eventType: string, channels: string[] | null) =>
          endpointMatches({ ...ep, disabled: false }, eventType, channels),
        newDeliveryId: () => ctx.ids('delivery'),
      };
      const task = await tasks.start(
        'endpoint.recover',
        app.id,
        { endpointId: ep.id, since: iso(since), until: iso(until), messagesQueued: 0, batches: 0 },
        async (progress) => {
          let cursor: RecoverCursor | null = null;
          let queued = 0;
          let batches = 0;
          do {
            const batch = await ctx.store.recoverBatch({ ...request, cursor });
            queued += batch.queued;
            batches++;
            cursor = batch.next;
            await progress({ messagesQueued: queued, batches });
          } while (cursor !== null);
          return { messagesQueued: queued, batches };
        },
      );
      return reply.code(202).send(task);
    },
  );

  api.get(
    '/app/:app_id/endpoint/:endpoint_id/stats',
    {
      schema: {
        tags,
        summary: 'Deliveries by state',
        params: EpParams,
        querystring: StatsQuery,
        response: { 200: EndpointStatsOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadEndpoint(ctx, app, req.params.endpoint_id);
      const now = ctx.clock.now();
      const until = req.query.until ? Date.parse(req.query.until) : now + 1;
      const since = req.query.since ? Date.parse(req.query.since) : until - 28 * DAY_MS;
      if (until - since > 28 * DAY_MS)
        throw invalid(['query', 'since'], 'the range may span at most 28 days');
      return ctx.store.endpointStats(ep.id, since, until);
    },
  );
}
