import { webhookEventTypes } from './types.js';

/**
 * The webhook part of the OpenAPI document (src/api/openapi.ts spreads it in): paths and the
 * `webhooks` section. The bodies are zod schemas (src/api/schemas/webhooks.ts).
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/Error${c}` }]));
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^wh_[0-9a-f]{20}$' }, description: 'Webhook endpoint id' };

export const webhookPaths: Record<string, Record<string, unknown>> = {
  '/api/v1/webhooks': {
    post: {
      summary: 'Register a webhook endpoint',
      description:
        'Events are POSTed to `url` following Standard Webhooks: headers `webhook-id` (the event id, the same on every retry), ' +
        '`webhook-timestamp` (unix seconds of the attempt) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` ' +
        'keyed with the base64-decoded part of the secret). The secret is generated when not given and is shown in this answer only. ' +
        'Only http(s) URLs without credentials; loopback, private and link-local targets are refused (also when connecting) unless ' +
        'MLL_WEBHOOK_ALLOW_PRIVATE=true.',
      tags: ['webhooks'],
      requestBody: { required: true, content: { 'application/json': { schema: ref('WebhookEndpointInput') } } },
      responses: {
        201: { ...json(ref('WebhookEndpointCreated'), 'Registered; the secret is shown this once'), headers: { Location: { schema: { type: 'string' } } } },
        ...errors(400, 415, 503),
      },
    },
    get: {
      summary: 'List webhook endpoints (without secrets)',
      tags: ['webhooks'],
      responses: { 200: json(ref('WebhookEndpointList')), ...errors(503) },
    },
  },
  '/api/v1/webhooks/{id}': {
    get: { summary: 'One webhook endpoint (without its secret)', tags: ['webhooks'], parameters: [idParam], responses: { 200: json(ref('WebhookEndpoint')), ...errors(404, 503) } },
    delete: { summary: 'Delete a webhook endpoint and its delivery history', tags: ['webhooks'], parameters: [idParam], responses: { 204: { description: 'Deleted' }, ...errors(404, 503) } },
  },
  '/api/v1/webhooks/{id}/deliveries': {
    get: {
      summary: "An endpoint's deliveries, newest first, each with every attempt",
      tags: ['webhooks'],
      parameters: [
        idParam,
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        { name: 'before', in: 'query', schema: { type: 'integer' }, description: 'Cursor from `next`' },
      ],
      responses: { 200: json(ref('WebhookDeliveryList')), ...errors(404, 503) },
    },
  },
  '/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': {
    post: {
      summary: 'Send a delivery again: same event id and body, a new timestamp and signature, a full set of attempts',
      tags: ['webhooks'],
      parameters: [idParam, { name: 'deliveryId', in: 'path', required: true, schema: { type: 'string', pattern: '^dlv_[0-9a-f]{24}$' } }],
      responses: { 202: json(ref('WebhookDelivery'), 'Queued'), ...errors(404, 409, 503) },
    },
  },
};

const signatureHeaders = [
  { name: 'webhook-id', in: 'header', required: true, schema: { type: 'string' } },
  { name: 'webhook-timestamp', in: 'header', required: true, schema: { type: 'integer' } },
  { name: 'webhook-signature', in: 'header', required: true, schema: { type: 'string', pattern: '^v1,' } },
];

/** OpenAPI 3.1 `webhooks`: what receivers get. */
export const webhookEvents = Object.fromEntries(webhookEventTypes.map((type) => [type, {
  post: {
    summary: `The ${type} event`,
    parameters: signatureHeaders,
    requestBody: { required: true, content: { 'application/json': { schema: ref('WebhookEvent') } } },
    responses: { '2XX': { description: 'Received. 410 disables the endpoint; 408, 429 (with Retry-After) and 5xx are retried; other answers are final.' } },
  },
}]));
