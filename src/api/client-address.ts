import { BlockList, isIP } from 'node:net';

import { parseCidr } from '../core/index.ts';

/**
 * Who a request comes from, for the per-address rate limit: the peer's address, unless the peer
 * is a trusted proxy (TRUSTED_PROXIES); then the right-most address of the forwarding header that
 * is not a trusted proxy itself. Addresses to the left of that one were written by the client (or
 * by proxies it chose), so a client can never choose the address it is counted as.
 */

export type ForwardingHeader = 'x-forwarded-for' | 'forwarded';

export interface TrustedProxies {
  readonly list: BlockList;
  readonly header: ForwardingHeader;
}

/** The trusted proxies of TRUSTED_PROXIES (already validated by the config); undefined = none. */
export function trustedProxies(
  entries: readonly string[],
  header: ForwardingHeader,
): TrustedProxies | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const cidr = parseCidr(entry);
    if (!cidr) throw new Error(`not an address or CIDR network: ${entry}`);
    list.addSubnet(cidr.network, cidr.prefix, cidr.type);
  }
  return { list, header };
}

/** The address the rate limit counts when the peer's is unknown (no socket, as in app.request). */
export const UNKNOWN_ADDRESS = 'unknown';

/**
 * An address as written in a forwarding header or by the socket: brackets and a port removed,
 * an IPv4-mapped IPv6 address as IPv4. Undefined when it is not an IP address (`unknown`, an
 * obfuscated `_node` identifier, garbage).
 */
export function normalizeAddress(raw: string): string | undefined {
  let a = raw.trim();
  if (a.startsWith('"') && a.endsWith('"') && a.length >= 2) a = a.slice(1, -1);
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    if (end === -1) return undefined;
    a = a.slice(1, end);
  } else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(a)) {
    a = a.slice(0, a.lastIndexOf(':'));
  }
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  const family = isIP(a);
  if (family === 0) return undefined;
  if (family === 6) {
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
    if (mapped?.[1] !== undefined) return mapped[1];
    return a.toLowerCase();
  }
  return a;
}

/** The `for=` addresses of a Forwarded header (RFC 7239), left to right, raw. */
function forwardedFor(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(',')) {
    let found = '';
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === 'for') {
        found = pair.slice(eq + 1).trim();
      }
    }
    out.push(found);
  }
  return out;
}

const isTrusted = (trusted: TrustedProxies, address: string) =>
  trusted.list.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');

/**
 * The client address of a request. `remote` is the socket's peer address, `forwarded` the value
 * of `trusted.header` (repeated lines joined with ", ", as Node and fetch join them). The chain is
 * walked from the right while its addresses are trusted proxies; the first one that is not is the
 * client. An entry that is not an address ends the walk at the trusted proxy that wrote it; if
 * every entry is a trusted proxy, the left-most is the client.
 */
export function clientAddress(
  remote: string | undefined,
  forwarded: string | undefined,
  trusted: TrustedProxies | undefined,
): string {
  const peer = remote === undefined ? undefined : normalizeAddress(remote);
  if (peer === undefined) return UNKNOWN_ADDRESS;
  if (!trusted || forwarded === undefined || !isTrusted(trusted, peer)) return peer;
  const hops = trusted.header === 'forwarded' ? forwardedFor(forwarded) : forwarded.split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const address = normalizeAddress(hops[i] ?? '');
    if (address === undefined) return client;
    client = address;
    if (!isTrusted(trusted, address)) return address;
  }
  return client;
}

/**
 * The counter an address is limited under: an IPv4 address itself, an IPv6 address' /64 (one
 * subscriber's network: a client given a /64 could otherwise take a fresh address, and a fresh
 * quota, per request).
 */
export function addressBucket(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = expandIpv6(address);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros. */
function expandIpv6(address: string): string[] {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text =
      text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}
