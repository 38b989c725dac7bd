import { h, icon } from '../dom.js';
import { dateTime, duration } from '../format.js';

const stageNames = [
  ['extract', 'Extract', 'Unpack, check and read the contract'],
  ['build', 'Build', 'Assemble the image'],
  ['push', 'Push', 'Publish the image'],
];

/** The stage a failed version failed in: the last one that started. */
function failedStage(version) {
  if (version.status !== 'failed') return null;
  return [...stageNames].reverse().find(([key]) => version.stages?.[key]?.startedAt)?.[0] ?? null;
}

function stepState(version, key) {
  const t = version.stages?.[key];
  if (failedStage(version) === key) return 'failed';
  if (t?.finishedAt) return 'done';
  if (t?.startedAt) return version.status === 'failed' ? 'failed' : 'running';
  return version.status === 'failed' ? 'skipped' : 'waiting';
}

const stateText = { done: 'Done', running: 'Running', failed: 'Failed', skipped: 'Not reached', waiting: 'Waiting' };
const stateIcon = { done: 'check', running: 'spinner', failed: 'x', skipped: 'dot', waiting: 'clock' };

function step({ state, title, description, at, detail }) {
  return h('li', { class: `step step-${state}` },
    h('span', { class: 'step-marker' }, icon(stateIcon[state] ?? 'dot', state === 'running' ? 'spin' : '')),
    h('div', { class: 'step-body' },
      h('p', { class: 'step-title' }, h('strong', {}, title), h('span', { class: 'step-state' }, stateText[state] ?? '')),
      description ? h('p', { class: 'step-desc muted' }, description) : null,
      at || detail ? h('p', { class: 'step-meta muted' }, at ? h('time', { datetime: at, title: dateTime(at) }, dateTime(at)) : null, detail ? ` · ${detail}` : '') : null));
}

/** Uploaded → extract → build → push → released/failed, with times, durations and retries. */
export function stageTimeline(version) {
  const steps = [step({ state: 'done', title: 'Uploaded', description: 'Stored and queued', at: version.createdAt })];
  for (const [key, title, description] of stageNames) {
    const t = version.stages?.[key] ?? {};
    const state = stepState(version, key);
    const parts = [];
    if (t.startedAt && t.finishedAt) parts.push(`took ${duration(Date.parse(t.finishedAt) - Date.parse(t.startedAt))}`);
    else if (t.startedAt && state === 'running') parts.push(`running for ${duration(Date.now() - Date.parse(t.startedAt))}`);
    if ((t.attempts ?? 0) > 1) parts.push(`${t.attempts} attempts`);
    steps.push(step({ state, title, description, at: t.startedAt, detail: parts.join(' · ') }));
  }
  if (version.status === 'released') {
    steps.push(step({ state: 'done', title: 'Released', description: 'Pullable by digest', at: version.updatedAt }));
  } else if (version.status === 'failed') {
    steps.push(step({ state: 'failed', title: 'Failed', description: version.error?.code ?? null, at: version.updatedAt }));
  } else {
    steps.push(step({ state: 'waiting', title: 'Released', description: null }));
  }
  return h('ol', { class: 'timeline' }, steps);
}
