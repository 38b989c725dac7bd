import { randomBytes } from 'node:crypto';

/** A short unique lowercase name (valid as model name, key prefix or queue prefix). */
export function uniqueName(label = 't'): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
