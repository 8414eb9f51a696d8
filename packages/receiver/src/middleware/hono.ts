import { WebhookVerificationError } from '../errors.ts';
import type { VerifyResult } from '../verify.ts';
import { verifyOnAnyRuntime } from '../web.ts';
import {
  DEFAULT_LIMIT,
  errorResponse,
  reportError,
  resolveUrl,
  verifyOptionsOf,
  type WebhookRequestOptions,
} from './shared.ts';

/** The parts of a Hono context this middleware uses (structural: no dependency on hono). */
export interface HonoLikeContext {
  readonly req: {
    readonly raw: Request;
    readonly url: string;
    readonly method: string;
    arrayBuffer(): Promise<ArrayBuffer>;
  };
  set(key: 'webhook', value: VerifyResult): void;
  set(key: 'rawBody', value: Uint8Array): void;
  json(body: unknown, status?: number): Response;
}

/** Options for {@link createHonoWebhookMiddleware}. */
export type HonoWebhookOptions = WebhookRequestOptions<Request>;

/** Variables the middleware sets; use as `new Hono<{ Variables: HonoWebhookVariables }>()`. */
export interface HonoWebhookVariables {
  webhook: VerifyResult;
  rawBody: Uint8Array;
}

/**
 * Hono middleware: reads the body with `c.req.arrayBuffer()` (Hono caches it, so
 * `c.req.json()` still works afterwards), verifies it, and sets `c.get('webhook')` and
 * `c.get('rawBody')`. Failures are answered with `{code, detail}` JSON.
 *
 * ```ts
 * const app = new Hono<{ Variables: HonoWebhookVariables }>();
 * app.post('/webhooks/slack', createHonoWebhookMiddleware({ scheme: 'slack', secret }), (c) => c.text('ok'));
 * ```
 */
export function createHonoWebhookMiddleware(
  options: HonoWebhookOptions,
): (c: HonoLikeContext, next: () => Promise<void>) => Promise<Response | undefined> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  return async (c, next) => {
    try {
      if (Number(c.req.raw.headers.get('content-length')) > limit) {
        throw new WebhookVerificationError('body_too_large', `the body is larger than ${limit} bytes`);
      }
      const body = new Uint8Array(await c.req.arrayBuffer());
      if (body.length > limit) {
        throw new WebhookVerificationError('body_too_large', `the body is larger than ${limit} bytes`);
      }
      // Hono runs on Workers and Deno too: Web Crypto where node:crypto is missing.
      const webhook = await verifyOnAnyRuntime({
        ...verifyOptionsOf(options),
        body,
        headers: c.req.raw.headers,
        url: resolveUrl(options.url, c.req.raw, () => c.req.url),
        method: c.req.method,
      });
      c.set('rawBody', body);
      c.set('webhook', webhook);
    } catch (error) {
      const answer = errorResponse(error);
      if (answer === undefined) throw error;
      if (answer.status >= 500) reportError(options, error);
      return c.json(answer.body, answer.status);
    }
    await next();
    return undefined;
  };
}
