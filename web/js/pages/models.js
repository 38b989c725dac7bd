import { conditionalGetter, cursorOf, paths } from '../api.js';
import { announce, dataTable, emptyState, inlineNotice, pageHeader, timeEl } from '../components/common.js';
import { statusBadge, statusLabel } from '../components/status.js';
import { h, icon, replace } from '../dom.js';
import { plural } from '../format.js';

const PAGE = 50;

/** Models: searchable, each with its latest version and status; refreshed live by polling with ETags. */
export async function renderModels(ctx) {
  const q = ctx.query.get('q') ?? '';
  const after = ctx.query.get('after') ?? '';
  const getter = conditionalGetter(paths.models({ q, limit: PAGE, after }));
  const first = await getter.get({ signal: ctx.signal });

  const search = h('input', {
    id: 'model-search', type: 'search', name: 'q', value: q, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Filter by name', 'aria-describedby': 'model-count',
  });
  const count = h('p', { id: 'model-count', class: 'muted count', 'aria-live': 'polite' });
  const list = h('div', { class: 'models-list' });
  const status = h('div', { class: 'refresh-status' });

  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      const value = search.value.trim().toLowerCase();
      const to = value ? `/?q=${encodeURIComponent(value)}` : '/';
      history.replaceState(null, '', to);
      // Re-render without moving focus out of the search field.
      filter(value);
    }, 250);
  });
  ctx.onCleanup(() => clearTimeout(debounce));

  replace(
    ctx.root,
    pageHeader({
      title: 'Models',
      actions: h('a', { class: 'btn btn-primary', href: '/upload' }, icon('upload'), 'Upload a model'),
    }),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'model-search', class: 'search-label' }, icon('search'), h('span', { class: 'visually-hidden' }, 'Search models')),
      search),
    h('section', { class: 'card flush', 'aria-label': 'Models' }, h('div', { class: 'card-title-row' }, count), list),
    status,
  );

  let current = getter;
  let previous = statusMap(first.body.items);
  const show = (body, query) => {
    const items = body.items;
    count.textContent = query
      ? `${plural(items.length, 'model')}${body.next ? '+' : ''} matching “${query}”`
      : `${plural(items.length, 'model')}${body.next ? '+' : ''}`;
    const older = cursorOf(body.next, 'after');
    replace(
      list,
      dataTable({
        caption: 'Models and their latest version',
        className: 'models-table',
        rows: items,
        empty: query
          ? emptyState({ title: `No model matches “${query}”.`, body: 'Model names are lowercase; try a shorter part of the name.' })
          : emptyState({
              title: 'No models yet',
              body: 'Upload a trained model (a folder or a .tar.gz) and ML Lambda turns it into a released, pullable image.',
              action: h('a', { class: 'btn btn-primary', href: '/upload' }, icon('upload'), 'Upload your first model'),
            }),
        columns: [
          { label: 'Model', class: 'col-name', cell: (m) => h('a', { href: `/models/${encodeURIComponent(m.name)}`, class: 'strong-link' }, m.name) },
          { label: 'Latest', class: 'col-version', cell: (m) => (m.latest ? h('a', { href: `/models/${encodeURIComponent(m.name)}/versions/${m.latest.version}` }, `v${m.latest.version}`) : '—') },
          { label: 'Status', class: 'col-status', cell: (m) => (m.latest ? statusBadge(m.latest.status) : '—') },
          { label: 'Versions', class: 'col-num', cell: (m) => String(m.versions) },
          { label: 'Changed', class: 'col-time', cell: (m) => timeEl(m.latest?.updatedAt ?? m.updatedAt) },
        ],
      }),
      older || after
        ? h('nav', { class: 'pager', 'aria-label': 'Model pages' },
            after ? h('a', { class: 'btn', href: query ? `/?q=${encodeURIComponent(query)}` : '/' }, '← First page') : h('span'),
            older ? h('a', { class: 'btn', href: `/?${new URLSearchParams({ ...(query ? { q: query } : {}), after: older })}` }, 'Next page →') : h('span'))
        : null,
    );
  };

  function filter(query) {
    current = conditionalGetter(paths.models({ q: query, limit: PAGE }));
    current.get({ signal: ctx.signal }).then(({ body }) => {
      previous = statusMap(body.items);
      show(body, query);
    }, () => undefined);
  }

  show(first.body, q);

  // Live: poll; the ETag makes an unchanged list a 304 with no body.
  ctx.every(4000, async () => {
    try {
      const { changed, body } = await current.get({ signal: ctx.signal });
      replace(status);
      if (!changed) return;
      const now = statusMap(body.items);
      for (const [name, st] of now) {
        const before = previous.get(name);
        if (before && before !== st) announce(`${name} is now ${statusLabel(st.split(':')[1]).toLowerCase()}`);
      }
      previous = now;
      const focused = document.activeElement === search;
      show(body, search.value.trim().toLowerCase());
      if (focused) search.focus();
    } catch (err) {
      if (err?.name === 'AbortError') return;
      replace(status, inlineNotice(`Live updates paused: ${err.message}`));
    }
  });
}

function statusMap(items) {
  return new Map(items.map((m) => [m.name, m.latest ? `${m.latest.version}:${m.latest.status}` : '']));
}
