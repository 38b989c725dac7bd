import { z } from 'zod';
import { webhookEventTypes } from '../../webhooks/types.js';
import { batch } from './batches.js';
import { timestamp } from './common.js';
import { requestBody, responseBody } from './registry.js';
import { version } from './versions.js';

const modelPattern = /^[a-z0-9][a-z0-9_-]{0,62}\*?$|^\*$/;
const eventType = z.enum(webhookEventTypes);

export const webhookEndpointInput = requestBody('WebhookEndpointInput', z.strictObject({
  url: z.string().describe('http(s), without credentials; loopback, private and link-local targets are refused unless MLL_WEBHOOK_ALLOW_PRIVATE=true'),
  events: z.array(eventType).min(1).optional().describe('Default: every event type'),
  models: z.array(z.string().regex(modelPattern, 'a model name, or a prefix ending in *')).min(1).max(100).nullable().optional()
    .describe('Model names or `prefix*` patterns; null or absent for every model'),
  secret: z.string().optional().describe('`whsec_` + base64 of 24–64 bytes; generated when absent'),
  description: z.string().max(500).nullable().optional(),
}));

export const webhookEndpoint = responseBody('WebhookEndpoint', z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(eventType),
  models: z.array(z.string()).nullable().describe('Model names or `prefix*` patterns; null for every model'),
  description: z.string().nullable(),
  enabled: z.boolean(),
  disabledReason: z.string().nullable().describe('Why deliveries stopped (the receiver answered 410 Gone)'),
  createdAt: timestamp,
  updatedAt: timestamp,
  links: z.object({ self: z.string(), deliveries: z.string() }),
}), 'A webhook endpoint, without its secret');
export type WebhookEndpointBody = z.output<typeof webhookEndpoint>;

export const webhookEndpointCreated = responseBody('WebhookEndpointCreated', webhookEndpoint.extend({
  secret: z.string().regex(/^whsec_/).describe('Shown only in this answer'),
}));
export type WebhookEndpointCreatedBody = z.output<typeof webhookEndpointCreated>;

export const webhookEndpointList = responseBody('WebhookEndpointList', z.object({ items: z.array(webhookEndpoint) }));
export type WebhookEndpointListBody = z.output<typeof webhookEndpointList>;

const attemptOutcome = z.enum(['delivered', 'retrying', 'gave_up', 'failed', 'disabled']);

export const webhookDelivery = responseBody('WebhookDelivery', z.object({
  id: z.string(),
  endpointId: z.string(),
  eventId: z.string().describe('The webhook-id header'),
  eventType,
  createdAt: timestamp,
  updatedAt: timestamp,
  status: z.enum(['pending', 'delivered', 'failed']),
  outcome: attemptOutcome.nullable(),
  error: z.string().nullable(),
  redeliveries: z.number().int(),
  attempts: z.array(z.object({
    attempt: z.number().int(),
    at: timestamp,
    trigger: z.enum(['event', 'redeliver']),
    statusCode: z.number().int().nullable(),
    durationMs: z.number().int(),
    error: z.string().nullable(),
    outcome: attemptOutcome,
    nextAttemptAt: timestamp.nullable(),
  })),
}), 'One event to one endpoint, with every attempt made to deliver it');
export type WebhookDeliveryBody = z.output<typeof webhookDelivery>;

export const webhookDeliveryList = responseBody('WebhookDeliveryList', z.object({ items: z.array(webhookDelivery), next: z.string().nullable() }));
export type WebhookDeliveryListBody = z.output<typeof webhookDeliveryList>;

/** version.*: the version as GET …/versions/{version} shows it, plus its image digest. */
export const versionEventData = responseBody('WebhookVersionData', version.extend({ imageDigest: z.string().nullable() }));
export type VersionEventData = z.output<typeof versionEventData>;

/** batch.completed: the batch as GET /api/v1/batches/{id} shows it, without its URL. */
export const batchEventData = responseBody('WebhookBatchData', batch.omit({ url: true }));

export const webhookEvent = responseBody('WebhookEvent', z.union([
  z.object({
    type: z.enum(['version.released', 'version.failed']),
    timestamp: timestamp.describe('When the event happened (not the attempt)'),
    data: versionEventData,
  }),
  z.object({
    type: z.literal('batch.completed'),
    timestamp: timestamp.describe('When the event happened (not the attempt)'),
    data: batchEventData,
  }),
]), 'The body of every webhook request');
