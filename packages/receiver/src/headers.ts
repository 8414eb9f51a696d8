/**
 * Request headers in any of the shapes apps have at hand: a fetch `Headers` object,
 * node's `IncomingHttpHeaders`, or a plain record whose values are strings or arrays.
 * (The record covers `IncomingHttpHeaders`, so the declarations need no Node types.)
 */
export type HeadersInput =
  | Headers
  | Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** Case-insensitive read access to request headers. */
export interface HeaderReader {
  /** The header's value (repeated headers joined with `, `), or undefined when absent or empty. */
  get(name: string): string | undefined;
}

function isFetchHeaders(input: HeadersInput): input is Headers {
  return typeof (input as Headers).get === 'function' && typeof (input as Headers).forEach === 'function';
}

/** Wraps any supported header shape in a case-insensitive {@link HeaderReader}. */
export function createHeaderReader(input: HeadersInput): HeaderReader {
  if (isFetchHeaders(input)) {
    return { get: (name) => input.get(name) || undefined };
  }
  // Plain records may use any casing ('Stripe-Signature', 'stripe-signature'), so index once by lower case.
  const byLowerName = new Map<string, string>();
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    const lower = key.toLowerCase();
    const previous = byLowerName.get(lower);
    byLowerName.set(lower, previous === undefined ? text : `${previous}, ${text}`);
  }
  return { get: (name) => byLowerName.get(name.toLowerCase()) || undefined };
}
