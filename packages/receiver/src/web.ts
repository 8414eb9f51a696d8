/**
 * The Web-standard entry, `@hookline/receiver/web`: verification for runtimes that have the
 * Fetch API and Web Crypto (Bun, Deno, Cloudflare Workers, Next.js route handlers, Node).
 *
 * The schemes are the same objects the Node entry uses, so results and error codes are the
 * same. Web Crypto is asynchronous and the schemes are synchronous: a verification runs with
 * an engine that answers from the results computed so far and, at the first operation it has
 * no result for, stops; the operation is computed with Web Crypto and the verification runs
 * again. Parsing is cheap next to the cryptography, and a verification needs a handful of
 * operations (one HMAC per secret and one SHA-256 for `contentHash`).
 */

import type { webcrypto } from 'node:crypto';
import {
  boundedCache,
  type CryptoEngine,
  ed25519Pkcs8,
  type HmacAlgorithm,
  hasNodeCrypto,
  type KeyRef,
  withEngine,
} from './crypto.ts';
import { WebhookVerificationError } from './errors.ts';
import { errorResponse } from './middleware/shared.ts';
import { type VerifyOptions, type VerifyResult, verify } from './verify.ts';

export type { BodyBytes, RawBody } from './body.ts';
export type { HmacAlgorithm, SignatureEncoding } from './crypto.ts';
export {
  ERROR_CODES,
  isWebhookVerificationError,
  WEBHOOK_ERROR_CODES,
  type WebhookErrorCode,
  WebhookVerificationError,
} from './errors.ts';
export { createHeaderReader, type HeaderReader, type HeadersInput } from './headers.ts';
export {
  createIdempotencyGuard,
  createMemoryIdempotencyStore,
  type IdempotencyGuard,
  type IdempotencyGuardOptions,
  type IdempotencyStore,
  type MemoryIdempotencyStoreOptions,
} from './idempotency.ts';
export { withRequestQuery } from './request-url.ts';
export type { SchemeInput } from './resolve.ts';
export type { ParsedRequest, RequestParts, Scheme } from './scheme.ts';
export { createHmacScheme, type GenericHmacConfig } from './schemes/generic-hmac.ts';
export { createGithubScheme, type GithubSchemeOptions } from './schemes/github.ts';
export { createHubspotScheme, type HubspotSchemeOptions, hubspotV3Uri } from './schemes/hubspot.ts';
export { SCHEME_NAMES, type SchemeName, schemes } from './schemes/index.ts';
export {
  parseSalesforceOutboundMessage,
  type SalesforceNotification,
  type SalesforceOutboundMessage,
  salesforceAck,
} from './schemes/salesforce.ts';
export type { VerifyOptions, VerifyResult } from './verify.ts';

type CryptoKey = webcrypto.CryptoKey;
type SubtleCrypto = webcrypto.SubtleCrypto;
type Crypto = webcrypto.Crypto;

/** A crypto operation the replaying engine had no result for yet. */
class PendingOperation {
  readonly kind: string;
  readonly run: () => Promise<unknown>;
  constructor(kind: string, run: () => Promise<unknown>) {
    this.kind = kind;
    this.run = run;
  }
}

interface OperationResult {
  readonly kind: string;
  readonly value: unknown;
}

const HASH_NAMES: Record<HmacAlgorithm, string> = { sha1: 'SHA-1', sha256: 'SHA-256', sha512: 'SHA-512' };
const importedKeys = boundedCache<Promise<CryptoKey>>();

function subtle(): SubtleCrypto {
  const found = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (found === undefined) throw new Error('Web Crypto (crypto.subtle) is not available in this runtime');
  return found;
}

function importOnce(id: string, build: () => Promise<CryptoKey>): Promise<CryptoKey> {
  const cached = importedKeys.get(id);
  if (cached !== undefined) return cached;
  const built = build();
  importedKeys.set(id, built);
  // A failed import is not kept: the next request tries again.
  built.catch(() => importedKeys.delete(id));
  return built;
}

