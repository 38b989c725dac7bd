import { mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import protobuf from 'protobufjs';

/**
 * Writers of very large models for the benchmark and the bounded-reading test. The weights are
 * holes of a sparse file (zeros on read, no disk used), so a 1 GiB model is written in
 * milliseconds; the protobuf framing around them is exact.
 */

const { Writer } = protobuf;

function bytes(w: protobuf.Writer): Uint8Array {
  return w.finish();
}

function lenPrefixed(field: number, body: Uint8Array): Uint8Array {
  return bytes(Writer.create().uint32((field << 3) | 2).bytes(body));
}

function str(field: number, s: string): Uint8Array {
  return bytes(Writer.create().uint32((field << 3) | 2).string(s));
}

function varintField(field: number, v: number): Uint8Array {
  return bytes(Writer.create().uint32(field << 3).int64(v));
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** ONNX ValueInfoProto of a float tensor with dims (string = dim_param). */
function valueInfo(name: string, dims: (number | string)[]): Uint8Array {
  const dimMsgs = dims.map((d) => lenPrefixed(1, typeof d === 'number' ? varintField(1, d) : str(2, d)));
  const shape = cat(...dimMsgs);
  const tensor = cat(varintField(1, 1), lenPrefixed(2, shape));
  const type = lenPrefixed(1, tensor);
  return cat(str(1, name), lenPrefixed(2, type));
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function tagAndLength(field: number, length: number): Uint8Array {
  return bytes(Writer.create().uint32((field << 3) | 2).uint32(length));
}

/**
 * An ONNX model with `count` float initializers of `bytesEach` bytes of raw_data each (in the
 * order exporters write them: after the nodes, before the inputs), one MatMul-like node chain,
 * input x [batch, 256] and output y [batch, 256]. Returns the file size.
 */
export async function writeBigOnnx(file: string, count: number, bytesEach: number): Promise<number> {
  const floats = bytesEach / 4;
  const nodes = Array.from({ length: count }, (_, i) =>
    lenPrefixed(1, cat(str(1, i === 0 ? 'x' : `h${i - 1}`), str(1, `w${i}`), str(2, i === count - 1 ? 'y' : `h${i}`), str(3, `matmul${i}`), str(4, 'MatMul'))),
  );
  const initHeads = Array.from({ length: count }, (_, i) => {
    const head = cat(varintField(1, floats), varintField(2, 1), str(8, `w${i}`), tagAndLength(9, bytesEach));
    return { head, tensorLength: head.length + bytesEach };
  });
  const tail = cat(lenPrefixed(11, valueInfo('x', ['batch', floats])), lenPrefixed(12, valueInfo('y', ['batch', floats])));
  const graphHead = cat(...nodes, str(2, 'big'));
  const graphLength =
    graphHead.length + initHeads.reduce((n, h) => n + 1 + varintSize(h.tensorLength) + h.tensorLength, 0) + tail.length;
  const modelHead = cat(varintField(1, 8), str(2, 'mll-bench'), str(3, '1'), tagAndLength(7, graphLength), graphHead);
  const opset = lenPrefixed(8, cat(str(1, ''), varintField(2, 17)));

  const fh = await open(file, 'w');
  try {
    let at = 0;
    const put = async (b: Uint8Array) => {
      await fh.write(b, 0, b.length, at);
      at += b.length;
    };
    await put(modelHead);
    for (const h of initHeads) {
      await put(tagAndLength(5, h.tensorLength));
      await put(h.head);
      at += bytesEach; // the weights: a hole
    }
    await put(tail);
    await put(opset);
    await fh.truncate(at);
    return at;
  } finally {
    await fh.close();
  }
}

/** A SavedModel with one serve MetaGraph, a small graph and `variableBytes` of (sparse) variables. */
export async function writeBigSavedModel(dir: string, variableBytes: number, graphConstBytes = 0): Promise<number> {
  await mkdir(path.join(dir, 'variables'), { recursive: true });
  const dim = (size: number) => lenPrefixed(2, varintField(1, size));
  const tensorInfo = (name: string, dtype: number, dims: number[]) => cat(str(1, name), varintField(2, dtype), lenPrefixed(3, cat(...dims.map(dim))));
  const entry = (key: string, value: Uint8Array) => cat(str(1, key), lenPrefixed(2, value));
  const signature = cat(
    lenPrefixed(1, entry('x', tensorInfo('x:0', 1, [-1, 784]))),
    lenPrefixed(2, entry('probabilities', tensorInfo('probs:0', 1, [-1, 10]))),
    lenPrefixed(2, entry('classes', tensorInfo('classes:0', 9, [-1]))),
    str(3, 'tensorflow/serving/predict'),
  );
  const metaInfo = cat(str(1, 'v2.15.0'), str(4, 'serve'), str(5, '2.15.0'));
  // graphConstBytes of opaque graph content (a stand-in for embedded constants, as a GraphDef
  // function library): the reader must skip the whole graph_def unread.
  const graphHead = lenPrefixed(1, cat(str(1, 'x'), str(2, 'Placeholder')));
  const graphBody = graphConstBytes > 0 ? cat(graphHead, tagAndLength(2, graphConstBytes)) : graphHead;
  const graphLength = graphBody.length + graphConstBytes;
  const metaHead = cat(lenPrefixed(1, metaInfo), tagAndLength(2, graphLength), graphBody);
  const metaTail = lenPrefixed(5, entry('serving_default', signature));
  const metaLength = metaHead.length + graphConstBytes + metaTail.length;
  const fileHead = cat(varintField(1, 1), tagAndLength(2, metaLength), metaHead);

  const pb = path.join(dir, 'saved_model.pb');
  const fh = await open(pb, 'w');
  let pbSize: number;
  try {
    await fh.write(fileHead, 0, fileHead.length, 0);
    const tailAt = fileHead.length + graphConstBytes;
    await fh.write(metaTail, 0, metaTail.length, tailAt);
    pbSize = tailAt + metaTail.length;
    await fh.truncate(pbSize);
  } finally {
    await fh.close();
  }
  await writeFile(path.join(dir, 'variables', 'variables.index'), new Uint8Array(256));
  const data = await open(path.join(dir, 'variables', 'variables.data-00000-of-00001'), 'w');
  try {
    await data.truncate(variableBytes);
  } finally {
    await data.close();
  }
  return pbSize + 256 + variableBytes;
}
