import { isIP } from 'node:net';

/** One TRUSTED_PROXIES entry: an address, or a network in CIDR notation. */
export interface Cidr {
  readonly network: string;
  readonly prefix: number;
  readonly type: 'ipv4' | 'ipv6';
}

/**
 * Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128). Undefined for anything
 * else, including a prefix longer than the family allows.
 */
export function parseCidr(entry: string): Cidr | undefined {
  const [network = '', prefixText, extra] = entry.trim().split('/');
  if (extra !== undefined) return undefined;
  const family = isIP(network);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { network, prefix, type: family === 4 ? 'ipv4' : 'ipv6' };
}
