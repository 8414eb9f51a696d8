import type { IncomingMessage } from 'node:http';
import type { VerifyResult } from '../verify.ts';
import { verify } from '../verify.ts';
import { nodeRequestUrl } from './node.ts';
import {
  DEFAULT_LIMIT,
  errorResponse,
  reportError,
  resolveUrl,
  verifyOptionsOf,
  type WebhookRequestOptions,
} from './shared.ts';

/** The parts of a Fastify request this plugin uses (structural: no dependency on fastify). */
export interface FastifyLikeRequest {
  body: unknown;
  readonly headers: IncomingMessage['headers'];
  readonly method: string;
  readonly url: string;
  readonly protocol?: string;
  readonly host?: string;
  readonly raw: IncomingMessage;
  /** Set by the plugin: the exact bytes received. */
  rawBody?: Buffer;
  /** Set by the plugin: what was verified. */
  webhook?: VerifyResult;
}

/** The parts of a Fastify reply this plugin uses. */
export interface FastifyLikeReply {
  code(statusCode: number): FastifyLikeReply;
  send(payload?: unknown): FastifyLikeReply;
}

/** The parts of a Fastify instance this plugin uses. */
export interface FastifyLikeInstance {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: 'buffer'; bodyLimit?: number },
    parser: (request: never, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void,
  ): void;
  addHook(name: 'preHandler', hook: (request: never, reply: never) => Promise<unknown>): void;
}

/** Options for {@link createFastifyWebhookPlugin}. */
export type FastifyWebhookOptions = WebhookRequestOptions<FastifyLikeRequest>;

function fastifyUrl(request: FastifyLikeRequest): string | undefined {
  if (request.protocol === undefined || request.host === undefined) return nodeRequestUrl(request.raw);
  return `${request.protocol}://${request.host}${request.url}`;
}

/**
 * A Fastify plugin for a scope holding webhook routes: it replaces the scope's content-type
 * parsers with one that keeps every body as a Buffer, then verifies each request in a
 * `preHandler` hook, setting `request.rawBody` and `request.webhook`. Failures are answered
 * with `{code, detail}` JSON. It applies to the scope it is registered in (not to the parent),
 * so register it inside the `register` that declares the webhook routes:
 *
 * ```ts
 * app.register(async (scope) => {
 *   await scope.register(createFastifyWebhookPlugin({ scheme: 'github', secret }));
 *   scope.post('/webhooks/github', async (request) => ({ id: request.webhook.id }));
 * });
 * ```
 */
export function createFastifyWebhookPlugin(
  options: FastifyWebhookOptions,
): (fastify: object) => Promise<void> {
  // Typed `object` outward so Fastify's overloaded instance type is accepted as is.
  const plugin = async (fastify: object) => {
    const instance = fastify as FastifyLikeInstance;
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: options.limit ?? DEFAULT_LIMIT },
      (_request, body, done) => done(null, body),
    );
    instance.addHook('preHandler', async (request: FastifyLikeRequest, reply: FastifyLikeReply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      try {
        request.webhook = verify({
          ...verifyOptionsOf(options),
          body,
          headers: request.headers,
          url: resolveUrl(options.url, request, () => fastifyUrl(request)),
          method: request.method,
        });
        request.rawBody = body;
      } catch (error) {
        const answer = errorResponse(error);
        if (answer === undefined) throw error;
        if (answer.status >= 500) reportError(options, error);
        return reply.code(answer.status).send(answer.body);
      }
      return undefined;
    });
  };
  // Fastify's documented opt-out of encapsulation (what fastify-plugin sets): the parser and
  // hook land in the scope that registers the plugin, next to its webhook routes.
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  return plugin;
}
