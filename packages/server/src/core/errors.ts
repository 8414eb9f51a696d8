/**
 * Every error a client can see, in one list: a stable code, its HTTP status and what it means.
 * The wire format is Svix's: `{code, detail}` for most errors, and for 422 a `detail` array of
 * `{loc, msg, type}` entries. `docs/errors.md` is checked against this list by a test.
 */
export const ERRORS = {
  generic_error: { status: 400, description: 'The request is malformed (for example invalid JSON).' },
  json_too_deep: {
    status: 400,
    description: 'The JSON body nests arrays and objects more than 128 levels deep.',
  },
  authentication_failed: {
    status: 401,
    description: 'The bearer token is missing or wrong, or an app-scoped token expired or was revoked.',
  },
  insufficient_access: {
    status: 403,
    description:
      "An app-scoped token was used outside its application's routes, or a read-only one for a change.",
  },
  not_found: {
    status: 404,
    description:
      'The application, endpoint, message, event type, source or inbound event does not exist (on `/in/{name}`: no such source).',
  },
  conflict: {
    status: 409,
    description:
      'Something with this uid or eventId exists already, or a request with the same idempotency key is in progress.',
  },
  not_listen_endpoint: {
    status: 409,
    description: 'Only endpoints of kind `listen` stream their deliveries to `hookline listen`.',
  },
  kind_change_not_allowed: {
    status: 409,
    description:
      'An endpoint can change between `http`, `slack`, `discord` and `teams`, but not to or from `listen` or `poller`; create a new endpoint instead.',
  },
  not_poller_endpoint: {
    status: 409,
    description:
      'The polling calls (`/app/{app}/poller/{endpoint}`, `/app/{app}/polling-endpoint/{endpoint}`, poller tokens) need an endpoint of kind `poller`.',
  },
  poller_endpoint: {
    status: 409,
    description:
      'An endpoint of kind `poller` is never sent anything (no resend, test attempt or example): its consumers poll it.',
  },
  managed_by_source: {
    status: 409,
    description:
      'The application belongs to an inbound source: change it and its endpoints through `/api/v1/source/{id}`.',
  },
  transformation_failed: {
    status: 400,
    description:
      "`transformation/simulate`: the endpoint's transformation threw, ran out of its time or memory budget, or returned something that is not a usable webhook; `detail` says which.",
  },
  event_type_exists: { status: 409, description: 'An event type with this name exists already.' },
  inbound_event_rejected: {
    status: 409,
    description:
      'The inbound event failed verification; it is kept for inspection but never forwarded or replayed.',
  },
  inbound_body_expunged: {
    status: 409,
    description:
      'The inbound event is older than the retention period: its bytes are gone, so it cannot be replayed. The record stays.',
  },
  no_public_key: {
    status: 409,
    description:
      'The endpoint signs with an HMAC secret (`whsec_`), which has no public key; rotate to a `whsk_` key.',
  },
  // Verification failures on `/in/{source}`: the codes of `@hookline/receiver`, answered with 401.
  missing_header: {
    status: 401,
    description: "Inbound: a header the source's scheme needs is absent or empty.",
  },
  malformed_header: {
    status: 401,
    description: 'Inbound: a signature or timestamp header is present but cannot be parsed.',
  },
  invalid_body: { status: 401, description: 'Inbound: the body cannot be read as raw bytes.' },
  malformed_body: {
    status: 401,
    description:
      "Inbound: the body is not in the format the source's scheme reads (for Salesforce: not an Outbound Messaging SOAP envelope).",
  },
  timestamp_out_of_tolerance: {
    status: 401,
    description: "Inbound: the signature is valid but its timestamp is outside the source's tolerance.",
  },
  no_matching_signature: {
    status: 401,
    description:
      "Inbound: no secret of the source produced the request's signature (forged, or a wrong secret).",
  },
  invalid_secret: {
    status: 401,
    description: 'Inbound: a secret of the source is not in the format its scheme expects; fix the source.',
  },
  unsupported_scheme: {
    status: 401,
    description: "Inbound: the source's scheme is unknown; fix the source.",
  },
  missing_option: {
    status: 401,
    description:
      'Inbound: the scheme needs an option the source does not set (for example `url` for Twilio).',
  },
  ip_not_allowed: {
    status: 403,
    description:
      "Inbound: the client address is not in the source's `allowedIps`; the body was not read or stored.",
  },
  method_not_allowed: {
    status: 405,
    description:
      "Inbound: `/in/{name}` answers GET (and HEAD) only for the source's challenge rule (`handshake.challenge`); providers POST events.",
  },
  too_many_notifications: {
    status: 413,
    description:
      'Inbound: a Salesforce Outbound Message carries more than 100 notifications (the most Salesforce sends in one); refused with a SOAP fault and kept as rejected.',
  },
  payload_too_large: {
    status: 413,
    description:
      "The request body is larger than the configured limit (on `/in/{name}`: the source's `maxBodyBytes`).",
  },
  websocket_required: {
    status: 426,
    description: 'This route is a WebSocket stream (`hookline listen`); a plain HTTP request cannot use it.',
  },
  request_timeout: {
    status: 408,
    description:
      'The client did not send the whole request in time (`HOOKLINE_REQUEST_TIMEOUT`, headers within `HOOKLINE_HEADERS_TIMEOUT`); the connection is closed.',
  },
  too_many_rotations: {
    status: 429,
    description:
      "Svix Ingest: a source's ingest URL token was rotated three times within 48 hours (the rotated-out tokens still work); wait until the oldest expires.",
  },
  headers_too_large: { status: 431, description: 'The request headers are larger than the server accepts.' },
  unsupported_media_type: { status: 415, description: 'The body is not `application/json`.' },
  validation: {
    status: 422,
    description: 'A field is missing, has the wrong type or an invalid value; `detail` lists each.',
  },
  payload_invalid: {
    status: 422,
    description:
      "The message payload does not match its event type's JSON Schema (validation is on for the event type, or by HOOKLINE_VALIDATE_PAYLOADS); `detail` lists each failing field under `payload`.",
  },
  test_attempt_timeout: {
    status: 504,
    description:
      'A test attempt (`POST .../msg/test-attempt`) was not made within the time allowed (the endpoint timeout plus 10 seconds); the message stays queued for the endpoint.',
  },
  internal_error: {
    status: 500,
    description: 'An unexpected error; details are in the server log, never in the response.',
  },
  dashboard_not_built: {
    status: 503,
    description:
      'The web dashboard was requested but its files were never built; run `npm install` in the repository and restart.',
  },
  service_unavailable: {
    status: 503,
    description:
      'The database cannot take the request right now (unreachable, locked or full); nothing was stored.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** One entry of a 422 response, in the shape Svix (and FastAPI/pydantic) uses. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** The single error type of Hookline. Anything else that reaches the HTTP layer becomes a bare 500. */
export class HooklineError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly issues: ValidationIssue[] | undefined;

  constructor(code: ErrorCode, detail: string, issues?: ValidationIssue[]) {
    super(detail);
    this.name = 'HooklineError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.issues = issues;
  }

  /** The JSON body a client receives. */
  toBody(): { code: string; detail: string | ValidationIssue[] } | { detail: ValidationIssue[] } {
    if (this.code === 'validation')
      return { detail: this.issues ?? [{ loc: ['body'], msg: this.message, type: 'value_error' }] };
    // A coded error about fields (payload_invalid): Svix's 422 list, with the code beside it.
    if (this.issues) return { code: this.code, detail: this.issues };
    return { code: this.code, detail: this.message };
  }
}

export const notFound = (what: string) => new HooklineError('not_found', `${what} not found`);

/** A 422 for one field. */
export function invalid(loc: (string | number)[], msg: string, type = 'value_error'): HooklineError {
  return new HooklineError('validation', msg, [{ loc, msg, type }]);
}

/** Turns anything thrown into an Error, so `catch` blocks never handle `unknown` by hand. */
export function coerceError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
