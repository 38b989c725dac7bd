import { h, icon } from '../dom.js';

/** Each status: colour (CSS class), icon and words; never colour alone. */
const statuses = {
  queued: { icon: 'clock', label: 'Queued', tone: 'neutral' },
  extracting: { icon: 'spinner', label: 'Extracting', tone: 'active' },
  building: { icon: 'spinner', label: 'Building', tone: 'active' },
  pushing: { icon: 'spinner', label: 'Pushing', tone: 'active' },
  released: { icon: 'check', label: 'Released', tone: 'success' },
  failed: { icon: 'x', label: 'Failed', tone: 'danger' },
  rejected: { icon: 'ban', label: 'Rejected', tone: 'danger' },
  pending: { icon: 'clock', label: 'Pending', tone: 'neutral' },
  delivered: { icon: 'check', label: 'Delivered', tone: 'success' },
};

export const terminal = new Set(['released', 'failed', 'rejected']);
export const isTerminal = (status) => terminal.has(status);

export function statusLabel(status) {
  return statuses[status]?.label ?? String(status ?? 'Unknown');
}

export function statusBadge(status) {
  const s = statuses[status] ?? { icon: 'dot', label: String(status ?? 'Unknown'), tone: 'neutral' };
  return h('span', { class: `badge badge-${s.tone}`, dataset: { status } }, icon(s.icon, s.tone === 'active' ? 'spin' : ''), h('span', {}, s.label));
}
