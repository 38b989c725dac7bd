import { isIP } from 'node:net';

/**
 * Which IP addresses a webhook may connect to. Everything that is not a public unicast address
 * is refused unless private targets are allowed by configuration: loopback, private (RFC 1918,
 * unique-local), link-local, CGNAT, unspecified, multicast, broadcast, documentation, benchmark
 * and reserved ranges, and IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64,
 * 6to4) are judged by the address they embed.
 */

interface Range {
  bytes: number[];
  bits: number;
  label: string;
}

const v4Ranges: Range[] = [
  { bytes: [0, 0, 0, 0], bits: 8, label: 'unspecified ("this network")' },
  { bytes: [10, 0, 0, 0], bits: 8, label: 'private' },
  { bytes: [100, 64, 0, 0], bits: 10, label: 'carrier-grade NAT' },
  { bytes: [127, 0, 0, 0], bits: 8, label: 'loopback' },
  { bytes: [169, 254, 0, 0], bits: 16, label: 'link-local' },
  { bytes: [172, 16, 0, 0], bits: 12, label: 'private' },
  { bytes: [192, 0, 0, 0], bits: 24, label: 'IETF protocol assignments' },
  { bytes: [192, 0, 2, 0], bits: 24, label: 'documentation' },
  { bytes: [192, 88, 99, 0], bits: 24, label: '6to4 relay anycast' },
  { bytes: [192, 168, 0, 0], bits: 16, label: 'private' },
  { bytes: [198, 18, 0, 0], bits: 15, label: 'benchmarking' },
  { bytes: [198, 51, 100, 0], bits: 24, label: 'documentation' },
  { bytes: [203, 0, 113, 0], bits: 24, label: 'documentation' },
  { bytes: [224, 0, 0, 0], bits: 4, label: 'multicast' },
  { bytes: [240, 0, 0, 0], bits: 4, label: 'reserved' },
];

const v6 = (prefix: number[], bits: number, label: string): Range => ({ bytes: [...prefix, ...new Array(16 - prefix.length).fill(0)], bits, label });
const v6Ranges: Range[] = [
  v6([], 128, 'unspecified'),
  v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128, 'loopback'),
  v6([0x01, 0x00], 64, 'discard-only'),
  v6([0x20, 0x01, 0x00, 0x00], 32, 'Teredo'),
  v6([0x20, 0x01, 0x0d, 0xb8], 32, 'documentation'),
  v6([0x3f, 0xff], 20, 'documentation'),
  v6([0xfc], 7, 'unique-local (private)'),
  v6([0xfe, 0x80], 10, 'link-local'),
  v6([0xfe, 0xc0], 10, 'site-local'),
  v6([0xff], 8, 'multicast'),
];

function matches(address: Uint8Array, range: Range): boolean {
  let bits = range.bits;
  for (let i = 0; bits > 0; i += 1, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return Uint8Array.from(parts.map(Number));
}

/** 16 bytes of an IPv6 address (accepts `::`, an embedded dotted IPv4 tail and a `%zone`). */
export function parseV6(text: string): Uint8Array | undefined {
  let s = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const out = new Uint8Array(16);
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  let tail: Uint8Array | undefined;
  if (dotted) {
    tail = parseV4(dotted[1]!);
    if (!tail) return undefined;
    s = s.slice(0, -dotted[1]!.length) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  for (let i = 0; i < 8; i += 1) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64 well-known, 6to4), if any. */
function embeddedV4(a: Uint8Array): Uint8Array | undefined {
  const zeros = (from: number, to: number) => a.slice(from, to).every((b) => b === 0);
  if (zeros(0, 10) && a[10] === 0xff && a[11] === 0xff) return a.slice(12, 16); // ::ffff:a.b.c.d
  if (zeros(0, 12) && !(zeros(12, 15) && (a[15] === 0 || a[15] === 1))) return a.slice(12, 16); // ::a.b.c.d
  if (a[0] === 0x00 && a[1] === 0x64 && a[2] === 0xff && a[3] === 0x9b && zeros(4, 12)) return a.slice(12, 16); // 64:ff9b::/96
  if (a[0] === 0x20 && a[1] === 0x02) return a.slice(2, 6); // 2002::/16
  return undefined;
}

function classifyV4(a: Uint8Array): string | null {
  if (a.every((b) => b === 255)) return 'broadcast';
  for (const range of v4Ranges) if (matches(a, range)) return range.label;
  return null;
}

/**
 * Why `address` is not a public unicast address (e.g. "loopback"), or null when it is.
 * Anything that does not parse as an IP address is refused too.
 */
export function blockedReason(address: string): string | null {
  const family = isIP(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  if (family === 4) return classifyV4(parseV4(address)!);
  if (family === 6) {
    const bytes = parseV6(address);
    if (!bytes) return 'not an IP address';
    const inner = embeddedV4(bytes);
    if (inner) {
      const reason = classifyV4(inner);
      return reason ? `${reason} (embedded in IPv6)` : null;
    }
    for (const range of v6Ranges) if (matches(bytes, range)) return range.label;
    return null;
  }
  return 'not an IP address';
}

export interface AddressPolicy {
  allowPrivate: boolean;
}

/** Throws a TargetBlockedError when `address` may not be connected to under `policy`. */
export function assertAllowedAddress(address: string, host: string, policy: AddressPolicy): void {
  if (policy.allowPrivate) return;
  const reason = blockedReason(address);
  if (reason) throw new TargetBlockedError(host, address, reason);
}

/**
 * The target resolved to an address webhooks may not reach. Not retried: the endpoint's URL (or
 * its DNS) has to change first.
 */
export class TargetBlockedError extends Error {
  readonly code = 'WEBHOOK_TARGET_BLOCKED';
  constructor(readonly host: string, readonly address: string, readonly reason: string) {
    super(`${host === address ? address : `${host} resolves to ${address}`} (${reason}): webhooks only reach public addresses unless MLL_WEBHOOK_ALLOW_PRIVATE=true`);
    this.name = 'TargetBlockedError';
  }
}
