import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebhookVerificationError } from '../errors.ts';
import { type VerifyResult, verify } from '../verify.ts';
import {
  DEFAULT_LIMIT,
  errorResponse,
  reportError,
  resolveUrl,
  verifyOptionsOf,
  type WebhookRequestOptions,
} from './shared.ts';

/** Options for {@link verifyNodeRequest} and {@link createNodeWebhookHandler}. */
export type NodeWebhookOptions = WebhookRequestOptions<IncomingMessage>;

/** A verified request: the raw bytes and what was verified. */
export interface VerifiedNodeRequest {
  /** The raw body; parse it yourself (`JSON.parse(body.toString('utf8'))`). */
  readonly body: Buffer;
  readonly webhook: VerifyResult;
}

/** Reads a request body into one Buffer; throws `body_too_large` past `limit` bytes. */
export async function readRawBody(
  request: IncomingMessage,
  options: { limit?: number | undefined } = {},
): Promise<Buffer> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const declared = Number(request.headers['content-length']);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) {
      // Stop reading at once: a chunked upload past the limit gets its socket closed, not a 413.
      request.destroy();
      throw tooLarge(limit);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): WebhookVerificationError {
  return new WebhookVerificationError('body_too_large', `the body is larger than ${limit} bytes`);
}

/** The URL a node request was sent to, from the Host header (no proxy headers are trusted). */
export function nodeRequestUrl(request: IncomingMessage): string | undefined {
  const host = request.headers.host;
  if (host === undefined || request.url === undefined) return undefined;
  const encrypted = (request.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  return `${encrypted ? 'https' : 'http'}://${host}${request.url}`;
}

/**
 * Reads the raw body of a `node:http` request and verifies it.
 * Throws {@link WebhookVerificationError} on failure.
 */
export async function verifyNodeRequest(
  request: IncomingMessage,
  options: NodeWebhookOptions,
): Promise<VerifiedNodeRequest> {
  const body = await readRawBody(request, options);
  const webhook = verify({
    ...verifyOptionsOf(options),
    body,
    headers: request.headers,
    url: resolveUrl(options.url, request, () => nodeRequestUrl(request)),
    method: request.method,
  });
  return { body, webhook };
}

/**
 * Wraps a `node:http` handler: the handler only runs for verified requests; failures are
 * answered with `{code, detail}` JSON and the matching status (400/401/413/500).
 *
 * ```ts
 * http.createServer(createNodeWebhookHandler({ scheme: 'github', secret }, (req, res, { body, webhook }) => {
 *   res.end('ok');
 * }));
 * ```
 */
export function createNodeWebhookHandler(
  options: NodeWebhookOptions,
  handler: (request: IncomingMessage, response: ServerResponse, verified: VerifiedNodeRequest) => unknown,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (request, response) => {
    let verified: VerifiedNodeRequest;
    try {
      verified = await verifyNodeRequest(request, options);
    } catch (error) {
      const answer = errorResponse(error);
      if (answer === undefined || answer.status >= 500) reportError(options, error);
      if (answer === undefined) {
        response.statusCode = 500;
        response.end();
        return;
      }
      response.statusCode = answer.status;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(answer.body));
      return;
    }
    await handler(request, response, verified);
  };
}
