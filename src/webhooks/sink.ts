/**
 * The WebhookSink port: deliver one signed request and report what the receiver answered.
 * Adapters throw on network faults, timeouts (name TimeoutError) and refused targets
 * (TargetBlockedError); any HTTP answer, including 4xx/5xx, is a response, not an error.
 */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  /** The exact bytes that were signed. */
  body: Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface WebhookResponse {
  status: number;
  /** The Retry-After header, as sent. */
  retryAfter: string | undefined;
  /** The first bytes of the response body, as text (for the delivery log). */
  bodySnippet: string;
}

export interface WebhookSink {
  readonly kind: 'http';
  send(request: WebhookRequest): Promise<WebhookResponse>;
  close(): void;
}
