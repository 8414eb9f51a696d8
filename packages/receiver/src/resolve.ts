import { WebhookVerificationError } from './errors.ts';
import type { Scheme } from './scheme.ts';
import { SCHEME_NAMES, type SchemeName, schemes } from './schemes/index.ts';

/** A built-in scheme's name or a scheme object. */
export type SchemeInput = SchemeName | Scheme;

/** Looks up a scheme by name (throws `unsupported_scheme`) or passes a scheme object through. */
export function resolveScheme(scheme: SchemeInput | undefined): Scheme {
  if (typeof scheme === 'object' && scheme !== null) return scheme;
  if (typeof scheme === 'string' && Object.hasOwn(schemes, scheme)) return schemes[scheme];
  throw new WebhookVerificationError(
    'unsupported_scheme',
    `unknown scheme ${JSON.stringify(scheme)}: use one of ${SCHEME_NAMES.join(', ')}, or pass a scheme object (e.g. from createHmacScheme)`,
  );
}

/** Normalizes `secret` / `secrets` into one non-empty list. */
export function secretList(
  secret: string | readonly string[] | undefined,
  secrets: readonly string[] | undefined,
  scheme: string,
): readonly string[] {
  const list = [
    ...(secret === undefined ? [] : typeof secret === 'string' ? [secret] : secret),
    ...(secrets ?? []),
  ];
  if (list.length === 0) {
    throw new WebhookVerificationError('invalid_secret', 'no secret configured: pass `secret` or `secrets`', {
      scheme,
    });
  }
  for (const [index, value] of list.entries()) {
    if (typeof value !== 'string') {
      throw new WebhookVerificationError(
        'invalid_secret',
        `secret #${index} is a ${typeof value}, not a string`,
        { scheme },
      );
    }
  }
  return list;
}

/** Unix seconds from a Date or unix seconds; rejects milliseconds, which are a common slip. */
export function unixSeconds(value: Date | number, what: string): number {
  const seconds = value instanceof Date ? value.getTime() / 1000 : value;
  if (!Number.isFinite(seconds)) throw new TypeError(`${what} is not a valid time`);
  if (seconds > 1e11) throw new TypeError(`${what} looks like milliseconds: pass unix seconds or a Date`);
  return seconds;
}
