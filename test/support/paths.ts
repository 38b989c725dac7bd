import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The shared model fixtures live outside this repository, in ../shared/fixtures next to the clone
 * (never committed here). MLL_SHARED_FIXTURES overrides the place. Tests that need them say so
 * clearly when a clone has no ../shared.
 */
export const sharedFixturesDir = process.env.MLL_SHARED_FIXTURES ?? path.resolve(repoRoot, '..', 'shared', 'fixtures');

export function requireSharedFixtures(): string {
  if (!existsSync(sharedFixturesDir)) {
    throw new Error(
      `The shared model fixtures are not at ${sharedFixturesDir}. They are not part of this repository: ` +
        'clone it next to the team\'s shared/ folder, or set MLL_SHARED_FIXTURES to their path.',
    );
  }
  return sharedFixturesDir;
}
