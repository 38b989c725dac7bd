/** Formatting of times, durations, sizes, digests and shapes for display. */

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

const units = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "3 minutes ago", "just now". */
export function timeAgo(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const seconds = Math.round((t - now) / 1000);
  if (Math.abs(seconds) < 10) return 'just now';
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return relative.format(Math.round(seconds / size), unit);
  }
  return '';
}

export function dateTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : absolute.format(t);
}

/** "2.4 s", "1 min 05 s", "1 h 02 min". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const names = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < names.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${names[i]}`;
}

/** sha256:abcdef… → "sha256:abcdef123456". */
export function shortDigest(digest, length = 12) {
  if (!digest) return '';
  const [algo, hex] = digest.includes(':') ? digest.split(':', 2) : ['', digest];
  return algo ? `${algo}:${hex.slice(0, length)}` : hex.slice(0, length);
}

/**
 * A contract shape as people read it: null → "unknown rank", [] → "scalar", -1 → "?",
 * symbolic dims by name: [batch, 3].
 */
export function shape(dims, dimNames) {
  if (dims === null || dims === undefined) return 'unknown rank';
  if (dims.length === 0) return 'scalar';
  return `[${dims.map((d, i) => dimNames?.[i] ?? (d === -1 ? '?' : String(d))).join(', ')}]`;
}

/** Stage timings → the build duration (first start to last finish, or to now while running). */
export function buildDuration(version, now = Date.now()) {
  const stages = Object.values(version.stages ?? {});
  const starts = stages.map((s) => Date.parse(s.startedAt)).filter((t) => !Number.isNaN(t));
  if (starts.length === 0) return null;
  const start = Math.min(...starts);
  const terminal = version.status === 'released' || version.status === 'failed';
  if (!terminal) return { ms: now - start, running: true };
  const ends = stages.map((s) => Date.parse(s.finishedAt)).filter((t) => !Number.isNaN(t));
  const end = Math.max(...ends, Date.parse(version.updatedAt) || 0);
  return { ms: end - start, running: false };
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
