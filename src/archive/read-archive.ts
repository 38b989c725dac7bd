import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { isMllError, MllError } from '../errors.js';
import { EntryPolicy, type ArchiveLimits, type SafeEntry } from './entry-policy.js';

export type ArchiveFormat = 'tar' | 'tar+gzip';

export interface ArchiveItem {
  entry: SafeEntry;
  /** The entry's bytes (regular files only). The consumer must read or resume it before the next item. */
  body: Readable | null;
}

export interface ArchiveSummary {
  format: ArchiveFormat;
  entries: number;
  files: number;
  unpackedBytes: number;
}

const magic = {
  gzip: [0x1f, 0x8b],
  zip: [0x50, 0x4b, 0x03, 0x04],
  bzip2: [0x42, 0x5a, 0x68],
  xz: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
  zstd: [0x28, 0xb5, 0x2f, 0xfd],
};
const startsWith = (buf: Buffer, bytes: number[]) => bytes.every((b, i) => buf[i] === b);

function invalid(message: string, cause?: unknown): MllError {
  return new MllError('INVALID_ARCHIVE', message, { cause });
}

/** Names the archive format from its first bytes, refusing the ones we do not read. */
export function sniffFormat(head: Buffer): ArchiveFormat {
  if (startsWith(head, magic.gzip)) return 'tar+gzip';
  if (startsWith(head, magic.zip)) throw invalid('The payload is a zip archive; send a tar or a tar.gz (tar czf model.tar.gz -C model .)');
  if (startsWith(head, magic.bzip2) || startsWith(head, magic.xz) || startsWith(head, magic.zstd)) {
    throw invalid('The payload is bzip2, xz or zstd compressed; send a plain tar or a gzip-compressed tar');
  }
  return 'tar';
}

/** Maps the parser's and zlib's errors to one clear INVALID_ARCHIVE message. */
function explain(err: unknown, format: ArchiveFormat): unknown {
  if (isMllError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('Z_') || /unexpected end of file|incorrect header check|invalid (block|distance|stored)/i.test(message)) {
    return invalid(`The gzip data is corrupt or truncated (${message}); check the upload is a complete .tar.gz`, err);
  }
  if (/Invalid tar header/i.test(message)) {
    return invalid(
      format === 'tar'
        ? 'The payload is not a tar archive (no valid tar header); send a tar or tar.gz of the model folder'
        : 'The gzip data does not hold a tar archive; send a gzip-compressed tar of the model folder',
      err,
    );
  }
  // The parser destroys the entry it was reading when the data stops: that is a truncation too.
  if (/Unexpected end of data|premature close|Stream was destroyed/i.test(message) || code === 'STREAM_DESTROYED') {
    return invalid('The tar archive is truncated: it ends in the middle of an entry', err);
  }
  if (/Header exceeds max size|Invalid header/i.test(message)) return invalid(`The tar archive has a malformed header (${message})`, err);
  return err;
}

/** Re-raises a body's stream errors (truncation, corrupt gzip) as explained archive errors. */
async function* explained(body: Readable, format: ArchiveFormat): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    throw explain(err, format);
  }
}

/** Caps the bytes that decompression may produce, so a gzip bomb fails fast instead of spinning. */
function expansionCap(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) {
        done(new MllError('ARCHIVE_TOO_LARGE', `The archive expands to more than ${limit} bytes of tar data (MLL_MAX_UNPACKED_BYTES)`, {
          details: { limit, rule: 'max-expanded-bytes' },
        }));
      } else done(null, chunk);
    },
  });
}

/**
 * Reads a tar or tar.gz stream entry by entry, applying the archive policy to every header before
 * any byte of the entry is handed out. Streams: nothing is buffered beyond the parser's own window.
 * The generator's return value summarises the archive; an archive without a single file is refused.
 */
export async function* readArchive(
  input: Readable,
  limits: ArchiveLimits,
  signal?: AbortSignal,
): AsyncGenerator<ArchiveItem, ArchiveSummary, undefined> {
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  const early: Buffer[] = [];
  while (head.length < 6) {
    const next = await chunks.next();
    if (next.done) break;
    early.push(next.value);
    head = Buffer.concat([head, next.value]);
  }
  if (head.length === 0) throw new MllError('EMPTY_PAYLOAD', 'The payload is empty: send a tar or tar.gz of the model files');
  const format = sniffFormat(head);
  const rest = Readable.from(
    (async function* replay() {
      yield* early;
      for (let n = await chunks.next(); !n.done; n = await chunks.next()) yield n.value;
    })(),
    { objectMode: false },
  );

  const extractor = tarExtract();
  const policy = new EntryPolicy(limits);
  // Tar adds at most 1.5 KiB of headers per entry, plus end-of-archive padding.
  const tarByteLimit = limits.maxUnpackedBytes + limits.maxEntries * 1536 + 1024 * 1024;
  const stages: NodeJS.ReadWriteStream[] = format === 'tar+gzip' ? [createGunzip(), expansionCap(tarByteLimit)] : [];
  let pipeError: unknown;
  const pipe = new Promise<void>((resolve) => {
    pipeline([rest, ...stages, extractor as unknown as NodeJS.WritableStream], (err) => {
      if (err) pipeError ??= err;
      resolve();
    });
  });
  const onAbort = () => extractor.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  let finished = false;

  try {
    for await (const item of extractor as AsyncIterable<Readable & { header: { name: string; type: string | null; size?: number; mode?: number; linkname?: string | null } }>) {
      let entry: SafeEntry | undefined;
      try {
        entry = policy.admit(item.header);
      } catch (err) {
        item.resume();
        throw err;
      }
      if (!entry || entry.type !== 'file') {
        item.resume();
        if (entry) yield { entry, body: null };
        continue;
      }
      yield { entry, body: Readable.from(explained(item, format), { objectMode: false }) };
    }
    await pipe;
    if (pipeError) throw pipeError;
    finished = true;
  } catch (err) {
    throw explain(pipeError && !isMllError(err) ? pipeError : err, format);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      // Failed, or the consumer stopped early: release the source and the parser.
      extractor.destroy();
      rest.destroy();
      input.destroy();
      await pipe;
    }
  }
  const stats = policy.stats;
  if (stats.files === 0) {
    throw invalid(stats.entries === 0
      ? 'The archive holds no entries: send a tar or tar.gz of the model files'
      : 'The archive holds only directories and links, no files');
  }
  return { format, ...stats };
}
