import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { MllError } from '../errors.js';
import { blockedReason, type AddressPolicy } from '../shared/http/address-policy.js';

const maxUrlLength = 2048;
const registrationLookupMs = 3000;

function reject(url: string, reason: string): never {
  throw new MllError('INVALID_WEBHOOK_URL', `Webhook URL ${JSON.stringify(url.slice(0, 200))} ${reason}`, { details: { url: url.slice(0, maxUrlLength) } });
}

/**
 * Registration-time checks of a webhook URL: http(s) only, no credentials or fragment, and — unless
 * private targets are allowed — not an IP literal or a name that resolves to a blocked address
 * right now. This only catches the obvious; the connect-time check (guardedLookup) is the one that
 * holds, since DNS may answer differently later. A name that does not resolve yet is accepted.
 */
export async function checkTargetUrl(raw: unknown, policy: AddressPolicy, lookup: (host: string) => Promise<string[]> = resolveAll): Promise<string> {
  if (typeof raw !== 'string' || raw.trim() === '') throw new MllError('INVALID_WEBHOOK_URL', 'A webhook needs a "url": the http(s) address to POST events to');
  const text = raw.trim();
  if (text.length > maxUrlLength) reject(text, `is longer than ${maxUrlLength} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    reject(text, 'is not an absolute URL (e.g. https://example.com/hooks/mll)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') reject(text, `uses ${url.protocol.replace(/:$/, '')}; only http and https are delivered to`);
  if (url.username || url.password) reject(text, 'carries credentials; put them nowhere in the URL, the webhook signature authenticates the sender');
  if (url.hash) reject(text, 'has a #fragment, which is never sent; remove it');
  if (!url.hostname) reject(text, 'has no host');
  if (!policy.allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
    if (isIP(host)) {
      const reason = blockedReason(host);
      if (reason) reject(text, `points at ${host} (${reason}); webhooks only reach public addresses unless MLL_WEBHOOK_ALLOW_PRIVATE=true`);
    } else if (host === 'localhost' || host.endsWith('.localhost')) {
      reject(text, 'points at localhost; webhooks only reach public addresses unless MLL_WEBHOOK_ALLOW_PRIVATE=true');
    } else {
      const addresses = await lookup(host).catch(() => []);
      for (const address of addresses) {
        const reason = blockedReason(address);
        if (reason) reject(text, `resolves to ${address} (${reason}); webhooks only reach public addresses unless MLL_WEBHOOK_ALLOW_PRIVATE=true`);
      }
    }
  }
  return url.toString();
}

async function resolveAll(host: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string[]>((resolve) => (timer = setTimeout(() => resolve([]), registrationLookupMs)));
  try {
    return await Promise.race([dns.lookup(host, { all: true }).then((list) => list.map((a) => a.address)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
