/** Liveness and readiness: 200 when the process runs and the database answers, else 503. */
import type { FastifyInstance } from 'fastify';
import { coerceError } from '../core/errors.ts';
import type { ApiContext } from './context.ts';

export function healthRoutes(ctx: ApiContext) {
  return async (app: FastifyInstance) => {
    const handler = async (_req: unknown, reply: import('fastify').FastifyReply) => {
      try {
        await ctx.store.ping();
        return reply.send({ status: 'ok', database: 'ok', version: ctx.version });
      } catch (err) {
        return reply.code(503).send({
          status: 'unavailable',
          database: 'unreachable',
          code: 'service_unavailable',
          detail: coerceError(err).message,
        });
      }
    };
    const schema = { schema: { tags: ['Health'], summary: 'Liveness and database readiness', security: [] } };
    app.get('/health', schema, handler);
    app.get('/api/v1/health', schema, handler);
  };
}
