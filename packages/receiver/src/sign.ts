import { type RawBody, toBodyBuffer } from './body.ts';
import { resolveScheme, type SchemeInput, secretList, unixSeconds } from './resolve.ts';
import type { SignResult } from './scheme.ts';

/** Options for {@link sign}. */
export interface SignOptions {
  /** A built-in scheme name or a scheme object. */
  readonly scheme: SchemeInput;
  /** The exact bytes that will be sent. */
  readonly body: RawBody;
  /**
   * Signing secret. Several secrets produce several signatures where the scheme allows it
   * (Standard Webhooks, Stripe, Paddle). For Standard Webhooks v1a pass a `whsk_` key.
   */
  readonly secret: string | readonly string[];
  /** Signed timestamp: Date or unix seconds. Default: now. */
  readonly timestamp?: Date | number | undefined;
  /** Message/delivery id (Standard Webhooks: default a random `msg_...`). */
  readonly id?: string | undefined;
  /** Full URL the request goes to; required by Twilio. */
  readonly url?: string | undefined;
  readonly method?: string | undefined;
  /** Content type of the body; Twilio signs JSON bodies through `?bodySHA256=` instead of form params. */
  readonly contentType?: string | undefined;
}

/**
 * Produces the headers a provider would send with `body`: for tests, fixtures and
 * `hookline trigger`. The result verifies with {@link verify} and with the provider's own SDK.
 */
export function sign(options: SignOptions): SignResult {
  const scheme = resolveScheme(options.scheme);
  return scheme.sign({
    body: toBodyBuffer(options.body, scheme.name),
    secrets: secretList(options.secret, undefined, scheme.name),
    timestamp: Math.floor(
      options.timestamp === undefined ? Date.now() / 1000 : unixSeconds(options.timestamp, 'timestamp'),
    ),
    id: options.id,
    url: options.url,
    method: options.method,
    contentType: options.contentType,
  });
}
