import { getJson, paths } from '../api.js';
import { dataTable, emptyState, pageHeader, timeEl } from '../components/common.js';
import { statusBadge } from '../components/status.js';
import { h, icon, replace } from '../dom.js';
import { recentBatches } from '../recent-batches.js';

/** Batches: open one by id, and the ones started from this browser with their progress. */
export async function renderBatches(ctx) {
  const input = h('input', { id: 'batch-id', name: 'id', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '0b7c…-…', 'aria-describedby': 'batch-id-hint' });
  const open = h('form', {
    class: 'card stack inline-form',
    onsubmit: (e) => {
      e.preventDefault();
      const id = input.value.trim();
      if (id) ctx.navigate(`/batches/${encodeURIComponent(id)}`);
    },
  },
  h('h2', {}, 'Open a batch'),
  h('div', { class: 'field' },
    h('label', { for: 'batch-id' }, 'Batch id'),
    h('p', { class: 'hint', id: 'batch-id-hint' }, 'The id from the answer to POST /api/v1/batches (or mll push --batch).'),
    h('div', { class: 'input-row' }, input, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Open'))));

  const recent = recentBatches();
  const listSlot = h('div');
  replace(ctx.root,
    pageHeader({
      title: 'Batches',
      lead: 'A batch uploads many models at once; each becomes its own version. Drop several archives on the upload page to start one.',
      actions: h('a', { class: 'btn btn-primary', href: '/upload' }, icon('upload'), 'Upload a batch'),
    }),
    open,
    h('section', { class: 'card flush', 'aria-labelledby': 'recent-title' }, h('h2', { id: 'recent-title', class: 'card-title' }, 'Started from this browser'), listSlot));

  const progress = new Map();
  const draw = () => replace(listSlot, dataTable({
    caption: 'Batches started from this browser',
    rows: recent,
    empty: emptyState({ title: 'No batches yet', body: 'Batches you start here are listed for quick access.' }),
    columns: [
      { label: 'Batch', cell: (b) => h('a', { class: 'strong-link', href: `/batches/${encodeURIComponent(b.id)}` }, h('code', {}, b.id.slice(0, 8))) },
      { label: 'Started', class: 'col-time', cell: (b) => timeEl(b.createdAt) },
      { label: 'Items', class: 'col-num', cell: (b) => String(progress.get(b.id)?.total ?? b.total ?? '—') },
      { label: 'Progress', cell: (b) => progressCell(progress.get(b.id)) },
    ],
  }));
  draw();
  await Promise.all(recent.slice(0, 10).map(async (b) => {
    try {
      progress.set(b.id, await getJson(paths.batch(b.id), { signal: ctx.signal }));
    } catch (err) {
      progress.set(b.id, { error: err });
    }
  }));
  if (ctx.isCurrent()) draw();
}

function progressCell(view) {
  if (!view) return h('span', { class: 'muted' }, '…');
  if (view.error) return h('span', { class: 'muted' }, view.error.status === 404 ? 'expired' : 'unavailable');
  const bad = (view.counts.failed ?? 0) + (view.counts.rejected ?? 0);
  if (view.done) return bad ? h('span', { class: 'inline-status' }, statusBadge('failed'), `${bad} of ${view.total} did not make it`) : statusBadge('released');
  const done = (view.counts.released ?? 0) + bad;
  return h('span', { class: 'inline-status' }, statusBadge('building'), `${done} of ${view.total} finished`);
}
