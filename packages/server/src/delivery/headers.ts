/**
 * Header policy: which custom headers an endpoint or source destination may set, and which of a
 * received request's headers travel on with an inbound event. The API validates with it and the
 * dispatcher applies it, so it sits below both.
 */

/** Headers Hookline sets itself or that belong to one hop: an endpoint may not set them. */
const FORBIDDEN_CUSTOM_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-connection',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
]);

/** Custom headers that may not be set on an endpoint: hop-by-hop, framing and signature headers. */
export function isForbiddenCustomHeader(name: string): boolean {
  return FORBIDDEN_CUSTOM_HEADERS.has(name.toLowerCase());
}

/** A header name HTTP allows (an RFC 9110 token). */
export function isHeaderName(name: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name);
}

/**
 * A header value an HTTP request can carry: no line breaks, NUL or other control characters (a
 * tab is fine) and nothing above U+00FF. Anything else makes every request that sends it fail.
 */
export function isHeaderValue(value: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
}

/** What the attempt log and application tokens see instead of a custom header's value. */
export const MASKED_HEADER_VALUE = '********';

/**
 * The request headers of an attempt as logged: the endpoint's custom headers (often credentials)
 * keep their names, their values are masked; Hookline's own headers stay as sent.
 */
export function loggedRequestHeaders(
  sent: Record<string, string>,
  endpointHeaders: Record<string, string>,
): Record<string, string> {
  const custom = customHeaders(endpointHeaders);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sent)) out[k] = k.toLowerCase() in custom ? MASKED_HEADER_VALUE : v;
  return out;
}

/** An endpoint's custom headers as sent: lower-case names, none that Hookline sets itself. */
export function customHeaders(endpointHeaders: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(endpointHeaders)) {
    if (!isForbiddenCustomHeader(k)) out[k.toLowerCase()] = v;
  }
  return out;
}

/**
 * Headers of a received request that are not forwarded: hop-by-hop and framing headers (RFC 9110
 * 7.6.1), ones the next hop sets itself, and the signature headers Hookline replaces with its own.
 * The provider's User-Agent is kept: applications sometimes check it.
 */
const NOT_FORWARDED = new Set([
  ...[...FORBIDDEN_CUSTOM_HEADERS].filter((h) => h !== 'user-agent'),
  'proxy-authenticate',
  'trailers',
  'expect',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
]);

/** The provider's headers an inbound event is forwarded with (lower-case names, repeats joined). */
export function forwardedHeaders(received: readonly [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  const named = new Set<string>();
  for (const [name, value] of received) {
    // A `Connection` header names further hop-by-hop headers of that request.
    if (name.toLowerCase() === 'connection') {
      for (const n of value.split(',')) named.add(n.trim().toLowerCase());
    }
  }
  for (const [name, value] of received) {
    const k = name.toLowerCase();
    if (NOT_FORWARDED.has(k) || named.has(k)) continue;
    out[k] = k in out ? `${out[k]}, ${value}` : value;
  }
  return out;
}
