/**
 * Source IP allowlists: which client addresses may post to `/in/{name}` (for example Salesforce's
 * or Stripe's published ranges). Entries are IPs or CIDRs, v4 or v6; an IPv4 client seen on a
 * dual-stack socket as `::ffff:a.b.c.d` matches the IPv4 entries.
 */
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Only the usual spellings: four-part decimal IPv4 (not `10.1` or `0x7f.1`) or IPv6. */
const isPlainIp = (text: string): boolean =>
  ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);

/** One entry as a range; throws with a readable message when it is neither an IP nor a CIDR. */
function parseEntry(entry: string): Range {
  const [ip = '', bits, ...rest] = entry.split('/');
  if (!isPlainIp(ip) || rest.length > 0)
    throw new Error(`"${entry}" is not an IP address or CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)`);
  const parsed = ipaddr.parse(ip);
  const addr = unmapped(parsed);
  const max = parsed.kind() === 'ipv4' ? 32 : 128;
  if (bits === undefined) return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  const n = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || n > max) throw new Error(`"${entry}" has a prefix length outside 0-${max}`);
  // A v4-mapped v6 range (::ffff:10.0.0.0/104) is the v4 range it maps.
  return [addr, addr === parsed ? n : Math.max(0, n - 96)];
}

const unmapped = (addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 =>
  addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
    ? (addr as ipaddr.IPv6).toIPv4Address()
    : addr;

/** The problems of an allowlist, one per bad entry, with its index. */
export function allowlistProblems(entries: readonly string[]): { index: number; msg: string }[] {
  const problems: { index: number; msg: string }[] = [];
  entries.forEach((entry, index) => {
    try {
      parseEntry(entry);
    } catch (err) {
      problems.push({ index, msg: (err as Error).message });
    }
  });
  return problems;
}

const cache = new Map<string, Range[]>();

/**
 * Whether `address` (the client address Fastify reports, which honours HOOKLINE_TRUST_PROXY) is
 * in the list. `cacheKey` identifies this version of the list.
 */
export function ipAllowed(entries: readonly string[], address: string, cacheKey: string): boolean {
  let ranges = cache.get(cacheKey);
  if (!ranges) {
    ranges = entries.map(parseEntry);
    if (cache.size > 1000) cache.clear();
    cache.set(cacheKey, ranges);
  }
  if (!ipaddr.isValid(address)) return false;
  const addr = unmapped(ipaddr.parse(address));
  return ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
}
