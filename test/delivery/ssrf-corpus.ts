/**
 * Spellings of targets a webhook must never reach, for the SSRF suites
 * (ssrf-sender.test.ts at the sender, ssrf.test.ts through the local runtime).
 * `{port}` stands for the port of one listener on 127.0.0.1; the spellings
 * marked `reachesListener` do reach it when the guard is off, which
 * ssrf-sender.test.ts checks, so none of them is refused by accident.
 */

export type Category =
  | 'loopback'
  | 'unspecified'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'cloud metadata'
  | 'special-purpose';

export interface ForbiddenUrl {
  /** The URL as a webhook would store it. */
  url: string;
  category: Category;
  /** What the spelling tries. */
  trick: string;
  /** With the guard off, a request to it opens a connection to the listener on 127.0.0.1:{port}. */
  reachesListener: boolean;
  /** The API refuses to store it (400 on `url`), so only a stored record older than the rule could send it. */
  refusedAtSave?: true;
}

const entry = (
  url: string,
  category: Category,
  trick: string,
  reachesListener = false,
  refusedAtSave?: true,
): ForbiddenUrl => ({
  url,
  category,
  trick,
  reachesListener,
  ...(refusedAtSave && { refusedAtSave }),
});

const CORPUS: readonly ForbiddenUrl[] = [
  // 127.0.0.1, however spelled: the WHATWG parser turns each into 127.0.0.1.
  entry('http://127.0.0.1:{port}/hook', 'loopback', 'plain', true),
  entry('http://127.1:{port}/hook', 'loopback', 'two-part short form', true),
  entry('http://127.0.1:{port}/hook', 'loopback', 'three-part short form', true),
  entry('http://2130706433:{port}/hook', 'loopback', 'decimal', true),
  entry('http://0x7f000001:{port}/hook', 'loopback', 'hex', true),
  entry('http://0x7f.1:{port}/hook', 'loopback', 'hex short form', true),
  entry('http://0x7F.0x0.0x0.0x1:{port}/hook', 'loopback', 'hex per octet', true),
  entry('http://017700000001:{port}/hook', 'loopback', 'octal', true),
  entry('http://0177.0.0.1:{port}/hook', 'loopback', 'octal octet', true),
  entry('http://0177.0.0.01:{port}/hook', 'loopback', 'octal octets', true),
  entry('http://127.000.000.001:{port}/hook', 'loopback', 'zero-padded octets', true),
  entry('http://00000000000000000177.1:{port}/hook', 'loopback', 'long zero-padded octal', true),
  entry('http://127.0.0.0x1:{port}/hook', 'loopback', 'mixed decimal and hex', true),
  entry('http://127.0.0.1.:{port}/hook', 'loopback', 'trailing dot', true),
  entry('http://127.0.0.1%2e:{port}/hook', 'loopback', 'percent-encoded trailing dot', true),
  entry('http://%31%32%37.0.0.1:{port}/hook', 'loopback', 'percent-encoded digits', true),
  entry('http://１２７．０．０．１:{port}/hook', 'loopback', 'full-width digits and dots', true),
  entry('http://127。0。0。1:{port}/hook', 'loopback', 'ideographic full stops', true),
  entry('http://127｡0｡0｡1:{port}/hook', 'loopback', 'half-width ideographic full stops', true),
  entry('http://①②⑦.⓪.⓪.①:{port}/hook', 'loopback', 'enclosed digits', true),
  entry('http://127.0.0.1:{port}\\@example.com/hook', 'loopback', 'backslash before @', true),
  entry('http://127.0.0.1:{port}#@example.com/hook', 'loopback', 'fragment before @', true),
  entry('http://127.0.0.1:{port}?@example.com/hook', 'loopback', 'query before @', true),
  entry('http://example.com@127.0.0.1:{port}/hook', 'loopback', 'userinfo', true, true),
  entry('http://127.0.0.1\t:{port}/hook', 'loopback', 'tab the parser drops', true, true),
  entry('http://[::ffff:127.0.0.1]:{port}/hook', 'loopback', 'IPv4-mapped IPv6', true),
  entry('http://[::ffff:7f00:1]:{port}/hook', 'loopback', 'IPv4-mapped IPv6 in hex', true),
  entry('http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/hook', 'loopback', 'IPv4-mapped, long', true),
  // Names, judged by the connect-time lookup on what the system resolver answers.
  entry('http://localhost:{port}/hook', 'loopback', 'name', true),
  entry('http://LOCALHOST:{port}/hook', 'loopback', 'name in capitals', true),
  entry('http://ｌｏｃａｌｈｏｓｔ:{port}/hook', 'loopback', 'name in full-width letters', true),
  // "This host": Linux connects 0.0.0.0 to the machine itself.
  entry('http://0:{port}/hook', 'unspecified', 'a single zero', true),
  entry('http://0.0.0.0:{port}/hook', 'unspecified', 'plain', true),
  entry('http://[::ffff:0.0.0.0]:{port}/hook', 'unspecified', 'IPv4-mapped', true),
  entry('http://[::]:{port}/hook', 'unspecified', 'IPv6'),
  // Other loopback addresses, and IPv6 forms a translator or relay turns into 127.0.0.1.
  entry('http://127.0.0.2:{port}/hook', 'loopback', 'elsewhere in 127/8'),
  entry('http://[::1]:{port}/hook', 'loopback', 'IPv6'),
  entry('http://[0:0:0:0:0:0:0:1]:{port}/hook', 'loopback', 'IPv6, long'),
  entry('http://[::127.0.0.1]:{port}/hook', 'loopback', 'IPv4-compatible IPv6'),
  entry('http://[::ffff:0:127.0.0.1]:{port}/hook', 'loopback', 'IPv4-translated IPv6'),
  entry('http://[64:ff9b::127.0.0.1]:{port}/hook', 'loopback', 'NAT64'),
  entry('http://[64:ff9b::7f00:1]:{port}/hook', 'loopback', 'NAT64 in hex'),
  entry('http://[2002:7f00:1::]:{port}/hook', 'loopback', '6to4'),
  entry('http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/hook', 'loopback', 'Teredo'),
  // Private networks.
  entry('http://10.0.0.1/hook', 'private', '10/8'),
  entry('http://012.0.0.1/hook', 'private', '10/8 in octal'),
  entry('http://172.16.0.1/hook', 'private', '172.16/12'),
  entry('http://192.168.1.1/hook', 'private', '192.168/16'),
  entry('http://0xc0a80101/hook', 'private', '192.168/16 in hex'),
  entry('http://[::ffff:192.168.1.1]/hook', 'private', 'IPv4-mapped'),
  entry('http://[fd12:3456::1]/hook', 'private', 'unique local IPv6'),
  entry('http://[fec0::1]/hook', 'private', 'site-local IPv6'),
  entry('http://[64:ff9b:1::a00:1]/hook', 'private', 'local-use NAT64'),
  entry('http://[2002:a00:1::]/hook', 'private', '6to4 of 10.0.0.1'),
  // Link-local and CGNAT.
  entry('http://169.254.0.1/hook', 'link-local', 'IPv4'),
  entry('http://[fe80::1]/hook', 'link-local', 'IPv6'),
  entry('http://100.64.0.1/hook', 'cgnat', '100.64/10'),
  entry('http://[::ffff:100.127.255.254]/hook', 'cgnat', 'IPv4-mapped'),
  // Cloud metadata.
  entry('http://169.254.169.254/latest/meta-data/', 'cloud metadata', 'AWS, GCP, Azure'),
  entry('http://2852039166/latest/meta-data/', 'cloud metadata', 'decimal'),
  entry('http://0xa9fea9fe/latest/meta-data/', 'cloud metadata', 'hex'),
  entry('http://0251.0376.0251.0376/latest/meta-data/', 'cloud metadata', 'octal'),
  entry('http://169.254.169.254./latest/meta-data/', 'cloud metadata', 'trailing dot'),
  entry('http://[::ffff:169.254.169.254]/latest/meta-data/', 'cloud metadata', 'IPv4-mapped'),
  entry('http://[::ffff:0:a9fe:a9fe]/latest/meta-data/', 'cloud metadata', 'IPv4-translated'),
  entry('http://[64:ff9b::a9fe:a9fe]/latest/meta-data/', 'cloud metadata', 'NAT64'),
  entry('http://[fd00:ec2::254]/latest/meta-data/', 'cloud metadata', 'AWS over IPv6'),
  entry('http://169.254.170.2/v2/credentials', 'cloud metadata', 'ECS task credentials'),
  entry('http://100.100.100.200/latest/meta-data/', 'cloud metadata', 'Alibaba'),
  entry('http://192.0.0.192/opc/v2/instance/', 'cloud metadata', 'Oracle'),
  // Special-purpose ranges.
  entry('http://224.0.0.1/hook', 'special-purpose', 'multicast'),
  entry('http://[ff02::1]/hook', 'special-purpose', 'IPv6 multicast'),
  entry('http://255.255.255.255/hook', 'special-purpose', 'broadcast'),
  entry('http://240.0.0.1/hook', 'special-purpose', 'reserved 240/4'),
  entry('http://198.18.0.1/hook', 'special-purpose', 'benchmarking'),
  entry('http://192.0.2.1/hook', 'special-purpose', 'documentation'),
  entry('http://[2001:db8::1]/hook', 'special-purpose', 'IPv6 documentation'),
  entry('http://[100::1]/hook', 'special-purpose', 'IPv6 discard'),
  entry('http://[5f00::1]/hook', 'special-purpose', 'SRv6 segment identifiers'),
  entry('http://[4000::1]/hook', 'special-purpose', 'IPv6 outside global unicast'),
];

