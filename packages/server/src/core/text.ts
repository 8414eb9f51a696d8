/**
 * Text from outside (a provider's body, a receiver's response) on its way into a database text
 * column. PostgreSQL's `text` cannot hold a NUL (U+0000; the statement fails, and with it the
 * batch it is in): a NUL becomes U+FFFD, the replacement character, the way an undecodable byte
 * does. Payloads are not text of this kind: they are kept as JSON text (where NUL stays escaped
 * as `\u0000`) or as bytes.
 */
export const storableText = (s: string): string => (s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s);
