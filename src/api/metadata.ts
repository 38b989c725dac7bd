import { MllError } from '../errors.js';
import { parseUploadMetadata, type UploadMetadata } from '../intake/metadata.js';

/** Raw tar bodies carry metadata in the query: ?model-type=…&description=…&labels={json}. */
export function metadataFromQuery(query: Record<string, unknown>): UploadMetadata {
  const value: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (k === 'labels' && typeof v === 'string') {
      try {
        value.labels = JSON.parse(v);
      } catch {
        throw new MllError('INVALID_METADATA', 'The labels query parameter must be a JSON object, e.g. labels={"team":"search"}');
      }
    } else value[k] = v;
  }
  return parseUploadMetadata(value, 'query parameters');
}
