import { asBuffer, cachedKeyRef, decodeSignature, hmac, safeEqual, sha256, utf8 } from '../crypto.ts';
import { WebhookVerificationError } from '../errors.ts';
import type { ParsedRequest, Scheme, SignResult } from '../scheme.ts';
import { textSecretHint } from './hints.ts';
import { parseTimestamp, requireHeader, requireNonEmptySecret } from './hmac-scheme.ts';

const NAME = 'hubspot';
const SIGNATURE_V3 = 'X-HubSpot-Signature-v3';
const TIMESTAMP_V3 = 'X-HubSpot-Request-Timestamp';
const SIGNATURE = 'X-HubSpot-Signature';
const VERSION = 'X-HubSpot-Signature-Version';

/** HubSpot signature versions: v3 (HMAC, timestamped), v2 and v1 (plain SHA-256 with the secret prepended). */
export type HubspotSignatureVersion = 'v1' | 'v2' | 'v3';

/**
 * The percent-escapes HubSpot decodes in the request URI before computing a v3 signature
 * (its request-validation guide lists exactly these); every other escape stays as sent.
 */
const V3_DECODED_ESCAPES = /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi;

/** The request URI as HubSpot signs it in v3: the listed percent-escapes decoded. */
export function hubspotV3Uri(url: string): string {
  return url.replace(V3_DECODED_ESCAPES, (percent) =>
    String.fromCharCode(Number.parseInt(percent.slice(1), 16)),
  );
}

type HubspotState =
  | {
      readonly version: 'v3';
      readonly signature: Uint8Array;
      readonly prefix: string;
      readonly suffix: string;
    }
  | { readonly version: 'v1' | 'v2'; readonly signature: Uint8Array; readonly prefix: string };

function requireUrl(url: string | undefined, version: string): string {
  if (url === undefined || url === '') {
    throw new WebhookVerificationError(
      'missing_option',
      `HubSpot ${version} signs the full request URL: pass \`url\` (the public URL HubSpot called, with protocol and query string)`,
      { scheme: NAME },
    );
  }
  return url;
}

function malformed(header: string, encoding: string, text: string): WebhookVerificationError {
  return new WebhookVerificationError(
    'malformed_header',
    `${header} is not a SHA-256 value in ${encoding}: ${JSON.stringify(text.slice(0, 60))}`,
    { scheme: NAME },
  );
}

const keyFor = (secret: string) => cachedKeyRef(`utf8\0${secret}`, () => utf8(secret));

/** Options for {@link createHubspotScheme}. */
export interface HubspotSchemeOptions {
  /** Version `sign()` produces (default v3). Verification accepts every version. */
  readonly signVersion?: HubspotSignatureVersion | undefined;
}

/**
 * HubSpot (webhooks, workflow actions, CRM cards), keyed by the app's client secret.
 * - v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256 of `${method}${uri}${body}${timestamp}`,
 *   `X-HubSpot-Request-Timestamp` in milliseconds; older than 5 minutes is rejected.
 * - v2: `X-HubSpot-Signature` (with `X-HubSpot-Signature-Version: v2`) = hex SHA-256 of
 *   `${secret}${method}${uri}${body}`.
 * - v1: hex SHA-256 of `${secret}${body}`.
 * When the v3 headers are present v3 is checked (HubSpot sends the older ones alongside).
 * v2 and v3 need `url`; `method` defaults to POST.
 */
