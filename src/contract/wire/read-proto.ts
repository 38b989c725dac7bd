import type protobuf from 'protobufjs';
import { MllError } from '../../errors.js';
import { MalformedProtobuf, MetadataTooLarge, pruneMessage, type ByteSource, type PrunePlan } from './prune.js';

/**
 * Kept bytes (signatures, inputs, outputs, initializer names): real models stay far below; weights
 * are skipped, never kept. It also bounds the memory of the decoded messages.
 */
export const METADATA_BUDGET = 16 * 1024 * 1024;

/**
 * Filters `src` by `plan` and decodes the kept fields as `type`. Any fault of the bytes becomes
 * INVALID_MODEL naming `label` (the file as the user knows it) and `what` (e.g. "an ONNX model").
 */
export async function decodePruned<T>(src: ByteSource, plan: PrunePlan, type: protobuf.Type, label: string, what: string): Promise<T> {
  let pruned: Uint8Array;
  try {
    pruned = pruneMessage(src, plan, METADATA_BUDGET);
  } catch (err) {
    if (err instanceof MalformedProtobuf) {
      throw new MllError('INVALID_MODEL', `${label} is not ${what}: ${err.message} (truncated or not a protobuf file)`, {
        details: { file: label, offset: err.offset },
      });
    }
    if (err instanceof MetadataTooLarge) {
      throw new MllError('INVALID_MODEL', `${label} declares ${err.message}; it is not ${what} this service can read`, {
        details: { file: label },
      });
    }
    throw err;
  }
  try {
    return type.decode(pruned) as T;
  } catch (err) {
    throw new MllError('INVALID_MODEL', `${label} is not ${what}: its fields have the wrong types (${(err as Error).message})`, {
      details: { file: label },
    });
  }
}
