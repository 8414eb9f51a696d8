/**
 * Svix's polling endpoints, for consumers that cannot receive webhooks at all.
 *
 * A polling endpoint is an endpoint of kind `poller` (created through the endpoint API with
 * `"kind": "poller"`; its `url` is kept but never called). Nothing is delivered to it: message
 * routing skips it (core/routing.ts). Its consumers read the application's messages that the
 * endpoint's `eventTypes` and `channels` let through, oldest first, from the second the endpoint
 * was created, with the same iterator as `GET /app/{app}/events` (api/sending-extra.ts): the
 * last message id read, the newest two seconds held back.
 *
 * - `GET /app/{app}/poller/{endpoint}`: the client keeps the iterator.
 * - `GET /app/{app}/poller/{endpoint}/consumer/{consumer}`: the server keeps it. Each call
 *   answers the messages after the consumer's position (or after `iterator`, if given) and moves
 *   the position past them; `POST .../seek` moves it to a time.
 * - `GET /app/{app}/polling-endpoint/{endpoint}/consumer/{consumer}` and `POST .../commit`:
 *   each message comes with an `offset`; a poll answers from the last committed offset again
 *   until the consumer commits, so a consumer that dies before committing reads the messages
 *   again (at least once). Offsets count up per consumer (not per message: two consumers see
 *   different numbers for one message); a seek skips the offsets handed out before it.
 *
 * Consumers of one endpoint keep their positions apart. Concurrent calls of one consumer: a
 * commit moves the position only forward (a lower or equal offset is a no-op); a consumer poll
 * or a seek overwrites the position (the last one wins).
 *
 * Poller tokens (`/auth/stream/{app}/sink/{endpoint}/poller/token`): Svix's streams are
 * Hookline applications, its sinks their polling endpoints. A poller token may use only the calls
 * above, on its own endpoint (api/auth.ts); only its hash is stored.
 */
import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import { HooklineError, invalid } from '../core/errors.ts';
import { idFloor, isId } from '../core/ids.ts';
import type { App, AppToken, Endpoint, PollerConsumer } from '../core/types.ts';
import { loadApp, loadAppToChange } from './application.ts';
import { APP_TOKEN_PREFIX, hashToken, hiddenEventTypes } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { loadEndpoint } from './endpoint.ts';
import {
  ApiTokenOut,
  DateTime,
  ErrorOut,
  MessageOut,
  NoContent,
  Nullable,
  ValidationErrorOut,
} from './schemas.ts';
import { poll, SETTLE_MS } from './sending-extra.ts';
import { iso } from './wire.ts';

/** The most messages one poll answers. */
const MAX_LIMIT = 250;
/** How far a seek or a consumer poll moves the offsets on: past any a poll handed out before. */
const OFFSET_GAP = 1000;
/** How often a commit retries when other commits of the consumer come in between. */
const COMMIT_TRIES = 10;
/** A poller token lives a year unless told otherwise (Svix's most). */
const TOKEN_MAX_SECONDS = 31_536_000;
const OLD_TOKEN_DEFAULT_SECONDS = 300;
const POLLER_TOKEN_SCOPE = 'poller';

const SinkParams = Type.Object({
  app_id: Type.String({ description: 'Application id or uid' }),
  sink_id: Type.String({ description: 'Polling endpoint id or uid' }),
});
const ConsumerParams = Type.Object({
  ...SinkParams.properties,
  consumer_id: Type.String({
    minLength: 1,
    maxLength: 256,
    description: 'Any name: each consumer keeps its own position',
  }),
});
const Limit = Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 50 });
const Iterator = Nullable(Type.String({ maxLength: 300 }));

const PollerQuery = Type.Object({
  limit: Type.Optional(Limit),
  iterator: Type.Optional(Iterator),
  event_type: Type.Optional(Type.String({ maxLength: 256 })),
  channel: Type.Optional(Type.String({ maxLength: 128 })),
  after: Type.Optional(Nullable(DateTime)),
});
const ConsumerQuery = Type.Object({ limit: Type.Optional(Limit), iterator: Type.Optional(Iterator) });
const StartingPosition = Type.Union([Type.Literal('earliest'), Type.Literal('latest')]);
const PollingEndpointQuery = Type.Object({
  limit: Type.Optional(Limit),
  lease_duration_ms: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Accepted; Hookline does not lease (see commit)' }),
  ),
  starting_position: Type.Optional(StartingPosition),
});

