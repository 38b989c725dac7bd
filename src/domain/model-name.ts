import { MllError } from '../errors.js';

/** Also the image repository name, so it follows the registry's rules for a path component. */
export const modelNamePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function assertModelName(name: string): string {
  if (!modelNamePattern.test(name)) {
    throw new MllError(
      'INVALID_MODEL_NAME',
      `"${name}" is not a valid model name: use 1-63 characters of a-z, 0-9, "_" and "-", starting with a letter or digit`,
      { details: { name, pattern: modelNamePattern.source } },
    );
  }
  return name;
}

export function parseVersionNumber(raw: string): number {
  const n = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new MllError('INVALID_VERSION', `"${raw}" is not a version number (1, 2, 3, …)`);
  }
  return n;
}
