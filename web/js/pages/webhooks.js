import { ApiError, conditionalGetter, paths, sendJson } from '../api.js';
import { announce, copyButton, dataTable, emptyState, inlineNotice, pageHeader, timeEl } from '../components/common.js';
import { problemPanel } from '../components/problem.js';
import { h, icon, replace, showAndFocus } from '../dom.js';

export const eventTypes = [
  ['version.released', 'A version is released'],
  ['version.failed', 'A version fails'],
  ['batch.completed', 'A batch completes'],
];

export function enabledBadge(endpoint) {
  return endpoint.enabled
    ? h('span', { class: 'badge badge-success' }, icon('check'), h('span', {}, 'Active'))
    : h('span', { class: 'badge badge-danger', title: endpoint.disabledReason ?? '' }, icon('ban'), h('span', {}, 'Disabled'));
}

/** Webhooks: the registered endpoints and a form to add one (its secret is shown once). */
export async function renderWebhooks(ctx) {
  const getter = conditionalGetter(paths.webhooks());
  const first = await getter.get({ signal: ctx.signal });
  const listSlot = h('div');
  const resultSlot = h('div', { class: 'slot-box' });
  const status = h('div', { class: 'refresh-status' });

  const url = h('input', { id: 'webhook-url', name: 'url', type: 'url', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://ci.example.com/hooks/mll', 'aria-describedby': 'webhook-url-hint webhook-url-error' });
  const urlError = h('p', { class: 'field-error', id: 'webhook-url-error', hidden: true });
  const events = eventTypes.map(([value, text]) => {
    const id = `event-${value.replace('.', '-')}`;
    return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name: 'events', value, checked: true }), h('label', { for: id }, text, ' ', h('code', { class: 'muted small' }, value)));
  });
  const models = h('input', { id: 'webhook-models', name: 'models', autocomplete: 'off', spellcheck: 'false', placeholder: 'fraud-*, churn', 'aria-describedby': 'webhook-models-hint' });
  const description = h('input', { id: 'webhook-description', name: 'description', autocomplete: 'off', maxlength: '500' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add webhook');
  const form = h('form', { class: 'card stack', novalidate: true, 'aria-labelledby': 'add-title' },
    h('h2', { id: 'add-title' }, 'Add a webhook'),
    h('div', { class: 'field' }, h('label', { for: 'webhook-url' }, 'Payload URL'),
      h('p', { class: 'hint', id: 'webhook-url-hint' }, 'ML Lambda POSTs signed JSON (Standard Webhooks) to this address.'), url, urlError),
    h('fieldset', { class: 'field' }, h('legend', {}, 'Send when'), h('div', { class: 'checks' }, events)),
    h('div', { class: 'field-grid' },
      h('div', { class: 'field' }, h('label', { for: 'webhook-models' }, 'Only these models (optional)'),
        h('p', { class: 'hint', id: 'webhook-models-hint' }, 'Names or prefixes ending in *, separated by commas. Empty: every model.'), models),
      h('div', { class: 'field' }, h('label', { for: 'webhook-description' }, 'Description (optional)'), description)),
    resultSlot,
    h('div', { class: 'actions' }, submit));

  replace(ctx.root,
    pageHeader({ title: 'Webhooks', lead: 'Tell other systems when a version is released or fails, or a batch completes.' }),
    h('section', { class: 'card flush', 'aria-labelledby': 'endpoints-title' }, h('h2', { id: 'endpoints-title', class: 'card-title' }, 'Endpoints'), listSlot),
    form,
    status);

  const show = (items) => replace(listSlot, dataTable({
    caption: 'Webhook endpoints',
    className: 'webhooks-table',
    rows: items,
    empty: emptyState({ title: 'No webhooks yet', body: 'Add one below to be told when versions are released or fail.' }),
    columns: [
      { label: 'URL', class: 'col-url', cell: (w) => h('a', { class: 'strong-link break', href: `/webhooks/${encodeURIComponent(w.id)}` }, w.url) },
      { label: 'Events', cell: (w) => h('ul', { class: 'tags' }, w.events.map((e) => h('li', { class: 'tag' }, e))) },
      { label: 'Models', cell: (w) => (w.models ? w.models.join(', ') : h('span', { class: 'muted' }, 'all')) },
      { label: 'State', class: 'col-status', cell: enabledBadge },
      { label: 'Added', class: 'col-time', cell: (w) => timeEl(w.createdAt) },
    ],
  }));
  show(first.body.items);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(resultSlot);
    const value = url.value.trim();
    let bad = null;
    if (!value) bad = 'Enter the URL to send events to.';
    else if (!/^https?:\/\//i.test(value)) bad = 'Use an http:// or https:// address.';
    urlError.textContent = bad ?? '';
    urlError.hidden = !bad;
    url.setAttribute('aria-invalid', bad ? 'true' : 'false');
    if (bad) {
      url.focus();
      return;
    }
    const chosen = [...form.querySelectorAll('input[name="events"]:checked')].map((i) => i.value);
    if (chosen.length === 0) {
      replace(resultSlot, inlineNotice('Choose at least one event.', 'danger'));
      form.querySelector('input[name="events"]').focus();
      return;
    }
    const filter = models.value.split(',').map((s) => s.trim()).filter(Boolean);
    submit.disabled = true;
    try {
      const created = await sendJson('POST', paths.webhooks(), {
        url: value,
        events: chosen,
        ...(filter.length ? { models: filter } : {}),
        ...(description.value.trim() ? { description: description.value.trim() } : {}),
      });
      form.reset();
      showAndFocus(resultSlot, secretPanel(created));
      announce('Webhook added. Copy its signing secret now: it is shown only once.');
      getter.get({ signal: ctx.signal }).then(({ body }) => show(body.items), () => undefined);
    } catch (err) {
      showAndFocus(resultSlot, problemPanel(err instanceof ApiError ? err : { message: String(err) }, { title: 'The webhook was not added', alert: true }));
    } finally {
      submit.disabled = false;
    }
  });

  ctx.every(10_000, async () => {
    try {
      const { changed, body } = await getter.get({ signal: ctx.signal });
      replace(status);
      if (changed) show(body.items);
    } catch (err) {
      if (err?.name !== 'AbortError') replace(status, inlineNotice(`Live updates paused: ${err.message}`));
    }
  });
}

function secretPanel(created) {
  return h('div', { class: 'secret-panel', role: 'status' },
    h('p', {}, icon('key'), h('strong', {}, 'Webhook added. '), 'Copy its signing secret now — it is shown only this once.'),
    h('div', { class: 'copyable' }, h('code', { class: 'secret' }, created.secret), copyButton(created.secret, 'signing secret')),
    h('p', { class: 'small' }, h('a', { href: `/webhooks/${encodeURIComponent(created.id)}` }, 'See its deliveries')));
}
