import { getJson, paths, uploadWithProgress } from '../api.js';
import { announce, pageHeader } from '../components/common.js';
import { problemPanel } from '../components/problem.js';
import { h, icon, replace, showAndFocus } from '../dom.js';
import { bytes, plural } from '../format.js';
import { fromDirectoryInput, fromDrop, fromFileInput, modelNameFrom } from '../picked-files.js';
import { rememberBatch } from '../recent-batches.js';
import { gzipBlob, tarBlob } from '../tar.js';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const MODEL_TYPE = /^[a-z][a-z0-9_.-]*:[A-Za-z0-9_.+-]+$/;
/** Folders up to this size are gzipped in the browser first; bigger ones go as a plain tar. */
const GZIP_LIMIT = 256 * 1024 * 1024;

/**
 * Upload: drop (or pick) a folder or a .tar/.tar.gz and name the model; several archives make a
 * batch, one version each. Folders are packed into a tar here. Progress comes from XHR.
 */
export async function renderUpload(ctx) {
  const presetModel = ctx.query.get('model') ?? '';
  let picked = null;
  let upload = null;
  ctx.onCleanup(() => upload?.abort());

  const archiveInput = h('input', { type: 'file', id: 'pick-archive', class: 'visually-hidden', accept: '.tar,.gz,.tgz,application/x-tar,application/gzip', multiple: true });
  const folderInput = h('input', { type: 'file', id: 'pick-folder', class: 'visually-hidden', webkitdirectory: true });
  const dropHint = h('p', { class: 'drop-hint', id: 'drop-hint' }, 'A model folder (with its serving.yaml or model files), or a .tar / .tar.gz of it. Several archives at once make a batch.');
  const zone = h('div', { class: 'dropzone', id: 'dropzone' },
    icon('upload', 'drop-icon'),
    h('p', { class: 'drop-title' }, 'Drop a model folder or archive here'),
    dropHint,
    h('div', { class: 'drop-actions' },
      archiveInput, h('label', { for: 'pick-archive', class: 'btn' }, icon('file'), 'Choose archive…'),
      folderInput, h('label', { for: 'pick-folder', class: 'btn' }, icon('folder'), 'Choose folder…')));
  const pickedSlot = h('div', { class: 'picked slot-box', 'aria-live': 'polite' });
  const fieldsSlot = h('div', { class: 'stack slot-box' });
  const progressSlot = h('div', { class: 'slot-box' });
  const problemSlot = h('div', { class: 'slot-box' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('upload'), 'Upload');
  const form = h('form', { class: 'card upload-form stack', novalidate: true, 'aria-describedby': 'drop-hint' },
    zone, pickedSlot, fieldsSlot, problemSlot, progressSlot, h('div', { class: 'actions' }, submit));

  replace(ctx.root,
    pageHeader({ crumbs: [{ label: 'Models', href: '/' }, { label: 'Upload' }], title: 'Upload a model', lead: 'Each upload becomes the model\'s next version: ML Lambda reads its contract, builds an image and releases it.' }),
    form,
    h('details', { class: 'card cli-hint' },
      h('summary', {}, 'From a terminal instead'),
      h('pre', {}, h('code', {}, 'tar -czf model.tar.gz -C my-model .\ncurl --data-binary @model.tar.gz -H "Content-Type: application/gzip" \\\n  ' + `${location.origin}/api/v1/models/my-model/versions`))));

  // Existing model names for the name field's suggestions; the page works without them.
  const suggestions = h('datalist', { id: 'model-names' });
  form.append(suggestions);
  getJson(paths.models({ limit: 1000 }), { signal: ctx.signal })
    .then((page) => replace(suggestions, page.items.map((m) => h('option', { value: m.name }))))
    .catch(() => undefined);

  // Drag and drop: the whole zone is the target; keyboard users use the two buttons.
  let depth = 0;
  zone.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('dragging');
  });
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('dragging');
    choose(await fromDrop(e.dataTransfer));
  });
  archiveInput.addEventListener('change', () => choose(fromFileInput(archiveInput.files)));
  folderInput.addEventListener('change', () => choose(fromDirectoryInput(folderInput.files)));

  function choose(result) {
    replace(problemSlot);
    replace(progressSlot);
    if (result.kind === 'invalid') {
      picked = null;
      showPicked();
      showProblem({ code: 'BAD_REQUEST', message: result.reason }, 'That cannot be uploaded');
      return;
    }
    picked = result;
    showPicked();
  }

  function showPicked() {
    if (!picked) {
      replace(pickedSlot);
      replace(fieldsSlot);
      return;
    }
    const clear = h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: () => {
      picked = null;
      archiveInput.value = '';
      folderInput.value = '';
      showPicked();
      archiveInput.nextElementSibling.focus();
    } }, 'Choose something else');
    if (picked.kind === 'folder') {
      const total = picked.files.reduce((n, f) => n + f.file.size, 0);
      replace(pickedSlot, h('p', { class: 'picked-line' }, icon('folder'), h('strong', {}, picked.name), h('span', { class: 'muted' }, ` ${plural(picked.files.length, 'file')}, ${bytes(total)} — packed into a tar in your browser`), clear));
      replace(fieldsSlot, singleFields(presetModel || modelNameFrom(picked.name)));
    } else if (picked.files.length === 1) {
      const f = picked.files[0];
      replace(pickedSlot, h('p', { class: 'picked-line' }, icon('file'), h('strong', {}, f.name), h('span', { class: 'muted' }, ` ${bytes(f.size)}`), clear));
      replace(fieldsSlot, singleFields(presetModel || modelNameFrom(f.name)));
    } else {
      replace(pickedSlot, h('p', { class: 'picked-line' }, icon('file'), h('strong', {}, `${picked.files.length} archives`), h('span', { class: 'muted' }, ` ${bytes(picked.files.reduce((n, f) => n + f.size, 0))} — uploaded as one batch`), clear));
      replace(fieldsSlot, batchFields(picked.files));
    }
  }

  function field({ id, label, hint, input }) {
    const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
    const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    input.id = id;
    input.setAttribute('aria-describedby', [hint ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' '));
    return h('div', { class: 'field' }, h('label', { for: id }, label), hintEl, input, errorEl);
  }

  function singleFields(name) {
    return h('div', { class: 'field-grid' },
      field({ id: 'model-name', label: 'Model name', hint: 'Lowercase letters, digits, - and _. An existing name gets a new version.',
        input: h('input', { name: 'model', value: name, required: true, autocomplete: 'off', spellcheck: 'false', list: 'model-names', pattern: NAME.source }) }),
      field({ id: 'model-type', label: 'Model type (optional)', hint: 'framework:version, e.g. python:3.11. Read from serving.yaml or the model when left empty.',
        input: h('input', { name: 'model-type', autocomplete: 'off', spellcheck: 'false', placeholder: 'python:3.11' }) }),
      field({ id: 'description', label: 'Description (optional)', input: h('input', { name: 'description', autocomplete: 'off' }) }),
      field({ id: 'labels', label: 'Labels (optional)', hint: 'key=value, separated by commas: team=search, stage=dev',
        input: h('input', { name: 'labels', autocomplete: 'off', spellcheck: 'false' }) }));
  }

  function batchFields(files) {
    return h('fieldset', { class: 'batch-fields' },
      h('legend', {}, 'Model name for each archive'),
      files.map((f, i) => field({ id: `batch-name-${i}`, label: f.name,
        input: h('input', { name: `model-${i}`, value: modelNameFrom(f.name), required: true, autocomplete: 'off', spellcheck: 'false', list: 'model-names', pattern: NAME.source, dataset: { index: i } }) })));
  }

  function setError(input, message) {
    const errorEl = document.getElementById(`${input.id}-error`);
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
    if (errorEl) {
      errorEl.textContent = message ?? '';
      errorEl.hidden = !message;
    }
    return !message;
  }

  function validate() {
    const checks = [];
    for (const input of fieldsSlot.querySelectorAll('input[name^="model"]:not([name="model-type"])')) {
      const v = input.value.trim();
      checks.push([input, !v ? 'Enter a model name.' : NAME.test(v) ? null : 'Use lowercase letters, digits, - and _ (start with a letter or digit, at most 63 characters).']);
    }
    const type = fieldsSlot.querySelector('#model-type');
    if (type) checks.push([type, type.value.trim() && !MODEL_TYPE.test(type.value.trim()) ? 'Write it as framework:version, e.g. python:3.11.' : null]);
    const labels = fieldsSlot.querySelector('#labels');
    if (labels) checks.push([labels, parseLabels(labels.value) === null ? 'Write labels as key=value, separated by commas.' : null]);
    let firstBad = null;
    for (const [input, message] of checks) if (!setError(input, message) && !firstBad) firstBad = input;
    firstBad?.focus();
    return !firstBad;
  }

  function showProblem(error, title) {
    showAndFocus(problemSlot, problemPanel(error, { title, alert: true }));
  }

  function progressView() {
    const bar = h('progress', { id: 'upload-progress', max: '100', value: '0', 'aria-labelledby': 'upload-phase' });
    const phase = h('p', { id: 'upload-phase', class: 'progress-phase' }, 'Preparing…');
    const amount = h('p', { class: 'muted small progress-amount', 'aria-hidden': 'true' });
    const cancel = h('button', { type: 'button', class: 'btn btn-small', onclick: () => upload?.abort() }, 'Cancel upload');
    replace(progressSlot, h('div', { class: 'progress' }, h('div', { class: 'progress-row' }, phase, cancel), bar, amount));
    let lastSpoken = -1;
    return {
      phase(text, indeterminate = false) {
        phase.textContent = text;
        if (indeterminate) bar.removeAttribute('value');
        announce(text);
      },
      bytes(loaded, total) {
        const pct = total ? Math.floor((loaded / total) * 100) : 0;
        bar.value = pct;
        phase.textContent = `Uploading… ${pct}%`;
        amount.textContent = total ? `${bytes(loaded)} of ${bytes(total)}` : bytes(loaded);
        // Speak at quarter steps, not on every event.
        const quarter = Math.floor(pct / 25);
        if (quarter !== lastSpoken) {
          lastSpoken = quarter;
          announce(`Uploading, ${pct} percent`);
        }
      },
      done() {
        cancel.remove();
      },
    };
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (upload) return;
    replace(problemSlot);
    if (!picked) {
      showProblem({ message: 'Choose a model folder or a .tar / .tar.gz archive first (or drop one on the area above).' }, 'Nothing to upload yet');
      return;
    }
    if (!validate()) return;
    submit.disabled = true;
    const progress = progressView();
    try {
      if (picked.kind === 'archives' && picked.files.length > 1) await sendBatch(progress);
      else await sendOne(progress);
    } catch (err) {
      progress.done();
      replace(progressSlot);
      showProblem(err, err.code === 'ABORTED' ? 'Upload cancelled' : 'The upload was not accepted');
    } finally {
      upload = null;
      submit.disabled = false;
    }
  });

  async function sendOne(progress) {
    const model = fieldsSlot.querySelector('#model-name').value.trim();
    let body;
    if (picked.kind === 'folder') {
      progress.phase(`Packing ${plural(picked.files.length, 'file')}…`, true);
      const tar = tarBlob(picked.files);
      body = tar.size <= GZIP_LIMIT ? (await gzipBlob(tar)) ?? tar : tar;
    } else {
      body = picked.files[0];
    }
    const gzip = picked.kind === 'folder' ? body.type === 'application/gzip' : /\.(tgz|gz)$/i.test(body.name);
    const query = new URLSearchParams();
    const type = fieldsSlot.querySelector('#model-type').value.trim();
    const description = fieldsSlot.querySelector('#description').value.trim();
    const labels = parseLabels(fieldsSlot.querySelector('#labels').value);
    if (type) query.set('model-type', type);
    if (description) query.set('description', description);
    if (labels && Object.keys(labels).length) query.set('labels', JSON.stringify(labels));
    const url = `${paths.versions(model)}${query.size ? `?${query}` : ''}`;
    upload = uploadWithProgress('POST', url, body, {
      headers: { 'Content-Type': gzip ? 'application/gzip' : 'application/x-tar' },
      onProgress: (loaded, total) => {
        progress.bytes(loaded, total ?? body.size);
        if (total && loaded >= total) progress.phase('Uploaded; checking the archive…', true);
      },
    });
    const version = await upload.done;
    progress.done();
    announce(`Version ${version.version} of ${model} created`);
    ctx.navigate(`/models/${encodeURIComponent(model)}/versions/${version.version}`);
  }

  async function sendBatch(progress) {
    const form = new FormData();
    const inputs = [...fieldsSlot.querySelectorAll('input[data-index]')];
    for (const input of inputs) {
      const file = picked.files[Number(input.dataset.index)];
      form.append('metadata', JSON.stringify({ model: input.value.trim() }));
      form.append('payload', file, file.name);
    }
    upload = uploadWithProgress('POST', paths.batches(), form, {
      onProgress: (loaded, total) => {
        progress.bytes(loaded, total);
        if (total && loaded >= total) progress.phase('Uploaded; checking the archives…', true);
      },
    });
    const batch = await upload.done;
    progress.done();
    rememberBatch(batch);
    announce(`Batch of ${batch.total} created`);
    ctx.navigate(`/batches/${encodeURIComponent(batch.id)}`);
  }

  if (presetModel) announce(`Uploading a new version of ${presetModel}`);
}

/** "a=b, c=d" → { a: 'b', c: 'd' }; '' → {}; anything else → null. */
export function parseLabels(text) {
  const out = {};
  const trimmed = String(text ?? '').trim();
  if (!trimmed) return out;
  for (const pair of trimmed.split(/[,\n]/)) {
    if (!pair.trim()) continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return null;
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}
