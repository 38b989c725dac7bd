/**
 * A streaming protobuf wire-format filter. It walks a message in a file without loading it,
 * keeps the fields a plan names, descends into the sub-messages the plan names, and skips the
 * rest by their length prefix (a skipped field costs no read). The result is a smaller message
 * with the same field numbers, decoded afterwards with protobufjs.
 *
 * The walk is synchronous: its reads are small positional reads of metadata, and a model with
 * thousands of initializers needs thousands of them; a promise per field would cost more than
 * the reads.
 */

export interface ByteSource {
  readonly size: number;
  /** Whether bytes [pos, pos + n) are buffered (byteAt may be called on them). */
  covers(pos: number, n: number): boolean;
  /** Buffers bytes [pos, pos + n) (clipped to the end of the source). */
  ensure(pos: number, n: number): void;
  byteAt(pos: number): number;
  /** A copy of bytes [pos, pos + len). */
  read(pos: number, len: number): Uint8Array;
}

export interface PrunePlan {
  /** Fields copied as they are. */
  keep?: readonly number[];
  /** Length-delimited sub-messages filtered by their own plan. */
  descend?: Readonly<Record<number, PrunePlan>>;
}

/** The file is not the protobuf it claims to be (truncated, bad wire type, ...). */
export class MalformedProtobuf extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'MalformedProtobuf';
  }
}

/** The kept fields would exceed the budget: no sane model metadata is this large. */
export class MetadataTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} bytes of metadata`);
    this.name = 'MetadataTooLarge';
  }
}

const MAX_GROUP_DEPTH = 32;
/** Real models have at most a few hundred thousand fields outside their weights. */
const MAX_FIELDS = 20_000_000;

class Output {
  chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
}

/** Tag and length of a length-delimited field, as one small array. */
function header(tag: number, length: number): Uint8Array {
  const out = new Uint8Array(20);
  let at = 0;
  for (let v of [tag, length]) {
    while (v >= 0x80) {
      out[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    out[at++] = v;
  }
  return out.subarray(0, at);
}

export function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

class Walker {
  kept = 0;
  fields = 0;
  constructor(
    private readonly src: ByteSource,
    private readonly budget: number,
  ) {}

  /** Reads a varint at pos (not past end); returns [value, next position]. */
  varint(pos: number, end: number): [number, number] {
    const n = Math.min(10, end - pos);
    if (!this.src.covers(pos, n)) this.src.ensure(pos, n);
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos + i >= end) throw new MalformedProtobuf(`truncated varint at byte ${pos}`, pos);
      const b = this.src.byteAt(pos + i);
      value += (b & 0x7f) * scale;
      scale *= 0x80;
      if (b < 0x80) return [value, pos + i + 1];
    }
    throw new MalformedProtobuf(`varint longer than 10 bytes at byte ${pos}`, pos);
  }

  private charge(n: number): void {
    this.kept += n;
    if (this.kept > this.budget) throw new MetadataTooLarge(this.budget);
  }

  /** Position after the value of a field with wire type wt whose value starts at pos. */
  private skipValue(fieldNo: number, wt: number, pos: number, end: number, depth: number): number {
    switch (wt) {
      case 0:
        return this.varint(pos, end)[1];
      case 1:
        return this.fixed(pos, 8, end);
      case 5:
        return this.fixed(pos, 4, end);
      case 2: {
        const [len, at] = this.varint(pos, end);
        if (len > end - at) {
          throw new MalformedProtobuf(`field ${fieldNo} at byte ${pos} claims ${len} bytes but only ${end - at} remain`, pos);
        }
        return at + len;
      }
      case 3:
        return this.skipGroup(fieldNo, pos, end, depth + 1);
      default:
        throw new MalformedProtobuf(`wire type ${wt} of field ${fieldNo} is not valid at byte ${pos}`, pos);
    }
  }

  private fixed(pos: number, n: number, end: number): number {
    if (n > end - pos) throw new MalformedProtobuf(`truncated fixed-size field at byte ${pos}`, pos);
    return pos + n;
  }

  private skipGroup(groupNo: number, pos: number, end: number, depth: number): number {
    if (depth > MAX_GROUP_DEPTH) throw new MalformedProtobuf(`groups nested too deep at byte ${pos}`, pos);
    let at = pos;
    while (at < end) {
      const [tag, next] = this.varint(at, end);
      const fieldNo = Math.floor(tag / 8);
      const wt = tag % 8;
      if (fieldNo === 0) throw new MalformedProtobuf(`field number 0 at byte ${at}`, at);
      if (wt === 4) {
        if (fieldNo !== groupNo) throw new MalformedProtobuf(`mismatched end of group at byte ${at}`, at);
        return next;
      }
      at = this.skipValue(fieldNo, wt, next, end, depth);
    }
    throw new MalformedProtobuf(`unterminated group ${groupNo} at byte ${pos}`, pos);
  }

  message(start: number, end: number, plan: PrunePlan, out: Output): void {
    let at = start;
    while (at < end) {
      if (++this.fields > MAX_FIELDS) throw new MalformedProtobuf(`more than ${MAX_FIELDS} fields to walk; this is not a model file`, at);
      const [tag, valueAt] = this.varint(at, end);
      const fieldNo = Math.floor(tag / 8);
      const wt = tag % 8;
      if (fieldNo === 0) throw new MalformedProtobuf(`field number 0 at byte ${at}`, at);
      if (wt === 4) throw new MalformedProtobuf(`unexpected end of group at byte ${at}`, at);
      const child = plan.descend?.[fieldNo];
      if (child !== undefined && wt === 2) {
        const [len, contentAt] = this.varint(valueAt, end);
        if (len > end - contentAt) {
          throw new MalformedProtobuf(`field ${fieldNo} at byte ${at} claims ${len} bytes but only ${end - contentAt} remain`, at);
        }
        const inner = new Output();
        this.message(contentAt, contentAt + len, child, inner);
        const head = header(tag, inner.length);
        this.charge(head.length);
        out.push(head);
        for (const c of inner.chunks) out.push(c);
        at = contentAt + len;
        continue;
      }
      const next = this.skipValue(fieldNo, wt, valueAt, end, 0);
      if (plan.keep?.includes(fieldNo)) {
        this.charge(next - at);
        out.push(this.src.read(at, next - at));
      }
      at = next;
    }
    if (at !== end) throw new MalformedProtobuf(`a field overruns its message at byte ${end}`, end);
  }
}

/**
 * Filters the message that fills the whole source by `plan`. Throws MalformedProtobuf or
 * MetadataTooLarge (more than `budget` kept bytes).
 */
export function pruneMessage(src: ByteSource, plan: PrunePlan, budget: number): Uint8Array {
  const walker = new Walker(src, budget);
  const out = new Output();
  walker.message(0, src.size, plan, out);
  return concat(out.chunks, out.length);
}

/** An in-memory ByteSource (tests, small buffers). */
export class MemorySource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  covers(pos: number, n: number): boolean {
    return pos >= 0 && pos + n <= this.bytes.length;
  }
  ensure(): void {}
  byteAt(pos: number): number {
    const b = this.bytes[pos];
    if (b === undefined) throw new RangeError(`byte ${pos} is out of range`);
    return b;
  }
  read(pos: number, len: number): Uint8Array {
    if (pos + len > this.bytes.length) throw new RangeError('read past the end');
    return this.bytes.slice(pos, pos + len);
  }
}
