import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSse, type SseMessage } from '../../src/shared/sse-reader.js';

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array | string> {
  for (const p of parts) yield p;
}

async function read(parts: (string | Uint8Array)[], onRetry?: (ms: number) => void): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const m of readSse(chunks(...parts), { onRetry })) out.push(m);
  return out;
}

/** Every way of cutting `text` in two, as bytes: no chunk boundary may change what is parsed. */
async function everySplit(text: string, expected: SseMessage[]): Promise<void> {
  const bytes = Buffer.from(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(await read([bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `cut at byte ${cut}`);
  }
}

describe('readSse (the one server-sent events parser)', () => {
  it('ends lines with CRLF, LF or a lone CR, a CRLF split across chunks included', async () => {
    await everySplit('event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\n\n', [
      { event: 'a', data: '1', id: undefined },
      { event: 'b', data: '2', id: undefined },
      { event: 'c', data: '3', id: undefined },
    ]);
  });

  it('joins multi-line data with newlines, keeps empty data lines, and strips one leading space only', async () => {
    await everySplit('data: {"a":\ndata:  1}\ndata\ndata:\n\n', [{ event: 'message', data: '{"a":\n 1}\n\n', id: undefined }]);
  });

  it('skips comments (heartbeats) and blocks without data', async () => {
    await everySplit(': heartbeat\n\n:\n\nevent: lonely\n\ndata: x\n: in the middle\n\n', [{ event: 'message', data: 'x', id: undefined }]);
  });

  it('reports retry through onRetry, ignoring values that are not digits', async () => {
    const seen: number[] = [];
    const events = await read(['retry: 2500\n\nretry: soon\nretry: 10\ndata: x\n\n'], (ms) => seen.push(ms));
    assert.deepEqual(seen, [2500, 10]);
    assert.deepEqual(events, [{ event: 'message', data: 'x', id: undefined }]);
  });

  it('keeps the last id for every later event, ignores ids holding NUL, and lets an empty id reset it', async () => {
    await everySplit('id: 1-0\ndata: a\n\ndata: b\n\nid: bad\0id\ndata: c\n\nid\ndata: d\n\n', [
      { event: 'message', data: 'a', id: '1-0' },
      { event: 'message', data: 'b', id: '1-0' },
      { event: 'message', data: 'c', id: '1-0' },
      { event: 'message', data: 'd', id: '' },
    ]);
  });

  it('drops an event the stream cut off before its blank line, and a leading BOM', async () => {
    assert.deepEqual(await read(['\uFEFFdata: whole\n\ndata: cut']), [{ event: 'message', data: 'whole', id: undefined }]);
  });

  it('decodes UTF-8 split inside a character', async () => {
    const bytes = Buffer.from('data: naïve ✓\n\n');
    const at = bytes.indexOf(0xc3) + 1;
    assert.deepEqual(await read([bytes.subarray(0, at), bytes.subarray(at)]), [{ event: 'message', data: 'naïve ✓', id: undefined }]);
  });
});
