import fs from 'node:fs/promises';
import path from 'node:path';
import { usageError } from './errors.js';

/**
 * Glob expansion for arguments the shell left alone (quoted, or on shells that do not expand):
 * `*`, `?`, `[abc]` within a path segment and `**` for any depth. Hidden entries match only a
 * segment that starts with a dot. Results are sorted; literal paths pass through unchanged.
 */

export const hasGlob = (s: string) => /[*?[]/.test(s);

function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = segment.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function entries(dir: string): Promise<{ name: string; dir: boolean }[]> {
  const list = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  return Promise.all(list.map(async (e) => ({
    name: e.name,
    dir: e.isDirectory() || (e.isSymbolicLink() && (await fs.stat(path.join(dir, e.name)).catch(() => null))?.isDirectory() === true),
  })));
}

async function expand(base: string, segments: string[], out: Set<string>): Promise<void> {
  if (segments.length === 0) {
    out.add(base);
    return;
  }
  const [head, ...rest] = segments as [string, ...string[]];
  if (head === '**') {
    await expand(base, rest, out);
    for (const e of await entries(base)) {
      if (e.dir && !e.name.startsWith('.')) await expand(path.join(base, e.name), segments, out);
    }
    return;
  }
  if (!hasGlob(head)) {
    const next = path.join(base, head);
    if (rest.length === 0) {
      if (await fs.stat(next).then(() => true, () => false)) out.add(next);
    } else await expand(next, rest, out);
    return;
  }
  const re = segmentRegex(head);
  for (const e of await entries(base)) {
    if (e.name.startsWith('.') && !head.startsWith('.')) continue;
    if (!re.test(e.name)) continue;
    if (rest.length > 0 && !e.dir) continue;
    await expand(path.join(base, e.name), rest, out);
  }
}

export async function expandGlob(pattern: string, cwd = process.cwd()): Promise<string[]> {
  const abs = path.isAbsolute(pattern);
  const segments = pattern.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  const out = new Set<string>();
  await expand(abs ? path.parse(pattern).root : cwd, segments, out);
  return [...out].sort();
}

/** Arguments as paths: existing paths as given, patterns expanded; no match is a usage error. */
export async function expandArguments(args: string[], cwd = process.cwd()): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const arg of args) {
    const literal = await fs.stat(path.resolve(cwd, arg)).then(() => true, () => false);
    const matches = literal || !hasGlob(arg) ? [path.resolve(cwd, arg)] : await expandGlob(arg, cwd);
    if (matches.length === 0) throw usageError(`nothing matches ${arg}`);
    for (const m of matches) {
      if (seen.has(m)) continue;
      seen.add(m);
      out.push(m);
    }
  }
  return out;
}
