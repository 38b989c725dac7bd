import fs from 'node:fs/promises';
import path from 'node:path';

/** For the tests that scan our TypeScript for a pattern that bypasses a catalogue. */

/** The source without its comments (block comments, and line comments not inside a URL or string start). */
export function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\'"`])\/\/.*$/gm, '$1');
}

/** Every .ts file under `dir`, at any depth. */
export async function typescriptFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await typescriptFiles(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}
