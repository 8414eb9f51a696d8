import type { BodyBytes } from '../body.ts';
import {
  asBuffer,
  cachedKeyRef,
  decodeSignature,
  type HmacAlgorithm,
  hmac,
  type SignatureEncoding,
  safeEqual,
  utf8,
} from '../crypto.ts';
import { WebhookVerificationError } from '../errors.ts';
import type { HeaderReader } from '../headers.ts';
import type { ParsedRequest, RequestParts, Scheme, SignParts, SignResult } from '../scheme.ts';

/** Signature values and signed fields a scheme found in the headers (texts as sent). */
export interface HmacHeaderFields {
  /** Encoded signatures, prefixes (like `sha256=`) already removed. */
  readonly signatures: readonly string[];
  /** Timestamp exactly as sent (it is signed as text). */
  readonly timestamp?: string | undefined;
  readonly id?: string | undefined;
}

/** Fields available to build the signed content, on both the verify and the sign side. */
export interface SignedFields {
  readonly body: BodyBytes;
  readonly timestamp?: string | undefined;
  readonly id?: string | undefined;
  readonly url?: string | undefined;
  readonly method?: string | undefined;
}

/** Data and small functions describing an HMAC scheme; see the built-ins for examples. */
export interface HmacSchemeSpec {
  readonly name: string;
  readonly algorithm: HmacAlgorithm;
  readonly encoding: SignatureEncoding;
  readonly defaultTolerance?: number | undefined;
  /** Multiplies a parsed timestamp into seconds (1000 for milliseconds). Default 1. */
  readonly timestampDivisor?: number | undefined;
  /** True when the header may carry several signatures (one per secret when signing). */
  readonly multipleSignatures?: boolean | undefined;
  /** Turns a secret into key bytes; default: the secret's UTF-8 text. */
  readonly key?: ((secret: string) => Uint8Array) | undefined;
  /** Distinguishes key derivations in the KeyObject cache. Required with `key`. */
  readonly keyTag?: string | undefined;
  /** Reads the signature(s), timestamp and id; throws missing_header / malformed_header. */
  read(headers: HeaderReader, request: RequestParts): HmacHeaderFields;
  /** The signed content as parts to concatenate (the body stays raw bytes). */
  content(fields: SignedFields): readonly (string | Uint8Array)[];
  /** Writes headers for freshly computed signatures. */
  write(signatures: readonly string[], fields: SignedFields): Record<string, string>;
  readonly validateSecret?: ((secret: string) => void) | undefined;
  readonly secretHint?: ((secret: string) => string | undefined) | undefined;
  readonly eventId?: ((request: RequestParts, parsed: ParsedRequest) => string | undefined) | undefined;
  /** True when `content` includes the id `read` returns (see `Scheme.headerIdSigned`). Default false. */
  readonly idSigned?: boolean | undefined;
}

interface HmacState {
  readonly signatures: readonly Uint8Array[];
  readonly fields: SignedFields;
}

/** Reads a header or throws `missing_header` naming it. */
export function requireHeader(headers: HeaderReader, name: string, scheme: string): string {
  const value = headers.get(name);
  if (value === undefined) {
    throw new WebhookVerificationError(
      'missing_header',
      `the ${name} header is missing; check that this request comes from the provider and that no proxy strips it`,
      { scheme },
    );
  }
  return value.trim();
}

/** Removes a required prefix (like `sha256=`) or throws `malformed_header`. */
export function stripPrefix(value: string, prefix: string, header: string, scheme: string): string {
  if (!value.startsWith(prefix)) {
    throw new WebhookVerificationError(
      'malformed_header',
      `${header} must start with ${prefix}: got ${JSON.stringify(value.slice(0, 40))}`,
      { scheme },
    );
  }
  return value.slice(prefix.length);
}

/** Parses an integer timestamp, or throws `malformed_header`. */
export function parseTimestamp(text: string, scheme: string, where: string, divisor = 1): number {
  if (!/^\d{1,16}$/.test(text)) {
    throw new WebhookVerificationError(
      'malformed_header',
      `${where} is not an integer timestamp: ${JSON.stringify(text)}`,
      {
        scheme,
      },
    );
  }
  return Number(text) / divisor;
}

/** Throws `invalid_secret` for an empty secret. */
export function requireNonEmptySecret(secret: string, scheme: string): void {
  if (secret.length === 0) {
    throw new WebhookVerificationError(
      'invalid_secret',
      'a secret is empty; check the configuration/env var',
      { scheme },
    );
  }
}

/** Builds a {@link Scheme} from an {@link HmacSchemeSpec}. */
export function defineHmacScheme(spec: HmacSchemeSpec): Scheme {
  const keyTag = spec.keyTag ?? 'utf8';
  const deriveKey = spec.key ?? utf8;
  const keyFor = (secret: string) => cachedKeyRef(`${keyTag}\0${secret}`, () => deriveKey(secret));
  const mac = (secret: string, fields: SignedFields) =>
    hmac(spec.algorithm, keyFor(secret), spec.content(fields));

  return {
    name: spec.name,
    defaultTolerance: spec.defaultTolerance,
    parse(request) {
      const read = spec.read(request.headers, request);
      const signatures = read.signatures.map((text) => {
        const bytes = decodeSignature(text, spec.encoding);
        if (bytes === undefined) {
          throw new WebhookVerificationError(
            'malformed_header',
            `a signature is not valid ${spec.encoding}: ${JSON.stringify(text.slice(0, 100))}; check that the header belongs to this scheme`,
            { scheme: spec.name },
          );
        }
        return bytes;
      });
      const fields: SignedFields = {
        body: request.body,
        timestamp: read.timestamp,
        id: read.id,
        url: request.url,
        method: request.method,
      };
      const state: HmacState = { signatures, fields };
      return {
        timestamp:
          read.timestamp === undefined
            ? undefined
            : parseTimestamp(read.timestamp, spec.name, 'the timestamp', spec.timestampDivisor),
        id: read.id,
        state,
      };
    },
    validateSecret(secret) {
      requireNonEmptySecret(secret, spec.name);
      spec.validateSecret?.(secret);
      keyFor(secret);
    },
    check(secret, parsed) {
      const state = parsed.state as HmacState;
      const expected = mac(secret, state.fields);
      let matched = false;
      // No early exit: the time taken should not depend on which signature matched.
      for (const signature of state.signatures) matched = safeEqual(expected, signature) || matched;
      return matched;
    },
    secretHint: spec.secretHint,
    eventId: spec.eventId,
    headerIdSigned: spec.idSigned ?? false,
    signedContent: (parsed) => spec.content((parsed.state as HmacState).fields),
    sign(parts: SignParts): SignResult {
      if (!spec.multipleSignatures && parts.secrets.length !== 1) {
        throw new RangeError(`${spec.name} carries exactly one signature: sign with one secret`);
      }
      const fields: SignedFields = {
        body: parts.body,
        timestamp:
          spec.defaultTolerance === undefined
            ? undefined
            : String(parts.timestamp * (spec.timestampDivisor ?? 1)),
        id: parts.id,
        url: parts.url,
        method: parts.method,
      };
      const signatures = parts.secrets.map((secret) => {
        requireNonEmptySecret(secret, spec.name);
        return asBuffer(mac(secret, fields)).toString(spec.encoding);
      });
      return { headers: spec.write(signatures, fields) };
    },
  };
}
