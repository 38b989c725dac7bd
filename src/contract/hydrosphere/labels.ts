import { childPath, describe, type Report } from '../report.js';

/**
 * Hydrosphere's `metadata` (serving.yaml, v2/v3 upload metadata) becomes the version's labels:
 * values are text (numbers and booleans are written as text, null values are skipped); keys and
 * values follow the rules of ML Lambda's labels. Anything else is an issue naming the key.
 */

export const labelKeyPattern = /^[A-Za-z0-9_./-]{1,63}$/;
export const MAX_LABEL_VALUE = 256;
export const MAX_LABELS = 100;

export function labelsFromMetadata(entries: Iterable<[unknown, unknown]>, report: Report, at = 'metadata'): Record<string, string> {
  const labels: Record<string, string> = {};
  let count = 0;
  for (const [k, v] of entries) {
    const key = typeof k === 'string' ? k : typeof k === 'number' || typeof k === 'boolean' ? String(k) : null;
    const where = childPath(at, key ?? describe(k));
    if (++count > MAX_LABELS) {
      report.issue(at, `at most ${MAX_LABELS} entries`, 'more');
      break;
    }
    if (key === null || !labelKeyPattern.test(key)) {
      report.issue(where, 'a key of 1-63 characters of A-Z, a-z, 0-9, _ . / -', describe(k));
      continue;
    }
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      report.issue(where, 'a text, number or boolean value (labels are flat)', describe(v));
      continue;
    }
    const value = String(v);
    if (value.length > MAX_LABEL_VALUE) {
      report.issue(where, `a value of at most ${MAX_LABEL_VALUE} characters`, `${value.length} characters`);
      continue;
    }
    labels[key] = value;
  }
  return labels;
}