const PollingEndpointOut = Type.Object(
  {
    data: Type.Array(MessageOut),
    iterator: Type.String({ description: 'Pass it back to get the messages that come next' }),
    done: Type.Boolean(),
  },
  { $id: 'PollingEndpointOut' },
);
const PollerV2PollOut = Type.Object(
  {
    data: Type.Array(
      Type.Object({
        ...MessageOut.properties,
        offset: Type.Integer({ description: 'Commit it once this message (and the ones before) is handled' }),
      }),
    ),
    done: Type.Boolean(),
  },
  { $id: 'PollerV2PollOut' },
);
const SeekIn = Type.Object({ after: DateTime }, { $id: 'PollingEndpointConsumerSeekIn' });
const SeekOut = Type.Object({ iterator: Type.String() }, { $id: 'PollingEndpointConsumerSeekOut' });
const CommitIn = Type.Object({ offset: Type.Integer({ minimum: 0 }) }, { $id: 'PollerV2CommitIn' });
const RotatePollerTokenIn = Type.Object(
  {
    expiry: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: TOKEN_MAX_SECONDS }))),
    oldTokenExpiry: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
  },
  { $id: 'RotatePollerTokenIn' },
);
const TokenParams = Type.Object({
  stream_id: Type.String({ description: 'Application id or uid (Svix streams are applications)' }),
  sink_id: Type.String({ description: 'Polling endpoint id or uid' }),
});

const pollerTags = ['Message Poller'];

/** The endpoint, refused unless it is a polling endpoint. */
async function loadSink(ctx: ApiContext, app: App, idOrUid: string): Promise<Endpoint> {
  const ep = await loadEndpoint(ctx, app, idOrUid);
  if (ep.kind !== 'poller') {
    throw new HooklineError(
      'not_poller_endpoint',
      `endpoint ${ep.id} has kind "${ep.kind ?? 'http'}"; only endpoints of kind "poller" are polled`,
    );
  }
  return ep;
}

/** An iterator this server could have handed out (a message id); '' counts as none. */
function checkIterator(it: string | null | undefined, loc: string[]): string | undefined {
  if (it === null || it === undefined || it === '') return undefined;
  if (!isId('message', it)) throw invalid(loc, 'iterator is not one this server handed out');
  return it;
}

/** Where a consumer (or a client-side iterator) starts: the second the endpoint was created. */
const earliest = (ep: Endpoint) => idFloor('message', ep.createdAt);

/**
 * The event types and channels to read: the endpoint's, narrowed by the call's. Null when the two
 * exclude each other (nothing to read).
 */
function sinkFilter(
  ep: Endpoint,
  eventType?: string,
  channel?: string,
): { event_types?: string[]; channels?: string[] } | null {
  const types = ep.eventTypes && ep.eventTypes.length > 0 ? ep.eventTypes : null;
  const channels = ep.channels && ep.channels.length > 0 ? ep.channels : null;
  if (eventType && types && !types.includes(eventType)) return null;
  if (channel && channels && !channels.includes(channel)) return null;
  const t = eventType ? [eventType] : types;
  const c = channel ? [channel] : channels;
  return { ...(t ? { event_types: t } : {}), ...(c ? { channels: c } : {}) };
}

/** One page of the endpoint's messages after `afterId` ('' = from the start). */
async function readSink(
  ctx: ApiContext,
  app: App,
  ep: Endpoint,
  hidden: string[],
  q: { limit: number; afterId: string | null; after?: string | null; eventType?: string; channel?: string },
) {
  const filter = sinkFilter(ep, q.eventType, q.channel);
  if (!filter) return { data: [], iterator: q.afterId ?? '', done: true };
  return poll(
    ctx,
    (f, p) => ctx.store.listMessages(app.id, f, p),
    { limit: q.limit, iterator: q.afterId, after: q.after ?? null, ...filter },
    hidden,
  );
}

