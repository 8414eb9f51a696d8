/** `/api/v1/app`: the applications (your customers) that own endpoints and messages. */
import Type from 'typebox';
import { parseAddressList } from '../core/email-address.ts';
import { HooklineError, invalid, notFound } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { SOURCE_APP_METADATA_KEY } from '../core/source-app.ts';
import type { App } from '../core/types.ts';
import { StoreConflictError } from '../store/store-errors.ts';
import type { ApiContext, Routes } from './context.ts';
import { listOut, pageQuery } from './pagination.ts';
import {
  ApplicationIn,
  ApplicationOut,
  ApplicationPatch,
  ErrorOut,
  ListQuery,
  listOf,
  NoContent,
} from './schemas.ts';
import { appOut } from './wire.ts';

const tags = ['Application'];
const AppParams = Type.Object({ app_id: Type.String({ description: 'Application id or uid' }) });
const AlertEmailPatch = Type.Object(
  {
    email: Type.Optional(
      Type.Union([Type.String({ maxLength: 8192 }), Type.Null()], {
        description:
          'A comma-separated list of email addresses (`user1@example.com, user2@example.com`); null or empty: no alert emails',
      }),
    ),
  },
  { $id: 'AlertEmailPatch' },
);

/** Finds an application by id or uid, or answers 404. */
export async function loadApp(ctx: ApiContext, idOrUid: string): Promise<App> {
  const app = await ctx.store.getApp(idOrUid);
  if (!app) throw notFound('application');
  return app;
}

/** The application an inbound source owns is changed through the source, not directly. */
function assertNotSourceOwned(app: App): void {
  const source = app.metadata[SOURCE_APP_METADATA_KEY];
  if (source !== undefined) {
    throw new HooklineError(
      'managed_by_source',
      `application ${app.id} belongs to inbound source ${source}: change it through /api/v1/source/${source}`,
    );
  }
}

/** An application whose settings or endpoints are about to change (see `assertNotSourceOwned`). */
export async function loadAppToChange(ctx: ApiContext, idOrUid: string): Promise<App> {
  const app = await loadApp(ctx, idOrUid);
  assertNotSourceOwned(app);
  return app;
}

/** The key marking an inbound source's application is Hookline's own: clients may not set it. */
function checkMetadata(metadata: Record<string, string> | undefined | null): void {
  if (metadata && SOURCE_APP_METADATA_KEY in metadata)
    throw invalid(
      ['body', 'metadata', SOURCE_APP_METADATA_KEY],
      `metadata key ${SOURCE_APP_METADATA_KEY} is reserved`,
    );
}

function checkUid(uid: string | null | undefined): void {
  if (uid && isId('app', uid))
    throw invalid(['body', 'uid'], 'uid must not look like an application id (app_...)');
}

/** Creates an application; `getIfExists` returns an existing one with the same uid instead of 409. */
export async function createApplication(
  ctx: ApiContext,
  input: ApplicationIn,
  getIfExists: boolean,
): Promise<{ app: App; created: boolean }> {
  checkUid(input.uid);
  checkMetadata(input.metadata);
  if (input.uid) {
    const existing = await ctx.store.getApp(input.uid);
    if (existing) {
      if (getIfExists) return { app: existing, created: false };
      throw new HooklineError('conflict', `an application with uid "${input.uid}" exists already`);
    }
  }
  const now = ctx.clock.now();
  const app: App = {
    id: ctx.ids('app'),
    uid: input.uid ?? null,
    name: input.name,
    throttleRate: input.throttleRate ?? input.rateLimit ?? null,
    metadata: input.metadata ?? {},
    createdAt: now,
    updatedAt: now,
  };
  try {
    await ctx.store.insertApp(app);
  } catch (err) {
    // Another request created the same uid since the check above (in any process): the unique
    // key decides, and the one that lost gets the winner's application.
    if (!(err instanceof StoreConflictError) || !input.uid) throw err;
    const winner = await ctx.store.getApp(input.uid);
    if (!winner) throw err;
    if (getIfExists) return { app: winner, created: false };
    throw new HooklineError('conflict', `an application with uid "${input.uid}" exists already`);
  }
  return { app, created: true };
}

/** A uid conflict, as the API or the store reports it. */
export const isConflict = (err: unknown): boolean =>
  err instanceof StoreConflictError || (err instanceof HooklineError && err.code === 'conflict');

