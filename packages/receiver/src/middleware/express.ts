import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifyResult } from '../verify.ts';
import { verify } from '../verify.ts';
import { nodeRequestUrl, readRawBody } from './node.ts';
import {
  errorResponse,
  parsedBodyError,
  reportError,
  resolveUrl,
  verifyOptionsOf,
  type WebhookRequestOptions,
} from './shared.ts';

/**
 * The parts of an Express request this middleware uses. Declared here, not imported from
 * express, so the library has no dependency on express or its types.
 */
export interface ExpressLikeRequest extends IncomingMessage {
  body?: unknown;
  /** Set by the middleware: the exact bytes received. */
  rawBody?: Buffer;
  /** Set by the middleware: what was verified. */
  webhook?: VerifyResult;
  readonly originalUrl?: string;
  readonly protocol?: string;
}

/** Options for {@link createExpressWebhookMiddleware}. */
export type ExpressWebhookOptions = WebhookRequestOptions<ExpressLikeRequest>;

function expressUrl(request: ExpressLikeRequest): string | undefined {
  const host = request.headers.host;
  if (request.protocol === undefined || host === undefined) return nodeRequestUrl(request);
  return `${request.protocol}://${host}${request.originalUrl ?? request.url ?? ''}`;
}

// express.raw()/text() leave a Buffer or string; express.json()/urlencoded() leave an object we cannot use.
function bodyFromParser(request: ExpressLikeRequest): Buffer | string | 'parsed' | undefined {
  const body = request.body;
  if (Buffer.isBuffer(body) || typeof body === 'string') return body;
  if (body !== undefined && body !== null && (typeof body !== 'object' || Object.keys(body).length > 0))
    return 'parsed';
  return request.readableEnded && body !== undefined ? 'parsed' : undefined;
}

/**
 * Express middleware that reads the raw body, verifies it, sets `req.rawBody` (Buffer) and
 * `req.webhook` (the {@link VerifyResult}), and answers failures with `{code, detail}` JSON
 * (400/401/413; 500 for our misconfiguration). Mount it before any JSON parser, or after
 * `express.raw()`. `req.body` is left as the raw Buffer.
 *
 * ```ts
 * app.post('/webhooks/stripe', createExpressWebhookMiddleware({ scheme: 'stripe', secret }), (req, res) => {
 *   const event = JSON.parse(req.rawBody.toString('utf8'));
 *   res.sendStatus(204);
 * });
 * ```
 */
export function createExpressWebhookMiddleware(
  options: ExpressWebhookOptions,
): (request: ExpressLikeRequest, response: ServerResponse, next: (error?: unknown) => void) => Promise<void> {
  return async (request, response, next) => {
    try {
      const fromParser = bodyFromParser(request);
      if (fromParser === 'parsed')
        throw parsedBodyError(typeof options.scheme === 'string' ? options.scheme : options.scheme.name);
      const body =
        fromParser === undefined
          ? await readRawBody(request, options)
          : Buffer.isBuffer(fromParser)
            ? fromParser
            : Buffer.from(fromParser, 'utf8');
      const webhook = verify({
        ...verifyOptionsOf(options),
        body,
        headers: request.headers,
        url: resolveUrl(options.url, request, () => expressUrl(request)),
        method: request.method,
      });
      request.rawBody = body;
      request.body ??= body;
      request.webhook = webhook;
    } catch (error) {
      const answer = errorResponse(error);
      if (answer === undefined) {
        next(error);
        return;
      }
      if (answer.status >= 500) reportError(options, error);
      response.statusCode = answer.status;
      response.setHeader('content-type', 'application/json; charset=utf-8');
      response.end(JSON.stringify(answer.body));
      return;
    }
    next();
  };
}
