import type { Readable } from 'node:stream';
import type { BatchItem, BatchRecord, BatchView, Batches } from '../batches/batches.js';
import { assertModelName } from '../domain/model-name.js';
import { isMllError, toErrorBody } from '../errors.js';
import type { Logger } from '../log.js';
import { mapLimit } from '../shared/map-limit.js';
import type { Intake } from './intake.js';
import type { UploadMetadata } from './metadata.js';

/** Items of a JSON batch (presigned uploads) made into versions at once. */
const uploadItemConcurrency = 8;

export interface UploadItem {
  model: string;
  upload: string;
  metadata: UploadMetadata;
}

/**
 * One batch while it is received: each item becomes its own version or is refused alone with its
 * own reason while the rest go on; `seal` records that no more items come.
 */
export class BatchIntake {
  readonly record: BatchRecord;

  constructor(
    private readonly intake: Intake,
    private readonly batches: Batches,
    private readonly logger: Logger,
  ) {
    this.record = { id: batches.newId(), createdAt: new Date().toISOString(), sealed: false, items: [] };
  }

  async open(): Promise<void> {
    await this.batches.save(this.record);
  }

  get id(): string {
    return this.record.id;
  }

  /** A streamed item: its payload is received now. A refused item's stream is drained so later items still arrive. */
  async addStream(index: number, model: string, body: Readable, metadata: UploadMetadata | Error): Promise<void> {
    await this.add(index, model, async () => {
      if (metadata instanceof Error) throw metadata;
      return this.intake.streamVersion(model, body, { metadata, batchId: this.id });
    }, body);
  }

  /** Items whose payloads were uploaded to presigned URLs, a few at a time. */
  async addUploads(items: UploadItem[]): Promise<void> {
    await mapLimit(items, uploadItemConcurrency, (item, index) => this.add(index, item.model, async () => {
      assertModelName(item.model);
      return this.intake.createVersion(item.model, await this.intake.fromUpload(item.upload), { metadata: item.metadata, batchId: this.id });
    }));
  }

  private async add(index: number, model: string, make: () => Promise<{ version: number }>, body?: Readable): Promise<void> {
    const item: BatchItem = { index, model, version: null, error: null };
    this.record.items.push(item);
    try {
      item.version = (await make()).version;
    } catch (err) {
      if (body && !body.readableEnded) body.resume();
      item.error = toErrorBody(err);
      if (!isMllError(err)) this.logger.error({ err, model }, 'batch item failed unexpectedly');
      await this.batches.itemRejected(this.id, model, item.error).catch(() => undefined);
    }
  }

  /** No more items: the batch is complete as received (items in request order). */
  async seal(): Promise<BatchView> {
    this.record.items.sort((a, b) => a.index - b.index);
    this.record.sealed = true;
    await this.batches.save(this.record);
    return this.batches.view(this.id);
  }
}