export function applicationRoutes(api: Routes, ctx: ApiContext): void {
  api.get(
    '/app',
    {
      schema: {
        tags,
        summary: 'List applications',
        querystring: ListQuery,
        response: { 200: listOf(ApplicationOut, 'ApplicationOut') },
      },
    },
    async (req) => {
      const q = pageQuery(req.query, 'asc');
      return listOut(await ctx.store.listApps(q), q, (a) => a.id, appOut);
    },
  );

  api.post(
    '/app',
    {
      schema: {
        tags,
        summary: 'Create an application',
        querystring: Type.Object({ get_if_exists: Type.Optional(Type.Boolean()) }),
        body: ApplicationIn,
        response: { 200: ApplicationOut, 201: ApplicationOut, 409: ErrorOut },
      },
    },
    async (req, reply) => {
      const { app, created } = await createApplication(ctx, req.body, req.query.get_if_exists === true);
      return reply.code(created ? 201 : 200).send(appOut(app));
    },
  );

  api.get(
    '/app/:app_id',
    {
      schema: {
        tags,
        summary: 'Get an application',
        params: AppParams,
        response: { 200: ApplicationOut, 404: ErrorOut },
      },
    },
    async (req) => appOut(await loadApp(ctx, req.params.app_id)),
  );

  api.put(
    '/app/:app_id',
    {
      schema: {
        tags,
        summary: 'Update or create an application',
        params: AppParams,
        body: ApplicationIn,
        response: { 200: ApplicationOut, 201: ApplicationOut },
      },
    },
    async (req, reply) => {
      let existing = await ctx.store.getApp(req.params.app_id);
      if (!existing) {
        // Upsert: an unknown id cannot be created under that id, but an unknown uid can.
        if (isId('app', req.params.app_id)) throw notFound('application');
        try {
          const { app } = await createApplication(
            ctx,
            { ...req.body, uid: req.body.uid ?? req.params.app_id },
            false,
          );
          return reply.code(201).send(appOut(app));
        } catch (err) {
          // The same PUT at once from another client created it first: this one updates it.
          existing = isConflict(err) ? await ctx.store.getApp(req.params.app_id) : null;
          if (!existing) throw err;
        }
      }
      assertNotSourceOwned(existing);
      checkUid(req.body.uid);
      checkMetadata(req.body.metadata);
      const app: App = {
        ...existing,
        name: req.body.name,
        // A body without a uid keeps the application's (PUT /app/{uid} is addressed by it; an
        // update that dropped it would make the next identical PUT create a second application).
        // PATCH with `"uid": null` removes a uid.
        uid: req.body.uid ?? existing.uid,
        throttleRate: req.body.throttleRate ?? req.body.rateLimit ?? null,
        metadata: req.body.metadata ?? {},
        updatedAt: ctx.clock.now(),
      };
      await ctx.store.updateApp(app);
      return appOut(app);
    },
  );

  api.patch(
    '/app/:app_id',
    {
      schema: {
        tags,
        summary: 'Change some fields of an application',
        params: AppParams,
        body: ApplicationPatch,
        response: { 200: ApplicationOut },
      },
    },
    async (req) => {
      const existing = await loadAppToChange(ctx, req.params.app_id);
      const b = req.body;
      checkUid(b.uid);
      checkMetadata(b.metadata);
      const app: App = {
        ...existing,
        ...(b.name !== undefined ? { name: b.name } : {}),
        ...(b.uid !== undefined ? { uid: b.uid } : {}),
        ...(b.throttleRate !== undefined || b.rateLimit !== undefined
          ? { throttleRate: b.throttleRate ?? b.rateLimit ?? null }
          : {}),
        ...(b.metadata !== undefined ? { metadata: b.metadata } : {}),
        updatedAt: ctx.clock.now(),
      };
      await ctx.store.updateApp(app);
      return appOut(app);
    },
  );

  // Svix's `v1.application.patch-alert-email`: where Hookline emails the application's owner
  // when one of its endpoints is disabled (see delivery/alert-email.ts). A body without `email`
  // changes nothing.
  api.patch(
    '/app/:app_id/alert-email',
    {
      schema: {
        tags,
        summary: "Set the application's alert email",
        params: AppParams,
        body: AlertEmailPatch,
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const { email } = req.body;
      if (email !== undefined) {
        let addresses: string[] = [];
        try {
          addresses = email === null ? [] : parseAddressList(email);
        } catch (err) {
          throw invalid(['body', 'email'], (err as Error).message);
        }
        await ctx.store.setAppAlertEmail(app.id, addresses.length > 0 ? addresses.join(', ') : null);
      }
      return reply.code(204).send(null);
    },
  );

  api.delete(
    '/app/:app_id',
    {
      schema: {
        tags,
        summary: 'Delete an application with its endpoints and messages',
        params: AppParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const app = await loadAppToChange(ctx, req.params.app_id);
      await ctx.store.deleteApp(app.id);
      return reply.code(204).send(null);
    },
  );
}