function bytesOf(parts: readonly (string | Uint8Array)[]): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const chunks = parts.map((part) => (typeof part === 'string' ? encoder.encode(part) : part));
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

const copy = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => bytesOf([bytes]);

function base64UrlDecode(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

const webCrypto = {
  async hmac(algorithm: HmacAlgorithm, key: KeyRef, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    const cryptoKey = await importOnce(`hmac\0${algorithm}\0${key.id}`, () =>
      subtle().importKey('raw', copy(key.bytes), { name: 'HMAC', hash: HASH_NAMES[algorithm] }, false, [
        'sign',
      ]),
    );
    return new Uint8Array(await subtle().sign('HMAC', cryptoKey, data));
  },
  async sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    return new Uint8Array(await subtle().digest('SHA-256', data));
  },
  async ed25519Verify(key: KeyRef, message: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>) {
    let publicKey: CryptoKey;
    try {
      publicKey = await importOnce(`ed25519-public\0${key.id}`, () =>
        subtle().importKey('raw', copy(key.bytes), { name: 'Ed25519' }, false, ['verify']),
      );
    } catch {
      return false; // not a public key any signature can match
    }
    return subtle().verify({ name: 'Ed25519' }, publicKey, signature, message);
  },
  async ed25519PublicFromSeed(seed: KeyRef): Promise<Uint8Array> {
    const privateKey = await subtle().importKey(
      'pkcs8',
      copy(ed25519Pkcs8(seed.bytes)),
      { name: 'Ed25519' },
      true,
      ['sign'],
    );
    const jwk = await subtle().exportKey('jwk', privateKey);
    return base64UrlDecode(jwk.x ?? '');
  },
};

function signingUnavailable(): never {
  throw new Error(
    'signing and key generation are not part of @hookline/receiver/web: use the Node entry (@hookline/receiver)',
  );
}

/** An engine that answers from `results` and stops at the first operation it has no result for. */
function replayingEngine(results: readonly OperationResult[]): CryptoEngine {
  let next = 0;
  const answer = <T>(kind: string, run: () => Promise<T>): T => {
    const known = results[next];
    if (known !== undefined) {
      next++;
      // Runs repeat the same operations in the same order; anything else is a bug, not a result.
      if (known.kind !== kind) throw new Error(`@hookline/receiver/web: expected ${known.kind}, got ${kind}`);
      return known.value as T;
    }
    throw new PendingOperation(kind, run);
  };
  return {
    // The inputs are copied only when the operation runs, not on every replay.
    hmac: (algorithm, key, parts) => answer('hmac', () => webCrypto.hmac(algorithm, key, bytesOf(parts))),
    sha256: (parts) => answer('sha256', () => webCrypto.sha256(bytesOf(parts))),
    ed25519Verify: (key, message, signature) =>
      answer('ed25519Verify', () => webCrypto.ed25519Verify(key, copy(message), copy(signature))),
    ed25519PublicFromSeed: (seed) =>
      answer('ed25519PublicFromSeed', () => webCrypto.ed25519PublicFromSeed(seed)),
    ed25519Sign: signingUnavailable,
    ed25519GenerateSeed: signingUnavailable,
    randomBytes: (length) =>
      (globalThis as { crypto: Crypto }).crypto.getRandomValues(new Uint8Array(length)),
  };
}

// Far more than any scheme needs (Twilio: a few URL variants per secret); a bound, not a limit.
const MAX_OPERATIONS = 4096;

/** Runs the synchronous `fn` to completion, computing each crypto operation it needs with Web Crypto. */
async function runWithWebCrypto<T>(fn: () => T): Promise<T> {
  const results: OperationResult[] = [];
  for (;;) {
    try {
      return withEngine(replayingEngine(results), fn);
    } catch (error) {
      if (!(error instanceof PendingOperation)) throw error;
      if (results.length >= MAX_OPERATIONS) {
        throw new Error(
          `@hookline/receiver/web: a verification needed more than ${MAX_OPERATIONS} crypto operations`,
        );
      }
      results.push({ kind: error.kind, value: await error.run() });
    }
  }
}

