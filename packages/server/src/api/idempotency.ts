/**
 * `idempotency-key` on POST requests, as Svix does it: the first 2xx response is kept for 12
 * hours under (token, key, path and query) and replayed to any repeat, so a client that retries
 * after a timeout never creates the same thing twice. A repeat that arrives while the first
 * request is still running (in this process or another) waits for it. Message creation stores its response in the same
 * transaction as the message (see message.ts), so even a crash between commit and reply is safe.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HooklineError } from '../core/errors.ts';
import type { ApiContext } from './context.ts';

export const IDEMPOTENCY_TTL_MS = 12 * 3_600_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Hash under which this request's response is kept, when it carries an idempotency key. */
    idempotencyKey?: string;
    /** Set when the response is stored (by the handler atomically with its own writes, or here). */
    idempotencyStored?: boolean;
    /** Set to false by a handler whose response must never be kept (it holds a secret). */
    idempotencyKeep?: boolean;
  }
}

/**
 * How long a request holds its key before another may take it over: longer than any request
 * runs, short enough that a key whose holder crashed frees itself.
 */
export const IDEMPOTENCY_RESERVATION_MS = 60_000;

/** How often a repeat checks whether the request holding its key has answered. */
const POLL_MS = [5, 10, 20, 50, 100, 200];

export function idempotency(api: FastifyInstance, ctx: ApiContext): void {
  api.addHook('onRequest', async (request, reply) => {
    const raw = request.headers['idempotency-key'];
    if (request.method !== 'POST' || typeof raw !== 'string' || raw === '') return;
    const key = createHash('sha256')
      .update(`${request.headers.authorization ?? ''}\n${raw}\n${request.url}`)
      .digest('hex');
    // The key is reserved in the database, so one request at a time runs under it in every
    // process; repeats wait for its response and replay it.
    // Waiting is bounded in real time, whatever clock the server runs on.
    const deadline = performance.now() + IDEMPOTENCY_RESERVATION_MS;
    for (let i = 0; ; i++) {
      const now = ctx.clock.now();
      const held = await ctx.store.reserveIdempotencyKey(key, now, now + IDEMPOTENCY_RESERVATION_MS);
      if (held === 'reserved') {
        request.idempotencyKey = key;
        return;
      }
      if (held !== 'pending') {
        reply.header('content-type', 'application/json; charset=utf-8');
        reply.header('idempotent-replayed', 'true');
        return reply.code(held.status).send(held.body);
      }
      if (performance.now() >= deadline || request.raw.destroyed)
        throw new HooklineError('conflict', 'a request with this idempotency key is still in progress');
      await new Promise((r) => setTimeout(r, POLL_MS[Math.min(i, POLL_MS.length - 1)]));
    }
  });

  api.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (!key || request.idempotencyStored || request.idempotencyKeep === false) return payload;
    if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
      await ctx.store.putIdempotentResponse(
        key,
        { status: reply.statusCode, body: payload },
        ctx.clock.now() + IDEMPOTENCY_TTL_MS,
        ctx.clock.now(),
      );
      request.idempotencyStored = true;
    }
    return payload;
  });

  // A request that kept no response (an error, a response that must not be kept, or the client
  // went away) frees its key at once: a retry runs again instead of waiting for the reservation.
  const finish = async (request: FastifyRequest) => {
    const key = request.idempotencyKey;
    if (!key || request.idempotencyStored) return;
    request.idempotencyKey = undefined;
    await ctx.store.releaseIdempotencyKey(key).catch(() => {});
  };
  api.addHook('onResponse', finish);
  api.addHook('onRequestAbort', finish);
}
