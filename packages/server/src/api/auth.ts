/**
 * Bearer-token authentication, and the tokens that open it.
 *
 * - The admin token comes from `HOOKLINE_ADMIN_TOKEN`, or is generated on first start and stored
 *   only as a SHA-256 hash. Comparison is constant-time. It may do everything.
 * - App-scoped tokens (`hl_app_...`, Svix's "app portal access") are made by the admin for one
 *   application: what a SaaS hands its customer, or the customer's Zapier app, to manage that
 *   customer's endpoints and REST Hook subscriptions. They work only under
 *   `/api/v1/app/{that app}/...` (plus reading the event type catalog and logging out), never
 *   publish messages, and a read-only one changes nothing. Only their hash is stored; they
 *   expire, and `POST /api/v1/auth/logout` revokes one.
 * - Message tokens (`POST /api/v1/auth/app/{app}/create-message-token`, Svix's
 *   createMessageToken) are application tokens of scope `message`: they may publish messages to
 *   their application and nothing else (not even read them back).
 * - Poller tokens (`POST /api/v1/auth/stream/{app}/sink/{endpoint}/poller/token/rotate`, see
 *   api/poller.ts) are application tokens of scope `poller`: they may only poll one polling
 *   endpoint (`POLLER_ROUTES`, with that endpoint in the path).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { HooklineError } from '../core/errors.ts';
import type { AppToken, EventType } from '../core/types.ts';
import type { Store } from '../store/store.ts';
import { createApplication, loadAppToChange } from './application.ts';
import type { ApiContext, Routes } from './context.ts';
import {
  ApiTokenOut,
  ApplicationTokenExpireIn,
  AppPortalAccessIn,
  AppPortalAccessOut,
  CreateTokenIn,
  ErrorOut,
  MESSAGE_TOKEN_MAX_EXPIRY_SECONDS,
  NoContent,
  ValidationErrorOut,
} from './schemas.ts';
import { iso } from './wire.ts';

/** Who a request acts as. */
export type Principal = { kind: 'admin' } | { kind: 'app'; token: AppToken };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every `/api/v1` request it lets through. */
    principal?: Principal;
  }
}

export const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

const ADMIN_TOKEN_SETTING = 'admin_token_sha256';

/**
 * Works out the admin token hash at start. Returns the token too when it was just generated,
 * so the caller can print it once.
 */
export async function resolveAdminToken(
  store: Store,
  configured: string | null,
): Promise<{ hash: Buffer; generated: string | null }> {
  if (configured) return { hash: hashToken(configured), generated: null };
  const stored = await store.getSetting(ADMIN_TOKEN_SETTING);
  if (stored) return { hash: Buffer.from(stored, 'hex'), generated: null };
  // First start. Several processes may start together on one database: only the first token
  // stored counts, and only the process that stored it prints it.
  const token = `hl_admin_${randomBytes(24).toString('base64url')}`;
  const hash = hashToken(token).toString('hex');
  const kept = await store.setSettingIfAbsent(ADMIN_TOKEN_SETTING, hash);
  return { hash: Buffer.from(kept, 'hex'), generated: kept === hash ? token : null };
}

/**
 * How long a running server trusts the admin token hash it last read from the database: a reset
 * (`hookline admin-token --reset`, from any machine) is honoured by every running server within
 * this time, without a restart.
 */
export const ADMIN_TOKEN_RECHECK_MS = 1_000;

/** The admin token hash a running process checks requests against. */
export interface AdminTokenHash {
  current(): Buffer | Promise<Buffer>;
}

/**
 * A token from `HOOKLINE_ADMIN_TOKEN` never changes while the process runs. A generated one is
 * kept in the `setting` table, re-read at most once per `recheckMs` when requests come in (one
 * read shared by the requests waiting for it). If the database cannot answer, the last hash read
 * stays in force until it can.
 */
