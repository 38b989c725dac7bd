import { createHash } from 'node:crypto';
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

/**
 * Hydrosphere accepted model names with upper case, dots and more (the 2018 CLI even used the
 * folder's name). Any name of 1-255 characters without whitespace, control characters, "/" or
 * "\\" is accepted here.
 */
export const hydrosphereNamePattern = /^[^\s\p{Cc}/\\]{1,255}$/u;
const HASH_LENGTH = 8;

/**
 * The ML Lambda model name (and image repository name) of a Hydrosphere model name. Deterministic
 * and documented (README, "Coming from Hydrosphere"):
 * - a name that is already a valid model name is kept as it is (`census_income` → `census_income`);
 * - any other name is lower-cased, every run of characters outside a-z, 0-9, "_" and "-" becomes
 *   one "-", leading "-"/"_" and trailing "-"/"_" are dropped, the rest cut to 54 characters, and
 *   "-" plus the first 8 hex digits of the SHA-256 of the ORIGINAL name is appended
 *   (`My.Model` → `my-model-<8 hex>`; an empty rest gives `model-<8 hex>`).
 * The suffix keeps names apart that differ only in what was replaced (`MyModel`, `mymodel`,
 * `my.model` are three models), so two Hydrosphere names never share a model. The original name
 * is kept as the version's display name.
 */
export function modelNameFromHydrosphere(name: string): string {
  if (modelNamePattern.test(name)) return name;
  if (!hydrosphereNamePattern.test(name)) {
    throw new MllError(
      'INVALID_MODEL_NAME',
      `"${name.length > 80 ? `${name.slice(0, 77)}...` : name}" is not a model name: use 1-255 characters without spaces, control characters, "/" or "\\"`,
      { details: { name, pattern: hydrosphereNamePattern.source } },
    );
  }
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_LENGTH);
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, 63 - HASH_LENGTH - 1)
    .replace(/[-_]+$/, '');
  return `${slug === '' ? 'model' : slug}-${hash}`;
}

export function parseVersionNumber(raw: string): number {
  const n = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new MllError('INVALID_VERSION', `"${raw}" is not a version number (1, 2, 3, …)`);
  }
  return n;
}
