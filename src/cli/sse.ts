/**
 * A server-sent events parser (the WHATWG rules that matter here): `event`, `data` (joined by
 * newlines), `id`, comments and blank-line dispatch. Heartbeat comments produce nothing.
 */
export interface ServerEvent {
  event: string;
  data: string;
  id: string | undefined;
}

export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerEvent> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let sawData = false;
  const lines = function* (final: boolean): Generator<string> {
    let nl: number;
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      // A lone CR at the end may be the first half of a CRLF split across chunks.
      if (!final && nl === buffer.length - 1 && buffer[nl] === '\r') return;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      yield line;
    }
  };
  const handle = function* (line: string): Generator<ServerEvent> {
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
    } else if (field === 'id' && !value.includes('\0')) id = value;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (const line of lines(false)) yield* handle(line);
  }
  buffer += decoder.decode();
  for (const line of lines(true)) yield* handle(line);
}
