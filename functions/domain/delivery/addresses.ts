import { BlockList, isIP, isIPv6 } from 'node:net';

/**
 * Which IP addresses a webhook may never reach: the contract refuses targets
 * that resolve to loopback, private, link-local, CGNAT, multicast or cloud
 * metadata addresses. Pure classification; the sender applies it to the
 * addresses a socket is about to use.
 */

type Range = readonly [network: string, prefix: number];

// Checked in this order, so the narrower reason wins where ranges nest
// (169.254.169.254 inside link-local, 255.255.255.255 inside 240/4).
const FORBIDDEN: readonly (readonly [reason: string, ipv4: Range[], ipv6: Range[]])[] = [
  [
    'cloud metadata',
    [
      ['169.254.169.254', 32], // AWS, GCP, Azure
      ['169.254.170.2', 32], // ECS task credentials
      ['100.100.100.200', 32], // Alibaba
      ['192.0.0.192', 32], // Oracle
    ],
    [['fd00:ec2::254', 128]],
  ],
  ['unspecified', [['0.0.0.0', 8]], [['::', 128]]],
  ['loopback', [['127.0.0.0', 8]], [['::1', 128]]],
  ['broadcast', [['255.255.255.255', 32]], []],
  ['link-local', [['169.254.0.0', 16]], [['fe80::', 10]]],
  [
    'private',
    [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ],
    [
      ['fc00::', 7], // unique local
      ['fec0::', 10], // deprecated site-local
      ['64:ff9b:1::', 48], // local-use NAT64: translates into the operator's own network
    ],
  ],
  ['cgnat', [['100.64.0.0', 10]], []],
  ['multicast', [['224.0.0.0', 4]], [['ff00::', 8]]],
  [
    'documentation',
    [
      ['192.0.2.0', 24],
      ['198.51.100.0', 24],
      ['203.0.113.0', 24],
    ],
    [
      ['2001:db8::', 32],
      ['3fff::', 20],
    ],
  ],
  ['benchmarking', [['198.18.0.0', 15]], [['2001:2::', 48]]],
  [
    'reserved',
    [
      ['192.0.0.0', 24],
      ['192.88.99.0', 24],
      ['240.0.0.0', 4],
    ],
    [['100::', 64]],
  ],
];

// An IPv4 rule also matches the IPv4-mapped form (::ffff:a.b.c.d) of its
// addresses: net.BlockList documents that, so mapped addresses need no code
// of their own. Never add ::ffff:0:0/96 or a prefix covering it as an IPv6
// rule: it would match every IPv4 address.
const RULES = FORBIDDEN.map(([reason, ipv4, ipv6]) => {
  const list = new BlockList();
  for (const [network, prefix] of ipv4) list.addSubnet(network, prefix, 'ipv4');
  for (const [network, prefix] of ipv6) list.addSubnet(network, prefix, 'ipv6');
  return { reason, list };
});

/** Why the address must not be reached, or undefined when it may. Anything that is not an IP address is refused. */
export const forbiddenAddressReason = (ip: string): string | undefined => {
  const address = withoutZone(ip);
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const direct = RULES.find(({ list }) => list.check(address, type))?.reason;
  if (direct !== undefined || family === 4) return direct;
  return embeddedIpv4Reason(ipv6Words(address));
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

/**
 * IPv6 forms that carry an IPv4 address a translator or relay may forward to:
 * IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16) and
 * Teredo (2001::/32, client address inverted). Each is as forbidden as the
 * IPv4 address inside it.
 */
const embeddedIpv4Reason = (words: readonly number[]): string | undefined => {
  const [w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0] = words;
  const high = [w0, w1, w2, w3, w4, w5];
  const embedded: string[] = [];
  if (high.every((word) => word === 0)) embedded.push(ipv4Of(w6, w7));
  if (w0 === 0x64 && w1 === 0xff9b && high.slice(2).every((word) => word === 0)) {
    embedded.push(ipv4Of(w6, w7));
  }
  if (w0 === 0x2002) embedded.push(ipv4Of(w1, w2));
  if (w0 === 0x2001 && w1 === 0) embedded.push(ipv4Of(w2, w3), ipv4Of(~w6 & 0xffff, ~w7 & 0xffff));
  for (const ipv4 of embedded) {
    const reason = forbiddenAddressReason(ipv4);
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