export function createAdminTokenHash(
  store: Store,
  configured: string | null,
  initial: Buffer,
  recheckMs = ADMIN_TOKEN_RECHECK_MS,
): AdminTokenHash {
  if (configured) return { current: () => initial };
  let hash = initial;
  let readAt = performance.now();
  let reading: Promise<Buffer> | null = null;
  const read = async (): Promise<Buffer> => {
    try {
      const stored = await store.getSetting(ADMIN_TOKEN_SETTING);
      if (stored) hash = Buffer.from(stored, 'hex');
    } catch {
      // The database is down: requests that need it fail on their own; keep the last hash.
    } finally {
      readAt = performance.now();
      reading = null;
    }
    return hash;
  };
  return {
    current() {
      if (performance.now() - readAt < recheckMs) return hash;
      reading ??= read();
      return reading;
    },
  };
}

/** Makes a new admin token (the old one stops working) and returns it. */
export async function resetAdminToken(store: Store): Promise<{ hash: Buffer; generated: string }> {
  const token = `hl_admin_${randomBytes(24).toString('base64url')}`;
  const hash = hashToken(token);
  await store.setSetting(ADMIN_TOKEN_SETTING, hash.toString('hex'));
  return { hash, generated: token };
}

export const APP_TOKEN_PREFIX = 'hl_app_';
/** What a message token may do, as its `scopes` name it. */
const MESSAGE_TOKEN_SCOPE = 'message.create';
/** Svix's default lifetime of an app portal token. */
const DEFAULT_APP_TOKEN_SECONDS = 7 * 86_400;
const API_PREFIX = '/api/v1';
const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Routes an app-scoped token may use outside its application's own tree (reads only). A
 * background task is read only by its own application's tokens (see background-task.ts).
 */
const APP_TOKEN_READABLE = new Set([
  '/event-type',
  '/event-type/:event_type_name',
  '/event-type/:event_type_name/sample',
  '/background-task',
  '/background-task/:task_id',
]);

/** The routes a poller token may use, with its own endpoint as `:sink_id` (see api/poller.ts). */
export const POLLER_ROUTES = new Set([
  '/app/:app_id/poller/:sink_id',
  '/app/:app_id/poller/:sink_id/consumer/:consumer_id',
  '/app/:app_id/poller/:sink_id/consumer/:consumer_id/seek',
  '/app/:app_id/polling-endpoint/:sink_id/consumer/:consumer_id',
  '/app/:app_id/polling-endpoint/:sink_id/consumer/:consumer_id/commit',
]);

/** POSTs that only read (a search, a pre-check): a read-only application token may make them. */
const READING_POSTS = new Set(['/app/:app_id/msg/search', '/app/:app_id/msg/precheck/active']);

/**
 * Event types carrying feature flags are visible to an application token only with one of
 * those flags (as in Svix's app portal); the admin sees everything.
 */
export function visibleTo(principal: Principal | undefined, t: EventType): boolean {
  if (!t.featureFlags || t.featureFlags.length === 0 || principal?.kind !== 'app') return true;
  const flags = principal.token.featureFlags ?? [];
  return t.featureFlags.some((f) => flags.includes(f));
}

/**
 * The event types an application token may not see: flagged ones none of its flags open (none
 * for the admin). To such a token they do not exist: routes answer as for an unknown type, and
 * lists leave out their messages and attempts.
 */
export async function hiddenEventTypes(store: Store, principal: Principal | undefined): Promise<string[]> {
  if (principal?.kind !== 'app') return [];
  return (await store.flaggedEventTypes()).filter((t) => !visibleTo(principal, t)).map((t) => t.name);
}

const refuse = (detail: string) => new HooklineError('insufficient_access', detail);

/**
 * What an app-scoped token may do, decided from the matched route pattern (never the raw URL):
 * its own application's subtree, reading the event type catalog, and logging itself out.
 */
