/**
 * Source IP allowlists: which client addresses may post to `/in/{name}` (for example Salesforce's
 * or Stripe's published ranges). Entries are IPs or CIDRs, v4 or v6 (parsed by core/ip-ranges.ts,
 * which the API also uses to refuse bad entries); an IPv4 client seen on a dual-stack socket as
 * `::ffff:a.b.c.d` matches the IPv4 entries.
 */
import ipaddr from 'ipaddr.js';
import { type IpRange, parseIpRange, unmapped } from '../core/ip-ranges.ts';

const cache = new Map<string, IpRange[]>();

/**
 * Whether `address` (the client address Fastify reports, which honours HOOKLINE_TRUST_PROXY) is
 * in the list. `cacheKey` identifies this version of the list.
 */
export function ipAllowed(entries: readonly string[], address: string, cacheKey: string): boolean {
  let ranges = cache.get(cacheKey);
  if (!ranges) {
    ranges = entries.map(parseIpRange);
    if (cache.size > 1000) cache.clear();
    cache.set(cacheKey, ranges);
  }
  if (!ipaddr.isValid(address)) return false;
  const addr = unmapped(ipaddr.parse(address));
  return ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
}
