import cliProgress from 'cli-progress';
import { formatBytes, formatDuration, type Stream } from './output.js';

/**
 * Progress on stderr: cli-progress bars on a terminal, a plain line every few seconds otherwise
 * (logs and CI), nothing with --json.
 */
export type ProgressMode = 'bar' | 'lines' | 'off';

export function progressMode(stderr: Stream, json: boolean): ProgressMode {
  if (json) return 'off';
  return stderr.isTTY ? 'bar' : 'lines';
}

export interface ByteProgress {
  update(done: number): void;
  /** Final line (plain mode) and the bar closed. */
  finish(): void;
  /** Closes the bar without a success line. */
  abort(): void;
}

/** Bytes sent of a known total: percentage, rate and ETA. */
export function byteProgress(stream: Stream, mode: ProgressMode, label: string, total: number, intervalMs = 2000): ByteProgress {
  const started = Date.now();
  let done = 0;
  const rate = () => done / Math.max((Date.now() - started) / 1000, 0.001);
  if (mode === 'off') return { update: (n) => void (done = n), finish: () => undefined, abort: () => undefined };
  if (mode === 'bar') {
    const bar = new cliProgress.SingleBar({
      stream: stream as NodeJS.WritableStream,
      format: `${label} [{bar}] {percentage}% | {done}/{size} | {rate}/s | ETA {eta_formatted}`,
      barsize: 30, hideCursor: true, etaBuffer: 50, fps: 10,
    }, cliProgress.Presets.shades_classic);
    const payload = () => ({ done: formatBytes(done), size: formatBytes(total), rate: formatBytes(Math.round(rate())) });
    bar.start(Math.max(total, 1), 0, payload());
    return {
      update(n) {
        done = n;
        bar.update(Math.min(n, Math.max(total, 1)), payload());
      },
      finish() {
        bar.update(Math.max(total, 1), payload());
        bar.stop();
      },
      abort: () => bar.stop(),
    };
  }
  let lastLine = started;
  return {
    update(n) {
      done = n;
      const now = Date.now();
      if (now - lastLine < intervalMs) return;
      lastLine = now;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
      const eta = rate() > 0 ? formatDuration((1000 * Math.max(total - done, 0)) / rate()) : '?';
      stream.write(`${label}: ${formatBytes(done)} / ${formatBytes(total)} (${pct}%), ${formatBytes(Math.round(rate()))}/s, ETA ${eta}\n`);
    },
    finish() {
      const ms = Date.now() - started;
      stream.write(`${label}: sent ${formatBytes(total)} in ${formatDuration(ms)}${ms > 0 ? ` (${formatBytes(Math.round((1000 * total) / ms))}/s)` : ''}\n`);
    },
    abort: () => undefined,
  };
}

export interface BatchCounts {
  total: number;
  /** Models whose bytes have been sent. */
  sent: number;
  sentBytes: number;
  released: number;
  failed: number;
  /** Refused at intake (never became a version). */
  rejected: number;
}

export interface BatchProgress {
  update(counts: Partial<BatchCounts>): void;
  /** A line above the bars (or just a line without them). */
  log(line: string): void;
  stop(): void;
}

/** Overall progress of a batch: models sent, then released / failed / still running. */
export function batchProgress(stream: Stream, mode: ProgressMode, total: number, intervalMs = 5000): BatchProgress {
  const started = Date.now();
  const c: BatchCounts = { total, sent: 0, sentBytes: 0, released: 0, failed: 0, rejected: 0 };
  const finished = () => c.released + c.failed + c.rejected;
  if (mode === 'off') return { update: (u) => void Object.assign(c, u), log: () => undefined, stop: () => undefined };
  if (mode === 'bar') {
    const multi = new cliProgress.MultiBar({
      stream: stream as NodeJS.WritableStream, hideCursor: true, barsize: 30, fps: 5, etaBuffer: 100,
    }, cliProgress.Presets.shades_classic);
    const upload = multi.create(total, 0, { detail: '' }, { format: 'upload [{bar}] {value}/{total} sent | {detail}' });
    const build = multi.create(total, 0, { detail: '' }, { format: 'build  [{bar}] {value}/{total} done | {detail}' });
    const draw = () => {
      const ms = Math.max(Date.now() - started, 1);
      const done = finished();
      const eta = done > 0 && done < c.total ? ` | ETA ${formatDuration(((c.total - done) * ms) / done)}` : '';
      upload.update(c.sent, { detail: `${formatBytes(c.sentBytes)} | ${((1000 * c.sent) / ms).toFixed(1)} models/s` });
      build.update(done, { detail: `${c.released} released | ${c.failed + c.rejected} failed | ${Math.max(c.sent - done, 0)} running${eta}` });
    };
    draw();
    const timer = setInterval(draw, 500);
    timer.unref();
    return {
      update(u) {
        Object.assign(c, u);
        draw();
      },
      log: (line) => multi.log(`${line}\n`),
      stop() {
        clearInterval(timer);
        draw();
        multi.stop();
      },
    };
  }
  let lastLine = 0;
  const line = () => {
    const running = Math.max(c.sent - c.rejected - c.released - c.failed, 0);
    stream.write(`batch: sent ${c.sent}/${c.total}, released ${c.released}, failed ${c.failed + c.rejected}, running ${running} (${formatDuration(Date.now() - started)})\n`);
  };
  return {
    update(u) {
      Object.assign(c, u);
      const now = Date.now();
      if (now - lastLine >= intervalMs) {
        lastLine = now;
        line();
      }
    },
    log: (l) => stream.write(`${l}\n`),
    stop: line,
  };
}
