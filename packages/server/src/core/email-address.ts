/**
 * Email addresses as an application's alert email takes them: a comma-separated list
 * (`ops@example.com, oncall@example.com`), each a plain `local@domain` address.
 */

/** Most addresses one application's alert email may name. */
export const MAX_ALERT_ADDRESSES = 20;

// The local part: dot-separated runs of the characters RFC 5322 allows unquoted. The domain:
// two or more labels of letters (any script), digits and inner hyphens. Quoted local parts and
// address literals (`user@[10.0.0.1]`) are refused: an alert address does not need them.
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^[\p{L}\p{N}]([\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** True when `address` is a syntactically valid `local@domain` address. */
export function isEmailAddress(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at <= 0) return false;
  const local = address.slice(0, at);
  const labels = address.slice(at + 1).split('.');
  return local.length <= 64 && LOCAL.test(local) && labels.length >= 2 && labels.every((l) => LABEL.test(l));
}

/**
 * The addresses of a comma-separated list, trimmed, without empty items or repeats; throws a
 * message naming the first bad one. An empty list means no alert email.
 */
export function parseAddressList(list: string): string[] {
  const out: string[] = [];
  for (const item of list.split(',')) {
    const address = item.trim();
    if (address === '') continue;
    if (!isEmailAddress(address)) throw new Error(`${JSON.stringify(address)} is not an email address`);
    if (!out.some((a) => a.toLowerCase() === address.toLowerCase())) out.push(address);
  }
  if (out.length > MAX_ALERT_ADDRESSES)
    throw new Error(`at most ${MAX_ALERT_ADDRESSES} addresses, comma-separated`);
  return out;
}
