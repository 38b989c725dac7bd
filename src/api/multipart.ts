import type { IncomingMessage } from 'node:http';
import { MllError } from '../errors.js';
import type { Intake } from '../intake/intake.js';
import { parseMetadataJson, type UploadMetadata } from '../intake/metadata.js';
import type { ReceivedPayload } from '../intake/payload.js';
import { receiveForm } from './form.js';

const METADATA_BYTES = 64 * 1024;

/**
 * multipart/form-data with a `payload` file part and an optional `metadata` JSON part, in either
 * order. The payload streams straight into the store; a bad metadata part removes it again.
 */
export async function receiveMultipart(req: IncomingMessage, intake: Intake): Promise<{ payload: ReceivedPayload; metadata: UploadMetadata }> {
  const { payload, fields } = await receiveForm(req, intake, {
    fields: { metadata: METADATA_BYTES },
    payload: 'payload',
    textFields: true,
    maxPayloadBytes: intake.limits.maxUploadBytes,
    fieldTooLarge: () => new MllError('INVALID_METADATA', 'The metadata part is larger than 64 KiB'),
  });
  try {
    const text = fields.get('metadata')?.toString('utf8');
    return { payload, metadata: text === undefined ? {} : parseMetadataJson(text, 'metadata part') };
  } catch (err) {
    await intake.discard(payload);
    throw err;
  }
}
