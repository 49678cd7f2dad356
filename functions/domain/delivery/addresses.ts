import { isIP, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Which IP addresses a webhook may reach: global unicast only, an allow list.
 * ipaddr.js classifies (its tables follow IANA's special-purpose registries);
 * an address may be reached when it falls in none of its special ranges and,
 * for IPv6, lies inside 2000::/3, the only block IANA allocates for global
 * unicast. An allow list fails closed: a range nobody listed is refused,
 * where a deny list lets it through. Pure classification; the sender applies
 * it to the addresses a socket is about to use.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
const WELL_KNOWN_NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

/**
 * Cloud metadata services: refused even if a registry change ever made their
 * range global. The only deny list left, and it also names the refusal.
 */
const CLOUD_METADATA = new Set(
  [
    '169.254.169.254', // AWS, GCP, Azure
    '169.254.170.2', // ECS task credentials
    '100.100.100.200', // Alibaba
    '192.0.0.192', // Oracle
    'fd00:ec2::254', // AWS over IPv6
  ].map((ip) => ipaddr.parse(ip).toString()),
);

/** What a refusal says for each of ipaddr.js's range names; any other name reads 'reserved'. */
const REASONS: Readonly<Record<string, string>> = {
  unspecified: 'unspecified',
  loopback: 'loopback',
  broadcast: 'broadcast',
  linkLocal: 'link-local',
  private: 'private',
  uniqueLocal: 'private',
  deprecatedSiteLocal: 'private',
  carrierGradeNat: 'cgnat',
  multicast: 'multicast',
  benchmarking: 'benchmarking',
};

/** Finer names inside ipaddr.js's catch-all 'reserved' range, for the message only: they decide nothing. */
const NAMED_PARTS: readonly (readonly [reason: string, range: [Address, number]])[] = [
  ['documentation', ipaddr.parseCIDR('192.0.2.0/24')],
  ['documentation', ipaddr.parseCIDR('198.51.100.0/24')],
  ['documentation', ipaddr.parseCIDR('203.0.113.0/24')],
  ['documentation', ipaddr.parseCIDR('2001:db8::/32')],
  ['documentation', ipaddr.parseCIDR('3fff::/20')],
  ['benchmarking', ipaddr.parseCIDR('198.18.0.0/15')],
];

/** Why the address must not be reached, or undefined when it may. Anything that is not an IP address is refused. */
export const forbiddenAddressReason = (ip: string): string | undefined => {
  const address = withoutZone(ip);
  // Node reads the text: ipaddr.js's parser also takes loose forms (0x7f.1),
  // and reads the IPv4-compatible ::a.b.c.d as the IPv4-mapped ::ffff:a.b.c.d.
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  return family === 4
    ? ipv4Reason(ipaddr.IPv4.parse(address))
    : ipv6Reason(new ipaddr.IPv6(ipv6Words(address)));
};

/** The IP address a URL's hostname spells, without IPv6 brackets; undefined for a DNS name. */
export const ipLiteralOfHostname = (hostname: string): string | undefined => {
  const bare =
    hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(withoutZone(bare)) === 0 ? undefined : bare;
};

const withoutZone = (ip: string): string => {
  const zone = ip.indexOf('%');
  return zone === -1 ? ip : ip.slice(0, zone);
};

const ipv4Reason = (address: ipaddr.IPv4): string | undefined => {
  if (CLOUD_METADATA.has(address.toString())) return 'cloud metadata';
  const range: string = address.range();
  return range === 'unicast' ? undefined : rangeReason(address, range);
};

/**
 * IPv4-mapped addresses are IPv4 sockets and are judged as such. Other forms
 * that carry an IPv4 address a translator or relay may forward to are as
 * forbidden as the IPv4 address inside: IPv4-compatible (::a.b.c.d),
 * IPv4-translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16)
 * and Teredo (2001::/32, server and inverted client address).
 */
const ipv6Reason = (address: ipaddr.IPv6): string | undefined => {
  if (CLOUD_METADATA.has(address.toString())) return 'cloud metadata';
  const range: string = address.range();
  const [w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0] = address.parts;
  switch (range) {
    case 'ipv4Mapped':
      return ipv4Reason(address.toIPv4Address());
    case 'rfc6145':
      return embeddedReason([ipv4Of(w6, w7)]);
    case 'rfc6052':
      // Local-use NAT64 (64:ff9b:1::/48) translates into the operator's own network.
      return address.match(WELL_KNOWN_NAT64) ? embeddedReason([ipv4Of(w6, w7)]) : 'private';
    case '6to4':
      return embeddedReason([ipv4Of(w1, w2)]);
    case 'teredo':
      return embeddedReason([ipv4Of(w2, w3), ipv4Of(~w6 & 0xffff, ~w7 & 0xffff)]);
    case 'unicast':
      if ([w0, w1, w2, w3, w4, w5].every((word) => word === 0)) {
        return embeddedReason([ipv4Of(w6, w7)]);
      }
      return address.match(GLOBAL_UNICAST) ? undefined : 'not global unicast';
    default:
      return rangeReason(address, range);
  }
};

const rangeReason = (address: Address, range: string): string =>
  NAMED_PARTS.find(
    ([, [network, prefix]]) => network.kind() === address.kind() && address.match(network, prefix),
  )?.[0] ??
  REASONS[range] ??
  'reserved';

const embeddedReason = (ipv4s: readonly string[]): string | undefined => {
  for (const ipv4 of ipv4s) {
    const reason = ipv4Reason(ipaddr.IPv4.parse(ipv4));
    if (reason !== undefined) return `${reason} (embedded IPv4 ${ipv4})`;
  }
  return undefined;
};

const ipv4Of = (high: number, low: number): string =>
  [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');

/** The eight 16-bit groups of a valid IPv6 address, '::' expanded and a dotted tail split in two. */
const ipv6Words = (ip: string): number[] => {
  if (!isIPv6(ip)) throw new Error('not an IPv6 address');
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = ip.split('::');
  if (tail === undefined) return groups(head);
  const front = groups(head);
  const back = groups(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
};
