/**
 * Human output: aligned tables, sizes, durations, and colours only on a terminal (NO_COLOR and
 * TERM=dumb turn them off, FORCE_COLOR turns them on).
 */

export interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function colorEnabled(stream: Stream, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export interface Colors {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string) => s;

export function colors(enabled: boolean): Colors {
  if (!enabled) return { red: plain, green: plain, yellow: plain, cyan: plain, dim: plain, bold: plain };
  return { red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
}

/** The status word coloured by what it means. */
export function paintStatus(status: string, c: Colors): string {
  if (status === 'released' || status === 'delivered') return c.green(status);
  if (status === 'failed' || status === 'rejected' || status === 'gave_up') return c.red(status);
  if (status === 'queued' || status === 'pending') return c.dim(status);
  return c.yellow(status);
}

// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;]*m/g;
export const visibleLength = (s: string) => s.replace(ansi, '').length;

/**
 * Rows as aligned columns (two spaces apart); the first row is the header. The last column is
 * never padded, so long messages do not push trailing blanks.
 */
export function table(header: string[], rows: string[][], c: Colors = colors(false)): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => visibleLength(r[i] ?? ''))));
  const line = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell)))).join('  ').trimEnd();
  return `${[c.bold(line(header)), ...rows.map(line)].join('\n')}\n`;
}

/** `key  value` lines with the keys aligned. */
export function keyValues(pairs: [string, string][], c: Colors = colors(false)): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${c.dim(k.padEnd(width))}  ${v}`).join('\n') + '\n';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** ISO time as local `YYYY-MM-DD HH:MM:SS`, or an em dash. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function clockTime(iso: string | undefined): string {
  return formatTime(iso).slice(11) || '--:--:--';
}

/** `sha256:0123456789ab` from a full digest. */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) return '';
  const [algo, hex] = digest.split(':');
  return hex ? `${algo}:${hex.slice(0, 12)}` : digest;
}

/** A message on one line, cut at `max` characters. */
export function oneLine(s: string, max = 160): string {
  const flat = s.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function writeJson(stream: Stream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}