/** The corpus for a listener's port. */
export const forbiddenUrls = (port: number): ForbiddenUrl[] =>
  CORPUS.map((target) => ({ ...target, url: target.url.replace('{port}', String(port)) }));

export interface ForbiddenName {
  hostname: string;
  /** What a resolver answers for it: a hostile DNS can answer anything. */
  addresses: string[];
  category: Category;
  trick: string;
  reachesListener: boolean;
}

/** Names whose resolver answer is forbidden, for a sender given a scripted resolver. */
export const FORBIDDEN_NAMES: readonly ForbiddenName[] = [
  {
    hostname: 'loopback.example',
    addresses: ['127.0.0.1'],
    category: 'loopback',
    trick: 'a name for 127.0.0.1',
    reachesListener: true,
  },
  {
    hostname: 'localhost.',
    addresses: ['127.0.0.1'],
    category: 'loopback',
    trick: 'trailing dot',
    reachesListener: true,
  },
  {
    hostname: 'mapped.example',
    addresses: ['::ffff:127.0.0.1'],
    category: 'loopback',
    trick: 'an IPv4-mapped answer',
    reachesListener: true,
  },
  {
    hostname: 'rebind.example',
    addresses: ['93.184.215.14', '127.0.0.1'],
    category: 'loopback',
    trick: 'a public and a loopback answer',
    reachesListener: false,
  },
  {
    hostname: 'v6.example',
    addresses: ['::1'],
    category: 'loopback',
    trick: 'an IPv6 loopback answer',
    reachesListener: false,
  },
  {
    hostname: 'nat64.example',
    addresses: ['64:ff9b::7f00:1'],
    category: 'loopback',
    trick: 'a NAT64 answer',
    reachesListener: false,
  },
  {
    hostname: 'metadata.google.internal',
    addresses: ['169.254.169.254'],
    category: 'cloud metadata',
    trick: 'the metadata name',
    reachesListener: false,
  },
  {
    hostname: 'intranet.example',
    addresses: ['10.1.2.3'],
    category: 'private',
    trick: 'a private answer',
    reachesListener: false,
  },
  {
    hostname: 'carrier.example',
    addresses: ['100.64.0.1'],
    category: 'cgnat',
    trick: 'a CGNAT answer',
    reachesListener: false,
  },
  {
    hostname: 'zero.example',
    addresses: ['0.0.0.0'],
    category: 'unspecified',
    trick: 'an unspecified answer',
    reachesListener: true,
  },
];
