import { InvalidArgumentError } from 'commander';
import { parseVersionNumber } from '../domain/model-name.js';
import { usageError } from './errors.js';

/** Option parsers shared by the commands; a bad value is a usage error (exit 2). */

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return n;
}

export function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds above 0.');
  return n;
}

export function versionArgument(raw: string): number {
  try {
    return parseVersionNumber(raw);
  } catch {
    throw usageError(`"${raw}" is not a version number (1, 2, 3, …)`);
  }
}
