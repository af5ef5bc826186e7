import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  addressBucket,
  clientAddress,
  normalizeAddress,
  trustedProxies,
  UNKNOWN_ADDRESS,
} from './client-address.ts';

const xff = trustedProxies(['10.0.0.0/8', 'fd00::/8', '192.0.2.1'], 'x-forwarded-for');
const fwd = trustedProxies(['10.0.0.0/8', 'fd00::/8'], 'forwarded');

describe('the client address', () => {
  it('is the peer when no proxy is trusted, whatever the request says', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', undefined)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:203.0.113.9', undefined, undefined)).toBe('203.0.113.9');
    expect(clientAddress(undefined, '198.51.100.1', xff)).toBe(UNKNOWN_ADDRESS);
  });

  it('is the peer when the peer is not a trusted proxy', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', xff)).toBe('203.0.113.9');
  });

  it.each([
    // [peer, header, expected]
    ['10.0.0.1', '198.51.100.7', '198.51.100.7'],
    ['10.0.0.1', '1.1.1.1, 198.51.100.7', '198.51.100.7'],
    ['10.0.0.1', '1.1.1.1, 198.51.100.7, 10.0.0.2', '198.51.100.7'],
    ['10.0.0.1', '198.51.100.7:4711', '198.51.100.7'],
    ['10.0.0.1', '[2001:db8::1]:4711', '2001:db8::1'],
    ['10.0.0.1', '10.0.0.3, 10.0.0.2', '10.0.0.3'],
    ['10.0.0.1', '1.1.1.1, garbage, 10.0.0.2', '10.0.0.2'],
    ['10.0.0.1', 'unknown', '10.0.0.1'],
    ['10.0.0.1', '', '10.0.0.1'],
    ['::ffff:10.0.0.1', '198.51.100.7', '198.51.100.7'],
    ['fd00::5', '2001:DB8::9', '2001:db8::9'],
    ['192.0.2.1', '198.51.100.7', '198.51.100.7'],
  ])('from trusted %s with X-Forwarded-For %j is %s', (peer, header, expected) => {
    expect(clientAddress(peer, header, xff)).toBe(expected);
  });

  it.each([
    ['for=198.51.100.7', '198.51.100.7'],
    ['for="[2001:db8:cafe::17]:4711"', '2001:db8:cafe::17'],
    ['for=1.1.1.1, For=198.51.100.7;proto=https, for=10.0.0.2;by=10.0.0.1', '198.51.100.7'],
    ['for=_hidden, for=10.0.0.2', '10.0.0.2'],
    ['proto=https', '10.0.0.1'],
  ])('from a trusted proxy, Forwarded %j is %s', (header, expected) => {
    expect(clientAddress('10.0.0.1', header, fwd)).toBe(expected);
  });

  it('reads only the configured header', () => {
    // A proxy that appends X-Forwarded-For, a client that sends Forwarded: the header is ignored.
    expect(clientAddress('10.0.0.1', 'for=1.2.3.4', xff)).toBe('10.0.0.1');
  });
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const untrustedIpv4 = ipv4.filter((a) => !a.startsWith('10.') && a !== '192.0.2.1');
const trustedIpv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => `10.${p.join('.')}`);
/** What a client may put in its own X-Forwarded-For: addresses (trusted ones too) or anything. */
const forged = fc.array(
  fc.oneof(
    ipv4,
    trustedIpv4,
    fc.string().filter((s) => !s.includes(',')),
  ),
  { maxLength: 6 },
);

describe('an untrusted client can never choose its address', () => {
  it('behind trusted proxies it is counted as the address the first proxy saw', () => {
    fc.assert(
      fc.property(
        forged,
        untrustedIpv4,
        fc.array(trustedIpv4, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (forgedEntries, real, proxies, sentHeader) => {
          // The client sends its own header (or none); the first proxy appends the address it
          // saw, each further proxy the address of the one before; the last one is the peer.
          const chain = [...(sentHeader ? forgedEntries : []), real, ...proxies.slice(0, -1)];
          const peer = proxies[proxies.length - 1];
          expect(clientAddress(peer, chain.join(', '), xff)).toBe(real);
        },
      ),
    );
  });

  it('talking to the API directly it is counted as its peer address', () => {
    fc.assert(
      fc.property(untrustedIpv4, fc.option(forged), (peer, header) => {
        expect(clientAddress(peer, header?.join(', '), xff)).toBe(peer);
      }),
    );
  });
});

describe('addresses', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    [' [::1] ', '::1'],
    ['"[2001:db8::1]:80"', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
  ])('%j normalizes to %s', (raw, expected) => {
    expect(normalizeAddress(raw)).toBe(expected);
  });

  it.each(['unknown', '_hidden', '1.2.3', '1.2.3.4.5', '', '[::1', 'a b'])(
    '%j is not an address',
    (raw) => {
      expect(normalizeAddress(raw)).toBeUndefined();
    },
  );

  it('counts an IPv6 client by its /64, an IPv4 client by its address', () => {
    expect(addressBucket('203.0.113.9')).toBe('203.0.113.9');
    expect(addressBucket('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:db8:1:2::ffff:1')).toBe(addressBucket('2001:0db8:0001:0002::2'));
    expect(addressBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
  });
});