async function checkAppToken(ctx: ApiContext, request: FastifyRequest, token: AppToken): Promise<void> {
  const route = (request.routeOptions.url ?? '').slice(API_PREFIX.length);
  const method = request.method;
  if (route === '/auth/logout' || route === '/auth/whoami') return;
  if (token.scope === 'message') {
    if (route !== '/app/:app_id/msg' || method !== 'POST')
      throw refuse(`a message token can only publish messages (POST /api/v1/app/${token.appId}/msg)`);
  }
  if (token.scope === 'poller') {
    const params = request.params as { app_id?: string; sink_id?: string };
    const ep = POLLER_ROUTES.has(route)
      ? await ctx.store.getEndpoint(token.appId, params.sink_id ?? '')
      : null;
    // The application by id or uid, like every route.
    const app =
      !ep || params.app_id === token.appId
        ? { id: token.appId }
        : await ctx.store.getApp(params.app_id ?? '');
    if (!ep || ep.id !== token.endpointId || app?.id !== token.appId) {
      throw refuse(
        `a poller token can only poll its polling endpoint (/api/v1/app/${token.appId}/poller/${token.endpointId}/...)`,
      );
    }
    return;
  }
  const reading = READ_METHODS.has(method);
  if (APP_TOKEN_READABLE.has(route)) {
    if (reading) return;
    throw refuse('an application token can read the event type catalog and its tasks, not change them');
  }
  if (!route.startsWith('/app/:app_id')) {
    throw refuse(`an application token can only use /api/v1/app/${token.appId}/... routes`);
  }
  const appParam = (request.params as { app_id?: string }).app_id ?? '';
  // By id or uid, like every route; an unknown application is refused like another's.
  const app = appParam === token.appId ? { id: appParam } : await ctx.store.getApp(appParam);
  if (app?.id !== token.appId) {
    throw refuse(`this token belongs to application ${token.appId}; it cannot use another application`);
  }
  if (token.scope === 'message') return;
  if (reading || READING_POSTS.has(route)) return;
  if (token.readOnly) throw refuse('this application token is read-only');
  if (route === '/app/:app_id') throw refuse('an application token cannot change or delete its application');
  if (route === '/app/:app_id/msg') throw refuse('an application token cannot publish messages');
}

export function createAuth(ctx: ApiContext) {
  const admin = createAdminTokenHash(ctx.store, ctx.config.adminToken, ctx.adminTokenHash);
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!match)
      throw new HooklineError('authentication_failed', 'send the header "Authorization: Bearer <token>"');
    const hash = hashToken(match[1]!);
    if (timingSafeEqual(hash, await admin.current())) {
      request.principal = { kind: 'admin' };
      return;
    }
    // Looked up by the hash of a 192-bit random token: the lookup reveals nothing usable.
    const token = match[1]!.startsWith(APP_TOKEN_PREFIX)
      ? await ctx.store.getAppTokenByHash(hash.toString('hex'))
      : null;
    if (!token) throw new HooklineError('authentication_failed', 'invalid token');
    if (token.revokedAt !== null) throw new HooklineError('authentication_failed', 'this token was revoked');
    if (token.expiresAt <= ctx.clock.now())
      throw new HooklineError('authentication_failed', 'this token expired');
    await checkAppToken(ctx, request, token);
    request.principal = { kind: 'app', token };
  };
}

/** This server's public origin: HOOKLINE_PUBLIC_URL, else this server as the client reached it. */
export function publicOrigin(ctx: ApiContext, req: FastifyRequest): string {
  // The Host header is the client's to choose: with a public URL it never shapes a link.
  return ctx.config.publicUrl?.replace(/\/+$/, '') ?? `${req.protocol}://${req.host}`;
}

/**
 * Makes an app portal token for an application and the dashboard link that opens with it
 * (`/auth/app-portal-access`, and a Svix Ingest source's dashboard).
 */
