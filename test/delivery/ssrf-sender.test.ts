import dns from 'node:dns';
import { isIP } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSender, type Resolver } from '../../functions/delivery/http-sender.ts';
import type { OutgoingRequest } from '../../functions/domain/delivery/model.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import { type Category, FORBIDDEN_NAMES, type ForbiddenUrl, forbiddenUrls } from './ssrf-corpus.ts';

/**
 * The SSRF corpus against the sender itself, where the decision is made: with
 * the guard on, every spelling is refused before a connection opens, and the
 * one listener on 127.0.0.1 counts none. With the guard off, the spellings
 * that lead to that listener do reach it, so none is refused by accident
 * (a typo that makes a URL unreachable would otherwise pass as "refused").
 */

let listener: TestReceiver;
let urls: ForbiddenUrl[];
const senders: HttpSender[] = [];

beforeAll(async () => {
  listener = await startReceiver();
  urls = forbiddenUrls(listener.port);
});

afterAll(async () => {
  await Promise.all(senders.map((sender) => sender.close()));
  await listener.close();
});

/** The system resolver, noting each name it is asked. */
const recordingResolver = () => {
  const asked: string[] = [];
  const lookup: Resolver = (hostname, options, callback) => {
    asked.push(hostname);
    dns.lookup(hostname, options, callback);
  };
  return { lookup, asked };
};

/** A resolver that knows only the corpus's names, as a hostile DNS server would answer them. */
const hostileResolver: Resolver = (hostname, _options, callback) => {
  const name = FORBIDDEN_NAMES.find((each) => each.hostname === hostname);
  if (name === undefined) {
    return callback(Object.assign(new Error(`unknown ${hostname}`), { code: 'ENOTFOUND' }), []);
  }
  callback(
    null,
    name.addresses.map((address) => ({ address, family: isIP(address) })),
  );
};

const newSender = (allowPrivateTargets: boolean, lookup?: Resolver) => {
  const sender = new HttpSender({ allowPrivateTargets, lookup });
  senders.push(sender);
  return sender;
};

const post = (url: string): OutgoingRequest => ({
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"event_type":"ticket.created"}',
});

const quick = { timeoutMs: 2000, verifySsl: true };

/** The reason in a refusal names the target's category. */
const REASONS: Record<Category, RegExp> = {
  loopback: /\(loopback/,
  unspecified: /\(unspecified/,
  private: /\(private/,
  'link-local': /\(link-local/,
  cgnat: /\(cgnat/,
  'cloud metadata': /\(cloud metadata/,
  'special-purpose':
    /\((multicast|broadcast|reserved|benchmarking|documentation|not global unicast)/,
};

describe('the SSRF corpus', () => {
  it('holds at least 40 spellings, over every category', () => {
    const all = [...urls, ...FORBIDDEN_NAMES];
    expect(all.length).toBeGreaterThanOrEqual(40);
    expect(new Set(all.map((target) => target.category))).toEqual(new Set(Object.keys(REASONS)));
    expect(urls.filter((target) => target.reachesListener).length).toBeGreaterThanOrEqual(30);
  });
});

// The guarded runs come first: the listener must have counted nothing when they end.
describe('the sender, guarded', () => {
  it.each(forbiddenUrls(0).map((target, index) => [target.trick, target.category, index] as const))(
    'refuses %s (%s) before resolving or connecting',
    async (_trick, category, index) => {
      const target = urls[index];
      if (target === undefined) throw new Error(`no target ${index}`);
      const resolver = recordingResolver();
      const sender = newSender(false, resolver.lookup);

      const result = await sender.send(post(target.url), quick);

      expect(result, target.url).toMatchObject({ ok: false, error_class: 'ssrf' });
      expect(result.error_message).toMatch(/^target refused: /);
      expect(result.error_message).toMatch(REASONS[category]);
      // Literals are refused before any lookup; names by the lookup the socket makes.
      const hostname = new URL(target.url).hostname;
      expect(resolver.asked).toEqual(isIP(hostname.replace(/^\[|\]$/g, '')) ? [] : [hostname]);
    },
  );

  it.each(FORBIDDEN_NAMES.map((name) => [name.hostname, name.trick, name.category] as const))(
    'refuses %s (%s) at the connect-time lookup',
    async (hostname, _trick, category) => {
      const sender = newSender(false, hostileResolver);

      const result = await sender.send(post(`http://${hostname}:${listener.port}/hook`), quick);

      expect(result).toMatchObject({ ok: false, error_class: 'ssrf' });
      expect(result.error_message).toMatch(new RegExp(`^target refused: ${hostname} resolves to `));
      expect(result.error_message).toMatch(REASONS[category]);
    },
  );

  it('left the listener on 127.0.0.1 with no connection at all', () => {
    expect(listener.connections).toBe(0);
    expect(listener.requests).toEqual([]);
  });
});

describe('the sender, unguarded (the corpus reaches what it claims to)', () => {
  it.each(
    forbiddenUrls(0)
      .map((target, index) => [target.trick, target.reachesListener, index] as const)
      .filter(([, reaches]) => reaches),
  )('reaches the listener through %s', async (_trick, _reaches, index) => {
    const target = urls[index];
    if (target === undefined) throw new Error(`no target ${index}`);
    const before = listener.requests.length;
    const sender = newSender(true);

    const result = await sender.send(post(target.url), quick);

    expect(result, target.url).toMatchObject({ ok: true, status_code: 200 });
    expect(listener.requests.length).toBe(before + 1);
  });

  it.each(
    FORBIDDEN_NAMES.filter((name) => name.reachesListener).map(
      (name) => [name.hostname, name.trick] as const,
    ),
  )('reaches the listener through %s (%s)', async (hostname) => {
    const before = listener.requests.length;
    const sender = newSender(true, hostileResolver);

    const result = await sender.send(post(`http://${hostname}:${listener.port}/hook`), quick);

    expect(result).toMatchObject({ ok: true, status_code: 200 });
    expect(listener.requests.length).toBe(before + 1);
  });
});
