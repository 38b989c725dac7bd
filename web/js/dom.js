/**
 * Building DOM nodes without innerHTML: API data only ever becomes text nodes or attribute
 * values, so it cannot become markup.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('a', { href: '/x', class: 'link', onclick: fn, dataset: { id: 1 } }, 'text', child, [more])
 * Attributes with null/undefined/false are left out; true sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  append(el, children);
  return el;
}

function setAttributes(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[k] = String(v);
    } else if (key === 'class' && Array.isArray(value)) {
      el.setAttribute('class', value.filter(Boolean).join(' '));
    } else if (key === 'value' && 'value' in el) {
      el.value = String(value);
    } else if (key === 'checked' || key === 'disabled' || key === 'hidden' || key === 'open') {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** Appends children: strings and numbers become text nodes; arrays are flattened; null is skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Icons are drawn from path data that lives in this file; nothing from the API goes in. */
const iconPaths = {
  check: ['M4 10.5l4 4 8-9'],
  x: ['M5 5l10 10', 'M15 5L5 15'],
  clock: ['M10 3a7 7 0 1 0 0 14a7 7 0 1 0 0-14z', 'M10 6v4l3 2'],
  spinner: ['M10 3a7 7 0 1 1-7 7'],
  alert: ['M10 3l8 14H2z', 'M10 8v4', 'M10 14.5v.5'],
  copy: ['M7 7h9v9H7z', 'M4 13V4h9'],
  upload: ['M10 14V3', 'M5.5 7.5L10 3l4.5 4.5', 'M3 14v3h14v-3'],
  folder: ['M2.5 5.5h5l1.5 2h8.5v8.5h-15z'],
  file: ['M5 2.5h6.5l3.5 3.5v11.5H5z', 'M11.5 2.5V6H15'],
  arrow: ['M4 10h12', 'M11 5l5 5-5 5'],
  search: ['M8.5 3a5.5 5.5 0 1 0 0 11a5.5 5.5 0 1 0 0-11z', 'M12.5 12.5L17 17'],
  ban: ['M10 3a7 7 0 1 0 0 14a7 7 0 1 0 0-14z', 'M5 5l10 10'],
  refresh: ['M16 10a6 6 0 1 1-2-4.5', 'M16 3v4h-4'],
  dot: ['M10 7a3 3 0 1 0 0 6a3 3 0 1 0 0-6z'],
  key: ['M7 8a4 4 0 1 0 0 .01z', 'M10.5 10.5L17 17', 'M14 14l2-2'],
  trash: ['M4 6h12', 'M8 6V4h4v2', 'M6 6l1 11h6l1-11'],
};

/** A decorative 20×20 stroke icon (aria-hidden: the text next to it carries the meaning). */
export function icon(name, className = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 20 20');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name} ${className}`.trim());
  for (const d of iconPaths[name] ?? iconPaths.dot) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** A placeholder that lays out as its children (display: contents): empty slots add no gaps. */
export function slot() {
  return h('div', { class: 'slot' });
}

/** Puts `node` in `container` and moves focus to it (for results of the user's own action). */
export function showAndFocus(container, node) {
  replace(container, node);
  if (!node) return;
  if (!node.hasAttribute('tabindex')) node.setAttribute('tabindex', '-1');
  node.focus();
}

/** Screen-reader-only text. */
export function srOnly(text) {
  return h('span', { class: 'visually-hidden' }, text);
}
