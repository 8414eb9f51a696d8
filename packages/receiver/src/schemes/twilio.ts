import {
  asBuffer,
  cachedKeyRef,
  decodeSignature,
  hmac,
  safeEqual,
  sha256,
  toHex,
  utf8,
  utf8Text,
} from '../crypto.ts';
import { WebhookVerificationError } from '../errors.ts';
import type { Scheme } from '../scheme.ts';
import { textSecretHint } from './hints.ts';
import { requireHeader, requireNonEmptySecret } from './hmac-scheme.ts';

const NAME = 'twilio';
const HEADER = 'X-Twilio-Signature';
const BODY_HASH_PARAM = 'bodySHA256';

interface TwilioState {
  readonly signature: Uint8Array;
  /** Signed-content candidates: the URL as given, without and with its default port. */
  readonly contents: readonly string[];
  /** False when the JSON body does not hash to the bodySHA256 query parameter. */
  readonly bodyHashMatches: boolean;
  /** The signed content in one form for all URL variants: the URL without its port. */
  readonly canonical: string;
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i;

interface UrlParts {
  readonly scheme: string;
  readonly userInfo: string;
  readonly host: string;
  /** `:port`, or '' when the URL has none. */
  readonly port: string;
  /** Path, query and fragment. */
  readonly rest: string;
}

function splitUrl(url: string): UrlParts | undefined {
  const match = AUTHORITY.exec(url);
  if (match === null) return undefined;
  const [prefix, scheme = '', authority = ''] = match;
  const at = authority.lastIndexOf('@');
  const hostPort = authority.slice(at + 1);
  const colon = hostPort.indexOf(':', hostPort.lastIndexOf(']') + 1);
  return {
    scheme,
    userInfo: authority.slice(0, at + 1),
    host: colon === -1 ? hostPort : hostPort.slice(0, colon),
    port: colon === -1 ? '' : hostPort.slice(colon),
    rest: url.slice(prefix.length),
  };
}

/** The URL without its port: the form every variant of one URL shares (for `contentHash`). */
function portless(url: string): string {
  const parts = splitUrl(url);
  return parts === undefined ? url : parts.scheme + parts.userInfo + parts.host + parts.rest;
}

// Twilio signs the URL exactly as configured, and proxies/frameworks add or drop the default
// port, so (like twilio's own validateRequest) both forms are tried.
function urlVariants(url: string): string[] {
  const parts = splitUrl(url);
  if (parts === undefined) return [url];
  const defaultPort = parts.scheme.toLowerCase() === 'https://' ? ':443' : ':80';
  const withPort =
    parts.port === '' ? parts.scheme + parts.userInfo + parts.host + defaultPort + parts.rest : url;
  return [...new Set([url, portless(url), withPort])];
}

/** Form parameters as Twilio concatenates them: names sorted, each name followed by its value. */
function formParamsText(body: Uint8Array): string {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(utf8Text(body))) {
    const values = grouped.get(name);
    if (values === undefined) grouped.set(name, [value]);
    else values.push(value);
  }
  let text = '';
  for (const name of [...grouped.keys()].sort()) {
    for (const value of [...new Set(grouped.get(name))].sort()) text += name + value;
  }
  return text;
}

function bodySha256(body: Uint8Array): string {
  return toHex(sha256([body]));
}

function bodyHashParam(url: string): string | undefined {
  const query = url.indexOf('?');
  if (query === -1) return undefined;
  return new URLSearchParams(url.slice(query + 1).split('#')[0]).get(BODY_HASH_PARAM) ?? undefined;
}

function requireUrl(url: string | undefined): string {
  if (url === undefined || url === '') {
    throw new WebhookVerificationError(
      'missing_option',
      'Twilio signs the full request URL: pass `url` (the public URL Twilio called, with its query string)',
      { scheme: NAME },
    );
  }
  return url;
}

const keyFor = (secret: string) => cachedKeyRef(`utf8\0${secret}`, () => utf8(secret));

/**
 * Twilio: `X-Twilio-Signature: <base64>`, HMAC-SHA1 keyed by the Auth Token over the full URL
 * followed by the sorted form parameters (name+value). For JSON bodies the body is not signed:
 * its hex SHA-256 is the `bodySHA256` query parameter, which is part of the signed URL, and
 * both are checked. Needs the `url` option. No timestamp.
 */
export const twilio: Scheme = {
  name: NAME,
  parse(request) {
    const header = requireHeader(request.headers, HEADER, NAME);
    const url = requireUrl(request.url);
    const signature = decodeSignature(header, 'base64');
    if (signature === undefined) {
      throw new WebhookVerificationError('malformed_header', `${HEADER} is not valid base64`, {
        scheme: NAME,
      });
    }
    const expectedHash = bodyHashParam(url);
    const params = expectedHash === undefined ? formParamsText(request.body) : '';
    const bodyHashMatches =
      expectedHash === undefined ||
      safeEqual(utf8(bodySha256(request.body)), utf8(expectedHash.toLowerCase()));
    const state: TwilioState = {
      signature,
      contents: urlVariants(url).map((candidate) => candidate + params),
      bodyHashMatches,
      canonical: portless(url) + params,
    };
    return { id: request.headers.get('I-Twilio-Idempotency-Token'), state };
  },
  validateSecret: (secret) => requireNonEmptySecret(secret, NAME),
  check(secret, parsed) {
    const state = parsed.state as TwilioState;
    let matched = false;
    for (const content of state.contents) {
      matched = safeEqual(hmac('sha1', keyFor(secret), [content]), state.signature) || matched;
    }
    return matched && state.bodyHashMatches;
  },
  // I-Twilio-Idempotency-Token is not signed; the URL (with bodySHA256) and parameters are.
  headerIdSigned: false,
  signedContent: (parsed) => [(parsed.state as TwilioState).canonical],
  secretHint: (secret) =>
    textSecretHint(secret) ??
    (/^[0-9a-f]{32}$/.test(secret)
      ? undefined
      : 'Twilio Auth Tokens are 32 hex characters: check you configured the Auth Token, not an API key secret'),
  requestHint(parsed) {
    const state = parsed.state as TwilioState;
    return state.bodyHashMatches
      ? 'check that `url` is exactly the URL configured in Twilio (scheme, host, port, path and query string)'
      : 'the body does not hash to the bodySHA256 query parameter: the body was modified or re-serialized';
  },
  sign(parts) {
    if (parts.secrets.length !== 1)
      throw new RangeError('twilio carries exactly one signature: sign with one secret');
    const [secret = ''] = parts.secrets;
    requireNonEmptySecret(secret, NAME);
    let url = requireUrl(parts.url);
    let params = '';
    if (parts.contentType?.includes('json')) {
      if (bodyHashParam(url) === undefined) {
        url += `${url.includes('?') ? '&' : '?'}${BODY_HASH_PARAM}=${bodySha256(parts.body)}`;
      }
    } else {
      params = formParamsText(parts.body);
    }
    const signature = asBuffer(hmac('sha1', keyFor(secret), [url + params])).toString('base64');
    return { headers: { [HEADER]: signature }, url };
  },
};
