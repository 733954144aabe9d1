/** Peer addresses in the form upstream's `conn` answer gives them. */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A peer address as upstream's `conn` reports it: IPv6 in full form, eight groups of four
 * lower-case hex digits, with IPv4 peers IPv4-mapped (`0000:0000:0000:0000:0000:ffff:7f00:0001`).
 */
export function upstreamIp(address: string | undefined): string {
  if (address === undefined || address === '') return '';
  let text = address;
  if (isIPv4(text)) text = `::ffff:${text}`;
  if (!isIPv6(text)) return address;
  text = text.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) is not part of the address
  // An embedded dotted quad is the last two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.toLowerCase().padStart(4, '0')).join(':');
}
