import type { z } from 'zod';
import type { BatchBody, batchEvent } from '../api/schemas/batches.js';
import type { ModelBody } from '../api/schemas/models.js';
import type { VersionBody, VersionEventsBody, VersionListBody } from '../api/schemas/versions.js';
import type { WebhookDeliveryBody, WebhookEndpointBody } from '../api/schemas/webhooks.js';
import type { ImageInfo, VersionEvent, VersionStatus } from '../domain/version.js';

/** The shapes the API answers with, as the CLI reads them: the types of the schemas the API builds its answers to (src/api/schemas). */

export type { VersionEvent, VersionStatus };

/** An error as the CLI reads it: any code, so a newer server's codes still read. */
export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export type Version = VersionBody;
export type Model = ModelBody;

export interface Page<T> {
  items: T[];
  next: string | null;
}

export type VersionPage = VersionListBody;

export type Batch = BatchBody;
export type BatchItemView = BatchBody['items'][number];

/** The `end` event of a version's event stream. */
export interface VersionEnd {
  status: VersionStatus;
  error: ApiErrorBody | null;
  image: ImageInfo | null;
}

export type EventsPage = VersionEventsBody;
export type BatchEvent = z.output<typeof batchEvent>;

/** `secret` only in the answer to the POST that created it. */
export type Webhook = WebhookEndpointBody & { secret?: string };
export type WebhookDelivery = WebhookDeliveryBody;

export const terminal = (status: string) => status === 'released' || status === 'failed' || status === 'rejected';

export const versionPath = (model: string, version: number) => `/api/v1/models/${encodeURIComponent(model)}/versions/${version}`;
