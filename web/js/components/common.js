import { h, icon } from '../dom.js';
import { dateTime, timeAgo } from '../format.js';

/** Speaks a short message to screen readers through the page's polite live region. */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick is announced even when the text repeats.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** <time> with relative text ("3 minutes ago") and the exact time as its title; kept fresh by the ticker. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: dateTime(iso), class: 'relative-time' }, timeAgo(iso));
}

/** Updates every relative time on the page (started once by main.js). */
export function refreshRelativeTimes() {
  for (const el of document.querySelectorAll('time.relative-time')) {
    const text = timeAgo(el.getAttribute('datetime'));
    if (el.textContent !== text) el.textContent = text;
  }
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-HTTP deployments have no Clipboard API: select a hidden field and copy.
  const field = h('textarea', { class: 'visually-hidden', readonly: true, 'aria-hidden': 'true' });
  field.value = text;
  document.body.append(field);
  field.select();
  const ok = document.execCommand('copy');
  field.remove();
  if (!ok) throw new Error('copy refused');
}

/** A small button that copies `text`; `what` names it for screen readers ("Copy image digest"). */
export function copyButton(text, what) {
  const label = h('span', { class: 'copy-label' }, 'Copy');
  const button = h('button', { type: 'button', class: 'btn btn-small btn-quiet copy', 'aria-label': `Copy ${what}`, title: `Copy ${what}` }, icon('copy'), label);
  let timer;
  button.addEventListener('click', async () => {
    try {
      await copyText(text);
      label.textContent = 'Copied';
      announce(`Copied ${what}`);
    } catch {
      label.textContent = 'Press Ctrl+C';
      announce(`Could not copy the ${what} automatically`);
    }
    clearTimeout(timer);
    timer = setTimeout(() => {
      label.textContent = 'Copy';
    }, 2000);
  });
  return button;
}

/** A monospace value with a copy button next to it. */
export function copyable(text, what, { display = text, className = '' } = {}) {
  return h('span', { class: `copyable ${className}`.trim() }, h('code', { title: text }, display), copyButton(text, what));
}

/**
 * A table that becomes stacked cards on narrow screens (each cell shows its column label).
 * columns: [{ label, cell: (row) => node|string, class?, hideLabel? }]
 */
export function dataTable({ caption, columns, rows, empty, rowAttrs, className = '' }) {
  if (rows.length === 0 && empty) return empty;
  return h(
    'div',
    { class: `table-wrap ${className}`.trim() },
    h(
      'table',
      { class: 'data-table' },
      caption ? h('caption', { class: caption.visible ? '' : 'visually-hidden' }, caption.text ?? caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h(
        'tbody',
        {},
        rows.map((row) => h('tr', rowAttrs ? rowAttrs(row) : {}, columns.map((c) => h('td', { class: c.class, dataset: { label: c.label } }, c.cell(row))))),
      ),
    ),
  );
}

/** The top of a page: breadcrumbs, the h1 (focused on navigation), a side area for actions. */
export function pageHeader({ crumbs = [], title, after = null, actions = null, lead = null }) {
  return h(
    'header',
    { class: 'page-header' },
    crumbs.length
      ? h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('ol', {}, crumbs.map((c) => h('li', {}, c.href ? h('a', { href: c.href }, c.label) : h('span', { 'aria-current': 'page' }, c.label)))))
      : null,
    h('div', { class: 'page-title-row' }, h('div', { class: 'page-title' }, h('h1', { tabindex: '-1' }, title), after), actions ? h('div', { class: 'page-actions' }, actions) : null),
    lead ? h('p', { class: 'lead' }, lead) : null,
  );
}

export function emptyState({ title, body, action }) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), body ? h('p', { class: 'muted' }, body) : null, action ?? null);
}

export function section(title, ...content) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), content);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'loading-dot', 'aria-hidden': 'true' }), text);
}

/** A notice line for problems that are not the page's main content (a refresh that failed). */
export function inlineNotice(text, tone = 'warning') {
  return h('p', { class: `notice notice-${tone}`, role: tone === 'danger' ? 'alert' : 'status' }, icon(tone === 'info' ? 'check' : 'alert'), h('span', {}, text));
}

/** A definition list from [term, value] pairs; pairs with an empty value are left out. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([term, value]) => h('div', { class: 'fact' }, h('dt', {}, term), h('dd', {}, value))),
  );
}

/** Prev/next paging for cursor lists. */
export function pager({ label, newer, older }) {
  if (!newer && !older) return null;
  return h(
    'nav',
    { class: 'pager', 'aria-label': label },
    newer ? h('a', { class: 'btn', href: newer, rel: 'prev' }, '← Newer') : h('span', {}),
    older ? h('a', { class: 'btn', href: older, rel: 'next' }, 'Older →') : h('span', {}),
  );
}
