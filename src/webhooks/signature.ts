import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MllError } from '../errors.js';

/**
 * Standard Webhooks signing (symmetric, `v1`): the signed content is `<id>.<timestamp>.<body>`,
 * the signature HMAC-SHA256 with the secret's decoded bytes, written `v1,<base64>`. Secrets are
 * `whsec_` + base64 of 24–64 random bytes.
 */

export const secretPrefix = 'whsec_';
export const minSecretBytes = 24;
export const maxSecretBytes = 64;

export const webhookHeaders = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(bytes = 32): string {
  return secretPrefix + randomBytes(bytes).toString('base64');
}

/** The key bytes of a `whsec_…` secret (the prefix is optional, as in the reference libraries). */
export function decodeSecret(secret: string): Buffer {
  const encoded = secret.startsWith(secretPrefix) ? secret.slice(secretPrefix.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new MllError('BAD_REQUEST', 'A webhook secret is "whsec_" followed by standard base64');
  }
  return Buffer.from(encoded, 'base64');
}

/** Checks a caller-chosen secret: base64 of 24 to 64 bytes, with or without the `whsec_` prefix. */
export function assertValidSecret(secret: string): string {
  const key = decodeSecret(secret);
  if (key.length < minSecretBytes || key.length > maxSecretBytes) {
    throw new MllError('BAD_REQUEST', `A webhook secret must decode to ${minSecretBytes}–${maxSecretBytes} bytes; this one has ${key.length}`);
  }
  return secret.startsWith(secretPrefix) ? secret : secretPrefix + secret;
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>`; `body` must be the exact bytes sent. */
export function sign(secret: string | Buffer, id: string, timestampSeconds: number, body: string | Buffer): string {
  const key = typeof secret === 'string' ? decodeSecret(secret) : secret;
  const mac = createHmac('sha256', key);
  mac.update(`${id}.${timestampSeconds}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** The three headers of one attempt. The timestamp is the attempt's, the id the event's. */
export function signedHeaders(secret: string | Buffer, id: string, body: string | Buffer, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    [webhookHeaders.id]: id,
    [webhookHeaders.timestamp]: String(timestamp),
    [webhookHeaders.signature]: sign(secret, id, timestamp, body),
  };
}

/**
 * What a receiver does: all three headers present, the timestamp within `toleranceSeconds` of now,
 * and one of the space-separated `v1` signatures equal (in constant time) to the expected one.
 * Used by our tests and offered to Node receivers; returns a reason instead of throwing.
 */
export function verify(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string | Buffer,
  options: { toleranceSeconds?: number; now?: number } = {},
): { ok: true } | { ok: false; reason: string } {
  const header = (name: string) => {
    const value = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = header(webhookHeaders.id);
  const ts = header(webhookHeaders.timestamp);
  const signatures = header(webhookHeaders.signature);
  if (!id || !ts || !signatures) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d+$/.test(ts)) return { ok: false, reason: 'webhook-timestamp is not unix seconds' };
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - Number(ts)) > tolerance) return { ok: false, reason: 'webhook-timestamp is outside the tolerance' };
  const expected = Buffer.from(sign(secret, id, Number(ts), body).slice(3), 'base64');
  for (const candidate of signatures.split(' ')) {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'no matching v1 signature' };
}