export function createHubspotScheme(options: HubspotSchemeOptions = {}): Scheme {
  const signVersion = options.signVersion ?? 'v3';
  return {
    name: NAME,
    defaultTolerance: 300,
    parse(request): ParsedRequest {
      const method = (request.method ?? 'POST').toUpperCase();
      const v3 = request.headers.get(SIGNATURE_V3);
      if (v3 !== undefined) {
        const signatureText = v3.trim();
        const signature = decodeSignature(signatureText, 'base64');
        if (signature?.length !== 32) throw malformed(SIGNATURE_V3, 'base64', signatureText);
        const timestampText = requireHeader(request.headers, TIMESTAMP_V3, NAME);
        const timestamp = parseTimestamp(timestampText, NAME, TIMESTAMP_V3, 1000);
        const url = requireUrl(request.url, 'v3');
        const state: HubspotState = {
          version: 'v3',
          signature,
          prefix: `${method}${hubspotV3Uri(url)}`,
          suffix: timestampText,
        };
        return { timestamp, state };
      }
      const signatureText = request.headers.get(SIGNATURE)?.trim();
      if (signatureText === undefined) {
        throw new WebhookVerificationError(
          'missing_header',
          `neither ${SIGNATURE_V3} nor ${SIGNATURE} is present; check that this request comes from HubSpot and that no proxy strips them`,
          { scheme: NAME },
        );
      }
      const version = (request.headers.get(VERSION)?.trim() ?? 'v1').toLowerCase();
      if (version !== 'v1' && version !== 'v2') {
        throw new WebhookVerificationError(
          'malformed_header',
          `${VERSION} must be v1 or v2 (v3 comes in ${SIGNATURE_V3}): got ${JSON.stringify(version.slice(0, 20))}`,
          { scheme: NAME },
        );
      }
      const signature = decodeSignature(signatureText, 'hex');
      if (signature?.length !== 32) throw malformed(SIGNATURE, 'hex', signatureText);
      const prefix = version === 'v2' ? `${method}${requireUrl(request.url, 'v2')}` : '';
      const state: HubspotState = { version, signature, prefix };
      return { state };
    },
    validateSecret: (secret) => requireNonEmptySecret(secret, NAME),
    check(secret, parsed, request) {
      const state = parsed.state as HubspotState;
      const expected =
        state.version === 'v3'
          ? hmac('sha256', keyFor(secret), [state.prefix, request.body, state.suffix])
          : sha256([secret, state.prefix, request.body]);
      return safeEqual(expected, state.signature);
    },
    // Without the secret that v1/v2 hash in front: the same for every secret.
    signedContent(parsed, request) {
      const state = parsed.state as HubspotState;
      return state.version === 'v3'
        ? [state.prefix, request.body, state.suffix]
        : [state.prefix, request.body];
    },
    secretHint: (secret) =>
      textSecretHint(secret) ??
      (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(secret)
        ? undefined
        : "HubSpot signs with the app's client secret (a UUID, under Auth in the app settings): check it is not an access token or developer API key"),
    requestHint(parsed) {
      const state = parsed.state as HubspotState;
      return state.version === 'v1'
        ? undefined
        : `check that \`url\` is exactly the URL HubSpot called (protocol, host, path and query string in the same order) and the method matches (signed as ${state.prefix.slice(0, state.prefix.search(/[^A-Z]/))})`;
    },
    sign(parts): SignResult {
      if (parts.secrets.length !== 1) {
        throw new RangeError('hubspot carries exactly one signature: sign with one secret');
      }
      const [secret = ''] = parts.secrets;
      requireNonEmptySecret(secret, NAME);
      const method = (parts.method ?? 'POST').toUpperCase();
      if (signVersion === 'v3') {
        const timestamp = String(parts.timestamp * 1000);
        const uri = hubspotV3Uri(requireUrl(parts.url, 'v3'));
        const signature = hmac('sha256', keyFor(secret), [`${method}${uri}`, parts.body, timestamp]);
        return {
          headers: { [SIGNATURE_V3]: asBuffer(signature).toString('base64'), [TIMESTAMP_V3]: timestamp },
        };
      }
      const prefix = signVersion === 'v2' ? `${method}${requireUrl(parts.url, 'v2')}` : '';
      const signature = asBuffer(sha256([secret, prefix, parts.body])).toString('hex');
      return { headers: { [SIGNATURE]: signature, [VERSION]: signVersion } };
    },
  };
}

/** HubSpot v3/v2/v1, signing v3. */
export const hubspot: Scheme = createHubspotScheme();
