/**
 * SSRF guard. A webhook platform makes HTTP requests to URLs its users type in, so by default
 * it refuses to reach loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT,
 * multicast and reserved addresses. The check runs when an endpoint is saved and again on every
 * connection (a DNS name can point elsewhere by the time we connect: DNS rebinding).
 * `HOOKLINE_ALLOW_PRIVATE_NETWORKS=true` turns it off for local development and tests.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The only IPv6 block handed out for the internet. Everything outside it is special or reserved,
 * including `::/96`, the deprecated IPv4-compatible form (`::7f00:1` is 127.0.0.1 to some
 * stacks) that ipaddr.js calls plain unicast.
 */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** True when connecting to this IP address would reach something other than the public internet. */
export function isPrivateAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) ip = v6.toIPv4Address();
    else if (!v6.match(GLOBAL_UNICAST_V6)) return true;
  }
  return ip.range() !== 'unicast';
}

export type UrlProblem = { reason: string };

/** Checks the shape of an endpoint URL: http(s), a host, no credentials. */
export function checkUrlShape(raw: string): URL | UrlProblem {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { reason: 'is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { reason: 'must use http or https' };
  if (!url.hostname) return { reason: 'has no host' };
  if (url.username || url.password)
    return { reason: 'must not contain credentials; use endpoint headers instead' };
  return url;
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Save-time check: refuses URLs whose host is, or resolves to, a private address. A name that
 * does not resolve now is accepted (DNS can be down; the connect-time check still applies).
 */
export async function checkDestination(url: URL, allowPrivate: boolean): Promise<UrlProblem | null> {
  if (allowPrivate) return null;
  const host = hostOf(url);
  if (host === 'localhost' || host.endsWith('.localhost'))
    return { reason: 'points to this machine (localhost)' };
  if (isIP(host))
    return isPrivateAddress(host) ? { reason: `points to a private or reserved address (${host})` } : null;
  const addresses = await new Promise<LookupAddress[]>((resolve) =>
    dnsLookup(host, { all: true }, (err, res) => resolve(err ? [] : res)),
  );
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  return bad ? { reason: `resolves to a private or reserved address (${bad.address})` } : null;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `dns.lookup` replacement for sockets: it fails the connection when a name resolves privately. */
export function guardedLookup(
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: LookupCallback,
): void {
  dnsLookup(hostname, { ...options, all: true } as { all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) {
      const e: NodeJS.ErrnoException = new Error(
        `refused to connect to ${hostname}: it resolves to a private or reserved address (${bad.address})`,
      );
      e.code = 'EPRIVATEADDRESS';
      return callback(e, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}
