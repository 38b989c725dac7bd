import { createAgent, send, type AddressPolicy, type Resolver } from '../shared/http/index.js';
import type { WebhookRequest, WebhookResponse, WebhookSink } from './sink.js';

export type { Resolver } from '../shared/http/index.js';

const snippetBytes = 512;
const maxResponseBytes = 64 * 1024;

export class TimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * The `http` adapter: a signed POST through the shared HTTP layer, its Agent checking every
 * address it connects to against the policy (DNS rebinding fails), never following redirects,
 * never via a proxy.
 */
export function createHttpSink(options: { policy: AddressPolicy; resolve?: Resolver; userAgent?: string }): WebhookSink {
  const agent = createAgent({ addressPolicy: options.policy, resolve: options.resolve, connections: 16 });
  return {
    kind: 'http',
    async send(request: WebhookRequest): Promise<WebhookResponse> {
      const url = new URL(request.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${url.protocol} URLs are not delivered to`);
      const timeout = AbortSignal.timeout(request.timeoutMs);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      try {
        const res = await send(agent, {
          method: 'POST', url, signal, body: request.body,
          headers: {
            'content-type': 'application/json',
            'content-length': String(request.body.length),
            'user-agent': options.userAgent ?? 'ml-lambda-webhooks/1',
            ...request.headers,
          },
        });
        // A receiver streaming a huge answer gets cut off; the status is what counts.
        const snippet = await res.buffer(maxResponseBytes).catch(() => Buffer.alloc(0));
        return {
          status: res.status,
          retryAfter: res.header('retry-after'),
          bodySnippet: snippet.subarray(0, snippetBytes).toString('utf8'),
        };
      } catch (err) {
        if (timeout.aborted && !request.signal?.aborted) throw new TimeoutError(request.timeoutMs);
        throw err;
      }
    },
    close() {
      void agent.destroy().catch(() => undefined);
    },
  };
}
