import { h } from '../dom.js';
import { duration, buildDuration, shortDigest } from '../format.js';
import { copyButton } from './common.js';

/** The image of a version: reference and digest, each with a copy button; or why there is none yet. */
export function imageCell(version) {
  const image = version.image;
  if (!image) {
    return h('span', { class: 'muted' }, version.status === 'failed' ? 'No image' : 'Not built yet');
  }
  return h(
    'div',
    { class: 'image-cell' },
    h('div', { class: 'image-line' }, h('code', { class: 'truncate', title: image.reference }, image.reference), copyButton(image.reference, `image reference of version ${version.version}`)),
    image.digest
      ? h('div', { class: 'image-line' }, h('code', { class: 'digest', title: image.digest }, shortDigest(image.digest)), copyButton(image.digest, `image digest of version ${version.version}`))
      : h('div', { class: 'image-line muted' }, 'digest once pushed'),
  );
}

/** "12.3 s", or "1 min 02 s so far" while it builds. */
export function durationText(version) {
  const d = buildDuration(version);
  if (!d) return version.status === 'queued' ? 'waiting' : '—';
  return d.running ? `${duration(d.ms)} so far` : duration(d.ms);
}

export function durationCell(version) {
  const d = buildDuration(version);
  return h('span', { class: d?.running ? 'live-duration' : '', dataset: { version: version.version } }, durationText(version));
}

export function modelTypeCell(version) {
  return version.modelType ? h('code', { class: 'model-type' }, version.modelType) : h('span', { class: 'muted' }, 'unknown yet');
}
