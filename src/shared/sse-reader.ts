/**
 * A server-sent events parser (text/event-stream, the WHATWG rules): `event`, `data` (joined by
 * newlines), `id` (kept for every later event; one holding NUL is ignored), `retry` (reported
 * through `onRetry`), comments, and blank-line dispatch. Lines end in LF, CRLF or a lone CR, split
 * across chunks anywhere. Heartbeat comments produce nothing. Works on fetch bodies and node streams.
 */
export interface SseMessage {
  event: string;
  data: string;
  /** The last event id the stream set (what a reconnection sends as Last-Event-ID). */
  id: string | undefined;
}

export interface SseOptions {
  /** The server's reconnection delay, in milliseconds, each time it sends one. */
  onRetry?: (ms: number) => void;
}

export async function* readSse(body: AsyncIterable<Uint8Array | string>, options: SseOptions = {}): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let sawData = false;
  const lines = function* (final: boolean): Generator<string> {
    let nl: number;
    while ((nl = buffer.search(/[\r\n]/)) >= 0) {
      // A lone CR at the end may be the first half of a CRLF split across chunks.
      if (!final && nl === buffer.length - 1 && buffer[nl] === '\r') return;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      yield line;
    }
  };
  const handle = function* (line: string): Generator<SseMessage> {
    if (line === '') {
      if (sawData) yield { event: event || 'message', data: data.join('\n'), id };
      event = '';
      data = [];
      sawData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') {
      data.push(value);
      sawData = true;
    } else if (field === 'id') {
      if (!value.includes('\0')) id = value;
    } else if (field === 'retry') {
      if (/^\d+$/.test(value)) options.onRetry?.(Number(value));
    }
  };
  let first = true;
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && buffer.length > 0) {
      first = false;
      if (buffer.startsWith('\uFEFF')) buffer = buffer.slice(1);
    }
    for (const line of lines(false)) yield* handle(line);
  }
  buffer += decoder.decode();
  // The stream ended: a last event without its blank line is dropped, as the spec says.
  for (const line of lines(true)) yield* handle(line);
}
