/**
 * Every way a verification can fail, as one table: a stable `code`, the HTTP status a
 * receiver should answer with, and one line saying what it means.
 *
 * Codes are part of the public API: never rename one, only add.
 */
export const ERROR_CODES = {
  missing_header: {
    status: 400,
    description:
      'A header the scheme needs is absent or empty (check the scheme and any proxy that strips headers).',
  },
  malformed_header: {
    status: 400,
    description: 'A signature or timestamp header is present but cannot be parsed.',
  },
  malformed_body: {
    status: 400,
    description:
      'The body is not in the format the scheme reads (e.g. not a Salesforce Outbound Messaging SOAP envelope).',
  },
  body_too_large: {
    status: 413,
    description:
      'The body is larger than the middleware limit (raise `limit` if the provider sends bigger events).',
  },
  invalid_body: {
    status: 400,
    description: 'The body is not raw bytes (e.g. an already parsed object): pass the exact bytes received.',
  },
  timestamp_out_of_tolerance: {
    status: 401,
    description:
      'The signature is valid but its timestamp is too far from now (clock skew, replay, or a queue delay: pass receivedAt).',
  },
  no_matching_signature: {
    status: 401,
    description:
      'No configured secret produced any of the signatures (re-serialized body, wrong secret, or wrong URL).',
  },
  invalid_secret: {
    status: 500,
    description: 'A configured secret is empty or not in the format the scheme expects.',
  },
  unsupported_scheme: {
    status: 500,
    description: 'The scheme name is unknown (pass a built-in name or a scheme object).',
  },
  missing_option: {
    status: 500,
    description: 'The scheme needs a per-request option that was not given (e.g. url for Twilio).',
  },
} as const satisfies Record<string, { status: number; description: string }>;

/** Stable machine-readable reason a webhook failed verification. */
export type WebhookErrorCode = keyof typeof ERROR_CODES;

/** The codes, in table order. */
export const WEBHOOK_ERROR_CODES = Object.keys(ERROR_CODES) as WebhookErrorCode[];

/**
 * Thrown by `verify()` (and the middleware) when a webhook cannot be trusted.
 *
 * `code` is stable and safe to branch on; `message` is for humans and says what to check.
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  /** Stable reason, one of {@link WEBHOOK_ERROR_CODES}. */
  readonly code: WebhookErrorCode;
  /** Name of the scheme that was verifying, when known. */
  readonly scheme: string | undefined;
  /** HTTP status a receiver should answer with (4xx: the sender's fault, 5xx: our configuration). */
  readonly status: number;

  constructor(
    code: WebhookErrorCode,
    message: string,
    options: { scheme?: string | undefined; cause?: unknown } = {},
  ) {
    super(
      options.scheme === undefined ? message : `${options.scheme}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.scheme = options.scheme;
    this.status = ERROR_CODES[code].status;
  }
}

/** True when `error` is a {@link WebhookVerificationError} (also across module copies). */
export function isWebhookVerificationError(error: unknown): error is WebhookVerificationError {
  return (
    error instanceof WebhookVerificationError ||
    (error instanceof Error && error.name === 'WebhookVerificationError' && 'code' in error)
  );
}
