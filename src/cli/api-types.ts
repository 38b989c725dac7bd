import type { BatchView } from '../batches/batches.js';
import type { ModelSummary } from '../catalog/catalog.js';
import type { ImageInfo, VersionEvent, VersionRecord, VersionStatus } from '../domain/version.js';

/** The shapes the API answers with, as the CLI reads them (see src/api/openapi.ts). */

export type { VersionEvent, VersionStatus };

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export type Version = VersionRecord & { url: string; links?: Record<string, string> };
export type Model = ModelSummary & { url: string };

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface VersionPage extends Page<Version> {
  total: number;
}

export type Batch = BatchView & { url: string };
export type BatchItemView = BatchView['items'][number];

/** The `end` event of a version's event stream. */
export interface VersionEnd {
  status: VersionStatus;
  error: ApiErrorBody | null;
  image: ImageInfo | null;
}

export interface EventsPage {
  items: VersionEvent[];
  status: VersionStatus;
  terminal: boolean;
  last: string | null;
}

export interface BatchEvent {
  id: string;
  model: string;
  version: number | null;
  status: VersionStatus | 'rejected';
  error: ApiErrorBody | null;
  at: string;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  models: string[] | null;
  description: string | null;
  enabled: boolean;
  disabledReason?: string | null;
  createdAt: string;
  updatedAt: string;
  links?: Record<string, string>;
  /** Only in the answer to the POST that created it. */
  secret?: string;
}

export interface WebhookAttempt {
  attempt: number;
  at: string;
  trigger: string;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  outcome: string;
  nextAttemptAt: string | null;
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  outcome: string | null;
  error: string | null;
  redeliveries: number;
  createdAt: string;
  updatedAt: string;
  attempts: WebhookAttempt[];
}

export const terminal = (status: string) => status === 'released' || status === 'failed' || status === 'rejected';

export const versionPath = (model: string, version: number) => `/api/v1/models/${encodeURIComponent(model)}/versions/${version}`;
