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
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (sawData) yield { event: event || 'message', data: data.join('\n'), id };
        event = '';
        data = [];
        sawData = false;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') {
        data.push(value);
        sawData = true;
      } else if (field === 'id' && !value.includes('\0')) id = value;
    }
  }
}
