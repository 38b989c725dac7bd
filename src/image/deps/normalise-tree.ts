import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The oci builder's run of the normalisation in normalise.ts (NORMALISE_PY), done here rather than
 * in a second Python process after pip: the same steps, in the same order, with the same output
 * (a test runs both over one pip tree and compares them byte for byte).
 */
export async function normaliseTree(root: string): Promise<void> {
  const removed = new Set<string>();
  await removeVarying(root, '', removed);
  const rewritten = await rewriteShebangs(root);
  for (const entry of (await fs.readdir(root)).sort()) {
    if (!entry.endsWith('.dist-info')) continue;
    const record = path.join(root, entry, 'RECORD');
    const text = await fs.readFile(record, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let changed = false;
    const out: string[][] = [];
    for (const row of parseCsv(text)) {
      const rel = inTarget(row[0]!);
      if (removed.has(rel) || rel.endsWith('.pyc')) {
        changed = true;
        continue;
      }
      const data = rewritten.get(rel);
      if (data && row.length >= 3) {
        const fresh = [row[0]!, recordHash(data), String(data.length)];
        if (fresh.some((v, i) => v !== row[i])) changed = true;
        out.push([...fresh, ...row.slice(3)]);
      } else out.push(row);
    }
    if (changed) await fs.writeFile(record, formatCsv(out));
  }
}

async function removeVarying(root: string, rel: string, removed: Set<string>): Promise<void> {
  const dir = path.join(root, rel);
  const isDistInfo = rel.endsWith('.dist-info');
  for (const d of await fs.readdir(dir, { withFileTypes: true })) {
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) {
      if (d.name === '__pycache__') {
        for (const f of await filesUnder(root, childRel)) removed.add(f);
        await fs.rm(path.join(root, childRel), { recursive: true, force: true });
      } else await removeVarying(root, childRel, removed);
    } else if (d.name.endsWith('.pyc') || (isDistInfo && (d.name === 'direct_url.json' || d.name === 'REQUESTED'))) {
      await fs.rm(path.join(root, childRel), { force: true });
      removed.add(childRel);
    }
  }
}

async function filesUnder(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const childRel = `${rel}/${d.name}`;
    if (d.isDirectory()) out.push(...(await filesUnder(root, childRel)));
    else out.push(childRel);
  }
  return out;
}

/** Scripts in bin/ whose first line is a python shebang get `#!/usr/bin/env python3`. */
async function rewriteShebangs(root: string): Promise<Map<string, Buffer>> {
  const rewritten = new Map<string, Buffer>();
  const bin = path.join(root, 'bin');
  const names = await fs.readdir(bin).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const full = path.join(bin, name);
    const st = await fs.lstat(full);
    if (!st.isFile()) continue;
    const data = await fs.readFile(full);
    const nl = data.indexOf(0x0a);
    const first = nl < 0 ? data : data.subarray(0, nl);
    if (!(first[0] === 0x23 && first[1] === 0x21 && first.includes('python'))) continue;
    const fresh = Buffer.concat([Buffer.from('#!/usr/bin/env python3\n'), nl < 0 ? Buffer.alloc(0) : data.subarray(nl + 1)]);
    if (!fresh.equals(data)) await fs.writeFile(full, fresh);
    rewritten.set(`bin/${name}`, fresh);
  }
  return rewritten;
}

/** A RECORD path as a path in the target (pip --target records `../../bin/x` for bin/x), normalised like os.path.normpath. */
function inTarget(p: string): string {
  let s = p.replace(/\\/g, '/');
  if (s.startsWith('../../')) s = s.slice(6);
  const normal = path.posix.normalize(s).replace(/\/+$/, '');
  return normal === '' ? '.' : normal;
}

function recordHash(data: Buffer): string {
  return `sha256=${createHash('sha256').update(data).digest('base64url')}`;
}

/** CSV as Python's csv module reads it (excel dialect): quoted fields, doubled quotes, CRLF or LF; empty lines skipped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      started = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
      started = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (started || field !== '') rows.push([...row, field]);
      row = [];
      field = '';
      started = false;
    } else {
      field += c;
      started = true;
    }
  }
  if (started || field !== '') rows.push([...row, field]);
  return rows;
}

/** CSV as Python's csv.writer writes it (excel dialect): minimal quoting, CRLF after every row. */
export function formatCsv(rows: string[][]): string {
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return rows.map((r) => `${r.length === 1 && r[0] === '' ? '""' : r.map(quote).join(',')}\r\n`).join('');
}
