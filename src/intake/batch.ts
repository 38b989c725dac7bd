import type { Readable } from 'node:stream';
import type { BatchItem, BatchRecord, BatchView, Batches } from '../batches/batches.js';
import { assertModelName } from '../domain/model-name.js';
import { isMllError, toErrorBody } from '../errors.js';
import type { Logger } from '../log.js';
import { mapLimit } from '../shared/map-limit.js';
import type { BatchResume } from './batch-resume.js';
import type { Intake, VersionHooks } from './intake.js';
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
 * own reason while the rest go on; `seal` records that no more items come. With a `resume` (the
 * request had an Idempotency-Key) a retry of a request cut off midway fills the same batch and
 * takes the items the earlier attempt made instead of making them again.
 */
export class BatchIntake {
  private constructor(
    private readonly intake: Intake,
    private readonly batches: Batches,
    private readonly logger: Logger,
    private readonly resume: BatchResume | undefined,
    readonly record: BatchRecord,
  ) {}

  static async open(intake: Intake, batches: Batches, logger: Logger, resume?: BatchResume): Promise<BatchIntake> {
    const fresh = batches.newId();
    const { id, earlier } = resume ? await resume.batchId(fresh) : { id: fresh, earlier: false };
    // An earlier attempt's record keeps its creation time; its items are made again below, in order.
    const before = earlier ? await batches.record(id).catch(() => null) : null;
    const record: BatchRecord = { id, createdAt: before?.createdAt ?? new Date().toISOString(), sealed: false, items: [] };
    // A sealed earlier record stays as it is until this attempt seals its own (followers see no shrunken batch).
    if (!before?.sealed) await batches.save(record);
    return new BatchIntake(intake, batches, logger, resume, record);
  }

  get id(): string {
    return this.record.id;
  }

  /** A streamed item: its payload is received now. A refused item's stream is drained so later items still arrive. */
  async addStream(index: number, model: string, body: Readable, metadata: UploadMetadata | Error): Promise<void> {
    await this.add(index, model, async (hooks) => {
      if (metadata instanceof Error) throw metadata;
      return this.intake.streamVersion(model, body, { metadata, batchId: this.id }, hooks);
    }, body);
  }

  /** Items whose payloads were uploaded to presigned URLs, a few at a time. */
  async addUploads(items: UploadItem[]): Promise<void> {
    await mapLimit(items, uploadItemConcurrency, (item, index) => this.add(index, item.model, async (hooks) => {
      assertModelName(item.model);
      return this.intake.createVersion(item.model, await this.intake.fromUpload(item.upload, this.resume?.owner(index)), { metadata: item.metadata, batchId: this.id }, hooks);
    }));
  }

  private async add(index: number, model: string, make: (hooks: VersionHooks) => Promise<{ version: number }>, body?: Readable): Promise<void> {
    const item: BatchItem = { index, model, version: null, error: null };
    this.record.items.push(item);
    // Not knowing whether an earlier attempt made this item fails the request (the client retries),
    // never the item: refusing it could leave its version outside the batch.
    const earlier = await this.madeBefore(index, model).catch((err: unknown) => {
      body?.resume();
      throw err;
    });
    if (earlier !== null) {
      body?.resume();
      item.version = earlier;
      return;
    }
    try {
      const resume = this.resume;
      item.version = (await make(resume ? { onNumbered: (record) => resume.note(index, model, record) } : {})).version;
    } catch (err) {
      if (body && !body.readableEnded) body.resume();
      item.error = toErrorBody(err);
      if (!isMllError(err)) this.logger.error({ err, model }, 'batch item failed unexpectedly');
      await this.batches.itemRejected(this.id, model, item.error).catch(() => undefined);
    }
  }

  /** The version an earlier attempt of this request made of this item, if it made one. */
  private async madeBefore(index: number, model: string): Promise<number | null> {
    const numbered = await this.resume?.numbered(index, model);
    if (!numbered) return null;
    return (await this.intake.adopt({ model, ...numbered })) ? numbered.version : null;
  }

  /** No more items: the batch is complete as received (items in request order). */
  async seal(): Promise<BatchView> {
    this.record.items.sort((a, b) => a.index - b.index);
    this.record.sealed = true;
    await this.batches.save(this.record);
    return this.batches.view(this.id);
  }
}
