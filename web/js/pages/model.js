import { conditionalGetter, cursorOf, getJson, paths } from '../api.js';
import { announce, dataTable, emptyState, facts, inlineNotice, pageHeader, pager, timeEl } from '../components/common.js';
import { isTerminal, statusBadge, statusLabel } from '../components/status.js';
import { durationCell, imageCell, modelTypeCell } from '../components/version-bits.js';
import { h, icon, replace } from '../dom.js';
import { plural } from '../format.js';
import { streamEvents } from '../sse.js';

const PAGE = 20;
const pageSize = (query) => Math.min(Math.max(Number(query.get('per')) || PAGE, 1), 500);

/** A model: its versions newest first, paginated; statuses follow the versions' event streams. */
export async function renderModel(ctx) {
  const name = ctx.params.name;
  const before = ctx.query.get('before') ?? '';
  const per = pageSize(ctx.query);
  const base = `/models/${encodeURIComponent(name)}`;
  // Page links keep a chosen page size (?per=) and otherwise stay short.
  const pageHref = (cursor) => {
    const params = new URLSearchParams();
    if (cursor) params.set('before', String(cursor));
    if (per !== PAGE) params.set('per', String(per));
    return params.size ? `${base}?${params}` : base;
  };
  const versionsGetter = conditionalGetter(paths.versions(name, { limit: per, before }));
  const [model, first] = await Promise.all([
    getJson(paths.model(name), { signal: ctx.signal }),
    versionsGetter.get({ signal: ctx.signal }),
  ]);

  const summary = h('div', { class: 'summary' });
  const table = h('div', { class: 'versions' });
  const status = h('div', { class: 'refresh-status' });
  replace(
    ctx.root,
    pageHeader({
      crumbs: [{ label: 'Models', href: '/' }, { label: name }],
      title: name,
      actions: h('a', { class: 'btn btn-primary', href: `/upload?model=${encodeURIComponent(name)}` }, icon('upload'), 'Upload a new version'),
    }),
    summary,
    h('section', { class: 'card flush', 'aria-labelledby': 'versions-title' }, h('h2', { id: 'versions-title', class: 'card-title' }, 'Versions'), table),
    status,
  );

  const showSummary = (m) => {
    replace(summary, facts([
      ['Versions', String(m.versions)],
      ['Latest', m.latest ? h('span', { class: 'inline-status' }, h('a', { href: `${base}/versions/${m.latest.version}` }, `v${m.latest.version}`), statusBadge(m.latest.status)) : '—'],
      ['Created', timeEl(m.createdAt)],
      ['Last change', timeEl(m.updatedAt)],
    ]));
  };

  let statuses = new Map();
  const show = (page) => {
    for (const v of page.items) {
      const before = statuses.get(v.version);
      if (before && before !== v.status) announce(`Version ${v.version} is now ${statusLabel(v.status).toLowerCase()}`);
    }
    statuses = new Map(page.items.map((v) => [v.version, v.status]));
    const older = cursorOf(page.next, 'before');
    const newest = page.items[0]?.version;
    replace(
      table,
      h('p', { class: 'muted count table-note' }, page.total > page.items.length
        ? `Versions ${page.items.at(-1)?.version}–${newest} of ${page.total}`
        : plural(page.total, 'version')),
      dataTable({
        caption: `Versions of ${name}, newest first`,
        className: 'versions-table',
        rows: page.items,
        empty: emptyState({ title: 'No versions on this page.', action: h('a', { class: 'btn', href: pageHref() }, 'Newest versions') }),
        rowAttrs: (v) => ({ dataset: { version: v.version, status: v.status } }),
        columns: [
          { label: 'Version', class: 'col-version', cell: (v) => h('a', { class: 'strong-link', href: `${base}/versions/${v.version}` }, `v${v.version}`) },
          { label: 'Status', class: 'col-status', cell: (v) => statusBadge(v.status) },
          { label: 'Model type', class: 'col-type', cell: modelTypeCell },
          { label: 'Image', class: 'col-image', cell: imageCell },
          { label: 'Created', class: 'col-time', cell: (v) => timeEl(v.createdAt) },
          { label: 'Build time', class: 'col-num', cell: durationCell },
        ],
      }),
      pager({
        label: 'Version pages',
        newer: before ? pageHref(Number(before) + per <= maxVersion(model) ? Number(before) + per : null) : null,
        older: older ? pageHref(older) : null,
      }),
    );
    follow(page.items);
  };

  // One event stream per version still in flight; any event refreshes the page of versions.
  const streams = new Map();
  ctx.onCleanup(() => {
    for (const s of streams.values()) s.close();
  });
  function follow(items) {
    for (const v of items) {
      // Few streams: a browser allows only six connections per host over HTTP/1.1.
      if (isTerminal(v.status) || streams.has(v.version) || streams.size >= 2) continue;
      streams.set(v.version, streamEvents(paths.versionEvents(name, v.version), {
        onEvent: (e) => {
          if (e.event === 'status') refresh();
        },
        onEnd: () => {
          streams.delete(v.version);
          refresh();
        },
        onError: () => streams.delete(v.version),
      }));
    }
  }

  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        const [{ changed, body }, m] = await Promise.all([versionsGetter.get({ signal: ctx.signal }), getJson(paths.model(name), { signal: ctx.signal })]);
        model.versions = m.versions;
        showSummary(m);
        replace(status);
        if (changed) show(body);
      } catch (err) {
        if (err?.name !== 'AbortError') replace(status, inlineNotice(`Live updates paused: ${err.message}`));
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  showSummary(model);
  show(first.body);
  // New versions and anything a stream missed: a cheap conditional poll (304 when unchanged),
  // every 2.5 s while a version on the page is in flight, every 10 s otherwise.
  let ticks = 0;
  ctx.every(2500, () => {
    ticks++;
    const inFlight = [...statuses.values()].some((s) => !isTerminal(s));
    if (inFlight || ticks % 4 === 0) refresh();
  });
}

function maxVersion(model) {
  return model.latest?.version ?? model.versions;
}