export async function portalAccess(
  ctx: ApiContext,
  req: FastifyRequest,
  appId: string,
  options: { readOnly?: boolean | null; featureFlags?: string[] | null; expiry?: number | null },
): Promise<{ url: string; token: string }> {
  const now = ctx.clock.now();
  const secret = `${APP_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
  await ctx.store.insertAppToken({
    id: ctx.ids('appToken'),
    appId,
    tokenHash: hashToken(secret).toString('hex'),
    readOnly: options.readOnly ?? false,
    featureFlags: options.featureFlags ?? null,
    scope: 'portal',
    name: null,
    endpointId: null,
    expiresAt: now + (options.expiry ?? DEFAULT_APP_TOKEN_SECONDS) * 1000,
    revokedAt: null,
    createdAt: now,
  });
  // Never kept for idempotent replay (Svix clients send an idempotency-key on every POST):
  // the stored response would hold the token in clear. A retried call makes another token.
  req.idempotencyKeep = false;
  // The dashboard at HOOKLINE_PUBLIC_URL; without one, this server as the client reached it.
  return { url: `${publicOrigin(ctx, req)}/apps/${appId}#key=${secret}`, token: secret };
}

const AppParams = Type.Object({ app_id: Type.String({ description: 'Application id or uid' }) });
const tags = ['Authentication'];

export function authRoutes(api: Routes, ctx: ApiContext): void {
  api.post(
    '/auth/app-portal-access/:app_id',
    {
      schema: {
        tags,
        summary:
          'Make a token that works only for this application (its endpoints, REST Hook subscriptions, messages and attempts)',
        params: AppParams,
        body: Type.Optional(AppPortalAccessIn),
        response: { 200: AppPortalAccessOut, 403: ErrorOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const body = req.body ?? {};
      // Like Svix: the body may carry the application, created on first use under the path's uid.
      const inline = body.application;
      const app =
        inline && !(await ctx.store.getApp(req.params.app_id))
          ? (await createApplication(ctx, { ...inline, uid: inline.uid ?? req.params.app_id }, true)).app
          : await loadAppToChange(ctx, req.params.app_id);
      return portalAccess(ctx, req, app.id, body);
    },
  );

  api.post(
    '/auth/app/:app_id/create-message-token',
    {
      schema: {
        tags,
        summary:
          'Make a token that may only publish messages to this application (for a service that sends events and should see nothing else)',
        params: AppParams,
        body: CreateTokenIn,
        response: { 201: ApiTokenOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      const now = ctx.clock.now();
      const secret = `${APP_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
      const token: AppToken = {
        id: ctx.ids('appToken'),
        appId: app.id,
        tokenHash: hashToken(secret).toString('hex'),
        readOnly: false,
        featureFlags: null,
        scope: 'message',
        name: req.body.name,
        endpointId: null,
        expiresAt: now + (req.body.expiry ?? MESSAGE_TOKEN_MAX_EXPIRY_SECONDS) * 1000,
        revokedAt: null,
        createdAt: now,
      };
      await ctx.store.insertAppToken(token);
      // As for portal tokens: a stored idempotent response would hold the token in clear.
      req.idempotencyKeep = false;
      return reply.code(201).send({
        id: token.id,
        name: token.name,
        token: secret,
        createdAt: iso(token.createdAt),
        expiresAt: iso(token.expiresAt),
        scopes: [MESSAGE_TOKEN_SCOPE],
      });
    },
  );

  api.post(
    '/auth/app/:app_id/expire-all',
    {
      schema: {
        tags,
        summary: 'Expire every token of this application (at once, or in `expiry` seconds)',
        params: AppParams,
        body: Type.Optional(ApplicationTokenExpireIn),
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      await ctx.store.expireAppTokens(app.id, ctx.clock.now() + (req.body?.expiry ?? 0) * 1000);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/auth/logout',
    {
      schema: {
        tags,
        summary: 'Revoke the application token this request is made with',
        response: { 204: NoContent, 400: ErrorOut },
      },
    },
    async (req, reply) => {
      const p = req.principal;
      if (p?.kind !== 'app') {
        throw new HooklineError(
          'generic_error',
          'only application tokens log out; reset the admin token with `hookline admin-token --reset`',
        );
      }
      await ctx.store.revokeAppToken(p.token.id, ctx.clock.now());
      return reply.code(204).send(null);
    },
  );
}