/**
 * Verifies a webhook from its raw body and headers: the same options, result and error codes as
 * `verify` from `@hookline/receiver`, computed with Web Crypto.
 *
 * ```ts
 * const { id } = await verifyWebhook({ scheme: 'stripe', body: rawBody, headers: request.headers, secret });
 * ```
 */
export async function verifyWebhook(options: VerifyOptions): Promise<VerifyResult> {
  // One arrival time for every run, so a run does not see a later clock than the one before.
  const receivedAt = options.receivedAt ?? Date.now() / 1000;
  return runWithWebCrypto(() => verify({ ...options, receivedAt }));
}

/**
 * `verify` where node:crypto is there (synchronous and fastest), `verifyWebhook` (Web Crypto)
 * where it is not: for code that runs on both, like the Hono middleware.
 */
export function verifyOnAnyRuntime(options: VerifyOptions): VerifyResult | Promise<VerifyResult> {
  return hasNodeCrypto() ? verify(options) : verifyWebhook(options);
}

/** Options for {@link verifyRequest}: {@link VerifyOptions} minus what the request carries. */
export interface VerifyRequestOptions extends Omit<VerifyOptions, 'body' | 'headers' | 'method' | 'url'> {
  /**
   * Public URL the provider called (Twilio and HubSpot sign it). Default: `request.url`, which
   * is wrong behind a proxy that rewrites the host or path.
   */
  readonly url?: string | undefined;
  /** Largest body accepted, in bytes. Default 1 MiB. */
  readonly limit?: number | undefined;
}

/** A verified request: the verification result and the body it covered. */
export interface VerifiedWebhook extends VerifyResult {
  /** The raw body, exactly as verified. */
  readonly rawBody: Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

const DEFAULT_LIMIT = 1024 * 1024;

async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.length > limit) throw tooLarge(limit);
  return body;
}

function tooLarge(limit: number): WebhookVerificationError {
  return new WebhookVerificationError('body_too_large', `the body is larger than ${limit} bytes`);
}

/**
 * Reads a `Request`'s body and verifies it. The body can be read only once: use the returned
 * `rawBody` / `text()` / `json()`.
 *
 * ```ts
 * export async function POST(request: Request) {
 *   try {
 *     const event = await verifyRequest(request, { scheme: 'standard-webhooks', secret: process.env.WEBHOOK_SECRET });
 *     console.log(event.id, event.json());
 *     return new Response(null, { status: 204 });
 *   } catch (error) {
 *     return webhookErrorResponse(error);
 *   }
 * }
 * ```
 */
export async function verifyRequest(
  request: Request,
  options: VerifyRequestOptions,
): Promise<VerifiedWebhook> {
  const receivedAt = options.receivedAt ?? Date.now() / 1000;
  const { limit, url, ...verifyOptions } = options;
  const rawBody = await readBody(request, limit ?? DEFAULT_LIMIT);
  const result = await verifyWebhook({
    ...verifyOptions,
    receivedAt,
    body: rawBody,
    headers: request.headers,
    method: request.method,
    url: url ?? request.url,
  });
  return {
    ...result,
    rawBody,
    text: () => new TextDecoder().decode(rawBody),
    json: () => JSON.parse(new TextDecoder().decode(rawBody)),
  };
}

/**
 * The `Response` for a failed verification: `{code, detail}` with the error's status (details
 * of 5xx configuration errors are not sent). Errors that are not verification errors are
 * rethrown, so the runtime reports them.
 */
export function webhookErrorResponse(error: unknown): Response {
  const answer = errorResponse(error);
  if (answer === undefined) throw error;
  return new Response(JSON.stringify(answer.body), {
    status: answer.status,
    headers: { 'content-type': 'application/json' },
  });
}
