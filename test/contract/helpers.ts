import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isMllError, type ErrorCode, type MllError } from '../../src/errors.js';
import { repoRoot, requireSharedFixtures } from '../support/paths.js';

export const ownFixtures = path.join(repoRoot, 'test', 'fixtures', 'contract');

export function sharedModel(framework: string, name: string): string {
  return path.join(requireSharedFixtures(), framework, name, 'model');
}

export function ownModel(framework: string, name: string): string {
  return path.join(ownFixtures, framework, name, 'model');
}

/** Runs fn with a fresh temporary folder, removed afterwards. */
export async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mll-contract-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function writeTree(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

/** Awaits p, requires an MllError with `code` (and a message matching each pattern), returns it. */
export async function rejectsWith(p: Promise<unknown> | (() => unknown), code: ErrorCode, ...patterns: RegExp[]): Promise<MllError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code}, but it succeeded`);
  assert.ok(isMllError(caught), `expected an MllError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  for (const re of patterns) assert.match(caught.message, re);
  return caught;
}
