/**
 * The dashboard's live feed, as server-sent events: `GET /api/v1/live` (every application, admin
 * token) and `GET /api/v1/app/{app}/live` (one application), optionally narrowed to one
 * endpoint, message or source. Each new attempt is an `attempt` event, each received request an
 * `inbound` event (the JSON of `LiveAttemptOut` / `LiveInboundOut`); `hello` opens the stream.
 *
 * Attempts may be made by worker processes that share a PostgreSQL database, so the feed reads
 * the store (one bounded query per kind per second) instead of listening inside this process.
 * Each read looks a few seconds back, so a row committed late (a long transaction, another
 * machine's clock) is still sent, once: ids already sent are remembered for that long.
 *
 * A stream ends after `MAX_STREAM_MS`; the browser's client reconnects. Fetch it with the token
 * in the Authorization header like every API call (`EventSource` cannot send one).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { coerceError, HooklineError, notFound } from '../core/errors.ts';
import type { LiveAttempt, LiveFilter, LiveInbound } from '../store/overview-types.ts';
import { loadApp } from './application.ts';
import { hiddenEventTypes } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { loadEndpoint } from './endpoint.ts';
import { loadMessage } from './message.ts';
import { type LiveAttemptOut, type LiveInboundOut, LiveQuery } from './overview-schemas.ts';
import { ErrorOut, ValidationErrorOut } from './schemas.ts';
import { loadSource } from './source.ts';
import { iso } from './wire.ts';

export const LIVE_POLL_MS = 1000;
/** How far back each read looks for rows committed after the previous read. */
const LOOKBACK_MS = 5000;
/** Rows per kind per read: a burst beyond this is sent over the next reads. */
const BATCH = 200;
const PING_MS = 15_000;
const MAX_STREAM_MS = 30 * 60_000;

export function liveAttemptOut(a: LiveAttempt): LiveAttemptOut {
  return {
    id: a.id,
    appId: a.appId,
    msgId: a.msgId,
    endpointId: a.endpointId,
    url: a.url,
    eventType: a.eventType,
    status: a.status,
    responseStatusCode: a.responseStatusCode,
    responseDurationMs: Math.round(a.durationMs),
    triggerType: a.triggerType,
    timestamp: iso(a.createdAt),
  };
}

export function liveInboundOut(e: LiveInbound): LiveInboundOut {
  return {
    id: e.id,
    appId: e.appId,
    sourceId: e.sourceId,
    sourceName: e.sourceName,
    status: e.status,
    eventType: e.eventType,
    method: e.method,
    verification: e.verifyCode ? { code: e.verifyCode, detail: e.verifyDetail ?? '' } : null,
    receivedAt: iso(e.receivedAt),
  };
}

interface Feed {
  filter: LiveFilter;
  attempts: boolean;
  inbound: boolean;
}

/** Streams `feed` until the client goes away, the server closes or the stream is old enough. */
function stream(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, feed: Feed): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  });
  const started = ctx.clock.now();
  res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ now: iso(started) })}\n\n`);
  /** Ids sent, with their time, kept while a read can still return them. */
  const sent = new Map<string, number>();
  let lastRead = started;
  let reading = false;
  let closed = false;
  const send = (event: string, id: string, at: number, data: unknown) => {
    if (sent.has(id)) return;
    sent.set(id, at);
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const poll = async () => {
    if (reading || closed) return;
    reading = true;
    const readAt = ctx.clock.now();
    // Nothing from before the stream opened; a few seconds back from the last read.
    const since = Math.max(started, lastRead - LOOKBACK_MS);
    try {
      if (feed.attempts)
        for (const a of await ctx.store.liveAttempts(feed.filter, since, BATCH))
          send('attempt', a.id, a.createdAt, liveAttemptOut(a));
      if (feed.inbound)
        for (const e of await ctx.store.liveInbound(feed.filter, since, BATCH))
          send('inbound', e.id, e.receivedAt, liveInboundOut(e));
      lastRead = readAt;
      for (const [id, at] of sent) if (at < since) sent.delete(id);
    } catch (err) {
      // A database hiccup: tell the page, try again on the next tick.
      req.log.warn({ err: coerceError(err) }, 'live feed read failed');
      res.write(`event: problem\ndata: ${JSON.stringify({ code: 'service_unavailable' })}\n\n`);
    } finally {
      reading = false;
    }
  };
  const tick = setInterval(() => void poll(), LIVE_POLL_MS);
  const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
  const end = setTimeout(() => res.end(), MAX_STREAM_MS);
  res.on('close', () => {
    closed = true;
    clearInterval(tick);
    clearInterval(ping);
    clearTimeout(end);
  });
}

const kindsOf = (q: LiveQuery) => {
  const kinds = (q.kinds ?? 'attempt,inbound').split(',');
  return { attempts: kinds.includes('attempt'), inbound: kinds.includes('inbound') };
};

export function liveRoutes(api: Routes, ctx: ApiContext): void {
  const tags = ['Overview'];
  const description =
    'Server-sent events: `hello`, then one `attempt` event per attempt made and one `inbound` event per request received, from now on.';
  api.get(
    '/live',
    {
      schema: {
        tags,
        summary: 'Live feed of attempts and received requests, every application (admin token)',
        description,
        querystring: Type.Omit(LiveQuery, ['endpoint', 'msg']),
        response: { 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const source = req.query.source ? await loadSource(ctx, req.query.source) : null;
      const kinds = kindsOf(req.query);
      stream(ctx, req, reply, {
        filter: { appId: null, ...(source ? { sourceId: source.id } : {}) },
        // A feed narrowed to a source has only its requests.
        attempts: kinds.attempts && !source,
        inbound: kinds.inbound,
      });
    },
  );
  api.get(
    '/app/:app_id/live',
    {
      schema: {
        tags,
        summary: 'Live feed of attempts and received requests of one application',
        description,
        params: Type.Object({ app_id: Type.String() }),
        querystring: LiveQuery,
        response: { 404: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const app = await loadApp(ctx, req.params.app_id);
      const endpoint = q.endpoint ? await loadEndpoint(ctx, app, q.endpoint) : null;
      // An application token does not see `listen` endpoints (as in the endpoint list).
      if (endpoint?.kind === 'listen' && req.principal?.kind === 'app') throw notFound('endpoint');
      const msg = q.msg ? await loadMessage(ctx, req.principal, app, q.msg) : null;
      const source = q.source ? await loadSource(ctx, q.source) : null;
      if (source && source.appId !== app.id)
        throw new HooklineError('not_found', 'source not found in this application');
      const kinds = kindsOf(q);
      // Sources are the admin's: an application token's feed has its attempts only.
      const inbound = kinds.inbound && !endpoint && !msg && req.principal?.kind !== 'app';
      stream(ctx, req, reply, {
        filter: {
          appId: app.id,
          ...(endpoint ? { endpointId: endpoint.id } : {}),
          ...(msg ? { msgId: msg.id } : {}),
          ...(source ? { sourceId: source.id } : {}),
          excludeEventTypes: await hiddenEventTypes(ctx.store, req.principal),
        },
        attempts: kinds.attempts && !source,
        inbound,
      });
    },
  );
}
