import { type RawBody, toBodyBuffer } from './body.ts';
import { sha256, toHex } from './crypto.ts';
import { WebhookVerificationError } from './errors.ts';
import { createHeaderReader, type HeadersInput } from './headers.ts';
import { resolveScheme, type SchemeInput, secretList, unixSeconds } from './resolve.ts';
import type { ParsedRequest, RequestParts, Scheme } from './scheme.ts';

/** Options for {@link verify}. Give `secret` or `secrets` (or both: `secret` first). */
export interface VerifyOptions {
  /** A built-in scheme name (`'stripe'`, `'github'`, ...) or a scheme object. */
  readonly scheme: SchemeInput;
  /** The raw body bytes exactly as received; never a parsed object. */
  readonly body: RawBody;
  /** Request headers (fetch Headers, node IncomingHttpHeaders or a plain record); any casing. */
  readonly headers: HeadersInput;
  /** The secret, or several during a rotation (the first that matches wins). */
  readonly secret?: string | readonly string[] | undefined;
  /** Several secrets (rotation); appended after `secret`. */
  readonly secrets?: readonly string[] | undefined;
  /**
   * Allowed distance, in seconds and in either direction, between the signed timestamp and
   * `receivedAt`. Defaults to the scheme's (300 s; Paddle 5 s). `Infinity` disables the check.
   * Ignored by schemes without a timestamp.
   */
  readonly tolerance?: number | undefined;
  /**
   * When the request arrived: a Date or unix seconds. Default: now. Pass the arrival time when
   * verifying later (after a queue), so the delay does not count against the tolerance.
   */
  readonly receivedAt?: Date | number | undefined;
  /** Full public URL the provider called, with the query string. Required by Twilio. */
  readonly url?: string | undefined;
  /** HTTP method, for schemes that sign it. */
  readonly method?: string | undefined;
}

/** What a successful verification tells you. */
export interface VerifyResult {
  /** Scheme name. */
  readonly scheme: string;
  /** Index, in the configured secret list, of the secret that matched. */
  readonly matchedSecretIndex: number;
  /** Delivery/event id for deduplication, when the scheme has one (header or body). */
  readonly id?: string | undefined;
  /**
   * True when `id` is covered by the signature (it is in the signed content or the body). When
   * false, a captured request can be resent under any id: deduplicate on `contentHash` too
   * (`createIdempotencyGuard` does).
   */
  readonly idSigned?: boolean | undefined;
  /**
   * Hex SHA-256 of the content the signature covers (see `Scheme.signedContent`): equal for a
   * request and its replays whatever their unsigned headers say. Undefined for schemes that
   * sign nothing (Salesforce).
   */
  readonly contentHash?: string | undefined;
  /** Signed timestamp (unix seconds), when the scheme has one. */
  readonly timestamp?: number | undefined;
}

const NO_MATCH_ADVICE =
  'the body was re-serialized or modified (verify the raw bytes, before any JSON/form parsing) or the wrong secret is configured';

/**
 * Verifies a webhook and returns what was verified, or throws {@link WebhookVerificationError}
 * with a stable `code`.
 *
 * ```ts
 * const { id } = verify({ scheme: 'stripe', body: rawBody, headers: req.headers, secret: process.env.STRIPE_WHSEC });
 * ```
 */
export function verify(options: VerifyOptions): VerifyResult {
  const scheme = resolveScheme(options.scheme);
  const name = scheme.name;
  const body = toBodyBuffer(options.body, name);
  const secrets = secretList(options.secret, options.secrets, name);
  for (const secret of secrets) {
    if (scheme.validateSecret) scheme.validateSecret(secret);
    else if (secret.length === 0) {
      throw new WebhookVerificationError(
        'invalid_secret',
        'a secret is empty; check the configuration/env var',
        {
          scheme: name,
        },
      );
    }
  }
  const request: RequestParts = {
    body,
    headers: createHeaderReader(options.headers),
    url: options.url,
    method: options.method,
  };
  const parsed = scheme.parse(request);

  const matchedSecretIndex = secrets.findIndex((secret) => scheme.check(secret, parsed, request));
  if (matchedSecretIndex === -1) {
    throw new WebhookVerificationError('no_matching_signature', noMatchMessage(secrets, scheme, parsed), {
      scheme: name,
    });
  }

  // Checked after the signature, so a stale-but-genuine request says so instead of looking forged.
  if (scheme.defaultTolerance !== undefined && parsed.timestamp !== undefined) {
    const tolerance = options.tolerance ?? scheme.defaultTolerance;
    if (!(tolerance >= 0)) throw new TypeError('tolerance must be a number of seconds >= 0');
    const now =
      options.receivedAt === undefined ? Date.now() / 1000 : unixSeconds(options.receivedAt, 'receivedAt');
    const skew = now - parsed.timestamp;
    if (Math.abs(skew) > tolerance) {
      throw new WebhookVerificationError(
        'timestamp_out_of_tolerance',
        `the signed timestamp ${parsed.timestamp} is ${Math.round(Math.abs(skew))} s in the ${skew > 0 ? 'past' : 'future'} (tolerance ${tolerance} s): check the server clock; when verifying after a queue pass receivedAt; a replayed request looks like this too`,
        { scheme: name },
      );
    }
  }

  const id = parsed.id ?? scheme.eventId?.(request, parsed);
  const content = scheme.signedContent?.(parsed, request);
  return {
    scheme: name,
    matchedSecretIndex,
    id,
    idSigned: id !== undefined && (parsed.id === undefined || scheme.headerIdSigned === true),
    contentHash: content === undefined ? undefined : sha256Hex(content),
    timestamp: parsed.timestamp,
  };
}

function sha256Hex(parts: readonly (string | Uint8Array)[]): string {
  return toHex(sha256(parts));
}

function noMatchMessage(secrets: readonly string[], scheme: Scheme, parsed: ParsedRequest): string {
  const hints = new Set<string>();
  const requestHint = scheme.requestHint?.(parsed, secrets);
  if (requestHint !== undefined) hints.add(requestHint);
  for (const secret of secrets) {
    if (secret !== secret.trim()) hints.add('a secret has leading/trailing whitespace (check the env file)');
    const hint = scheme.secretHint?.(secret);
    if (hint !== undefined) hints.add(hint);
  }
  const count =
    secrets.length === 1 ? 'the configured secret' : `any of the ${secrets.length} configured secrets`;
  return [`no signature matches ${count}: ${NO_MATCH_ADVICE}`, ...hints].join('; ');
}
