import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { assertAllowedAddress, type AddressPolicy } from './address-policy.js';
import type { WebhookRequest, WebhookResponse, WebhookSink } from './sink.js';

const snippetBytes = 512;
const maxResponseBytes = 64 * 1024;

export type Resolver = (hostname: string, options: LookupOptions & { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/**
 * A `lookup` for sockets that checks every address a name resolves to against the policy at
 * connect time, so a name that resolved to a public address at registration and to a private
 * one now (DNS rebinding) is refused. If any address is refused, the connection is.
 */
export function guardedLookup(policy: AddressPolicy, resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, '', 0);
        return;
      }
      try {
        if (addresses.length === 0) throw Object.assign(new Error(`${hostname} has no addresses`), { code: 'ENOTFOUND' });
        for (const a of addresses) assertAllowedAddress(a.address, hostname, policy);
      } catch (e) {
        callback(e as NodeJS.ErrnoException, '', 0);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

export class TimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** The `http` adapter: a signed POST over node:http(s), never following redirects, never via a proxy. */
export function createHttpSink(options: { policy: AddressPolicy; resolve?: Resolver; userAgent?: string }): WebhookSink {
  const lookup = guardedLookup(options.policy, options.resolve);
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 16 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 16 }),
  };
  return {
    kind: 'http',
    async send(request: WebhookRequest): Promise<WebhookResponse> {
      const url = new URL(request.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${url.protocol} URLs are not delivered to`);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      // Sockets skip `lookup` for IP literals, so those are checked here.
      if (isIP(host)) assertAllowedAddress(host, host, options.policy);
      const timeout = AbortSignal.timeout(request.timeoutMs);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      const transport = url.protocol === 'https:' ? https : http;
      try {
        return await new Promise<WebhookResponse>((resolve, reject) => {
          const req = transport.request(url, {
            method: 'POST',
            agent: agents[url.protocol as 'http:' | 'https:'],
            lookup,
            signal,
            headers: {
              'content-type': 'application/json',
              'content-length': String(request.body.length),
              'user-agent': options.userAgent ?? 'ml-lambda-webhooks/1',
              ...request.headers,
            },
          }, (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            const finish = () => resolve({
              status: res.statusCode ?? 0,
              retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined,
              bodySnippet: Buffer.concat(chunks).subarray(0, snippetBytes).toString('utf8'),
            });
            res.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size <= snippetBytes + chunk.length) chunks.push(chunk);
              // A receiver streaming a huge answer gets cut off; the status is what counts.
              if (size > maxResponseBytes) {
                res.destroy();
                finish();
              }
            });
            res.on('end', finish);
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end(request.body);
        });
      } catch (err) {
        if (timeout.aborted && !request.signal?.aborted) throw new TimeoutError(request.timeoutMs);
        throw err;
      }
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
