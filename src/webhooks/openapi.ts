import { webhookEventTypes } from './types.js';

/** The webhook part of the OpenAPI document (src/api/openapi.ts spreads it in). */

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
      responses: { 200: json({ type: 'object', properties: { items: { type: 'array', items: ref('WebhookEndpoint') } } }), ...errors(503) },
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
      responses: { 200: json({ type: 'object', properties: { items: { type: 'array', items: ref('WebhookDelivery') }, next: { type: ['string', 'null'] } } }), ...errors(404, 503) },
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

const endpointProperties = {
  id: { type: 'string' },
  url: { type: 'string', format: 'uri' },
  events: { type: 'array', items: { enum: [...webhookEventTypes] } },
  models: { type: ['array', 'null'], items: { type: 'string' }, description: 'Model names or `prefix*` patterns; null for every model' },
  description: { type: ['string', 'null'] },
  enabled: { type: 'boolean' },
  disabledReason: { type: ['string', 'null'], description: 'Why deliveries stopped (the receiver answered 410 Gone)' },
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
  links: { type: 'object', properties: { self: { type: 'string' }, deliveries: { type: 'string' } } },
};

const attemptOutcomes = ['delivered', 'retrying', 'gave_up', 'failed', 'disabled'];

export const webhookSchemas: Record<string, unknown> = {
  WebhookEndpointInput: {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: {
      url: { type: 'string', format: 'uri', examples: ['https://ci.example.com/hooks/mll'] },
      events: { type: 'array', minItems: 1, items: { enum: [...webhookEventTypes] }, description: 'Default: every event type' },
      models: { type: ['array', 'null'], items: { type: 'string', pattern: '^([a-z0-9][a-z0-9_-]{0,62}\\*?|\\*)$' } },
      secret: { type: 'string', description: '`whsec_` + base64 of 24–64 bytes; generated when absent' },
      description: { type: ['string', 'null'], maxLength: 500 },
    },
  },
  WebhookEndpoint: { type: 'object', required: ['id', 'url', 'events', 'enabled'], properties: endpointProperties },
  WebhookEndpointCreated: {
    type: 'object',
    required: ['id', 'url', 'events', 'enabled', 'secret'],
    properties: { ...endpointProperties, secret: { type: 'string', pattern: '^whsec_', description: 'Shown only in this answer' } },
  },
  WebhookDelivery: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      endpointId: { type: 'string' },
      eventId: { type: 'string', description: 'The webhook-id header' },
      eventType: { enum: [...webhookEventTypes] },
      status: { enum: ['pending', 'delivered', 'failed'] },
      outcome: { enum: [...attemptOutcomes, null] },
      error: { type: ['string', 'null'] },
      redeliveries: { type: 'integer' },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      attempts: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            attempt: { type: 'integer' },
            at: { type: 'string', format: 'date-time' },
            trigger: { enum: ['event', 'redeliver'] },
            statusCode: { type: ['integer', 'null'] },
            durationMs: { type: 'integer' },
            error: { type: ['string', 'null'] },
            outcome: { enum: attemptOutcomes },
            nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
          },
        },
      },
    },
  },
  WebhookEvent: {
    type: 'object',
    required: ['type', 'timestamp', 'data'],
    properties: {
      type: { enum: [...webhookEventTypes] },
      timestamp: { type: 'string', format: 'date-time', description: 'When the event happened (not the attempt)' },
      data: {
        description: 'version.*: the version record as GET /api/v1/models/{name}/versions/{version} shows it, plus imageDigest; batch.completed: the batch summary',
        oneOf: [{ allOf: [ref('Version'), { type: 'object', properties: { imageDigest: { type: ['string', 'null'] } } }] }, { type: 'object' }],
      },
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
