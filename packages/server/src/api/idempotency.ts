/**
 * `idempotency-key` on POST requests, as Svix does it: the first 2xx response is kept for 12
 * hours under (token, key, path and query) and replayed to any repeat, so a client that retries
 * after a timeout never creates the same thing twice. A repeat that arrives while the first
 * request is still running waits for it. Message creation stores its response in the same
 * transaction as the message (see message.ts), so even a crash between commit and reply is safe.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.ts';

export const IDEMPOTENCY_TTL_MS = 12 * 3_600_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Hash under which this request's response is kept, when it carries an idempotency key. */
    idempotencyKey?: string;
    /** Set when the handler already stored the response atomically with its own writes. */
    idempotencyStored?: boolean;
  }
}

export function idempotency(api: FastifyInstance, ctx: ApiContext): void {
  const inFlight = new Map<string, Promise<void>>();
  const finishers = new Map<string, () => void>();

  api.addHook('onRequest', async (request, reply) => {
    const raw = request.headers['idempotency-key'];
    if (request.method !== 'POST' || typeof raw !== 'string' || raw === '') return;
    const key = createHash('sha256')
      .update(`${request.headers.authorization ?? ''}\n${raw}\n${request.url}`)
      .digest('hex');
    while (inFlight.has(key)) await inFlight.get(key);
    const stored = await ctx.store.getIdempotentResponse(key, ctx.clock.now());
    if (stored) {
      reply.header('content-type', 'application/json; charset=utf-8');
      reply.header('idempotent-replayed', 'true');
      return reply.code(stored.status).send(stored.body);
    }
    request.idempotencyKey = key;
    inFlight.set(key, new Promise<void>((resolve) => finishers.set(key, resolve)));
  });

  api.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (!key || request.idempotencyStored) return payload;
    if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
      await ctx.store.putIdempotentResponse(
        key,
        { status: reply.statusCode, body: payload },
        ctx.clock.now() + IDEMPOTENCY_TTL_MS,
        ctx.clock.now(),
      );
    }
    return payload;
  });

  const finish = async (request: FastifyRequest) => {
    const key = request.idempotencyKey;
    if (!key) return;
    inFlight.delete(key);
    finishers.get(key)?.();
    finishers.delete(key);
  };
  api.addHook('onResponse', finish);
  api.addHook('onRequestAbort', finish);
}
