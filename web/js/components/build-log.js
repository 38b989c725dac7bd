import { h } from '../dom.js';
import { statusLabel } from './status.js';

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

function lineFor(event) {
  const at = Date.parse(event.at);
  const time = Number.isNaN(at) ? '' : clock.format(at);
  let kind = event.type;
  let text;
  if (event.type === 'created') text = 'Version created; waiting for a worker';
  else if (event.type === 'status') {
    text = `→ ${statusLabel(event.status)}${event.error?.message ? `: ${event.error.message}` : ''}`;
    if (event.status === 'failed') kind = 'error';
  } else text = event.message ?? '';
  return h('li', { class: `log-line log-${kind}`, dataset: { id: event.id } },
    h('time', { datetime: event.at, class: 'log-time' }, time),
    event.stage ? h('span', { class: 'log-stage' }, event.stage) : h('span', { class: 'log-stage' }, ''),
    h('span', { class: 'log-text' }, text));
}

/**
 * The build log: a scrollable, keyboard-focusable list of lines that follows the end while the
 * user has not scrolled up. aria-live is off on purpose (a build is chatty); the page announces
 * status changes instead.
 */
export function buildLog() {
  const list = h('ol', { class: 'log-lines' });
  const box = h('div', { class: 'log', tabindex: '0', role: 'log', 'aria-live': 'off', 'aria-label': 'Build log' }, list);
  const placeholder = h('li', { class: 'log-line log-empty' }, h('span', { class: 'log-text' }, 'Waiting for the first log line…'));
  list.append(placeholder);
  const seen = new Set();
  let stick = true;
  box.addEventListener('scroll', () => {
    stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  });
  return {
    element: box,
    add(event) {
      if (event.id && seen.has(event.id)) return;
      if (event.id) seen.add(event.id);
      placeholder.remove();
      list.append(lineFor(event));
      if (stick) box.scrollTop = box.scrollHeight;
    },
    get size() {
      return seen.size;
    },
  };
}
