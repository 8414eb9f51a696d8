/**
 * IP addresses and CIDR ranges as Hookline's settings spell them: source allowlists and the
 * proxies HOOKLINE_TRUST_PROXY names. Entries are IPs or CIDRs, v4 or v6; a v4-mapped v6 address
 * (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4 clients) stands for its IPv4 address.
 * Pure parsing and validation, shared by the configuration and the inbound gateway.
 */
import ipaddr from 'ipaddr.js';

export type IpRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Only the usual spellings: four-part decimal IPv4 (not `10.1` or `0x7f.1`) or IPv6. */
const isPlainIp = (text: string): boolean =>
  ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);

/** One entry as a range; throws with a readable message when it is neither an IP nor a CIDR. */
export function parseIpRange(entry: string): IpRange {
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

/** The IPv4 address a v4-mapped v6 address stands for; any other address as it is. */
export const unmapped = (addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 =>
  addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
    ? (addr as ipaddr.IPv6).toIPv4Address()
    : addr;

/** The problems of a list of IPs/CIDRs, one per bad entry, with its index. */
export function ipRangeProblems(entries: readonly string[]): { index: number; msg: string }[] {
  const problems: { index: number; msg: string }[] = [];
  entries.forEach((entry, index) => {
    try {
      parseIpRange(entry);
    } catch (err) {
      problems.push({ index, msg: (err as Error).message });
    }
  });
  return problems;
}