export function pollerRoutes(api: Routes, ctx: ApiContext): void {
  const consumerOf = async (ep: Endpoint, consumerId: string, start: string): Promise<PollerConsumer> =>
    (await ctx.store.getPollerConsumer(ep.id, consumerId)) ??
    ctx.store.ensurePollerConsumer({
      endpointId: ep.id,
      consumerId,
      afterId: start,
      offset: 0,
      updatedAt: ctx.clock.now(),
    });

  api.get(
    '/app/:app_id/poller/:sink_id',
    {
      schema: {
        tags: pollerTags,
        summary:
          "Read the polling endpoint's messages (its event types and channels), oldest first: pass back `iterator` for the ones after",
        params: SinkParams,
        querystring: PollerQuery,
        response: { 200: PollingEndpointOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadSink(ctx, app, req.params.sink_id);
      const q = req.query;
      const iterator = checkIterator(q.iterator, ['query', 'iterator']);
      return readSink(ctx, app, ep, await hiddenEventTypes(ctx.store, req.principal), {
        limit: q.limit ?? 50,
        // From `after` if given, else from the endpoint's creation.
        afterId: iterator ?? (q.after ? null : earliest(ep)),
        after: q.after ?? null,
        ...(q.event_type ? { eventType: q.event_type } : {}),
        ...(q.channel ? { channel: q.channel } : {}),
      });
    },
  );

  api.get(
    '/app/:app_id/poller/:sink_id/consumer/:consumer_id',
    {
      schema: {
        tags: pollerTags,
        summary:
          "Read the polling endpoint's next messages for this consumer: the server keeps its position and moves it past what it answers",
        params: ConsumerParams,
        querystring: ConsumerQuery,
        response: { 200: PollingEndpointOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadSink(ctx, app, req.params.sink_id);
      const iterator = checkIterator(req.query.iterator, ['query', 'iterator']);
      const consumer = await consumerOf(ep, req.params.consumer_id, earliest(ep));
      const out = await readSink(ctx, app, ep, await hiddenEventTypes(ctx.store, req.principal), {
        limit: req.query.limit ?? 50,
        afterId: iterator ?? consumer.afterId,
      });
      if (out.iterator !== consumer.afterId) {
        await ctx.store.putPollerConsumer({
          ...consumer,
          afterId: out.iterator,
          offset: consumer.offset + OFFSET_GAP,
          updatedAt: ctx.clock.now(),
        });
      }
      return out;
    },
  );

  api.post(
    '/app/:app_id/poller/:sink_id/consumer/:consumer_id/seek',
    {
      schema: {
        tags: pollerTags,
        summary:
          "Move the consumer's position to a time: its next poll answers the messages created after it",
        params: ConsumerParams,
        body: SeekIn,
        response: { 200: SeekOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadSink(ctx, app, req.params.sink_id);
      // Message ids order by the second they were made in: from the start of that second.
      const afterId = idFloor('message', Date.parse(req.body.after));
      const consumer = await ctx.store.getPollerConsumer(ep.id, req.params.consumer_id);
      await ctx.store.putPollerConsumer({
        endpointId: ep.id,
        consumerId: req.params.consumer_id,
        afterId,
        offset: (consumer?.offset ?? 0) + OFFSET_GAP,
        updatedAt: ctx.clock.now(),
      });
      return { iterator: afterId };
    },
  );

  api.get(
    '/app/:app_id/polling-endpoint/:sink_id/consumer/:consumer_id',
    {
      schema: {
        tags: pollerTags,
        summary:
          "Read the polling endpoint's messages after this consumer's last committed offset (the same ones again until it commits)",
        params: ConsumerParams,
        querystring: PollingEndpointQuery,
        response: { 200: PollerV2PollOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadSink(ctx, app, req.params.sink_id);
      const start =
        req.query.starting_position === 'latest'
          ? idFloor('message', ctx.clock.now() - SETTLE_MS)
          : earliest(ep);
      const consumer = await consumerOf(ep, req.params.consumer_id, start);
      const out = await readSink(ctx, app, ep, await hiddenEventTypes(ctx.store, req.principal), {
        limit: req.query.limit ?? 50,
        afterId: consumer.afterId,
      });
      return { data: out.data.map((m, i) => ({ ...m, offset: consumer.offset + i + 1 })), done: out.done };
    },
  );

  api.post(
    '/app/:app_id/polling-endpoint/:sink_id/consumer/:consumer_id/commit',
    {
      schema: {
        tags: pollerTags,
        summary:
          'Commit an offset: the consumer has handled that message and the ones before it (a lower offset than the last committed changes nothing)',
        params: ConsumerParams,
        body: CommitIn,
        response: { 204: NoContent, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const app = await loadApp(ctx, req.params.app_id);
      const ep = await loadSink(ctx, app, req.params.sink_id);
      const hidden = await hiddenEventTypes(ctx.store, req.principal);
      const offset = req.body.offset;
      const notHandedOut = () =>
        invalid(
          ['body', 'offset'],
          `offset ${offset} was not handed out to consumer "${req.params.consumer_id}"`,
        );
      for (let i = 0; i < COMMIT_TRIES; i++) {
        const consumer = await ctx.store.getPollerConsumer(ep.id, req.params.consumer_id);
        if (!consumer) throw notHandedOut();
        if (offset <= consumer.offset) return reply.code(204).send(null);
        const k = offset - consumer.offset;
        if (k > MAX_LIMIT) throw notHandedOut();
        // The k-th message after the committed position: the one the poll numbered `offset`.
        const page = await readSink(ctx, app, ep, hidden, { limit: k, afterId: consumer.afterId });
        const m = page.data[k - 1];
        if (!m) throw notHandedOut();
        const moved = await ctx.store.commitPollerConsumer(
          ep.id,
          consumer.consumerId,
          consumer.offset,
          { afterId: m.id, offset },
          ctx.clock.now(),
        );
        if (moved) return reply.code(204).send(null);
      }
      throw new HooklineError('conflict', 'other commits of this consumer kept coming in; try again');
    },
  );

  // ---- poller tokens ---------------------------------------------------------------------
  const newToken = async (app: App, ep: Endpoint, expirySeconds: number) => {
    const now = ctx.clock.now();
    const secret = `${APP_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
    const token: AppToken = {
      id: ctx.ids('appToken'),
      appId: app.id,
      tokenHash: hashToken(secret).toString('hex'),
      readOnly: false,
      featureFlags: null,
      scope: 'poller',
      name: null,
      endpointId: ep.id,
      expiresAt: now + expirySeconds * 1000,
      revokedAt: null,
      createdAt: now,
    };
    await ctx.store.insertAppToken(token);
    return {
      id: token.id,
      name: null,
      token: secret,
      createdAt: iso(token.createdAt),
      expiresAt: iso(token.expiresAt),
      scopes: [POLLER_TOKEN_SCOPE],
    };
  };

  api.get(
    '/auth/stream/:stream_id/sink/:sink_id/poller/token',
    {
      schema: {
        tags: ['Authentication'],
        summary:
          "The polling endpoint's first poller token (a token that may only poll it); once one is live, 409: Hookline keeps only its hash, rotate for a new one",
        params: TokenParams,
        response: { 200: ApiTokenOut, 404: ErrorOut, 409: ErrorOut },
      },
    },
    async (req) => {
      const app = await loadAppToChange(ctx, req.params.stream_id);
      const ep = await loadSink(ctx, app, req.params.sink_id);
      if (await ctx.store.hasLivePollerToken(ep.id, ctx.clock.now())) {
        throw new HooklineError(
          'conflict',
          `endpoint ${ep.id} has a live poller token, and Hookline keeps only its hash; POST .../poller/token/rotate for a new one`,
        );
      }
      return newToken(app, ep, TOKEN_MAX_SECONDS);
    },
  );

  api.post(
    '/auth/stream/:stream_id/sink/:sink_id/poller/token/rotate',
    {
      schema: {
        tags: ['Authentication'],
        summary:
          'Make a new poller token for the polling endpoint; its older ones stop working after `oldTokenExpiry` seconds (default 300)',
        params: TokenParams,
        body: Type.Optional(RotatePollerTokenIn),
        response: { 200: ApiTokenOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const app = await loadAppToChange(ctx, req.params.stream_id);
      const ep = await loadSink(ctx, app, req.params.sink_id);
      const body = req.body ?? {};
      await ctx.store.expirePollerTokens(
        ep.id,
        ctx.clock.now() + (body.oldTokenExpiry ?? OLD_TOKEN_DEFAULT_SECONDS) * 1000,
      );
      // Never kept for idempotent replay: the stored response would hold the token in clear.
      req.idempotencyKeep = false;
      return newToken(app, ep, body.expiry ?? TOKEN_MAX_SECONDS);
    },
  );
}
