import { conditionalGetter, paths } from '../api.js';
import { announce, dataTable, inlineNotice, pageHeader, timeEl } from '../components/common.js';
import { fixFor } from '../components/problem.js';
import { statusBadge } from '../components/status.js';
import { h, icon, replace } from '../dom.js';
import { plural } from '../format.js';
import { rememberBatch } from '../recent-batches.js';

const order = ['released', 'failed', 'rejected', 'pushing', 'building', 'extracting', 'queued'];
const finished = (counts) => (counts.released ?? 0) + (counts.failed ?? 0) + (counts.rejected ?? 0);

/** A batch: progress and every item with its status and, when it failed, the reason. Live by polling with ETags. */
export async function renderBatch(ctx) {
  const id = ctx.params.id;
  const getter = conditionalGetter(paths.batch(id));
  const first = await getter.get({ signal: ctx.signal });
  rememberBatch(first.body);

  const progressSlot = h('div');
  const itemsSlot = h('div');
  const status = h('div', { class: 'refresh-status' });
  const onlyProblems = h('input', { type: 'checkbox', id: 'only-problems' });
  let view = first.body;
  onlyProblems.addEventListener('change', () => show(view));

  replace(ctx.root,
    pageHeader({
      crumbs: [{ label: 'Batches', href: '/batches' }, { label: id.slice(0, 8) }],
      title: `Batch ${id.slice(0, 8)}`,
      lead: h('span', {}, 'Started ', timeEl(view.createdAt), ' · ', h('code', { class: 'small' }, id)),
    }),
    h('section', { class: 'card', 'aria-labelledby': 'progress-title' }, h('h2', { id: 'progress-title' }, 'Progress'), progressSlot),
    h('section', { class: 'card flush', 'aria-labelledby': 'items-title' },
      h('div', { class: 'card-title-row' }, h('h2', { id: 'items-title', class: 'card-title' }, 'Items'),
        h('div', { class: 'check' }, onlyProblems, h('label', { for: 'only-problems' }, 'Only failed and rejected'))),
      itemsSlot),
    status);

  function show(v) {
    const done = finished(v.counts);
    const failed = (v.counts.failed ?? 0) + (v.counts.rejected ?? 0);
    const pct = v.total ? Math.round((done / v.total) * 100) : 0;
    replace(progressSlot,
      h('div', { class: 'batch-progress' },
        h('p', { class: 'progress-phase', id: 'batch-phase' },
          v.done ? (failed ? `Finished: ${plural(failed, 'item')} did not make it` : 'Finished: every item released') : `${done} of ${v.total} finished`),
        h('progress', { max: String(v.total || 1), value: String(done), 'aria-labelledby': 'batch-phase' }),
        h('p', { class: 'muted small' }, `${pct}%${v.sealed ? '' : ' · still receiving items'}`),
        h('ul', { class: 'counts' }, order.filter((s) => v.counts[s]).map((s) => h('li', {}, statusBadge(s), h('span', { class: 'count-n' }, String(v.counts[s])))))));
    const rows = onlyProblems.checked ? v.items.filter((i) => i.status === 'failed' || i.status === 'rejected') : v.items;
    replace(itemsSlot, dataTable({
      caption: 'Items of the batch',
      className: 'batch-table',
      rows,
      empty: h('p', { class: 'empty muted' }, onlyProblems.checked ? 'No failed or rejected items.' : 'No items.'),
      rowAttrs: (i) => ({ class: i.error ? 'problem-row' : '', dataset: { status: i.status } }),
      columns: [
        { label: '#', class: 'col-num', cell: (i) => String(i.index + 1) },
        { label: 'Model', cell: (i) => (i.version ? h('a', { href: `/models/${encodeURIComponent(i.model)}` }, i.model) : h('code', {}, i.model)) },
        { label: 'Version', class: 'col-version', cell: (i) => (i.version ? h('a', { href: `/models/${encodeURIComponent(i.model)}/versions/${i.version}` }, `v${i.version}`) : '—') },
        { label: 'Status', class: 'col-status', cell: (i) => statusBadge(i.status) },
        { label: 'Reason', class: 'col-reason', cell: (i) => reason(i) },
      ],
    }));
  }

  const refresh = async () => {
    try {
      const { changed, body } = await getter.get({ signal: ctx.signal });
      replace(status);
      if (!changed) return;
      if (body.done && !view.done) announce(`Batch finished: ${finished(body.counts)} of ${body.total} items`);
      view = body;
      show(view);
    } catch (err) {
      if (err?.name !== 'AbortError') replace(status, inlineNotice(`Live updates paused: ${err.message}`));
    }
  };

  show(view);
  // Polled, not streamed: the server rebuilds the whole batch view to answer either, and its
  // event stream does so on every item transition (bench/batch/README.md). A poll every two
  // seconds is bounded, and an unchanged batch costs a 304.
  ctx.every(2000, () => {
    if (!view.done) refresh();
  });
}

function reason(item) {
  if (!item.error) return h('span', { class: 'muted' }, '—');
  const fix = fixFor(item.error.code);
  return h('div', { class: 'reason' },
    h('p', {}, icon('alert'), h('span', {}, item.error.message)),
    fix ? h('p', { class: 'muted small' }, fix) : null,
    h('code', { class: 'muted small' }, item.error.code));
}
