/**
 * Terminology
 * - scheme: one provider's way of signing (headers, signed content, algorithm, encoding).
 * - secret: what the receiver was configured with; a scheme may derive a key from it.
 * - signature: one value found in the request's headers; a header can carry several.
 * - tolerance: how far (seconds, either direction) a signed timestamp may be from `receivedAt`.
 *
 * A scheme is data plus a few small functions. `verify()` owns the loop over secrets,
 * the timestamp check and the error messages, so a new provider is one object.
 */
import type { BodyBytes } from './body.ts';
import type { HeaderReader } from './headers.ts';

/** The request as a scheme sees it. */
export interface RequestParts {
  /** The raw body bytes. */
  readonly body: BodyBytes;
  /** Case-insensitive header access. */
  readonly headers: HeaderReader;
  /** Full public URL the provider called, including the query string (Twilio signs it). */
  readonly url?: string | undefined;
  /** HTTP method, for schemes that sign it. */
  readonly method?: string | undefined;
}

/** What a scheme reads from a request before trying any secret. */
export interface ParsedRequest {
  /** Signed timestamp, unix seconds, when the scheme carries one. */
  readonly timestamp?: number | undefined;
  /** Delivery/event id from the headers, when the scheme carries one. */
  readonly id?: string | undefined;
  /** Scheme-private data for `check` (decoded signatures, signed content). */
  readonly state: unknown;
}

/** Inputs for producing a provider-shaped signed request. */
export interface SignParts {
  readonly body: BodyBytes;
  /** One secret per signature to emit (schemes with a single signature use exactly one). */
  readonly secrets: readonly string[];
  /** Unix seconds. */
  readonly timestamp: number;
  readonly id?: string | undefined;
  readonly url?: string | undefined;
  readonly method?: string | undefined;
  readonly contentType?: string | undefined;
}

/** Signed headers (and, for Twilio JSON, the URL to call). */
export interface SignResult {
  /** Headers to send, in the provider's casing. */
  readonly headers: Record<string, string>;
  /** The URL to send to, when signing changed it (Twilio adds `bodySHA256`). */
  readonly url?: string | undefined;
}

/** A signature scheme. Built-ins are in `schemes`; build your own or use `createHmacScheme`. */
export interface Scheme {
  /** Name used in results and error messages. */
  readonly name: string;
  /** Default tolerance in seconds; undefined when the scheme has no signed timestamp. */
  readonly defaultTolerance?: number | undefined;
  /** Reads headers; throws `missing_header` / `malformed_header`. */
  parse(request: RequestParts): ParsedRequest;
  /**
   * Throws `invalid_secret` when `secret` can never be valid for this scheme. Called for
   * every configured secret before any signature is checked, so a misconfiguration surfaces
   * on the first request instead of hiding behind `no_matching_signature`.
   */
  validateSecret?(secret: string): void;
  /** True when `secret` produced one of the request's signatures; must compare in constant time. */
  check(secret: string, parsed: ParsedRequest, request: RequestParts): boolean;
  /** A sentence about why `secret` probably did not match (its shape), or undefined. */
  secretHint?(secret: string): string | undefined;
  /** A sentence about why nothing matched that depends on the request (e.g. only v1a signatures). */
  requestHint?(parsed: ParsedRequest, secrets: readonly string[]): string | undefined;
  /** Event id for idempotency when it is not in the headers (e.g. Stripe's `id` in the body). */
  eventId?(request: RequestParts, parsed: ParsedRequest): string | undefined;
  /**
   * True when the id `parse` reads from the headers is part of the signed content (Standard
   * Webhooks' `webhook-id`). False or absent when it is not (GitHub's `X-GitHub-Delivery`): then
   * anyone holding one genuine request can resend it under a new id. Ids from `eventId` (the
   * body) count as signed.
   */
  readonly headerIdSigned?: boolean | undefined;
  /**
   * The content the request's signature covers, in a canonical form (the same for every
   * request that carries a valid signature for the same content: Twilio's parameters sorted,
   * its URL without the default port), called after a signature matched. Its hash is
   * `VerifyResult.contentHash`, a replay key that unsigned headers cannot change.
   */
  signedContent?(parsed: ParsedRequest, request: RequestParts): readonly (string | Uint8Array)[];
  /** Produces provider-shaped headers for a body. */
  sign(parts: SignParts): SignResult;
}
