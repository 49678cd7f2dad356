import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  bodyFileName,
  deliveryOutput,
  formatDelivery,
  parseReceiverArgs,
  UsageError,
  verifyAlgaSignature,
  verifySignatures,
  verifyStandardWebhooks,
} from './receiver-core.ts';

const algaSignature = (secret: string, t: number, body: string) =>
  `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;

/** Standard Webhooks headers, signed by hand as the spec describes. */
const standardHeaders = (key: Buffer, body: string, id = 'msg_1') => {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  };
};

describe('verifyAlgaSignature', () => {
  const t = 1_700_000_000;

  it("accepts the contract's golden vector", () => {
    // Prepare
    const header =
      't=1700000000,v1=be310eac0f84daf469d630347a950258de768b365563ab68f29f2f783473d547';

    // Act
    const check = verifyAlgaSignature('shh', Buffer.from('{"a":1}'), header, t);

    // Assess
    expect(check).toEqual({ scheme: 'X-Alga-Signature', valid: true, detail: 'valid' });
  });

  it('accepts a signature made with node:crypto, and any v1 during a rotation', () => {
    // Prepare
    const body = '{"event_id":"e-1","data":{"name":"Zoë"}}';
    const current = algaSignature('new-secret', t, body);
    const previous = algaSignature('old-secret', t, body).replace(`t=${t},`, '');

    // Act
    const single = verifyAlgaSignature('new-secret', Buffer.from(body), current, t);
    const rotated = verifyAlgaSignature(
      'old-secret',
      Buffer.from(body),
      `${current},${previous}`,
      t,
    );

    // Assess
    expect(single.valid).toBe(true);
    expect(rotated.valid).toBe(true);
  });

  it('refuses a tampered body or another secret', () => {
    // Prepare
    const header = algaSignature('shh', t, '{"a":1}');

    // Act
    const tampered = verifyAlgaSignature('shh', Buffer.from('{"a":2}'), header, t);
    const otherSecret = verifyAlgaSignature('shhh', Buffer.from('{"a":1}'), header, t);

    // Assess
    expect(tampered).toEqual({
      scheme: 'X-Alga-Signature',
      valid: false,
      detail: 'no v1 signature matches this secret and body',
    });
    expect(otherSecret.valid).toBe(false);
  });

  it('refuses a matching signature whose timestamp is too old', () => {
    // Act
    const check = verifyAlgaSignature(
      'shh',
      Buffer.from('{"a":1}'),
      algaSignature('shh', t, '{"a":1}'),
      t + 301,
    );

    // Assess
    expect(check).toMatchObject({ valid: false, detail: expect.stringContaining('301 s old') });
  });

  it('says what is wrong with a missing or malformed header', () => {
    const body = Buffer.from('{}');
    expect(verifyAlgaSignature('shh', body, undefined, t).detail).toBe('the header is missing');
    expect(verifyAlgaSignature('shh', body, 'v1=abc', t).detail).toMatch(/no t=/);
    expect(verifyAlgaSignature('shh', body, `t=${t}`, t).detail).toMatch(/no v1=/);
  });
});

describe('verifyStandardWebhooks', () => {
  const body = '{"event_type":"ticket.created"}';

  it('accepts a whsec_ secret signature and refuses a tampered body', () => {
    // Prepare
    const key = randomBytes(32);
    const secret = `whsec_${key.toString('base64')}`;
    const headers = standardHeaders(key, body);

    // Act
    const valid = verifyStandardWebhooks(secret, Buffer.from(body), headers);
    const tampered = verifyStandardWebhooks(secret, Buffer.from(`${body} `), headers);

    // Assess
    expect(valid).toEqual({ scheme: 'Standard Webhooks', valid: true, detail: 'valid' });
    expect(tampered).toEqual({
      scheme: 'Standard Webhooks',
      valid: false,
      detail: 'No matching signature found',
    });
  });

  it("uses any other secret's UTF-8 bytes as the key", () => {
    // Prepare
    const secret = 'clé-secrète';
    const headers = standardHeaders(Buffer.from(secret, 'utf8'), body);

    // Act
    const check = verifyStandardWebhooks(secret, Buffer.from(body), headers);

    // Assess
    expect(check.valid).toBe(true);
  });

  it('reports missing headers', () => {
    expect(verifyStandardWebhooks('whsec_c2VjcmV0', Buffer.from(body), {})).toMatchObject({
      valid: false,
      detail: 'Missing required headers',
    });
  });
});

describe('verifySignatures', () => {
  it('checks both schemes of one delivery', () => {
    // Prepare
    const secret = 'replace-me';
    const body = '{"a":1}';
    const headers = {
      ...standardHeaders(Buffer.from(secret), body),
      'x-alga-signature': algaSignature(secret, Math.floor(Date.now() / 1000), body),
    };

    // Act
    const checks = verifySignatures(secret, Buffer.from(body), headers);

    // Assess
    expect(checks.map((check) => [check.scheme, check.valid])).toEqual([
      ['X-Alga-Signature', true],
      ['Standard Webhooks', true],
    ]);
  });
});

describe('formatDelivery', () => {
  const delivery = {
    method: 'POST',
    path: '/hooks?x=1',
    headers: {
      'content-type': 'application/json',
      'x-alga-event-type': 'ticket.created',
      'x-alga-delivery-attempt': '2',
      'webhook-id': 'del-1',
      'x-custom': 'hidden',
      host: '127.0.0.1:4000',
    },
    body: Buffer.from('{"a":1,"b":[true]}'),
  };

  it('prints the request line, the webhook headers, the JSON body and the checks', () => {
    // Act
    const text = formatDelivery(
      delivery,
      [
        { scheme: 'X-Alga-Signature', valid: true, detail: 'valid' },
        { scheme: 'Standard Webhooks', valid: false, detail: 'No matching signature found' },
      ],
      200,
      new Date('2025-01-02T03:04:05.000Z'),
    );

    // Assess
    expect(text).toBe(
      [
        '--- 2025-01-02T03:04:05.000Z POST /hooks?x=1 -> 200',
        '  Content-Type: application/json',
        '  webhook-id: del-1',
        '  X-Alga-Delivery-Attempt: 2',
        '  X-Alga-Event-Type: ticket.created',
        '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}',
        '  OK   X-Alga-Signature: valid',
        '  FAIL Standard Webhooks: No matching signature found',
        '',
      ].join('\n'),
    );
  });

  it('prints other bodies as they are, and says when signatures were not checked', () => {
    // Act
    const text = formatDelivery(
      { ...delivery, body: Buffer.from('<event/>') },
      undefined,
      500,
      new Date(0),
    );
    const empty = formatDelivery(
      { ...delivery, body: Buffer.alloc(0) },
      undefined,
      200,
      new Date(0),
    );

    // Assess
    expect(text).toContain('\n<event/>\n');
    expect(text).toContain('signatures not checked');
    expect(empty).toContain('(no body)');
  });
});

describe('deliveryOutput', () => {
  const delivery = (body: Buffer) => ({
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/json', 'x-alga-delivery-id': 'del-1' },
    body,
  });

  it('with raw, prints the body byte for byte, not pretty-printed', () => {
    // Prepare: spacing a pretty-printer would change, and bytes that are not UTF-8.
    const body = Buffer.concat([Buffer.from('{"a":1,  "b":"Zoë"}'), Buffer.from([0xff, 0xfe])]);

    // Act
    const output = deliveryOutput(delivery(body), undefined, 200, new Date(0), {
      raw: true,
      savedTo: '/tmp/bodies/del-1.body',
    });

    // Assess
    const head = Buffer.from(
      '--- 1970-01-01T00:00:00.000Z POST / -> 200\n  Content-Type: application/json\n  X-Alga-Delivery-Id: del-1\n',
    );
    expect(output.subarray(0, head.length)).toEqual(head);
    expect(output.subarray(head.length, head.length + body.length)).toEqual(body);
    expect(output.subarray(head.length + body.length).toString()).toBe(
      [
        '',
        '  signatures not checked: give the signing secret with --secret or RECEIVER_SECRET',
        '  body saved to /tmp/bodies/del-1.body',
        '',
      ].join('\n'),
    );
  });

  it('adds no line break after a raw body that ends with one', () => {
    const output = deliveryOutput(delivery(Buffer.from('a=1\n')), [], 200, new Date(0), {
      raw: true,
    });

    expect(output.toString()).toMatch(/X-Alga-Delivery-Id: del-1\na=1\n$/);
  });
});

describe('bodyFileName', () => {
  it.each([
    [
      { 'x-alga-delivery-id': '01a219f9-b9da-77f2-8508-7b81119218b3' },
      '01a219f9-b9da-77f2-8508-7b81119218b3.body',
    ],
    [{ 'webhook-id': 'msg_2x' }, 'msg_2x.body'],
    [{ 'x-alga-delivery-id': '../../etc/passwd' }, undefined],
    [{ 'x-alga-delivery-id': 'a/b' }, undefined],
    [{ 'x-alga-delivery-id': '' }, undefined],
    [{}, undefined],
  ])('names the body of %j %s', (headers, name) => {
    expect(bodyFileName(headers)).toBe(name);
  });
});

describe('parseReceiverArgs', () => {
  it('has defaults and reads the secret from the environment', () => {
    expect(parseReceiverArgs([], {})).toEqual({
      help: false,
      port: 4000,
      secret: undefined,
      status: 200,
      raw: false,
      save: undefined,
    });
    expect(parseReceiverArgs([], { RECEIVER_SECRET: 'whsec_x' })).toMatchObject({
      secret: 'whsec_x',
    });
  });

  it('takes the options, the flag winning over the environment', () => {
    expect(
      parseReceiverArgs(
        ['--port', '0', '--secret', 's', '--status', '410', '--raw', '--save', 'bodies'],
        { RECEIVER_SECRET: 'env' },
      ),
    ).toEqual({ help: false, port: 0, secret: 's', status: 410, raw: true, save: 'bodies' });
    expect(parseReceiverArgs(['--help'], {})).toEqual({ help: true });
  });

  it('refuses bad values with a usage error', () => {
    expect(() => parseReceiverArgs(['--port', '70000'], {})).toThrow(UsageError);
    expect(() => parseReceiverArgs(['--status', '99'], {})).toThrow(
      '--status must be a whole number from 200 to 599; got 99',
    );
    expect(() => parseReceiverArgs(['--secret', ''], {})).toThrow('--secret must not be empty');
    expect(() => parseReceiverArgs(['extra'], {})).toThrow(UsageError);
    expect(() => parseReceiverArgs(['--save', ''], {})).toThrow('--save must name a folder');
  });
});
