import { ApiError, authHeaders, authRequired } from './api.js';

/**
 * A server-sent event stream read with fetch, not EventSource: EventSource cannot send the
 * Authorization header. Reconnects after a drop with Last-Event-ID (the API resumes from it) and
 * stops for good on the `end` event, on close(), or on a 4xx answer.
 *
 * handlers: onEvent({ id, event, data }), onEnd(data), onError(error), onState('live'|'reconnecting'|'closed')
 */
export function streamEvents(path, handlers = {}) {
  const controller = new AbortController();
  let lastId = handlers.lastEventId ?? null;
  let retryMs = 2000;
  let closed = false;
  let failures = 0;

  const close = () => {
    if (closed) return;
    closed = true;
    controller.abort();
    handlers.onState?.('closed');
  };

  const dispatch = (block) => {
    let event = 'message';
    let id = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (id !== null) lastId = id;
    if (data.length === 0) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      parsed = data.join('\n');
    }
    if (event === 'end') {
      handlers.onEnd?.(parsed);
      close();
      return;
    }
    handlers.onEvent?.({ id, event, data: parsed });
  };

  const connect = async () => {
    while (!closed) {
      try {
        const res = await fetch(path, {
          headers: authHeaders({ Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) }),
          cache: 'no-store',
          signal: controller.signal,
        });
        if (!res.ok || !res.body) {
          let body = null;
          try {
            body = await res.json();
          } catch {
            /* not JSON */
          }
          const error = new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? `The event stream answered ${res.status}`);
          if (res.status >= 400 && res.status < 500) {
            if (res.status === 401) authRequired(error);
            handlers.onError?.(error);
            close();
            return;
          }
          throw error;
        }
        failures = 0;
        handlers.onState?.('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let cut;
          while ((cut = buffer.indexOf('\n\n')) !== -1) {
            dispatch(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (closed) return;
          }
        }
      } catch (err) {
        if (closed || err?.name === 'AbortError') return;
        failures++;
      }
      if (closed) return;
      handlers.onState?.('reconnecting');
      // Back off a little more after repeated failures, up to 30 s.
      await new Promise((r) => setTimeout(r, Math.min(retryMs * 2 ** Math.max(0, failures - 1), 30_000)));
    }
  };

  connect();
  return { close };
}
