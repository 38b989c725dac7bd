import { h, icon } from '../dom.js';
import { shape } from '../format.js';

/** A record's fields follow it, named by their path (`person.age`). */
function flatten(fields, prefix = '') {
  return fields.flatMap((f) => [{ path: prefix + f.name, field: f }, ...flatten(f.subfields ?? [], `${prefix}${f.name}.`)]);
}

function fieldRows(fields, direction) {
  if (fields.length === 0) {
    return [h('tr', { class: 'empty-row' }, h('td', { colspan: '4', class: 'muted' }, `No ${direction.toLowerCase()}`))];
  }
  return flatten(fields).map(({ path, field: f }) =>
    h('tr', {},
      h('th', { scope: 'row', class: 'field-name' }, h('code', {}, path)),
      h('td', {}, h('code', { class: f.dtype.startsWith('unsupported:') ? 'dtype dtype-unsupported' : 'dtype' }, f.dtype)),
      h('td', {}, h('code', { class: 'shape', title: f.shape === null ? 'Any rank' : f.shape.length === 0 ? 'A single value' : '? = any size' }, shape(f.shape, f.dimNames))),
      h('td', {}, f.profile && f.profile !== 'none' ? h('span', { class: 'tag' }, f.profile) : h('span', { class: 'muted' }, '—'))));
}

/** One table per signature: inputs and outputs as row groups; field, dtype, shape, profile. */
export function contractView(contract) {
  return h('div', { class: 'contract stack' },
    h('p', { class: 'muted' }, 'Framework ', h('code', {}, contract.framework), ` · ${contract.signatures.length} signature${contract.signatures.length === 1 ? '' : 's'}`),
    contract.signatures.map((sig) =>
      h('div', { class: 'table-wrap scroll signature' },
        h('table', { class: 'contract-table' },
          h('caption', {}, h('span', { class: 'muted' }, 'Signature '), h('code', { class: 'signature-name' }, sig.name)),
          h('thead', {}, h('tr', {}, ['Field', 'dtype', 'Shape', 'Profile'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, h('tr', { class: 'group-row' }, h('th', { scope: 'rowgroup', colspan: '4' }, 'Inputs')), fieldRows(sig.inputs, 'Inputs')),
          h('tbody', {}, h('tr', { class: 'group-row' }, h('th', { scope: 'rowgroup', colspan: '4' }, 'Outputs')), fieldRows(sig.outputs, 'Outputs'))))));
}

const changeText = {
  'field-removed': 'Field removed',
  'field-added': 'Field added',
  'dtype-changed': 'dtype changed',
  'shape-changed': 'Shape changed',
  'dim-names-changed': 'Dimension names changed',
  'profile-changed': 'Profile changed',
  'framework-changed': 'Framework changed',
  'signature-removed': 'Signature removed',
  'signature-added': 'Signature added',
};

/** Why a change breaks callers, in their terms. */
function breakingReason(c) {
  switch (c.change) {
    case 'field-removed': return 'Callers that read this output will no longer get it.';
    case 'field-added': return 'Callers must now send this input.';
    case 'dtype-changed': return c.direction === 'output' ? 'Callers will read a different type.' : 'Callers must send a different type.';
    case 'shape-changed': return 'The new shape does not accept what the old one did.';
    case 'signature-removed': return 'Callers of this signature will fail.';
    default: return 'Callers may need to change.';
  }
}

function valueText(v) {
  if (v === undefined) return null;
  if (v === null) return 'none';
  if (Array.isArray(v)) return v.every((d) => typeof d === 'number') ? shape(v) : `[${v.map((x) => x ?? '?').join(', ')}]`;
  if (typeof v === 'object' && 'dtype' in v) return `${v.dtype} ${shape(v.shape, v.dimNames)}`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function where(c) {
  const parts = [];
  if (c.signature) parts.push(h('code', {}, c.signature));
  if (c.direction) parts.push(h('span', { class: 'muted' }, c.direction === 'input' ? ' input ' : ' output '));
  if (c.field) parts.push(h('code', {}, c.field));
  return parts.length ? h('span', { class: 'where' }, parts) : h('span', { class: 'muted' }, 'model');
}

/** The contract diff against the previous version, breaking changes first and marked. */
export function diffView(diff, modelName) {
  const changes = [...diff.changes].sort((a, b) => Number(b.breaking) - Number(a.breaking));
  const breaking = changes.filter((c) => c.breaking).length;
  const against = h('a', { href: `/models/${encodeURIComponent(modelName)}/versions/${diff.against}` }, `v${diff.against}`);
  if (changes.length === 0) {
    return h('p', { class: 'diff-summary ok' }, icon('check'), h('span', {}, 'The contract is the same as ', against, '.'));
  }
  return h('div', { class: 'stack' },
    h('p', { class: `diff-summary ${breaking ? 'breaking' : 'ok'}` },
      icon(breaking ? 'alert' : 'check'),
      h('span', {}, `${changes.length} change${changes.length === 1 ? '' : 's'} since `, against, breaking
        ? h('strong', {}, `, ${breaking} breaking`)
        : ', none breaking')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'data-table diff-table' },
        h('caption', { class: 'visually-hidden' }, `Contract changes since version ${diff.against}`),
        h('thead', {}, h('tr', {}, ['Change', 'Where', 'Before', 'After', 'Impact'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, changes.map((c) =>
          h('tr', { class: c.breaking ? 'breaking-row' : '' },
            h('td', { dataset: { label: 'Change' } }, changeText[c.change] ?? c.change),
            h('td', { dataset: { label: 'Where' } }, where(c)),
            h('td', { dataset: { label: 'Before' } }, valueText(c.before) ? h('code', {}, valueText(c.before)) : h('span', { class: 'muted' }, '—')),
            h('td', { dataset: { label: 'After' } }, valueText(c.after) ? h('code', {}, valueText(c.after)) : h('span', { class: 'muted' }, '—')),
            h('td', { dataset: { label: 'Impact' } }, c.breaking
              ? h('span', { class: 'breaking-note' }, h('span', { class: 'badge badge-danger' }, icon('alert'), h('span', {}, 'Breaking')), h('span', { class: 'small' }, breakingReason(c)))
              : h('span', { class: 'badge badge-neutral' }, h('span', {}, 'Compatible')))))))));
}
