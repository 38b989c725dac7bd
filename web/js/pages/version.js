import { getJson, paths } from '../api.js';
import { buildLog } from '../components/build-log.js';
import { announce, copyable, facts, inlineNotice, pageHeader, timeEl } from '../components/common.js';
import { contractView, diffView } from '../components/contract.js';
import { problemPanel } from '../components/problem.js';
import { isTerminal, statusBadge, statusLabel } from '../components/status.js';
import { stageTimeline } from '../components/timeline.js';
import { durationText, imageCell } from '../components/version-bits.js';
import { h, icon, replace, slot } from '../dom.js';
import { bytes, shortDigest } from '../format.js';
import { streamEvents } from '../sse.js';

/**
 * One version: summary, the error and what to fix, warnings, the contract per signature, the
 * diff against the previous version, the stage timeline and the build log, all following the
 * version's event stream while it builds.
 */
export async function renderVersion(ctx) {
  const name = ctx.params.name;
  const number = Number(ctx.params.version);
  let version = await getJson(paths.version(name, number), { signal: ctx.signal });
  const modelHref = `/models/${encodeURIComponent(name)}`;

  const badgeSlot = h('span', { class: 'title-badge' });
  const problemSlot = slot();
  const summarySlot = slot();
  const warningsSlot = slot();
  const contractSlot = slot();
  const diffSlot = slot();
  const timelineSlot = slot();
  const liveNote = h('p', { class: 'muted small live-note' });
  const log = buildLog();

  const build = h('section', { class: 'card', id: 'build', 'aria-labelledby': 'build-title' },
    h('h2', { id: 'build-title' }, 'Build'),
    h('div', { class: 'build-grid' },
      h('div', {}, h('h3', {}, 'Stages'), timelineSlot),
      h('div', { class: 'log-column' }, h('div', { class: 'log-head' }, h('h3', { id: 'log-title' }, 'Log'), liveNote), log.element)));
  const contract = h('section', { class: 'card', id: 'contract', 'aria-labelledby': 'contract-title' }, h('h2', { id: 'contract-title' }, 'Contract'), contractSlot);
  const changes = h('section', { class: 'card', id: 'changes', 'aria-labelledby': 'changes-title' }, h('h2', { id: 'changes-title' }, 'Changes'), diffSlot);
  // While it builds, or when it failed, the build is what matters; once released, the contract is.
  const ordered = version.status === 'released' ? [contract, changes, build] : [build, contract, changes];

  replace(
    ctx.root,
    pageHeader({
      crumbs: [{ label: 'Models', href: '/' }, { label: name, href: modelHref }, { label: `v${number}` }],
      title: `${name} v${number}`,
      after: badgeSlot,
      actions: h('a', { class: 'btn', href: `/upload?model=${encodeURIComponent(name)}` }, icon('upload'), 'Upload a new version'),
    }),
    h('nav', { class: 'jump', 'aria-label': 'On this page' }, h('ul', {},
      ordered.map((s) => h('li', {}, h('a', { href: `#${s.id}` }, s.querySelector('h2').textContent))))),
    problemSlot,
    summarySlot,
    warningsSlot,
    ordered,
  );

  const show = (v) => {
    replace(badgeSlot, statusBadge(v.status));
    replace(problemSlot, v.status === 'failed' && v.error ? problemPanel(v.error, { title: `Why v${v.version} failed` }) : null);
    replace(summarySlot, h('section', { class: 'card', 'aria-label': 'Summary' }, facts([
      ['Model type', v.modelType ? h('code', {}, v.modelType) : h('span', { class: 'muted' }, 'not known yet')],
      ['Created', timeEl(v.createdAt)],
      ['Build time', h('span', { class: 'live-duration' }, durationText(v))],
      ['Image', imageCell(v)],
      ['Payload', v.payload ? `${bytes(v.payload.size)} ${v.payload.format === 'tar+gzip' ? 'tar.gz' : 'tar'}${v.payload.files ? ` · ${v.payload.files} files` : ''}${v.payload.unpackedSize ? ` · ${bytes(v.payload.unpackedSize)} unpacked` : ''}` : null],
      ['Contract digest', v.contractDigest ? copyable(v.contractDigest, 'contract digest', { display: shortDigest(v.contractDigest) }) : null],
      ['Description', v.description || null],
      ['Labels', Object.keys(v.labels ?? {}).length ? h('ul', { class: 'labels' }, Object.entries(v.labels).map(([k, val]) => h('li', { class: 'tag' }, `${k}=${val}`))) : null],
      ['Batch', v.batchId ? h('a', { href: `/batches/${encodeURIComponent(v.batchId)}` }, `Batch ${v.batchId.slice(0, 8)}`) : null],
    ])));
    replace(warningsSlot, v.warnings?.length
      ? h('section', { class: 'card warnings', 'aria-labelledby': 'warnings-title' },
          h('h2', { id: 'warnings-title' }, icon('alert'), `Warnings (${v.warnings.length})`),
          h('ul', {}, v.warnings.map((w) => h('li', {}, h('span', {}, w.message), ' ', h('code', { class: 'muted small' }, w.code)))))
      : null);
    replace(contractSlot, v.contract
      ? [contractView(v.contract), h('p', { class: 'small' }, h('a', { href: paths.contract(name, v.version), 'data-external': '' }, 'Contract as JSON'))]
      : h('p', { class: 'muted' }, v.status === 'failed' ? 'This version failed before its contract was read.' : 'The contract appears once the model has been extracted.'));
    replace(diffSlot, v.diff
      ? diffView(v.diff, name)
      : h('p', { class: 'muted' }, v.version === 1 ? 'This is the first version: there is nothing to compare with.' : v.contract ? 'No earlier version with a contract to compare with.' : 'The comparison with the previous version appears with the contract.'));
    replace(timelineSlot, stageTimeline(v));
    liveNote.textContent = isTerminal(v.status) ? '' : 'Live';
  };
  show(version);

  // Follow the event stream: log lines as they come, the record again on each status change.
  let refetching = null;
  const refetch = () => {
    refetching ??= getJson(paths.version(name, number), { signal: ctx.signal })
      .then((v) => {
        if (v.status !== version.status) announce(`${name} v${number} is now ${statusLabel(v.status).toLowerCase()}`);
        version = v;
        show(v);
      })
      .catch(() => undefined)
      .finally(() => (refetching = null));
    return refetching;
  };
  const stream = streamEvents(paths.versionEvents(name, number), {
    onEvent: (e) => {
      log.add(e.data);
      if (e.event === 'status' || e.event === 'warning') refetch();
    },
    onEnd: () => {
      refetch();
      liveNote.textContent = '';
    },
    onState: (state) => {
      if (state === 'reconnecting') liveNote.textContent = 'Reconnecting…';
      else if (state === 'live' && !isTerminal(version.status)) liveNote.textContent = 'Live';
    },
    onError: (err) => replace(liveNote, inlineNotice(`The log cannot be followed: ${err.message}`)),
  });
  ctx.onCleanup(() => stream.close());

  // Running durations tick; a slow poll covers a stream that cannot connect at all.
  ctx.every(1000, () => {
    if (isTerminal(version.status)) return;
    for (const el of ctx.root.querySelectorAll('.live-duration')) el.textContent = durationText(version);
    replace(timelineSlot, stageTimeline(version));
  });
  ctx.every(10_000, () => {
    if (!isTerminal(version.status)) refetch();
  });
}
