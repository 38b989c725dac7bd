export const webhookEventTypes = ['version.released', 'version.failed', 'batch.completed'] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/** A registered receiver. Stored whole (secret included) in the object store; never shown with its secret. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: WebhookEventType[];
  /** Model names (or `prefix*` patterns) whose events are sent; null for every model. */
  models: string[] | null;
  description: string | null;
  /** `whsec_` + base64 key. */
  secret: string;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One event as sent: `body` is the serialized JSON, signed and sent byte for byte on every attempt. */
export interface StoredEvent {
  id: string;
  type: WebhookEventType;
  createdAt: string;
  body: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';
/**
 * delivered: 2xx. retrying: a transient failure with attempts left. gave_up: a transient failure
 * on the last attempt. failed: a final answer or refusal (4xx, redirect, blocked target, endpoint
 * gone). disabled: the receiver answered 410 Gone and the endpoint was disabled.
 */
export type AttemptOutcome = 'delivered' | 'retrying' | 'gave_up' | 'failed' | 'disabled';

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  trigger: 'event' | 'redeliver';
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  outcome: AttemptOutcome;
  nextAttemptAt: string | null;
}

/** A delivery as stored: its state and every attempt made, oldest first. */
export type DeliveryRecord = Delivery & { attempts: DeliveryAttempt[] };

/** What a terminal event is about: a version, or a batch. */
export type OutboxSubject = { kind: 'version'; model: string; version: number } | { kind: 'batch'; id: string };

/**
 * A terminal event not yet turned into deliveries. Written to the store before the record that
 * makes the event is committed, and deleted once its deliveries exist and are queued; recovery and
 * a periodic sweep relay whatever is left.
 */
export interface OutboxIntent {
  eventId: string;
  type: WebhookEventType;
  subject: OutboxSubject;
  at: string;
}

/** One event to one endpoint, with every attempt made to deliver it. */
export interface Delivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: WebhookEventType;
  createdAt: string;
  updatedAt: string;
  status: DeliveryStatus;
  /** The outcome of the last attempt once the delivery stopped (delivered, gave_up, failed, disabled). */
  outcome: AttemptOutcome | null;
  /** Why it stopped, when it did not succeed. */
  error: string | null;
  redeliveries: number;
}
