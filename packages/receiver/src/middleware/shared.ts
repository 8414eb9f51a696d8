import { isWebhookVerificationError, WebhookVerificationError } from '../errors.ts';
import { withRequestQuery } from '../request-url.ts';
import type { VerifyOptions } from '../verify.ts';

/** Options shared by every middleware: `verify()` options minus what comes from the request. */
export interface WebhookRequestOptions<Req>
  extends Omit<VerifyOptions, 'body' | 'headers' | 'url' | 'receivedAt'> {
  /**
   * Public URL the provider called (Twilio and HubSpot sign it). By default it is rebuilt from
   * the Host header and the request path, which is wrong behind a proxy that rewrites them: pass
   * it explicitly there. A string gives the scheme, host and path; the query string is the
   * request's own (Twilio adds `bodySHA256` to it), see `withRequestQuery`. A function receives
   * the request and returns the whole URL.
   */
  readonly url?: string | ((request: Req) => string) | undefined;
  /** Largest body accepted, in bytes. Default 1 MiB. */
  readonly limit?: number | undefined;
  /**
   * Called with failures the sender is not told about: 5xx verification errors (our
   * misconfiguration) and unexpected errors. Default: `console.error`.
   */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/** Reports an error the sender only sees as a bare 5xx. */
export function reportError<Req>(options: WebhookRequestOptions<Req>, error: unknown): void {
  if (options.onError) options.onError(error);
  else console.error('@hookline/receiver: webhook verification failed on our side', error);
}

/** Default body limit: 1 MiB, comfortably above what webhook providers send. */
export const DEFAULT_LIMIT = 1024 * 1024;

/** The `{code, detail}` answer for a failed verification, or undefined for an unexpected error. */
export function errorResponse(
  error: unknown,
): { status: number; body: { code: string; detail: string } } | undefined {
  if (!isWebhookVerificationError(error)) return undefined;
  // 5xx codes describe our configuration; the sender gets no detail it could use or act on.
  const detail =
    error.status >= 500 ? 'the webhook receiver is misconfigured; see the server logs' : error.message;
  return { status: error.status, body: { code: error.code, detail } };
}

/**
 * The URL to verify with: a configured function's answer, a configured string with the
 * request's query string, or `fallback()` (the URL rebuilt from the request).
 */
export function resolveUrl<Req>(
  url: WebhookRequestOptions<Req>['url'],
  request: Req,
  fallback: () => string | undefined,
): string | undefined {
  if (typeof url === 'function') return url(request);
  if (url === undefined) return fallback();
  return withRequestQuery(url, fallback());
}

/** Rejects a body that a framework parser already turned into an object. */
export function parsedBodyError(scheme: string | undefined): WebhookVerificationError {
  return new WebhookVerificationError(
    'invalid_body',
    'the body was already parsed by a JSON/form parser (and would have to be re-serialized): mount the webhook middleware before any body parser, or use a raw parser, so it receives the raw bytes',
    { scheme },
  );
}

/** Verify options without the middleware-only fields. */
export function verifyOptionsOf<Req>(
  options: WebhookRequestOptions<Req>,
): Omit<VerifyOptions, 'body' | 'headers'> {
  const { url: _url, limit: _limit, onError: _onError, ...rest } = options;
  return rest;
}
