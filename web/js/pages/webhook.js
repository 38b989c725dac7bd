import { ApiError, conditionalGetter, cursorOf, getJson, paths, sendJson } from '../api.js';
import { announce, dataTable, emptyState, facts, inlineNotice, pageHeader, pager, timeEl } from '../components/common.js';
import { problemPanel } from '../components/problem.js';
import { statusBadge } from '../components/status.js';
import { h, icon, replace, showAndFocus, slot } from '../dom.js';
import { dateTime, duration } from '../format.js';
import { enabledBadge } from './webhooks.js';

const PAGE = 25;

/** One webhook endpoint: its settings, its deliveries with every attempt, redeliver and delete. */
export async function renderWebhook(ctx) {
  const id = ctx.params.id;
  const before = ctx.query.get('before') ?? '';
  const base = `/webhooks/${encodeURIComponent(id)}`;
  const deliveriesGetter = conditionalGetter(paths.deliveries(id, { limit: PAGE, before }));
  const [endpoint, first] = await Promise.all([getJson(paths.webhook(id), { signal: ctx.signal }), deliveriesGetter.get({ signal: ctx.signal })]);

  const listSlot = h('div');
  const messageSlot = slot();
  const status = h('div', { class: 'refresh-status' });
  let confirming = false;
  const remove = h('button', { type: 'button', class: 'btn btn-danger-quiet' }, icon('trash'), 'Delete webhook');
  remove.addEventListener('click', async () => {
    if (!confirming) {
      confirming = true;
      remove.lastChild.textContent = 'Click again to delete';
      announce('Press the button again to delete this webhook and its delivery history');
      setTimeout(() => {
        confirming = false;
        if (remove.isConnected) remove.lastChild.textContent = 'Delete webhook';
      }, 5000);
      return;
    }
    try {
      await sendJson('DELETE', paths.webhook(id));
      announce('Webhook deleted');
      ctx.navigate('/webhooks');
    } catch (err) {
      showAndFocus(messageSlot, problemPanel(err, { title: 'The webhook was not deleted', alert: true }));
    }
  });

  replace(ctx.root,
    pageHeader({
      crumbs: [{ label: 'Webhooks', href: '/webhooks' }, { label: id }],
      title: new URL(endpoint.url).host,
      after: enabledBadge(endpoint),
      actions: remove,
    }),
    h('section', { class: 'card', 'aria-label': 'Settings' }, facts([
      ['URL', h('code', { class: 'break' }, endpoint.url)],
      ['Events', h('ul', { class: 'tags' }, endpoint.events.map((e) => h('li', { class: 'tag' }, e)))],
      ['Models', endpoint.models ? endpoint.models.join(', ') : 'all'],
      ['Description', endpoint.description || null],
      ['Disabled because', endpoint.disabledReason || null],
      ['Added', timeEl(endpoint.createdAt)],
      ['Id', h('code', {}, endpoint.id)],
    ])),
    messageSlot,
    h('section', { class: 'card flush', 'aria-labelledby': 'deliveries-title' }, h('h2', { id: 'deliveries-title', class: 'card-title' }, 'Deliveries'), listSlot),
    status);

  const open = new Set();
  const show = (page) => {
    const older = cursorOf(page.next, 'before');
    replace(listSlot,
      dataTable({
        caption: 'Deliveries, newest first',
        className: 'deliveries-table',
        rows: page.items,
        empty: emptyState({ title: 'No deliveries yet', body: 'Each event this webhook subscribes to becomes a delivery here, with every attempt.' }),
        rowAttrs: (d) => ({ dataset: { delivery: d.id, status: d.status } }),
        columns: [
          { label: 'Event', cell: (d) => h('div', {}, h('code', {}, d.eventType), h('p', { class: 'muted small' }, h('code', {}, d.eventId))) },
          { label: 'Status', class: 'col-status', cell: (d) => statusBadge(d.status) },
          { label: 'Attempts', cell: (d) => attemptsView(d, open) },
          { label: 'When', class: 'col-time', cell: (d) => timeEl(d.createdAt) },
          { label: 'Actions', class: 'col-actions', cell: (d) => redeliverButton(d) },
        ],
      }),
      pager({ label: 'Delivery pages', newer: before ? base : null, older: older ? `${base}?before=${older}` : null }));
  };

  function redeliverButton(d) {
    const button = h('button', { type: 'button', class: 'btn btn-small', disabled: d.status === 'pending' || !endpoint.enabled, 'aria-label': `Redeliver ${d.eventType} event ${d.eventId}` }, icon('refresh'), 'Redeliver');
    if (d.status === 'pending') button.title = 'Still being delivered';
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await sendJson('POST', paths.redeliver(id, d.id));
        announce(`Redelivery of ${d.eventType} queued`);
        replace(messageSlot, inlineNotice(`Redelivery of ${d.eventType} queued.`, 'info'));
        await refresh();
      } catch (err) {
        button.disabled = false;
        showAndFocus(messageSlot, problemPanel(err instanceof ApiError ? err : { message: String(err) }, { title: 'Not redelivered', alert: true }));
      }
    });
    return button;
  }

  const refresh = async () => {
    try {
      const { changed, body } = await deliveriesGetter.get({ signal: ctx.signal });
      replace(status);
      if (changed) show(body);
    } catch (err) {
      if (err?.name !== 'AbortError') replace(status, inlineNotice(`Live updates paused: ${err.message}`));
    }
  };
  show(first.body);
  ctx.every(4000, refresh);
}

/** The last attempt in one line; every attempt in a disclosure that stays open across refreshes. */
function attemptsView(d, open) {
  const attempts = d.attempts ?? [];
  const last = attempts.at(-1);
  const summaryText = last
    ? `${attempts.length} attempt${attempts.length === 1 ? '' : 's'} · last ${last.statusCode ?? 'no answer'}${last.error ? ` · ${last.error}` : ''}`
    : 'not attempted yet';
  if (attempts.length === 0) return h('span', { class: 'muted' }, summaryText);
  const details = h('details', { class: 'attempts', open: open.has(d.id) },
    h('summary', {}, summaryText),
    h('ol', {}, attempts.map((a) => h('li', {},
      h('span', {}, `#${a.attempt} `),
      h('time', { datetime: a.at }, dateTime(a.at)),
      ` · ${a.trigger} · `,
      h('strong', {}, a.statusCode ? `HTTP ${a.statusCode}` : 'no answer'),
      ` · ${duration(a.durationMs)} · ${a.outcome}`,
      a.error ? h('span', { class: 'muted' }, ` · ${a.error}`) : null,
      a.nextAttemptAt ? h('span', { class: 'muted' }, ` · next at ${dateTime(a.nextAttemptAt)}`) : null))));
  details.addEventListener('toggle', () => (details.open ? open.add(d.id) : open.delete(d.id)));
  return details;
}
