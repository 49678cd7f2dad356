import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forbiddenAddressReason, ipLiteralOfHostname } from './addresses.ts';

describe('forbiddenAddressReason', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    ['100.100.100.200', 'cloud metadata'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.170.2', 'cloud metadata'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.8', 'reserved'],
    ['192.0.0.192', 'cloud metadata'],
    ['192.0.2.10', 'documentation'],
    ['192.88.99.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses IPv4 %s as %s', (ip, reason) => {
    expect(forbiddenAddressReason(ip)).toBe(reason);
  });

  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['100::1', 'reserved'],
    ['64:ff9b:1::a00:1', 'private'],
  ])('refuses IPv6 %s as %s', (ip, reason) => {
    expect(forbiddenAddressReason(ip)).toBe(reason);
  });

  it.each([
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'cloud metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
  ])('checks the IPv4-mapped %s as its IPv4 address: %s', (ip, reason) => {
    expect(forbiddenAddressReason(ip)).toBe(reason);
  });

  it.each([
    ['::127.0.0.1', 'loopback (embedded IPv4 127.0.0.1)'],
    ['::7f00:1', 'loopback (embedded IPv4 127.0.0.1)'],
    ['::a9fe:a9fe', 'cloud metadata (embedded IPv4 169.254.169.254)'],
    ['64:ff9b::127.0.0.1', 'loopback (embedded IPv4 127.0.0.1)'],
    ['64:ff9b::a00:1', 'private (embedded IPv4 10.0.0.1)'],
    ['2002:7f00:1::', 'loopback (embedded IPv4 127.0.0.1)'],
    ['2001:0:c0a8:101::', 'private (embedded IPv4 192.168.1.1)'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback (embedded IPv4 127.0.0.1)'],
  ])('checks the IPv4 address embedded in %s', (ip, reason) => {
    expect(forbiddenAddressReason(ip)).toBe(reason);
  });

  it.each([
    ['::ffff:0:7f00:1', 'loopback (embedded IPv4 127.0.0.1)'],
    ['::ffff:0:127.0.0.1', 'loopback (embedded IPv4 127.0.0.1)'],
    ['::ffff:0:a9fe:a9fe', 'cloud metadata (embedded IPv4 169.254.169.254)'],
    ['::ffff:0:808:808', undefined],
  ])('checks the IPv4-translated (RFC 6145) %s by its IPv4 address', (ip, reason) => {
    expect(forbiddenAddressReason(ip)).toBe(reason);
  });

  // Outside every range a deny list names, yet not global unicast: an allow list refuses them.
  it.each([
    ['4000::1', 'not global unicast'],
    ['::1:0:0:1', 'not global unicast'],
    ['5f00::1', 'reserved'], // SRv6 segment identifiers
    ['2001:1::1', 'reserved'], // IETF protocol assignments
    ['2001:20::1', 'reserved'], // ORCHIDv2
    ['2620:4f:8000::1', 'reserved'], // AS112
    ['192.31.196.1', 'reserved'], // AS112
    ['192.52.193.1', 'reserved'], // AMT
  ])('refuses %s, which is not global unicast, as %s', (ip, reason) => {
    expect(forbiddenAddressReason(ip)).toBe(reason);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '93.184.215.14',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.167.255.255',
    '192.169.0.0',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '64:ff9b::808:808',
    '::808:808',
    '::ffff:8.8.8.8',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
  ])('allows the public address %s', (ip) => {
    expect(forbiddenAddressReason(ip)).toBeUndefined();
  });

  it.each([
    '',
    'localhost',
    'example.com',
    '256.0.0.1',
    '1.2.3',
    '::g',
    '[::1]',
    '0x7f.1',
    '2130706433',
    '0177.0.0.1',
  ])('refuses %j, which is not an IP address', (value) => {
    expect(forbiddenAddressReason(value)).toBe('not an IP address');
  });
});

describe('forbiddenAddressReason, as an allow list', () => {
  const hex = (words: readonly number[]) => words.map((word) => word.toString(16)).join(':');

  it('allows an IPv6 address only inside 2000::/3 or when it carries an allowed IPv4 address', () => {
    const carriesIpv4 = (words: readonly number[]) => {
      const [w0, w1, w2, w3, w4, w5] = words;
      const zeroHigh = w1 === 0 && w2 === 0 && w3 === 0;
      return (
        (w0 === 0 &&
          zeroHigh &&
          ((w4 === 0 && (w5 === 0 || w5 === 0xffff)) || (w4 === 0xffff && w5 === 0))) ||
        (w0 === 0x64 && w1 === 0xff9b && w2 === 0 && w3 === 0 && w4 === 0 && w5 === 0)
      );
    };
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
        (words) => {
          const [w0 = 0] = words;
          if (forbiddenAddressReason(hex(words)) !== undefined) return;
          expect((w0 >= 0x2000 && w0 <= 0x3fff) || carriesIpv4(words)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('judges an IPv4-mapped address exactly as its IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(forbiddenAddressReason(`::ffff:${ip}`)).toBe(forbiddenAddressReason(ip));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ipLiteralOfHostname', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]', '::1'],
    ['[::ffff:7f00:1]', '::ffff:7f00:1'],
    ['example.com', undefined],
    ['localhost', undefined],
    ['[not-an-ip]', undefined],
  ])('reads %s as %s', (hostname, literal) => {
    expect(ipLiteralOfHostname(hostname)).toBe(literal);
  });
});
